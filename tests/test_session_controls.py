"""Session controls pexpect users reach for: resize, control keys, raw bytes, pass_fds,
sending after close, and a transcript (``logfile=``)."""

from __future__ import annotations

import io
import os
import pickle
import signal
from collections.abc import Callable, Iterator

import pytest

import cmdrun
import cmdrun._pty
from children import own_children, prompter, py, winch_reporter
from cmdrun import Secret, Session, SessionClosed
from cmdrun._secret import MASK
from conftest import run_fallback_cases

BOTH = pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])


@pytest.fixture(autouse=True)
def no_stray_children() -> Iterator[None]:
    before = own_children()
    yield
    assert own_children() == before


def test_fallback_path_in_a_single_threaded_process() -> None:
    run_fallback_cases(__file__)


def hex_reader() -> list[str]:
    """Read one line of raw bytes from stdin and print them in hex."""
    return py(
        """
        import sys
        line = sys.stdin.buffer.readline()
        print("HEX:" + line.hex() + ":", flush=True)
        """
    )


def fd_writer(fd: int) -> list[str]:
    """Write ``hi`` to fd ``fd`` if it is open, print ``closed`` if it is not."""
    return py(
        """
        import os, sys
        fd = int(sys.argv[1])
        try:
            os.write(fd, b"hi")
        except OSError:
            print("closed", flush=True)
        else:
            print("written", flush=True)
        """,
        str(fd),
    )


# -- resize -------------------------------------------------------------------------------


def test_resize_sends_sigwinch_with_the_new_size(start_path: str) -> None:
    with cmdrun.spawn(winch_reporter(), timeout=10, dimensions=(24, 80)) as s:
        s.expect("READY")
        s.resize(33, 111)
        s.expect("SIZE 33 111")
        assert s.wait().returncode == 0


def test_stty_sees_the_size_after_resize() -> None:
    with cmdrun.spawn(["sh", "-c", "read x; stty size"], timeout=10) as s:
        s.resize(42, 132)
        s.sendline("go")
        s.expect("42 132")


def test_resize_on_pipes_is_refused_clearly() -> None:
    s = cmdrun.spawn(prompter(), tty=False, timeout=10)
    with s, pytest.raises(io.UnsupportedOperation, match="pseudo-terminal"):
        s.resize(30, 100)


@pytest.mark.parametrize(("rows", "cols"), [(0, 80), (24, -1), (24, 70000), (24.0, 80), (True, 80)])
def test_resize_rejects_bad_sizes(rows: object, cols: object) -> None:
    with cmdrun.spawn(prompter(), timeout=10) as s, pytest.raises((TypeError, ValueError)):
        s.resize(rows, cols)  # type: ignore[arg-type]


# -- control keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "byte"),
    [("c", "03"), ("C", "03"), ("d", "04"), ("z", "1a"), ("[", "1b"), ("?", "7f"), ("@", "00")],
)
def test_sendcontrol_types_the_control_byte(char: str, byte: str) -> None:
    with cmdrun.spawn(hex_reader(), tty=False, timeout=10) as s:
        s.sendcontrol(char)
        s.sendline()
        s.expect(f"HEX:{byte}0a:")


def test_sendcontrol_c_interrupts_a_program_on_a_terminal() -> None:
    with cmdrun.spawn(prompter(), timeout=10) as s:
        s.expect("> ")
        s.sendcontrol("c")
        assert s.wait().returncode == -signal.SIGINT


@pytest.mark.parametrize("char", ["", "cc", "1", "é", " ", b"c"])
def test_sendcontrol_rejects_what_has_no_control_key(char: object) -> None:
    with cmdrun.spawn(prompter(), timeout=10) as s, pytest.raises((ValueError, TypeError)):
        s.sendcontrol(char)  # type: ignore[arg-type]


# -- raw bytes ----------------------------------------------------------------------------


@BOTH
def test_send_bytes_go_out_unchanged(tty: bool) -> None:
    with cmdrun.spawn(hex_reader(), tty=tty, timeout=10) as s:
        s.send(bytes([200, 255]))
        s.sendline(bytearray(b"\x01z"))
        s.expect("HEX:c8ff017a0a:")


def test_send_text_is_encoded_with_the_session_encoding() -> None:
    with cmdrun.spawn(hex_reader(), tty=False, timeout=10, encoding="latin-1") as s:
        s.sendline(chr(200))
        s.expect("HEX:c80a:")


# -- pass_fds -----------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        try:
            os.close(fd)
        except OSError:
            pass


def _read_passed(pipe: tuple[int, int], go: Callable[[], str]) -> tuple[str, bytes]:
    read, write = pipe
    said = go()
    os.close(write)
    return said, os.read(read, 100)


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_run_passes_the_fds_given(tty: bool, pipe: tuple[int, int]) -> None:
    said, got = _read_passed(
        pipe, lambda: cmdrun.run(fd_writer(pipe[1]), tty=tty, pass_fds=[pipe[1]]).stdout
    )
    assert "written" in said
    assert got == b"hi"


def test_pty_start_paths_pass_the_fds_given(start_path: str, pipe: tuple[int, int]) -> None:
    def go() -> str:
        with cmdrun.spawn(fd_writer(pipe[1]), timeout=10, pass_fds=(pipe[1],)) as s:
            return s.read()

    said, got = _read_passed(pipe, go)
    assert "written" in said
    assert got == b"hi"


@BOTH
def test_fds_not_passed_stay_closed_in_the_child(tty: bool, pipe: tuple[int, int]) -> None:
    other_read, other_write = os.pipe()
    try:
        os.set_inheritable(other_write, True)  # even an inheritable fd is not leaked
        result = cmdrun.run(fd_writer(other_write), tty=tty, pass_fds=[pipe[1]])
    finally:
        os.close(other_read)
        os.close(other_write)
    assert "closed" in result.stdout


def test_run_many_passes_the_fds_given(pipe: tuple[int, int]) -> None:
    results = cmdrun.run_many([fd_writer(pipe[1])] * 2, pass_fds=[pipe[1]])
    os.close(pipe[1])
    assert [r.stdout for r in results] == ["written\n"] * 2
    assert os.read(pipe[0], 100) == b"hihi"


@pytest.mark.parametrize(
    ("fds", "error", "words"),
    [
        ([1], ValueError, "standard"),
        ([-1], ValueError, ">= 3"),
        (["5"], TypeError, "int"),
        ([True], TypeError, "int"),
        (5, TypeError, "sequence"),
    ],
)
def test_pass_fds_rejects_bad_values(fds: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        cmdrun.run(["true"], pass_fds=fds)  # type: ignore[arg-type]


def test_pass_fds_rejects_a_closed_fd(pipe: tuple[int, int]) -> None:
    os.close(pipe[1])
    with pytest.raises(ValueError, match="not open"):
        cmdrun.spawn(["true"], pass_fds=[pipe[1]])


# -- after close ----------------------------------------------------------------------------

SENDERS: dict[str, Callable[[Session], object]] = {
    "send": lambda s: s.send("x"),
    "sendline": lambda s: s.sendline("x"),
    "send bytes": lambda s: s.send(b"x"),
    "sendcontrol": lambda s: s.sendcontrol("c"),
    "sendeof": lambda s: s.sendeof(),
    "interrupt": lambda s: s.interrupt(),
    "resize": lambda s: s.resize(30, 100),
}


@BOTH
@pytest.mark.parametrize("sender", list(SENDERS))
def test_every_sender_refuses_after_close(tty: bool, sender: str) -> None:
    s = cmdrun.spawn(prompter(), tty=tty, timeout=10)
    s.close()
    with pytest.raises(SessionClosed, match="closed") as caught:
        SENDERS[sender](s)
    assert isinstance(caught.value, BrokenPipeError)  # what sendline raised before


@BOTH
@pytest.mark.parametrize("sender", ["sendline", "sendeof", "interrupt"])
def test_every_sender_refuses_after_the_program_was_waited_for(tty: bool, sender: str) -> None:
    with cmdrun.spawn(["true"], tty=tty, timeout=10) as s:
        s.wait()
        with pytest.raises(SessionClosed, match="ended"):
            SENDERS[sender](s)


def test_session_closed_pickles() -> None:
    s = cmdrun.spawn(prompter(), timeout=10)
    s.close()
    with pytest.raises(SessionClosed) as caught:
        s.sendline("x")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert isinstance(copy, BrokenPipeError)


@BOTH
def test_read_after_close_returns_what_was_not_consumed(tty: bool) -> None:
    code = 'import time; print("hello world", flush=True); time.sleep(30)'
    s = cmdrun.spawn(py(code), tty=tty, timeout=10)
    s.expect("hello")
    s.close()
    assert s.read().strip() == "world"
    assert s.read() == ""


# -- transcript ---------------------------------------------------------------------------


def test_logfile_gets_output_and_what_was_typed_in_order() -> None:
    log = io.StringIO()
    with cmdrun.spawn(prompter(), tty=False, timeout=10, logfile=log) as s:
        s.expect("> ")
        s.sendline("hello")
        s.expect("> ")
        s.sendline(Secret("hunter2"))
        s.expect("> ")
        s.sendeof()
        s.wait()
    text = log.getvalue()
    assert "hunter2" not in text
    assert text.startswith("> hello\ngot: hello\n> " + MASK + "\ngot: " + MASK + "\n> ")


def test_logfile_masks_a_secret_echoed_by_the_terminal() -> None:
    log = io.StringIO()
    with cmdrun.spawn(prompter(), timeout=10, logfile=log) as s:
        s.expect("> ")
        s.sendline(Secret("hunter2"))
        s.expect("> ")
    assert "hunter2" not in log.getvalue()
    assert log.getvalue().startswith("> ")


def test_logfile_refuses_a_binary_file(tmp_path: object) -> None:
    with pytest.raises(TypeError, match="text"):
        cmdrun.spawn(["true"], logfile=io.BytesIO())  # type: ignore[arg-type]
