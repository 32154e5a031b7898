"""Sessions against real programs, over pipes and over a PTY."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator

import pytest

import cmdrun
from children import (
    PY,
    own_children,
    pids_in,
    prompt_then_die,
    prompter,
    py,
    split_prompt,
    tree,
    wait_dead,
)
from cmdrun import ExpectTimeout, UnexpectedEOF

BOTH = pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])


@pytest.fixture(autouse=True)
def no_stray_children() -> Iterator[None]:
    before = own_children()
    yield
    assert own_children() == before


@BOTH
def test_expect_send_dialogue(tty: bool) -> None:
    with cmdrun.spawn(prompter(), tty=tty, timeout=10) as s:
        s.expect("> ")
        s.sendline("hello")
        found = s.expect("> ")
        assert "got: hello" in found.before
        assert found.lines == ["got: hello"]
        s.sendeof()
        assert "bye" in s.read()
        result = s.wait()
    assert result.returncode == 0
    assert result.tty is tty
    assert isinstance(s, cmdrun.PtySession if tty else cmdrun.PipeSession)


@BOTH
def test_expect_across_split_reads_and_prompt_without_newline(tty: bool) -> None:
    with cmdrun.spawn(split_prompt(["Pass", "wo", "rd", ": "]), tty=tty, timeout=10) as s:
        found = s.expect("Password: ")
        assert found.text == "Password: "
        s.sendline("x")


@BOTH
def test_regex_patterns_and_index(tty: bool) -> None:
    with cmdrun.spawn(["sh", "-c", "echo 'code=42'; echo done"], tty=tty, timeout=10) as s:
        found = s.expect("nope", re.compile(r"code=(\d+)"))
        assert found.index == 1
        assert found.match is not None
        assert found.match.group(1) == "42"


@BOTH
def test_expect_timeout_shows_patterns_and_tail(tty: bool) -> None:
    with cmdrun.spawn(split_prompt(["line one\n", "no prompt\x07 here"]), tty=tty) as s:
        start = time.monotonic()
        with pytest.raises(ExpectTimeout) as info:
            s.expect("$ ", re.compile("#"), timeout=0.3)
        assert time.monotonic() - start < 2
        message = str(info.value)
        assert "'$ ', re('#')" in message
        assert "no prompt\\x07 here" in message
        assert isinstance(info.value, TimeoutError)
        assert "no prompt" in info.value.received
        # Nothing was consumed: the text is still there to match.
        assert s.expect("here", timeout=5).before.endswith("no prompt\x07 ")


@BOTH
@pytest.mark.parametrize(("sig", "how"), [(None, "exited with status 3"), (9, "killed by SIGKILL")])
def test_eof_mid_expect_says_how_the_program_ended(tty: bool, sig: int | None, how: str) -> None:
    with cmdrun.spawn(prompt_then_die(sig), tty=tty, timeout=10) as s:
        s.expect("name? ")
        with pytest.raises(UnexpectedEOF) as info:
            s.expect("never")
        assert how in str(info.value)
        assert isinstance(info.value, EOFError)
        assert info.value.returncode == (-sig if sig else 3)


@BOTH
def test_huge_output_inside_a_session(tty: bool) -> None:
    size = 20 << 20
    code = f"import os; os.write(1, b'x' * {size}); os.write(1, b'\\nEND> ')"
    with cmdrun.spawn(py(code), tty=tty, timeout=60) as s:
        found = s.expect("END> ")
        assert found.before.count("x") == size
        result = s.wait()
    assert len(result.stdout_bytes) >= size


def test_pipe_session_watches_stderr_and_stdout_in_arrival_order() -> None:
    with cmdrun.spawn(prompter(">>> ", stream="stderr"), tty=False, timeout=10) as s:
        s.expect(">>> ")
        s.sendline("a")
        found = s.expect(">>> ")
        assert found.before == "got: a\n"
        s.sendeof()
        result = s.wait()
    assert result.stdout == "got: a\nbye\n"
    assert result.stderr == ">>> >>> "


def test_python_repl_over_pipes() -> None:
    with cmdrun.spawn([PY, "-i", "-q"], tty=False, timeout=10) as s:
        s.expect(">>> ")
        s.sendline("print(6 * 7)")
        assert s.expect(">>> ").before == "42\n"
        s.sendeof()
        assert s.wait().returncode == 0


def test_pty_echoes_input_and_uses_crlf() -> None:
    with cmdrun.spawn(prompter(), tty=True, timeout=10) as s:
        s.expect("> ")
        s.sendline("abc")
        found = s.expect("> ")
        assert found.before == "abc\r\ngot: abc\r\n"
        assert found.lines == ["got: abc"]


def test_pty_child_sees_a_terminal_with_the_given_size() -> None:
    code = (
        "import os, sys; s = os.get_terminal_size(0); "
        "print(sys.stdin.isatty(), os.ttyname(0).startswith('/dev/pts/'), s.lines, s.columns, "
        "os.environ['TERM'])"
    )
    with cmdrun.spawn(py(code), tty=True, dimensions=(33, 101)) as s:
        assert s.read().split() == ["True", "True", "33", "101", "dumb"]


def test_caller_may_choose_term() -> None:
    code = "import os; print(os.environ['TERM'])"
    with cmdrun.spawn(py(code), tty=True, env={"TERM": "vt100"}) as s:
        assert s.read().strip() == "vt100"


def test_pty_child_has_a_controlling_terminal() -> None:
    with cmdrun.spawn(["sh", "-c", "echo hi > /dev/tty"], tty=True) as s:
        assert s.read().strip() == "hi"
        assert s.wait().ok


@BOTH
def test_interrupt_is_ctrl_c(tty: bool) -> None:
    code = """
import time
try:
    print("ready", flush=True)
    time.sleep(30)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    with cmdrun.spawn(py(code), tty=tty, timeout=10) as s:
        s.expect("ready")
        s.interrupt()
        s.expect("interrupted")
        assert s.wait().returncode == 0


@BOTH
def test_wait_timeout_stops_the_program(tty: bool) -> None:
    with cmdrun.spawn(["sleep", "30"], tty=tty, timeout=0.3, kill_grace=0.5) as s:
        with pytest.raises(cmdrun.CommandTimedOut) as info:
            s.wait()
        assert info.value.result.timed_out
        assert not s.alive


def test_wait_timeout_message_and_result_report_the_timeout_given_to_wait() -> None:
    with (
        cmdrun.spawn(["sleep", "30"], timeout=10, kill_grace=0.5) as s,
        pytest.raises(cmdrun.CommandTimedOut) as info,
    ):
        s.wait(timeout=0.2)
    assert "timed out after 0.2 s" in str(info.value)
    assert info.value.timeout == 0.2
    assert info.value.result.timeout == 0.2


def test_wait_timeout_without_argument_reports_the_session_default() -> None:
    with (
        cmdrun.spawn(["sleep", "30"], timeout=0.25, kill_grace=0.5) as s,
        pytest.raises(cmdrun.CommandTimedOut) as info,
    ):
        s.wait()
    assert "timed out after 0.25 s" in str(info.value)
    assert info.value.result.timeout == 0.25


def test_expect_and_read_timeouts_report_the_timeout_that_applied() -> None:
    with cmdrun.spawn(["sleep", "30"], timeout=10) as s:
        with pytest.raises(ExpectTimeout) as info:
            s.expect("never", timeout=0.2)
        assert str(info.value).startswith("timed out after 0.2 s waiting for output")
        assert info.value.timeout == 0.2
        with pytest.raises(ExpectTimeout) as info:
            s.read(timeout=0.15)
        assert str(info.value).startswith("timed out after 0.15 s waiting for output")
        assert info.value.timeout == 0.15
    with cmdrun.spawn(["sleep", "30"], timeout=0.2) as s:
        with pytest.raises(ExpectTimeout) as info:
            s.expect("never")
        assert str(info.value).startswith("timed out after 0.2 s waiting for output")


@BOTH
def test_leaving_the_block_by_an_exception_stops_every_process(tty: bool) -> None:
    seen: list[int] = []

    def dialogue() -> cmdrun.Session:
        with cmdrun.spawn(tree(2), tty=tty, kill_grace=0.5) as s:
            found = s.expect(re.compile(r"pids[ \d]+\r?\n"))
            seen.extend([s.pid, *pids_in(found.text)])
            raise RuntimeError("test failure inside the block")

    with pytest.raises(RuntimeError):
        dialogue()
    assert len(seen) == 3
    assert wait_dead(seen) == []


@BOTH
def test_close_returns_the_result_and_is_idempotent(tty: bool) -> None:
    s = cmdrun.spawn(["sleep", "30"], tty=tty)
    assert s.alive
    first = s.close()
    assert first is s.close()
    assert first.returncode == -signal.SIGTERM
    assert not first.timed_out
    assert not s.alive


@BOTH
def test_send_after_input_closed_is_an_error(tty: bool) -> None:
    with cmdrun.spawn(["cat"], tty=False) as s:
        s.sendeof()
        with pytest.raises(BrokenPipeError):
            s.sendline("late")


def test_spawn_errors_are_the_same_as_run() -> None:
    for tty in (False, True):
        with pytest.raises(cmdrun.CommandNotFound):
            cmdrun.spawn(["cmdrun-no-such-program"], tty=tty)
        with pytest.raises(cmdrun.CommandNotExecutable, match="is a directory"):
            cmdrun.spawn(["/"], tty=tty)
    with cmdrun.spawn(["cat"]) as s, pytest.raises(TypeError):
        s.expect(b"x")  # type: ignore[arg-type]


def test_session_input_is_typed_first() -> None:
    with cmdrun.spawn(prompter(), tty=False, input="early\n", timeout=10) as s:
        s.expect("got: early")
        s.sendeof()
        s.wait()
