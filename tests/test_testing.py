"""cmdrun.testing used directly, without the pytest plugin (for other test runners)."""

from __future__ import annotations

import pathlib
import re
import threading

import pytest

import cmdrun
from children import py
from cmdrun.testing import (
    ANY,
    ANY_REST,
    Cassette,
    CassetteMiss,
    DialogueMismatch,
    Exit,
    FakeCommands,
    FakeHang,
    In,
    Out,
    UnregisteredCommand,
)


def test_context_manager_installs_and_removes_the_fakes() -> None:
    with FakeCommands() as fake:
        fake.register(["date"], stdout="fake date\n")
        assert cmdrun.run(["date"]).stdout == "fake date\n"
    assert cmdrun.run(["date"]).stdout != "fake date\n"  # the real one again


def test_fakes_reach_threads_the_code_starts() -> None:
    with FakeCommands() as fake:
        fake.register(["uname"], stdout="FakeOS\n")
        seen: list[str] = []
        thread = threading.Thread(target=lambda: seen.append(cmdrun.run(["uname"]).stdout))
        thread.start()
        thread.join()
    assert seen == ["FakeOS\n"]


def test_pattern_matching_rules() -> None:
    with FakeCommands() as fake:
        fake.register(["a", ANY], stdout="one")
        fake.register("b --flag", stdout="split")
        fake.register(["c", ANY_REST], stdout="rest")
        assert cmdrun.run(["a", "x"]).stdout == "one"
        assert cmdrun.run(["b", "--flag"]).stdout == "split"
        assert cmdrun.run(["c"]).stdout == "rest"
        with pytest.raises(UnregisteredCommand, match="a ANY"):
            cmdrun.run(["a", "x", "y"])
    assert fake.call_count(["a", ANY_REST]) == 2


def test_unregistered_error_lists_patterns_and_is_not_a_cmdrun_error() -> None:
    with FakeCommands() as fake:
        fake.register(re.compile("^git "), times=1)
        with pytest.raises(UnregisteredCommand) as info:
            cmdrun.run(["hg"])
    assert "re('^git ')" in str(info.value)
    assert not isinstance(info.value, cmdrun.CmdrunError)  # code under test cannot swallow it


def test_assertion_helpers_say_what_was_called() -> None:
    with FakeCommands() as fake:
        fake.register(["ls", ANY_REST])
        cmdrun.run(["ls", "-l"])
        fake.assert_called(["ls", ANY_REST], times=1)
        with pytest.raises(AssertionError, match="ls -l"):
            fake.assert_called(["rm", ANY_REST])


def test_register_rejects_bad_options() -> None:
    fake = FakeCommands()
    with pytest.raises(ValueError, match="times"):
        fake.register(["x"], times=0)
    with pytest.raises(TypeError, match="dialogue step 1"):
        fake.register(["x"], dialogue=["not a step"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="comes after Exit"):
        fake.register(["x"], dialogue=[Exit(0), Out("late")])


def test_fake_output_goes_through_files_and_max_output(tmp_path: pathlib.Path) -> None:
    with FakeCommands() as fake:
        fake.register(["big"], stdout="x" * 1000 + "END")
        r = cmdrun.run(["big"], max_output=3)
        assert (r.stdout, r.stdout_dropped) == ("END", 1000)
        cmdrun.run(["big"], stdout=tmp_path / "out")
    assert (tmp_path / "out").read_text().endswith("END")


def test_dialogue_waiting_forever_is_reported() -> None:
    with FakeCommands() as fake:
        fake.register(["ask"], dialogue=[Out("? "), In("yes")])
        with pytest.raises(FakeHang, match="waits for input"):
            cmdrun.run(["ask"], respond={"nothing matches": "x"})
        result = cmdrun.run(["ask"], respond={"nope": "x"}, timeout=2, check=False)
    assert result.timed_out
    assert result.stdout == "? "


def test_dialogue_eof_where_input_is_expected() -> None:
    with FakeCommands() as fake:
        fake.register(["ask"], dialogue=[Out("? "), In("yes")])
        with pytest.raises(DialogueMismatch, match="EOF"):
            cmdrun.run(["ask"])


def test_regex_input_steps_and_stderr_output() -> None:
    steps = [Out("n? ", "stderr"), In(re.compile(r"\d+")), Out("ok\n"), Exit(4)]
    with FakeCommands() as fake:
        fake.register(["num"], dialogue=steps)
        r = cmdrun.run(["num"], input="42\n", check=False)
    assert (r.stdout, r.stderr, r.returncode) == ("ok\n", "n? ", 4)


def test_fake_session_interrupt_and_close() -> None:
    with FakeCommands() as fake:
        fake.register(["repl"], dialogue=[Out("> "), In("never")])
        with cmdrun.spawn(["repl"], tty=True, timeout=5) as s:
            s.expect("> ")
            s.interrupt()
            assert s.wait().returncode == -2
        with cmdrun.spawn(["repl"], tty=False, timeout=5) as s:
            s.expect("> ")
            result = s.close()
    assert result.returncode == -15


def test_cassette_records_and_replays_directly(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.json"
    with Cassette(path, record=True):
        recorded = cmdrun.run(["echo", "live"])
    with Cassette(path):
        replayed = cmdrun.run(["echo", "live"])
        with pytest.raises(CassetteMiss, match="every recorded call was used"):
            cmdrun.run(["echo", "live"])
    assert replayed.stdout == recorded.stdout == "live\n"


def test_missing_cassette_says_how_to_record(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="--cmdrun-record"):
        Cassette(tmp_path / "none.json")


def test_cassette_keeps_non_utf8_output(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bin.json"
    with Cassette(path, record=True):
        cmdrun.run(["printf", "\\377\\376"])
    assert "stdout_base64" in path.read_text()
    with Cassette(path):
        assert cmdrun.run(["printf", "\\377\\376"]).stdout_bytes == b"\xff\xfe"


def test_cassette_replays_a_secret_typed_without_a_newline(tmp_path: pathlib.Path) -> None:
    """send(Secret) then sendline(""): the line is recorded as a secret one and replays."""
    path = tmp_path / "login.json"
    # The program checks the line's length and end: its source must not hold the secret.
    code = "import sys; pw = sys.stdin.readline(); print('YES' if pw[6:] == '2\\n' else 'NO')"

    def login() -> str:
        with cmdrun.spawn(py(code), tty=False, timeout=10) as s:
            s.send(cmdrun.Secret("hunter2"))
            s.sendline("")
            found = s.expect(re.compile(r"YES|NO"))
            assert s.wait().returncode == 0
        return found.text

    with Cassette(path, record=True):
        assert login() == "YES"
    assert "hunter2" not in path.read_text()
    with Cassette(path):
        assert login() == "YES"


def test_raises_class_that_needs_arguments_asks_for_an_instance() -> None:
    class NeedsTwo(Exception):
        def __init__(self, first: str, second: str) -> None:
            super().__init__(first, second)

    with FakeCommands() as fake:
        fake.register(["tool"], raises=NeedsTwo)
        with pytest.raises(TypeError, match="register an instance instead"):
            cmdrun.run(["tool"])
