"""``die_with_parent=True``: a parent killed by a signal takes its programs with it."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time
import uuid

import pytest

from children import PY, alive, py, reap_leftovers, wait_dead

FAMILY = """
import os, subprocess, sys, time
kid = subprocess.Popen(["sleep", "60"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {kid.pid}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""

PARENT = """
import json, sys, cmdrun
child, door, die = json.loads(sys.argv[1])
if door == "run":
    cmdrun.run(child, die_with_parent=die, kill_grace=0.5)
else:
    with cmdrun.spawn(child, tty=door == "pty", die_with_parent=die, kill_grace=0.5) as s:
        s.expect("never", timeout=60)
"""


def _start_family(
    tmp_path: pathlib.Path, door: str, die: bool
) -> tuple[subprocess.Popen[bytes], list[int]]:
    pidfile = tmp_path / "pids"
    args = json.dumps([py(FAMILY, str(pidfile)), door, die])
    parent = subprocess.Popen([PY, "-c", PARENT, args])
    deadline = time.monotonic() + 15
    while not pidfile.exists():
        assert time.monotonic() < deadline, "the child never started"
        assert parent.poll() is None, "the parent died"
        time.sleep(0.02)
    return parent, [int(p) for p in pidfile.read_text().split()]


@pytest.mark.parametrize("door", ["run", "pipes", "pty"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGHUP])
def test_killed_parent_takes_the_whole_group_along(
    tmp_path: pathlib.Path, door: str, sig: signal.Signals
) -> None:
    parent, pids = _start_family(tmp_path, door, die=True)
    parent.send_signal(sig)
    assert parent.wait(timeout=10) == -sig
    try:
        assert wait_dead(pids, within=5) == []
    finally:
        reap_leftovers(pids)


def test_by_default_a_killed_parent_leaves_its_program_running(tmp_path: pathlib.Path) -> None:
    # The documented default, as with subprocess: nothing runs in a parent killed by SIGKILL.
    parent, pids = _start_family(tmp_path, "run", die=False)
    parent.kill()
    parent.wait(timeout=10)
    try:
        time.sleep(0.3)
        assert all(alive(p) for p in pids)
    finally:
        reap_leftovers(pids)


def test_parent_that_finishes_normally_leaves_no_watchdog(tmp_path: pathlib.Path) -> None:
    code = """
import cmdrun, os
for _ in range(20):
    cmdrun.run(["true"], die_with_parent=True)
"""
    # The watchdog inherits its parent's environment: a mark there tells this test's watchdog
    # from those of tests running beside it (a scan by command line alone was flaky).
    token = uuid.uuid4().hex
    mark = f"CMDRUN_TEST_WATCHDOG_MARK={token}"
    env = {**os.environ, "CMDRUN_TEST_WATCHDOG_MARK": token}
    subprocess.run([PY, "-c", code], check=True, timeout=30, env=env)
    time.sleep(0.3)
    watchdogs = [
        p
        for p in os.listdir("/proc")
        if p.isdigit() and _cmdline(p).startswith(f"{PY} -I -S -c") and mark in _environ(p)
    ]
    assert watchdogs == []


def _environ(pid: str) -> list[str]:
    try:
        return (
            pathlib.Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
        )
    except OSError:
        return []


def _cmdline(pid: str) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_the_watchdog_is_up_before_the_first_child_starts() -> None:
    """Starting the watchdog takes a Python start-up: done after the child's start, a parent
    killed meanwhile (a loaded CI machine) left the child alone. Now registering a child
    is only a write to a watchdog already running."""
    code = """
import cmdrun._start as start
from cmdrun._watchdog import WATCHDOG
seen = []
real = start._start_child
def spy(*args):
    seen.append(WATCHDOG._fd >= 0)
    return real(*args)
start._start_child = spy
import cmdrun
cmdrun.run(["true"], die_with_parent=True)
print(seen)
"""
    done = subprocess.run([PY, "-c", code], check=True, timeout=30, capture_output=True, text=True)
    assert done.stdout.strip() == "[True]"
