"""Timeouts hold: the whole process group is stopped, bounded in time, output kept.

The only timed assertions in the suite live here, with the bound the API promises
(``timeout + kill_grace + 0.5 s``) plus a margin for a loaded CI machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import cmdrun
from children import (
    close_pipes_and_hang,
    daemonize,
    ignore_term_and_hang,
    pids_in,
    reap_leftovers,
    stop_self,
    tree,
    wait_dead,
)
from cmdrun import CommandTimedOut, Result

TIMEOUT = 0.5
GRACE = 0.5
NOISE = 0.75  # scheduling margin on a busy 2-core machine
BOUND = TIMEOUT + GRACE + 0.5 + NOISE


def timed_run(argv: list[str], **kw: object) -> tuple[Result, float]:
    start = time.monotonic()
    result = cmdrun.run(argv, timeout=TIMEOUT, kill_grace=GRACE, check=False, **kw)  # type: ignore[arg-type]
    return result, time.monotonic() - start


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test knows cmdrun must leave running; killed afterwards."""
    pids: list[int] = []
    yield pids
    reap_leftovers(pids)


def test_timeout_raises_with_partial_output() -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        cmdrun.run(["sh", "-c", "echo partial; echo err >&2; sleep 30"], timeout=TIMEOUT)
    assert time.monotonic() - start < BOUND
    err = info.value
    assert err.timeout == TIMEOUT
    assert err.output == "partial\n"
    assert err.stderr == "err\n"
    assert err.result.timed_out
    assert err.result.returncode == -15
    assert "timed out after 0.5 s" in str(err)


def test_timeout_with_check_false_returns_result() -> None:
    r, elapsed = timed_run(["sleep", "30"])
    assert r.timed_out
    assert not r.ok
    assert r.signal is not None
    assert r.signal.name == "SIGTERM"
    assert elapsed < BOUND


def test_child_ignoring_sigterm_is_killed_after_grace() -> None:
    r, elapsed = timed_run(ignore_term_and_hang())
    assert r.timed_out
    assert r.returncode == -9
    assert r.stdout == "partial\n"
    assert TIMEOUT + GRACE - 0.05 <= elapsed < BOUND


def test_child_that_stopped_itself_is_stopped() -> None:
    r, elapsed = timed_run(stop_self())
    assert r.timed_out
    assert r.stdout == "partial\n"
    assert elapsed < BOUND


@pytest.mark.parametrize("ignore_term", [False, True])
def test_timeout_kills_grandchildren_that_hold_the_pipes(ignore_term: bool) -> None:
    r, elapsed = timed_run(tree(3, ignore_term=ignore_term))
    assert r.timed_out
    assert elapsed < BOUND
    assert wait_dead(pids_in(r.stdout)) == []


def test_grandchildren_ignoring_sigterm_are_killed() -> None:
    code = "trap '' TERM; (trap '' TERM; echo pids $(sh -c 'echo $PPID'); sleep 60) & wait"
    r, elapsed = timed_run(["sh", "-c", code])
    assert r.timed_out
    assert elapsed < BOUND
    assert wait_dead(pids_in(r.stdout)) == []


def test_grandchild_that_left_the_group_does_not_hang_run(leftovers: list[int]) -> None:
    r, elapsed = timed_run(tree(1, setsid=True))
    leftovers += pids_in(r.stdout)
    assert r.timed_out
    assert elapsed < BOUND
    assert "pids" in r.stdout


def test_child_that_closed_its_pipes_is_still_timed_out() -> None:
    r, elapsed = timed_run(close_pipes_and_hang())
    assert r.timed_out
    assert r.stdout == "partial\n"
    assert elapsed < BOUND


def test_daemon_holding_pipes_after_exit_is_left_alone(leftovers: list[int]) -> None:
    start = time.monotonic()
    r = cmdrun.run(daemonize(code=3), check=False, timeout=30)
    elapsed = time.monotonic() - start
    pids = pids_in(r.stdout)
    leftovers += pids
    assert r.returncode == 3
    assert not r.timed_out
    assert 0.9 <= elapsed < 1.0 + 1.0  # the default drain_timeout is 1 s
    assert wait_dead(pids, within=0.1) == pids  # still running: it may be deliberate


def test_drain_timeout_is_adjustable(leftovers: list[int]) -> None:
    start = time.monotonic()
    r = cmdrun.run(daemonize(), drain_timeout=0.1)
    leftovers += pids_in(r.stdout)
    assert time.monotonic() - start < 0.9
    assert r.ok


def test_call_timeout_stops_the_group() -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        cmdrun.call(["sh", "-c", "sleep 60 & sleep 60"], timeout=TIMEOUT, kill_grace=GRACE)
    assert time.monotonic() - start < BOUND
    assert info.value.result.timed_out


def test_infinite_timeout_means_no_timeout() -> None:
    assert cmdrun.run(["true"], timeout=float("inf")).ok
