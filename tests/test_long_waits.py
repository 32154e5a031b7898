"""Waiting, long or patient: limits of weeks work, and waiting for a group to empty is cheap.

``poll()`` refuses waits of 2**31 ms (about 24.8 days) and more; every wait cmdrun computes
must be cut into pieces it accepts. The kill grace period must not spin over /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

import cmdrun
from children import pids_in, py, wait_dead
from leakcheck import children_of

WEEKS = 1e9  # about 31 years: far past what poll() accepts in one call


def test_timeout_of_years_lets_the_program_finish() -> None:
    result = cmdrun.run(py("import time; time.sleep(0.2); print('done')"), timeout=WEEKS)
    assert result.stdout == "done\n"


def test_run_of_true_with_a_timeout_of_years() -> None:
    assert cmdrun.run(["true"], timeout=WEEKS).ok


def test_kill_grace_of_years_with_a_child_that_exits_at_sigterm() -> None:
    result = cmdrun.run(["sleep", "30"], timeout=0.2, kill_grace=WEEKS, check=False)
    assert result.timed_out
    assert result.returncode == -signal.SIGTERM


def test_drain_timeout_of_years_waits_for_the_grandchild_to_let_go() -> None:
    code = """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3); print('late')"])
        print("leader done", flush=True)
    """
    result = cmdrun.run(py(code), drain_timeout=WEEKS)
    assert result.stdout == "leader done\nlate\n"


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "pipes"])
def test_expect_with_a_timeout_of_years_matches(tty: bool) -> None:
    code = "import time; time.sleep(0.2); print('ready>', flush=True); input()"
    with cmdrun.spawn(py(code), tty=tty) as session:
        assert session.expect("ready>", timeout=WEEKS).text == "ready>"
        session.sendline("")


def test_session_wait_with_a_timeout_of_years() -> None:
    code = "import time; time.sleep(0.2); print('bye')"
    with cmdrun.spawn(py(code), tty=False) as session:
        result = session.wait(timeout=WEEKS)
    assert result.stdout == "bye\n"


def test_session_default_timeout_of_years() -> None:
    code = "import time; time.sleep(0.2); print('ready>', flush=True)"
    with cmdrun.spawn(py(code), tty=False, timeout=WEEKS) as session:
        session.expect("ready>")
        assert session.read() == "\n"
        assert session.wait().ok


# -- the kill grace period on a busy host -------------------------------------------------

CROWD = 1000  # sleeping processes: each /proc scan then reads this many stat files


def _children_of(parent: int) -> set[int]:
    live, zombies = children_of(parent)
    return live | zombies


@pytest.fixture
def crowd() -> Iterator[None]:
    """``CROWD`` sleeping processes in a process group of their own, as on a busy host."""
    script = f"for i in $(seq {CROWD}); do sleep 120 & done; wait"
    sh = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    try:
        end = time.monotonic() + 60
        while len(_children_of(sh.pid)) < CROWD and time.monotonic() < end:
            time.sleep(0.1)
        yield
    finally:
        for pid in _children_of(sh.pid):  # sh reaps them and exits: no orphan zombies
            os.kill(pid, signal.SIGKILL)
        try:
            sh.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(sh.pid, signal.SIGKILL)
            sh.wait()


def _leader_exits_member_ignores_term() -> list[str]:
    """A leader that dies at SIGTERM, leaving a group member that ignores it (pid printed)."""
    return py(
        """
        import subprocess, time
        member = subprocess.Popen(
            ["sh", "-c", "trap '' TERM; echo ready; exec sleep 60"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        member.stdout.readline()
        print("pids", member.pid, flush=True)
        time.sleep(60)
        """
    )


@pytest.mark.usefixtures("crowd")
def test_kill_grace_does_not_burn_cpu_while_the_group_empties() -> None:
    cpu = time.process_time()
    result = cmdrun.run(_leader_exits_member_ignores_term(), timeout=0.3, kill_grace=2, check=False)
    spent = time.process_time() - cpu
    assert result.timed_out
    assert wait_dead(pids_in(result.stdout)) == []  # SIGKILL reached it after the grace
    assert spent < 0.5, f"{spent:.2f} s of CPU while waiting for the group to empty"


def test_group_check_reads_only_known_members_while_one_lives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host is scanned again only when every member the last scan found is gone."""
    from cmdrun import _platform

    script = "sleep 30 & echo $!; wait"
    leader = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert leader.stdout is not None
    member = int(leader.stdout.readline())
    scans = 0
    full_scan = _platform._live_members

    def counted(pgid: int) -> Iterator[int]:
        nonlocal scans
        scans += 1
        return full_scan(pgid)

    monkeypatch.setattr(_platform, "_live_members", counted)
    try:
        known: list[int] = []
        assert _platform.group_alive(leader.pid, known=known)
        assert sorted(known) == sorted([leader.pid, member])
        assert scans == 1
        assert _platform.group_alive(leader.pid, known=known)
        assert scans == 1
        leader.kill()
        leader.wait()
        assert _platform.group_alive(leader.pid, known=known)
        assert scans == 1
        os.kill(member, signal.SIGKILL)
        assert wait_dead([member]) == []
        assert not _platform.group_alive(leader.pid, known=known)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()
        leader.stdout.close()
