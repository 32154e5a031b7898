"""Children that multiply, and children that let go of their pipes."""

from __future__ import annotations

import cmdrun
from children import close_stdout_then, fork_holders, pids_in
from faults.bounds import BOUND, GRACE, TIMEOUT, timed


def test_timeout_stops_100_grandchildren_holding_the_pipes(pids: list[int]) -> None:
    r, elapsed = timed(
        lambda: cmdrun.run(fork_holders(100), timeout=TIMEOUT + 1.0, kill_grace=GRACE, check=False)
    )
    pids += pids_in(r.stdout)
    assert len(pids) == 101
    assert r.timed_out
    assert elapsed < BOUND + 1.0  # the extra second lets 100 forks finish first


def test_timeout_stops_a_child_that_closed_its_stdout() -> None:
    r, elapsed = timed(
        lambda: cmdrun.run(close_stdout_then(60), timeout=TIMEOUT, kill_grace=GRACE, check=False)
    )
    assert r.timed_out
    assert r.stdout == "partial\n"
    assert elapsed < BOUND


def test_child_that_closed_its_stdout_is_waited_for_and_its_status_kept() -> None:
    r, elapsed = timed(lambda: cmdrun.run(close_stdout_then(0.5, code=3), check=False))
    assert r.returncode == 3
    assert not r.timed_out
    assert r.stdout == "partial\n"
    assert elapsed >= 0.45  # end of output is not the end of the program


def test_session_on_a_child_that_closed_its_stdout_waits_for_its_exit() -> None:
    with cmdrun.spawn(close_stdout_then(0.3, code=4), tty=False) as s:
        assert s.read(timeout=10) == "partial\n"
        r = s.wait(timeout=10)
    assert r.returncode == 4
