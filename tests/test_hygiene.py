"""Nothing leaks: no fd, no zombie, no stray process, whatever happened to the child."""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import time
from collections.abc import Iterator

import pytest

import cmdrun
from children import (
    ctrl_c_parent,
    echo_stdin,
    ignore_term_and_hang,
    kill_self,
    open_fds,
    own_children,
    pids_in,
    py,
    tree,
    wait_dead,
)


def _every_kind_of_run() -> None:
    cmdrun.run(["echo", "ok"])
    cmdrun.run(echo_stdin(), input=b"x" * 300_000)
    cmdrun.run(["false"], check=False)
    cmdrun.run(kill_self(9), check=False)
    cmdrun.run(["sleep", "5"], timeout=0.2, check=False)
    cmdrun.run(ignore_term_and_hang(), timeout=0.2, kill_grace=0.1, check=False)
    cmdrun.call(["true"])
    for bad in (["cmdrun-no-such-program"], ["/"]):
        with pytest.raises(cmdrun.CmdrunError):
            cmdrun.run(bad)


def test_no_fd_or_child_process_leaks() -> None:
    _every_kind_of_run()  # warm up lazily opened fds (e.g. /dev/null, pidfd probing)
    fds, kids = open_fds(), own_children()
    _every_kind_of_run()
    assert open_fds() == fds
    assert own_children() == kids


@pytest.fixture
def alarm() -> Iterator[None]:
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _raise_in(seconds: float, exc: type[BaseException]) -> None:
    def handler(signum: int, frame: object) -> None:
        raise exc("raised in the parent while waiting")

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_exception_in_parent_stops_the_group_and_reraises(
    alarm: None, exc: type[BaseException], tmp_path: pathlib.Path
) -> None:
    kids_before, fds_before = own_children(), open_fds()
    argv = py(
        """
        import subprocess, sys, time
        kids = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
        with open(sys.argv[1], "w") as f:
            f.write(" ".join(str(k.pid) for k in kids))
        time.sleep(60)
        """,
        str(tmp_path / "pids"),
    )
    _raise_in(1.0, exc)
    start = time.monotonic()
    with pytest.raises(exc):
        cmdrun.run(argv, kill_grace=0.5)
    assert time.monotonic() - start < 3
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert wait_dead(pids) == []
    assert own_children() == kids_before
    assert open_fds() == fds_before


def test_ctrl_c_in_a_real_parent_process_stops_everything(tmp_path: pathlib.Path) -> None:
    """SIGINT delivered to a Python process blocked in run(): it re-raises, nothing survives.

    The grandchildren ignore SIGINT (as background jobs do), so the kill policy has to
    escalate to SIGKILL.
    """
    pidfile = tmp_path / "pids"
    child = py(
        """
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        kids = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(" ".join(str(p) for p in [os.getpid(), *[k.pid for k in kids]]))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(60)
        """,
        str(pidfile),
    )
    code, out, pids = ctrl_c_parent("cmdrun.run(CHILD, kill_grace=0.5)", child, str(pidfile), 3)
    assert (code, out) == (42, b"KeyboardInterrupt\n")
    assert wait_dead(pids) == []


def test_many_sequential_runs_do_not_accumulate_fds() -> None:
    fds = open_fds()
    for _ in range(200):
        cmdrun.run(["true"])
    assert open_fds() == fds


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_timeout_leaves_no_process_of_the_group() -> None:
    r = cmdrun.run(tree(4), timeout=0.3, check=False)
    pids = pids_in(r.stdout)
    assert wait_dead([*pids, r.pid]) == []
    assert os.getpid() not in pids
