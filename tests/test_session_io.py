"""Sessions: typing without a newline, ``read`` running out of time, and the session errors
surviving a pickle round trip (as they do through ``multiprocessing``)."""

from __future__ import annotations

import pickle
import re
import time

import pytest

import cmdrun
from children import py
from cmdrun import ExpectTimeout, UnexpectedEOF

BOTH = pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])

READ_ONE_LINE = "import sys; print('got %r' % sys.stdin.readline(), flush=True)"
# One write: once "one" is seen, "partial" has arrived too.
PARTIAL_THEN_HANG = "import os, time; os.write(1, b'one\\npartial\\n'); time.sleep(60)"


@BOTH
def test_send_types_without_a_newline(tty: bool) -> None:
    with cmdrun.spawn(py(READ_ONE_LINE), tty=tty, timeout=10) as s:
        s.send("ab")
        s.send("cd")
        s.sendline("e")
        found = s.expect(re.compile(r"got '(.*)'"))
        assert found.match is not None
        assert found.match.group(1) == "abcde\\n"
        assert s.wait().returncode == 0


@BOTH
def test_read_timeout_says_what_arrived(tty: bool) -> None:
    with cmdrun.spawn(py(PARTIAL_THEN_HANG), tty=tty, timeout=10) as s:
        s.expect("one")
        start = time.monotonic()
        with pytest.raises(ExpectTimeout) as info:
            s.read(timeout=0.3)
        assert time.monotonic() - start < 5
        err = info.value
        assert (err.timeout, err.patterns) == (0.3, "EOF")
        assert err.received.split() == ["partial"]
        assert "partial" in str(err)
        assert s.alive  # a timed-out read leaves the program running


def session_errors() -> tuple[ExpectTimeout, UnexpectedEOF]:
    hangs = cmdrun.spawn(py(PARTIAL_THEN_HANG), tty=False, timeout=10)
    with hangs, pytest.raises(ExpectTimeout) as timed_out:
        hangs.expect("never", timeout=0.2)
    exits = cmdrun.spawn(py("print('bye'); raise SystemExit(4)"), tty=False, timeout=10)
    with exits, pytest.raises(UnexpectedEOF) as ended:
        exits.expect("never")
    return timed_out.value, ended.value


def test_session_errors_survive_pickling() -> None:
    timed_out, ended = session_errors()
    assert ended.returncode == 4
    for err in (timed_out, ended):
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err)
        assert str(copy) == str(err)
        assert copy.args == err.args
        assert vars(copy) == vars(err)  # every attribute: command, patterns, received, ...
    assert "partial" in pickle.loads(pickle.dumps(timed_out)).received
    assert pickle.loads(pickle.dumps(ended)).returncode == 4
