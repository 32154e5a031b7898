"""Children that fight signals, and children that die by them."""

from __future__ import annotations

import os
import pathlib
import re
import resource
import signal
import subprocess
from collections.abc import Iterator

import pytest

import cmdrun
import leakcheck
from children import ctrl_c_parent, die_by, ignore_and_hang, pids_in, py, stop_self
from faults.bounds import BOUND, GRACE, TIMEOUT, timed


def _run_with_timeout(argv: list[str], **kw: object) -> tuple[cmdrun.Result, float]:
    return timed(
        lambda: cmdrun.run(argv, timeout=TIMEOUT, kill_grace=GRACE, check=False, **kw)  # type: ignore[arg-type]
    )


def test_child_ignoring_sigterm_is_killed_within_the_bound(pids: list[int]) -> None:
    r, elapsed = _run_with_timeout(ignore_and_hang(signal.SIGTERM))
    pids += pids_in(r.stdout)
    assert r.timed_out
    assert r.returncode == -signal.SIGKILL
    assert TIMEOUT + GRACE - 0.05 <= elapsed < BOUND


@pytest.fixture
def crowded_host() -> Iterator[None]:
    """500 extra sleeping processes on the host, as on a busy server (item 15 scaled)."""
    crowd = subprocess.Popen(
        py(
            """
            import os, signal, time
            for _ in range(500):
                if os.fork() == 0:
                    signal.pause()
                    os._exit(0)
            print("ready", flush=True)
            time.sleep(60)
            """
        ),
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert crowd.stdout is not None
    crowd.stdout.readline()
    yield
    os.killpg(crowd.pid, signal.SIGKILL)
    crowd.wait()
    crowd.stdout.close()


def test_kill_grace_waits_without_burning_a_core(crowded_host: None) -> None:
    # The leader dies at SIGTERM, a grandchild ignoring it keeps the group alive.
    code = "(trap '' TERM; exec sleep 60) & echo pids $!; sleep 60"
    before = resource.getrusage(resource.RUSAGE_SELF)
    r = cmdrun.run(["sh", "-c", code], timeout=0.2, kill_grace=1.0, check=False)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert r.timed_out
    leakcheck.assert_gone(pids_in(r.stdout))
    assert cpu < 0.25  # of the 1.0 s grace: waiting, not scanning /proc in a loop


def test_ctrl_c_on_a_child_ignoring_sigint_escalates_within_the_bound(
    tmp_path: pathlib.Path,
) -> None:
    pidfile = tmp_path / "pids"
    child = py(
        """
        import os, signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(60)
        """,
        str(pidfile),
    )
    call = f"cmdrun.run(CHILD, kill_grace={GRACE})"
    (code, out, printed), elapsed = timed(lambda: ctrl_c_parent(call, child, str(pidfile), 1))
    assert (code, out) == (42, b"KeyboardInterrupt\n")
    assert elapsed < 5 + BOUND  # the parent's start-up, then the grace period
    leakcheck.assert_gone(printed)


def test_timeout_stops_a_child_ignoring_sigint(pids: list[int]) -> None:
    r, elapsed = _run_with_timeout(ignore_and_hang(signal.SIGINT))
    pids += pids_in(r.stdout)
    assert r.timed_out
    assert r.returncode == -signal.SIGTERM
    assert elapsed < BOUND


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_child_ignoring_sighup_is_stopped_within_the_bound(tty: bool, pids: list[int]) -> None:
    r, elapsed = _run_with_timeout(ignore_and_hang(signal.SIGHUP, signal.SIGTERM), tty=tty)
    pids += pids_in(r.stdout)
    assert r.timed_out
    assert r.returncode == -signal.SIGKILL
    assert elapsed < BOUND


def test_pty_session_closed_on_a_child_ignoring_sighup(pids: list[int]) -> None:
    def session() -> cmdrun.Result:
        with cmdrun.spawn(ignore_and_hang(signal.SIGHUP), kill_grace=GRACE) as s:
            found = s.expect(re.compile(r"pids (\d+)"))
            assert found.match is not None
            pids.append(int(found.match.group(1)))
        return s.close()

    r, elapsed = timed(session)
    assert r.returncode < 0
    assert elapsed < BOUND


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_child_that_stops_itself_is_killed_by_the_timeout(tty: bool) -> None:
    r, elapsed = _run_with_timeout(stop_self(), tty=tty)
    assert r.timed_out
    assert "partial" in r.stdout
    assert elapsed < BOUND


def test_session_on_a_child_that_stops_itself_closes_within_the_bound() -> None:
    def session() -> cmdrun.Result:
        with cmdrun.spawn(stop_self(), tty=False, kill_grace=GRACE) as s:
            s.expect("partial")
        return s.close()

    r, elapsed = timed(session)
    assert r.returncode < 0
    assert elapsed < BOUND


DEADLY = [
    signal.SIGSEGV,
    signal.SIGABRT,
    signal.SIGKILL,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGPIPE,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGQUIT,
    signal.SIGBUS,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGXCPU,
]


@pytest.mark.parametrize("sig", DEADLY, ids=[s.name for s in DEADLY])
def test_death_by_signal_is_reported_as_that_signal(sig: signal.Signals) -> None:
    r = cmdrun.run(die_by(sig), check=False, timeout=10)
    assert r.returncode == -sig
    assert r.signal == sig
    assert r.stderr == "about to die\n"
    assert not r.timed_out
    with pytest.raises(cmdrun.CommandFailed) as info:
        r.check_returncode()
    assert info.value.returncode == -sig


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_death_by_signal_on_a_pty_is_reported_as_that_signal(sig: signal.Signals) -> None:
    r = cmdrun.run(die_by(sig), check=False, timeout=10, tty=True)
    assert r.returncode == -sig
    assert r.signal == sig
    assert "about to die" in r.stdout


def test_death_by_signal_in_a_session_is_reported_as_that_signal() -> None:
    with cmdrun.spawn(die_by(signal.SIGABRT), tty=False) as s:
        r = s.wait(timeout=10)
    assert r.returncode == -signal.SIGABRT
    assert r.signal == signal.SIGABRT
