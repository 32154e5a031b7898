"""The seams test doubles plug into: the launcher protocol and the session observer hook."""

from __future__ import annotations

import pathlib
from collections.abc import Generator
from typing import Any

import pytest

import cmdrun
from children import prompter
from cmdrun import Result
from cmdrun._engine import DeliverLine, Spec, simulated
from cmdrun._launcher import REAL, current_launcher, using_launcher
from cmdrun._session import Session


class Recorder:
    """A session observer that keeps what it is shown."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, bytes]] = []
        self.sent: list[tuple[str, bool]] = []
        self.results: list[Result] = []

    def output(self, stream: str, data: bytes) -> None:
        self.chunks.append((stream, data))

    def typed(self, text: str, secret: bool) -> None:
        self.sent.append((text, secret))

    def finished(self, result: Result) -> None:
        self.results.append(result)


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_observer_sees_output_typed_text_and_the_end(tty: bool) -> None:
    recorder = Recorder()
    with cmdrun.spawn(prompter(), tty=tty, timeout=10) as s:
        s.observe(recorder)
        s.expect("> ")
        s.sendline(cmdrun.Secret("hunter2"))
        s.expect("> ")
        s.sendeof()
        result = s.wait()
    printed = b"".join(data for _, data in recorder.chunks).decode()
    assert printed.startswith("> ")
    assert "got: ******" in printed
    assert "hunter2" not in printed
    assert recorder.sent == [("******", True), ("\n", False)]
    assert recorder.results == [result]


class PlainLauncher:
    """A launcher whose ``execution`` is a plain function returning the Result."""

    def __init__(self) -> None:
        self.specs: list[Spec] = []

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Result:
        self.specs.append(spec)
        return simulated(spec, [("stdout", b"plain\n")], deliver, returncode=0, duration=0.5)

    def spawn(self, spec: Spec) -> Session:
        return REAL.spawn(spec)


def test_a_launcher_may_return_the_result_without_yielding() -> None:
    launcher = PlainLauncher()
    with using_launcher(launcher):
        assert cmdrun.run(["anything"]).stdout == "plain\n"
        assert [line.text for line in cmdrun.stream(["anything"])] == ["plain\n"]
        seen: list[str] = []
        cmdrun.run(["anything"], on_stdout=seen.append)
    assert seen == ["plain\n"]
    assert [spec.args for spec in launcher.specs] == [("anything",)] * 3
    assert current_launcher() is REAL


def test_a_generator_launcher_still_works(tmp_path: pathlib.Path) -> None:
    class Wrapping:
        def execution(
            self, spec: Spec, deliver: DeliverLine | None
        ) -> Generator[None, None, Result]:
            result = yield from REAL.execution(spec, deliver)
            return result

        def spawn(self, spec: Spec) -> Session:
            return REAL.spawn(spec)

    with using_launcher(Wrapping()):
        assert cmdrun.run(["echo", "real"]).stdout == "real\n"


def test_a_launcher_returning_something_else_is_a_clear_type_error() -> None:
    class Broken:
        def execution(self, spec: Spec, deliver: DeliverLine | None) -> Any:
            return "done"

        def spawn(self, spec: Spec) -> Session:
            return REAL.spawn(spec)

    with (
        using_launcher(Broken()),
        pytest.raises(TypeError, match=r"Broken\.execution\(\) returned 'done'.*a Result"),
    ):
        cmdrun.run(["anything"])


def test_the_fakes_fit_the_seams_without_type_ignores() -> None:
    """FakePump satisfies the pump protocol and cassettes use the observer hook: the test
    doubles type-check as they are, without silencing mypy or reaching into sessions."""
    testing = pathlib.Path(cmdrun.__file__).parent / "testing"
    for path in sorted(testing.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "type: ignore" not in text, path.name
        assert "._observers" not in text, path.name
        assert "._redact" not in text, path.name
