"""run_many / as_completed: order, per-command timeouts, fail_fast, Ctrl-C, many threads."""

from __future__ import annotations

import pathlib
import sys
import threading
import time

import pytest

import cmdrun
from children import ctrl_c_parent, deaf_to_ctrl_c, open_fds, own_children, py, wait_dead


def test_results_come_back_in_input_order() -> None:
    cmds = [py(f"import time; time.sleep({0.3 - i * 0.05}); print({i})") for i in range(6)]
    results = cmdrun.run_many(cmds, jobs=6)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


def test_failures_and_timeouts_do_not_lose_other_results() -> None:
    cmds = [["echo", "ok"], ["sh", "-c", "exit 3"], ["sleep", "30"], ["no-such-program-x"]]
    results = cmdrun.run_many(cmds, timeout=0.5, kill_grace=0.2)
    assert [r.returncode for r in results[:2]] == [0, 3]
    assert results[0].stdout == "ok\n"
    assert results[2].timed_out
    assert results[3].returncode == 127
    assert "command not found" in results[3].stderr


def test_each_command_has_its_own_timeout() -> None:
    start = time.monotonic()
    results = cmdrun.run_many([["sleep", "30"]] * 4, jobs=4, timeout=0.3)
    assert all(r.timed_out for r in results)
    assert time.monotonic() - start < 0.3 + 2.0 + 0.5 + 1.0


def test_jobs_limits_concurrency(tmp_path: pathlib.Path) -> None:
    code = """
import os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, b"+")
time.sleep(0.1)
os.write(fd, b"-")
"""
    log = tmp_path / "log"
    cmdrun.run_many([py(code, str(log))] * 8, jobs=2)
    running = peak = 0
    for mark in log.read_text():
        running += 1 if mark == "+" else -1
        peak = max(peak, running)
    assert peak <= 2


def test_fail_fast_stops_the_rest_and_raises_the_first_failure() -> None:
    before = own_children()
    cmds = [["sleep", "30"], ["sh", "-c", "sleep 0.2; echo broken >&2; exit 5"]]
    cmds += [["sleep", "30"]] * 5
    start = time.monotonic()
    with pytest.raises(cmdrun.CommandFailed, match="broken") as info:
        cmdrun.run_many(cmds, jobs=3, fail_fast=True, kill_grace=0.5)
    assert info.value.returncode == 5
    assert time.monotonic() - start < 5
    assert own_children() == before


def test_as_completed_yields_in_completion_order() -> None:
    cmds = [["sh", "-c", "sleep 0.4; echo slow"], ["echo", "fast"]]
    order = [r.stdout.strip() for r in cmdrun.as_completed(cmds, jobs=2)]
    assert order == ["fast", "slow"]


def test_leaving_as_completed_early_stops_the_others() -> None:
    before = own_children()
    cmds = [["echo", "first"], ["sleep", "30"], ["sleep", "30"]]
    for result in cmdrun.as_completed(cmds, jobs=3, kill_grace=0.5):
        assert result.stdout == "first\n"
        break
    assert own_children() == before


def test_batch_arguments_are_checked_before_anything_runs() -> None:
    with pytest.raises(TypeError, match="never raise"):
        cmdrun.run_many([["true"]], check=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="jobs"):
        cmdrun.run_many([["true"]], jobs=0)
    with pytest.raises(TypeError, match="iterable of commands"):
        cmdrun.run_many("echo hi")
    with pytest.raises(ValueError, match="empty command"):
        cmdrun.run_many([["true"], []])


def test_progress_without_tqdm_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr("cmdrun._parallel._warned_progress", False)
    with pytest.warns(RuntimeWarning, match=r"pip install tqdm\)"):
        results = cmdrun.run_many([["true"]] * 3, progress=True)
    assert all(r.ok for r in results)


def test_ctrl_c_stops_every_running_group(tmp_path: pathlib.Path) -> None:
    pidfile = tmp_path / "pids"
    child = deaf_to_ctrl_c(str(pidfile))
    call = "cmdrun.run_many([CHILD] * 6, jobs=3, kill_grace=0.5)"
    code, out, pids = ctrl_c_parent(call, child, str(pidfile), 3)
    assert (code, out) == (42, b"KeyboardInterrupt\n")
    assert len(pids) == 3  # the three pending commands never started
    assert wait_dead(pids) == []


def test_500_concurrent_runs_from_threads() -> None:
    fds, kids = open_fds(), own_children()
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = cmdrun.run(["echo", f"job {i}"], timeout=60).stdout
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {i: f"job {i}\n" for i in range(500)}
    assert open_fds() == fds
    assert own_children() == kids


def test_concurrent_children_do_not_inherit_each_others_pipes() -> None:
    code = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))"
    results = cmdrun.run_many([py(code)] * 16, jobs=16)
    for result in results:
        assert result.stdout.strip() in ("[0, 1, 2, 3]", "[0, 1, 2]")


def test_progress_bar_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")  # installed by the test extra; the optional extra otherwise
    results = cmdrun.run_many([["true"]] * 5, progress=True, jobs=2)
    assert all(r.ok for r in results)
    assert "5/5" in capsys.readouterr().err
