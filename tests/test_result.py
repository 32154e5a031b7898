"""Result and the exception tree, without running anything."""

from __future__ import annotations

import pickle
import signal
import subprocess

import pytest

import cmdrun
from cmdrun import CommandFailed, CommandTimedOut, Result


def make(returncode: int = 0, **kw: object) -> Result:
    return Result(args=("prog", "a b"), returncode=returncode, **kw)  # type: ignore[arg-type]


def test_text_is_decoded_lazily_with_replacement() -> None:
    r = make(stdout_bytes=b"ok \xff\n", stderr_bytes="é".encode())
    assert r.stdout == "ok \ufffd\n"
    assert r.stderr == "é"
    assert r.stdout_bytes == b"ok \xff\n"


def test_strict_errors_raise_on_access_only() -> None:
    r = make(stdout_bytes=b"\xff", errors="strict")
    with pytest.raises(UnicodeDecodeError):
        _ = r.stdout


def test_signal_and_ok() -> None:
    assert make(0).ok
    assert make(0).signal is None
    assert not make(1).ok
    assert make(-11).signal is signal.SIGSEGV
    assert not make(0, timed_out=True).ok


def test_result_is_immutable() -> None:
    r = make()
    with pytest.raises(AttributeError):
        r.returncode = 1  # type: ignore[misc]


def test_repr_is_readable_and_truncated() -> None:
    r = make(-9, stdout_bytes=b"x" * 10_000, timed_out=True)
    text = repr(r)
    assert text.startswith(
        "Result(args=('prog', 'a b'), returncode=-9, signal=SIGKILL, timed_out=True"
    )
    assert "(10000 bytes)" in text
    assert len(text) < 300


def test_repr_shows_args_as_the_tuple_the_attribute_holds() -> None:
    r = make(1)
    assert repr(r).startswith(f"Result(args={r.args!r}, ")
    assert "`prog 'a b'`" in str(CommandFailed(r))


def test_check_returncode() -> None:
    make(0).check_returncode()
    with pytest.raises(CommandFailed):
        make(2).check_returncode()
    with pytest.raises(CommandTimedOut):
        make(-15, timed_out=True, timeout=1.0).check_returncode()


def test_exception_tree_is_rooted_in_the_stdlib() -> None:
    assert issubclass(cmdrun.CmdrunError, subprocess.SubprocessError)
    assert issubclass(cmdrun.CommandFailed, subprocess.CalledProcessError)
    assert issubclass(cmdrun.CommandTimedOut, subprocess.TimeoutExpired)
    assert issubclass(cmdrun.CommandNotFound, FileNotFoundError)
    assert issubclass(cmdrun.CommandNotExecutable, OSError)
    for cls in (
        CommandFailed,
        CommandTimedOut,
        cmdrun.CommandNotFound,
        cmdrun.CommandNotExecutable,
    ):
        assert issubclass(cls, cmdrun.CmdrunError)


def test_command_failed_sets_stdlib_attributes_and_names_the_signal() -> None:
    r = make(-11, stdout_bytes=b"out", stderr_bytes=b"one\ntwo\n")
    err = CommandFailed(r)
    assert err.returncode == -11
    assert err.cmd == ["prog", "a b"]
    assert err.output == err.stdout == "out"
    assert err.stderr == "one\ntwo\n"
    assert err.result is r
    assert "killed by SIGSEGV" in str(err)
    assert "exit status -11" not in str(err)
    assert "  two" in str(err)


def test_command_failed_quotes_only_the_last_lines_of_stderr() -> None:
    lines = "".join(f"line {i}\n" for i in range(100))
    err = CommandFailed(make(3, stderr_bytes=lines.encode()))
    message = str(err)
    assert "exited with status 3" in message
    assert "line 99" in message
    assert "line 89" not in message


def test_command_timed_out_sets_stdlib_attributes() -> None:
    r = make(-15, stdout_bytes=b"partial", timed_out=True, timeout=0.5)
    err = CommandTimedOut(r, 0.5)
    assert err.timeout == 0.5
    assert err.cmd == ["prog", "a b"]
    assert err.output == "partial"
    assert err.result is r
    assert "timed out after 0.5 s" in str(err)


@pytest.mark.parametrize(
    "err",
    [
        CommandFailed(make(1, stderr_bytes=b"boom")),
        CommandTimedOut(make(-15, timed_out=True), 2.0),
        cmdrun.CommandNotFound("nope", "/bin"),
        cmdrun.CommandNotExecutable("x", "permission denied", 13, "/tmp/x"),
    ],
)
def test_errors_survive_pickling(err: Exception) -> None:
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)


def test_result_survives_pickling() -> None:
    r = make(3, stdout_bytes=b"x", duration=1.5)
    copy = pickle.loads(pickle.dumps(r))
    assert (copy.args, copy.returncode, copy.stdout, copy.duration) == (r.args, 3, "x", 1.5)
