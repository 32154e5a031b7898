"""Every fault test runs inside a leak check: no new fd, child, zombie or thread after it.

Pids a test's children printed go into the ``pids`` fixture's list; they must all be gone
after the test (survivors are killed and reported).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cmdrun
import leakcheck


@pytest.fixture(scope="session")
def _warm() -> None:
    """Open what cmdrun opens once per process (the cached ``/dev/null``), before any check."""
    cmdrun.run(["true"])
    cmdrun.run(["true"], tty=True)


@pytest.fixture(autouse=True)
def no_leaks(_warm: None) -> Iterator[leakcheck.Snapshot]:
    """Fail a test that leaves an fd, a child process, a zombie or a thread behind."""
    before = leakcheck.snapshot()
    yield before
    leakcheck.assert_no_leaks(before)


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Pids the test's children printed: all of them must be gone after the test."""
    printed: list[int] = []
    yield printed
    leakcheck.assert_gone(printed)
