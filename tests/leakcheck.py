"""What a test left behind: open fds, child processes, zombies, threads, surviving pids.

Usage from any test::

    before = leakcheck.snapshot()
    ...  # the test
    leakcheck.assert_no_leaks(before)   # polls up to ~1 s, then fails saying what leaked
    leakcheck.assert_gone(pids)         # pids the children printed are all gone

``tests/faults/conftest.py`` does the first two around every fault test. Linux only: it
reads ``/proc``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

SETTLE = 1.0  # seconds a test's leftovers get to go away (a reaper thread, a late SIGCHLD)


def _fd_targets() -> dict[int, str]:
    """This process's open fds and what each points to."""
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd listdir itself used, already closed
            continue
    return fds


def _stat_fields(pid: str) -> tuple[str, int] | None:
    """``(state, ppid)`` of ``pid`` from ``/proc/PID/stat``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2 :].split()
    return rest[0].decode(), int(rest[1])


def children_of(ppid: int) -> tuple[set[int], set[int]]:
    """The live children and the zombie children of ``ppid``."""
    live: set[int] = set()
    zombies: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(name)
        if fields is None or fields[1] != ppid:
            continue
        (zombies if fields[0] == "Z" else live).add(int(name))
    return live, zombies


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is dead: it may never be reaped if init is odd)."""
    fields = _stat_fields(str(pid))
    return fields is not None and fields[0] != "Z"


@dataclass(frozen=True)
class Snapshot:
    """The resources of this process at one moment."""

    fds: dict[int, str]
    children: set[int]
    zombies: set[int]
    threads: dict[int, str] = field(default_factory=dict)


def snapshot() -> Snapshot:
    """Take a :class:`Snapshot` of this process now."""
    live, zombies = children_of(os.getpid())
    threads = {t.ident or 0: t.name for t in threading.enumerate()}
    return Snapshot(_fd_targets(), live, zombies, threads)


def _describe(pids: set[int]) -> str:
    parts = []
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        parts.append(f"{pid} ({cmd[:80]})")
    return ", ".join(parts)


def leaks(before: Snapshot, *, threads: bool = True) -> list[str]:
    """What exists now that did not in ``before``, one message per kind (empty: nothing)."""
    now = snapshot()
    found = []
    new_fds = {fd: t for fd, t in now.fds.items() if before.fds.get(fd) != t}
    if new_fds:
        found.append(f"{len(new_fds)} new fd(s): {new_fds}")
    if now.children - before.children:
        found.append(f"child process(es) running: {_describe(now.children - before.children)}")
    if now.zombies - before.zombies:
        found.append(f"zombie(s): {sorted(now.zombies - before.zombies)}")
    new_threads = {i: n for i, n in now.threads.items() if i not in before.threads}
    if threads and new_threads:
        found.append(f"thread(s) still running: {sorted(new_threads.values())}")
    return found


def wait_for_no_leaks(
    before: Snapshot, *, within: float = SETTLE, threads: bool = True
) -> list[str]:
    """Poll :func:`leaks` until nothing leaks or ``within`` seconds pass; return the last."""
    end = time.monotonic() + within
    while True:
        found = leaks(before, threads=threads)
        if not found or time.monotonic() >= end:
            return found
        time.sleep(0.02)


def assert_no_leaks(before: Snapshot, *, within: float = SETTLE, threads: bool = True) -> None:
    """Fail, saying what leaked, unless everything new since ``before`` goes within a second."""
    found = wait_for_no_leaks(before, within=within, threads=threads)
    assert not found, "leaked: " + "; ".join(found)


def survivors(pids: list[int], *, within: float = SETTLE) -> list[int]:
    """The pids still running after up to ``within`` seconds (empty: all gone)."""
    end = time.monotonic() + within
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.02)


def assert_gone(pids: list[int], *, within: float = SETTLE) -> None:
    """Fail unless every pid in ``pids`` (printed by the children) is gone within a second.

    Survivors are killed before failing, so one broken test does not disturb the next.
    """
    left = survivors(pids, within=within)
    if left:
        described = _describe(set(left))
        for pid in left:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        raise AssertionError(f"survived: {described}")
