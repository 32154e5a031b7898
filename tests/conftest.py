"""Shared test configuration: pytester runs the plugin the way users meet it, and the
fixture that runs a PTY test through each way of starting a PTY child."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from cmdrun import _pty

pytest_plugins = ["pytester"]


def threaded() -> bool:
    """Whether this process has other threads (counted as CPython 3.12+ counts them)."""
    if os.path.isdir("/proc/self/task"):
        return len(os.listdir("/proc/self/task")) > 1
    return threading.active_count() > 1


@pytest.fixture(params=["setsid", "ptyprocess"])
def start_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force one PTY start path for the test (both run where util-linux setsid exists).

    The ptyprocess fallback forks in Python, which is unsafe (and warned about on 3.12+)
    once earlier tests left threads behind (thread pools): those cases then run in a fresh
    single-threaded pytest instead, through :func:`run_fallback_cases`.
    """
    if request.param == "setsid" and _pty.find_setsid() is None:
        pytest.skip("no util-linux setsid with --ctty here")
    if request.param == "ptyprocess" and threaded():
        pytest.skip("run in a fresh single-threaded process instead")
    monkeypatch.setattr(_pty, "START_PATH", request.param)
    return str(request.param)


def run_fallback_cases(test_file: str) -> None:
    """Run ``test_file``'s ptyprocess cases in a fresh pytest, where no thread exists."""
    if not threaded():
        pytest.skip("this process has no other threads: the cases ran here")
    cases = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            test_file,
            "-k",
            "ptyprocess",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cases.returncode == 0, cases.stdout + cases.stderr
    assert " skipped" not in cases.stdout


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every ``@pytest.mark.anyio`` test runs twice: on asyncio and on trio (anyio's plugin)."""
    backend: str = request.param
    return backend
