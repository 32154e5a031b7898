"""Sessions nobody closed: stopped and reaped at garbage collection and at interpreter exit."""

from __future__ import annotations

import pathlib

import pytest

import cmdrun
from children import PY, ctrl_c_parent, open_fds, own_children, py, wait_dead

PID_THEN_SLEEP = """
import os, sys, time
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("tty", [True, False])
def test_dropped_sessions_are_stopped_and_reaped(tty: bool) -> None:
    fds, children = open_fds(), own_children()
    pids: list[int] = []

    def drop_sessions() -> None:
        for _ in range(10):
            session = cmdrun.spawn(["sleep", "60"], tty=tty)
            pids.append(session.pid)
            del session  # no reference cycle: stopped right here, without gc.collect()

    with pytest.warns(ResourceWarning, match="never closed"):
        drop_sessions()
    assert wait_dead(pids) == []
    assert own_children() == children
    assert open_fds() == fds


def test_ctrl_c_in_expect_without_with_stops_the_program(tmp_path: pathlib.Path) -> None:
    pidfile = tmp_path / "pid"
    child = py(PID_THEN_SLEEP, str(pidfile))
    call = "s = cmdrun.spawn(CHILD, tty=False); s.expect('never', timeout=60)"
    code, out, pids = ctrl_c_parent(call, child, str(pidfile), 1)
    assert (code, out) == (42, b"KeyboardInterrupt\n")
    assert wait_dead(pids) == []


def test_session_left_open_does_not_outlive_the_script(tmp_path: pathlib.Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"""
import cmdrun, sys
session = cmdrun.spawn({py(PID_THEN_SLEEP, str(pidfile))!r}, tty=True)
session.expect("ready")
print("leaving", flush=True)
"""
    result = cmdrun.run([PY, "-W", "always::ResourceWarning", "-c", script], timeout=30)
    pid = int(pidfile.read_text())
    assert result.stdout == "leaving\n"
    assert "still open at exit" in result.stderr
    assert wait_dead([pid]) == []


FORK_CHILD_EXITS = """
import os, sys
import cmdrun
session = cmdrun.spawn(["sleep", "60"], tty=False)
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit: the child runs the atexit handlers it inherited
os.waitpid(pid, 0)
print(session.alive)
session.close()
"""


def test_fork_child_never_stops_its_parents_sessions() -> None:
    result = cmdrun.run([PY, "-c", FORK_CHILD_EXITS], timeout=30)
    assert result.stdout == "True\n"
