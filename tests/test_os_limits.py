"""Starts the OS refuses (too few fds, too long an argument list) and fds that changed under
cmdrun: a clear error, nothing leaked, and never a wrong fd handed to a child.

Tests that change process-wide state (the fd table, RLIMIT_NOFILE) run in a fresh Python.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
from typing import Any

import pytest

import cmdrun
from children import open_fds, own_children, py

MAX_ARG_STRLEN = 32 * os.sysconf("SC_PAGE_SIZE")


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (cmdrun from this checkout); return its stdout."""
    done = subprocess.run(py(code), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("reuse", ["unrelated file", "cmdrun's own pipe"])
def test_stdin_is_never_an_fd_that_changed_under_cmdrun(tmp_path: pathlib.Path, reuse: str) -> None:
    unrelated = tmp_path / "unrelated"
    unrelated.write_text("unrelated contents\n")
    opens = f"keep = open({str(unrelated)!r}, 'rb')" if reuse == "unrelated file" else ""
    out = _python(
        f"""
        import os, cmdrun
        cmdrun.run(["cat"])
        os.closerange(3, 256)  # what daemons and test harnesses do
        {opens}
        result = cmdrun.run(["cat"], timeout=10, check=False)
        print(repr(result.stdout), repr(result.stderr), result.returncode, result.timed_out)
        """
    )
    assert out == "'' '' 0 False\n"


# Fills the fd table up to RLIMIT_NOFILE but for ``free`` fds, then runs ``call`` 20 times.
_FILL = """
import json, os, resource, sys, cmdrun
# Lazy imports and probes done first: importing a module needs an fd too.
cmdrun.run(["true"]); cmdrun.run(["true"], tty=True)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

def attempt(free, call):
    before = sorted(os.listdir("/proc/self/fd"))
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    for _ in range(free):
        os.close(held.pop())
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(call())
        except cmdrun.StartFailed as exc:
            outcomes.append(["StartFailed", exc.reason, exc.detail, str(exc)])
        except Exception as exc:
            outcomes.append([type(exc).__name__, str(exc)])
    for fd in held:
        os.close(fd)
    return {"outcomes": outcomes, "leaked": sorted(set(os.listdir("/proc/self/fd")) - set(before))}
"""


@pytest.mark.parametrize("kind", ["pipes", "file target", "tty"])
def test_out_of_fds_raises_start_failed_and_leaks_nothing(
    tmp_path: pathlib.Path, kind: str
) -> None:
    options = {"pipes": "", "file target": f"stdout={str(tmp_path / 'o')!r}", "tty": "tty=True"}
    out = _python(
        _FILL
        + f"""
def call():
    return "ok" if cmdrun.run(["true"], {options[kind]}).ok else "failed"
print(json.dumps([attempt(free, call) for free in range(12)]))
"""
    )
    report = json.loads(out)
    for free, seen in enumerate(report):
        assert seen["leaked"] == [], (free, seen)
        for outcome in seen["outcomes"]:
            if outcome != "ok":
                assert outcome[:2] == ["StartFailed", "out of file descriptors"], (free, outcome)
                assert "64" in outcome[2], outcome
    assert report[0]["outcomes"][0] != "ok"
    assert report[-1]["outcomes"] == ["ok"] * 20  # a dozen fds are enough for one run


@pytest.mark.parametrize("door", ["run_many", "arun_many"])
def test_out_of_fds_in_run_many_gives_each_command_a_result(door: str) -> None:
    out = _python(
        _FILL
        + f"""
import asyncio
loop = asyncio.new_event_loop()  # an event loop needs fds of its own: made beforehand
cmdrun.run_many([["true"]]); loop.run_until_complete(cmdrun.arun_many([["true"]]))
cmds = [["true"], ["echo", "x"], ["true"]]
def call():
    if {door!r} == "run_many":
        results = cmdrun.run_many(cmds, jobs=2, fail_fast=False)
    else:
        results = loop.run_until_complete(cmdrun.arun_many(cmds, jobs=2, fail_fast=False))
    return [[r.returncode, r.stderr] for r in results]
# 0 or 1 fd: not even the batch's cancel pipe fits; 2: that pipe, none for a run
print(json.dumps([attempt(free, call) for free in (0, 1, 2)]))
"""
    )
    for report in json.loads(out):
        assert report["leaked"] == []
        for outcome in report["outcomes"]:
            assert len(outcome) == 3, outcome
            for returncode, stderr in outcome:
                assert returncode == 126
                assert "out of file descriptors" in stderr


def test_out_of_fds_in_arun_raises_start_failed() -> None:
    out = _python(
        _FILL
        + """
import asyncio
loop = asyncio.new_event_loop()
loop.run_until_complete(cmdrun.arun(["true"]))
print(json.dumps([attempt(free, lambda: loop.run_until_complete(cmdrun.arun(["true"])).ok)
                  for free in (0, 1, 2, 3)]))
"""
    )
    for report in json.loads(out):
        assert report["leaked"] == []
        for outcome in report["outcomes"]:
            assert outcome[:2] == ["StartFailed", "out of file descriptors"]


def test_run_many_first_used_when_out_of_fds_leaks_nothing() -> None:
    out = _python(
        _FILL
        + """
import concurrent.futures  # as some library did; its thread pool is imported on first use
print(json.dumps(attempt(2, lambda: len(cmdrun.run_many([["true"]])))))
"""
    )
    report = json.loads(out)
    assert report["leaked"] == []
    assert report["outcomes"] == [1] * 20  # one Result per command, however short of fds


def _refused(cmd: list[str], **options: Any) -> cmdrun.StartFailed:
    """The StartFailed that running ``cmd`` raises; nothing it opened or started is left,
    even while the error is still alive."""
    cmdrun.run(["true"], tty=options["tty"])  # lazy imports and probes, done
    fds, kids = open_fds(), own_children()
    with pytest.raises(cmdrun.StartFailed) as info:
        cmdrun.run(cmd, **options)
    assert open_fds() == fds
    assert own_children() == kids
    return info.value


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
def test_one_argument_too_long_says_which_and_by_how_much(tty: bool) -> None:
    error = _refused(["echo", "short", "x" * 200_000], tty=tty)
    assert error.reason == "argument list too long"
    assert "argv[2]" in error.detail
    assert "200,000 bytes" in error.detail
    assert f"{MAX_ARG_STRLEN:,}" in error.detail


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
def test_argument_list_too_long_in_total_says_by_how_much(tty: bool) -> None:
    error = _refused(["echo", *["y" * 999] * 3000], tty=tty)  # 3 MB, each argument short
    assert error.reason == "argument list too long"
    assert re.search(r"take 3,0\d\d,\d\d\d bytes", error.detail)  # 3 MB and the environment
    assert f"{os.sysconf('SC_ARG_MAX'):,}" in error.detail
    assert error.errno == 7  # E2BIG
    assert "could not start 'echo': argument list too long" in str(error)


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "tty"])
def test_environment_value_too_long_names_the_variable(tty: bool) -> None:
    error = _refused(["true"], env={"CMDRUN_HUGE": "v" * 200_000}, tty=tty)
    assert error.reason == "argument list too long"
    assert "environment variable CMDRUN_HUGE" in error.detail
    assert f"{MAX_ARG_STRLEN:,}" in error.detail


def test_argument_just_under_the_limit_runs() -> None:
    arg = "z" * (MAX_ARG_STRLEN - 1)  # with its NUL, exactly the limit
    assert cmdrun.run(["printf", "%.3s", arg]).stdout == "zzz"
