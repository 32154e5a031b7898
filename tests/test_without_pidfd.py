"""Without pidfds (old kernels, other POSIX systems) the pump polls ``waitpid`` instead:
runs, timeouts and sessions must behave the same."""

from __future__ import annotations

import os
import signal
import time

import pytest

import cmdrun
from children import (
    close_pipes_and_hang,
    daemonize,
    ignore_term_and_hang,
    pids_in,
    prompter,
    reap_leftovers,
    write_both,
)
from cmdrun import _platform


@pytest.fixture(autouse=True)
def no_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_platform, "HAS_PIDFD", False)
    assert _platform.exit_fd(os.getpid()) is None


def test_run_reports_output_and_status() -> None:
    result = cmdrun.run(write_both("out\n", "err\n", code=3), check=False, timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.timed_out


def test_exit_is_noticed_while_a_descendant_holds_the_pipes() -> None:
    start = time.monotonic()
    result = cmdrun.run(daemonize(5), check=False, timeout=10, drain_timeout=0.2)
    try:
        assert time.monotonic() - start < 5
        assert (result.returncode, result.timed_out) == (5, False)
    finally:
        reap_leftovers(pids_in(result.stdout))


def test_timeout_stops_a_program_that_closed_its_output() -> None:
    start = time.monotonic()
    result = cmdrun.run(close_pipes_and_hang(), timeout=0.3, check=False)
    assert time.monotonic() - start < 5
    assert result.timed_out
    assert result.signal == signal.SIGTERM
    assert result.stdout == "partial\n"


def test_timeout_escalates_to_kill() -> None:
    start = time.monotonic()
    result = cmdrun.run(ignore_term_and_hang(), timeout=0.3, kill_grace=0.3, check=False)
    assert time.monotonic() - start < 5
    assert result.timed_out
    assert result.signal == signal.SIGKILL


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_session_dialogue(tty: bool) -> None:
    with cmdrun.spawn(prompter(), tty=tty, timeout=10) as s:
        s.expect("> ")
        s.sendline("hi")
        s.expect("got: hi")
        s.expect("> ")
        s.sendeof()
        s.expect("bye")
        result = s.wait()
    assert result.returncode == 0


def test_session_wait_timeout_stops_the_program() -> None:
    with cmdrun.spawn(prompter(), tty=False, timeout=10) as s:
        s.expect("> ")
        start = time.monotonic()
        with pytest.raises(cmdrun.CommandTimedOut):
            s.wait(timeout=0.3)
        assert time.monotonic() - start < 5
        assert not s.alive
