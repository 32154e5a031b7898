"""bench.py's sections 14-16: the async API (``arun``, ``aspawn``) on asyncio and on trio.

Usage (these sections alone)::

    python benchmarks/aio.py [--quick] [--check]

14. **2,000 concurrent runs**: ``asyncio.gather`` over 2,000 ``cmdrun.arun(["sleep",
    "1"])``: wall time, peak RSS of the Python process, peak thread count. The same 2,000
    ``sleep 1`` through cmdrun in a trio nursery, ``asyncio.create_subprocess_exec`` +
    ``communicate()``, ``trio.run_process`` (both capturing stdout and stderr, as ``arun``
    does), and the floor: ``os.posix_spawn`` of the 2,000 then ``os.waitpid`` of each (no
    pipes, no event loop), the least any library can take on this machine. For contrast,
    the thread-pool ``arun`` of cmdrun before the async engine (commit ``e014fd3``, a pool of
    512 threads), from a checkout of that commit (``git worktree add --detach
    /tmp/cmdrun-old e014fd3``; another path in ``$CMDRUN_BENCH_OLD``; skipped when missing),
    and ``arun_many(jobs=2000)`` (one task, one epoll for all). Each contestant runs in a
    fresh Python process started through ``/bin/sh`` (see :func:`benchutil.fresh_python`),
    so ``ru_maxrss`` is its own; that process raises its soft ``RLIMIT_NOFILE`` to the hard
    limit first (2,000 children with their pipes need about 10,000 fds). Imports and one
    warm-up run come before the clock starts; the clock stops when every child has been
    reaped and checked. Threads are counted from outside: this process reads
    ``Threads:`` in the child's ``/proc/PID/status`` every 5 ms. Rotated rounds, medians.
15. **Async dialogues**: send/expect round trips (``sendline("x")`` then ``expect("> ")``)
    with the line-echo child of section 4, over pipes and on a PTY: ``cmdrun.aspawn`` on
    asyncio and on trio against the synchronous ``cmdrun.spawn``, and pexpect's
    ``expect(async_=True)`` (``pexpect.spawn``, a PTY, ``delaybeforesend=None``) against
    ``aspawn(tty=True)``. For context, the least asyncio can do: one ``loop.add_reader`` for
    the whole dialogue, an ``os.write`` and one future per round trip. pexpect's
    ``PopenSpawn`` (pipes) has no async mode: the table says what it raises. Only the round
    trips are timed; every contestant starts its own child, in an order rotated from round
    to round (as section 4); ratios are of median per-round-trip times.
16. **200 concurrent PTY sessions** on asyncio, 100 round trips each (``asyncio.gather``):
    the wall time of starting them, of the 20,000 round trips and of ending them, and the
    cost per round trip against one session alone (1,000 round trips, same loop). trio for
    context. Rotated rounds, medians.

``--quick`` (:data:`QUICK`) runs fewer rounds, 200 ``sleep 0.3`` in 14 and 30 sessions of
50 round trips in 16, and leaves out the contrast contestants of 14 (the old ``arun``,
``arun_many``) and trio in 16.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import platform
import selectors
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pexpect
import trio
from benchutil import HWM_KIB, Row, Versus, ratio_row, rotated_rounds, spread
from interactive import ECHO_ARGV, LINE, PROMPT, WAIT, CmdrunDialogue, check_reply
from pexpect.popen_spawn import PopenSpawn

import cmdrun

#: A checkout of the commit before the async engine, whose ``arun`` runs the synchronous
#: engine in a pool of 512 worker threads.
OLD_COMMIT = "e014fd3"
OLD_TREE = os.environ.get("CMDRUN_BENCH_OLD", "/tmp/cmdrun-old")
#: The issue's target for 2,000 concurrent ``sleep 1``.
CONCURRENT_LIMIT = 1.5
#: How often the thread count of a concurrent-run child is read.
SAMPLE_EVERY = 0.005


@dataclass(frozen=True)
class AioSettings:
    """How many repetitions each measurement of this module gets."""

    concurrent: int  # sleeps at once in 14
    concurrent_sleep: str  # how long each sleeps, in seconds
    concurrent_rounds: int
    concurrent_context: bool  # also the old arun and arun_many in 14
    dialogue_rounds: int
    round_trips: int  # per contestant and round in 15
    sessions: int  # at once in 16
    session_trips: int  # round trips of each of them
    alone_trips: int  # round trips of the one session alone
    sessions_rounds: int
    sessions_trio: bool  # trio in 16 too


FULL = AioSettings(
    concurrent=2000,
    concurrent_sleep="1",
    concurrent_rounds=5,
    concurrent_context=True,
    dialogue_rounds=11,
    round_trips=1000,
    sessions=200,
    session_trips=100,
    alone_trips=1000,
    sessions_rounds=5,
    sessions_trio=True,
)
QUICK = AioSettings(
    concurrent=200,
    concurrent_sleep="0.3",
    concurrent_rounds=1,
    concurrent_context=False,
    dialogue_rounds=2,
    round_trips=200,
    sessions=30,
    session_trips=50,
    alone_trips=200,
    sessions_rounds=2,
    sessions_trio=False,
)


def on_loop(name: str, main: Callable[[], Coroutine[Any, Any, float]]) -> float:
    """Run ``main`` in a new event loop of ``name`` (asyncio or trio); return its value."""
    if name == "trio":
        return float(trio.run(main))
    return asyncio.run(main())


# --------------------------------------------------------------------------------------------
# 14. 2,000 concurrent runs

CONCURRENT_CHILD = """
import json, os, resource, shutil, sys, time

mode, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
clock = {}


async def timed(work):
    # The clock runs inside the loop: creating and closing the loop is not timed.
    start = time.perf_counter()
    codes = await work
    clock["elapsed"] = time.perf_counter() - start
    return codes


if mode == "floor":

    def run(n, argv):
        path = shutil.which(argv[0])
        start = time.perf_counter()
        pids = [os.posix_spawn(path, argv, os.environ) for _ in range(n)]
        clock["spawned"] = time.perf_counter() - start
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        clock["elapsed"] = time.perf_counter() - start
        return codes
elif mode in ("arun", "arun_many", "old_arun", "asyncio"):
    import asyncio, cmdrun

    async def one(argv):
        if mode == "asyncio":
            PIPE = asyncio.subprocess.PIPE
            proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=PIPE)
            await proc.communicate()
            return proc.returncode
        return (await cmdrun.arun(argv)).returncode

    async def all_of(argv, n):
        if mode == "arun_many":
            return [r.returncode for r in await cmdrun.arun_many([argv] * n, jobs=n)]
        return await asyncio.gather(*(one(argv) for _ in range(n)))

    def run(n, argv):
        return asyncio.run(timed(all_of(argv, n)))
else:  # "trio", "arun_trio"
    import trio, cmdrun

    async def one(argv, codes):
        if mode == "trio":
            proc = await trio.run_process(argv, capture_stdout=True, capture_stderr=True)
            codes.append(proc.returncode)
        else:
            codes.append((await cmdrun.arun(argv)).returncode)

    async def all_of(argv, n):
        codes = []
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(one, argv, codes)
        return codes

    def run(n, argv):
        return trio.run(timed, all_of(argv, n))

run(1, ["true"])  # warm up: imports, PATH lookups, the loop's child watcher
where = sys.modules["cmdrun"].__file__ if "cmdrun" in sys.modules else ""
rss0, hwm0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm_kib()
print(os.getpid(), flush=True)  # the parent counts our threads from now on
codes = run(count, ["sleep", seconds])
rss1, hwm1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm_kib()
failed = sum(code != 0 for code in codes) + count - len(codes)
print(json.dumps({"elapsed": clock["elapsed"], "spawned": clock.get("spawned"), "rss0": rss0,
                  "rss1": rss1, "hwm0": hwm0, "hwm1": hwm1, "failed": failed,
                  "nofile": [soft, hard], "cmdrun": where}))
"""


@dataclass(frozen=True)
class Contestant:
    """A way to run the 2,000: the child's mode, the table's label, and the ``PYTHONPATH``
    entry that goes first (the old checkout's ``src``), if any."""

    mode: str
    label: str
    path: str | None = None


def count_threads(pid: int) -> int:
    """The number of threads of process ``pid`` now (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def first_line(fd: int) -> tuple[str, bytes]:
    """Read ``fd`` up to its first newline; return that line and what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line.decode(), rest


def sampled_python(code: str, args: list[str], path: str | None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter as :func:`benchutil.fresh_python` does, counting
    its threads every :data:`SAMPLE_EVERY` seconds from the moment it prints its pid (its
    first line) until it closes its output; ``code`` prints one JSON object after that.

    ``path`` goes first on the child's ``PYTHONPATH``. The result gets ``threads``: the
    highest count seen.
    """
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
    argv = [sys.executable, "-c", HWM_KIB + code, *args]
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            ["/bin/sh", "-c", shlex.join(argv) + '; exit "$?"'],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        ) as proc,
    ):
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        line, rest = first_line(fd)
        peak, chunks = 0, [rest]
        if line.isdigit():
            pid = int(line)
            with selectors.DefaultSelector() as selector:
                selector.register(fd, selectors.EVENT_READ)
                while True:
                    peak = max(peak, count_threads(pid))
                    if selector.select(SAMPLE_EVERY):
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            break
                        chunks.append(chunk)
        status = proc.wait()
        errors.seek(0)
        if status != 0 or not line.isdigit():
            raise RuntimeError(f"fresh Python child {args} failed:\n{errors.read().decode()}")
    data: dict[str, Any] = json.loads(b"".join(chunks))
    data["threads"] = peak
    return data


def concurrent_contestants(s: AioSettings) -> tuple[list[Contestant], str]:
    """Who runs the 2,000 this time, and why the old ``arun`` does not (or "")."""
    every = [
        Contestant("arun", "`asyncio.gather` of `cmdrun.arun`"),
        Contestant("arun_trio", "`cmdrun.arun` in a trio nursery"),
        Contestant("asyncio", "`asyncio.gather` of `create_subprocess_exec` + `communicate()`"),
        Contestant("trio", "`trio.run_process` (capturing) in a trio nursery"),
        Contestant("floor", f"floor: `os.posix_spawn` x {s.concurrent:,}, then `os.waitpid` each"),
    ]
    if not s.concurrent_context:
        return every, "not measured with --quick"
    every.append(Contestant("arun_many", "`cmdrun.arun_many(cmds, jobs=2000)` (asyncio)"))
    old_src = os.path.join(OLD_TREE, "src")
    if not os.path.isfile(os.path.join(old_src, "cmdrun", "_aio.py")):
        return every, (
            f"no checkout of {OLD_COMMIT} at {OLD_TREE} (git worktree add --detach "
            f"{OLD_TREE} {OLD_COMMIT})"
        )
    label = f"`asyncio.gather` of the old thread-pool `cmdrun.arun` ({OLD_COMMIT})"
    every.append(Contestant("old_arun", label, old_src))
    return every, ""


def bench_concurrent(s: AioSettings) -> list[Row]:
    n = s.concurrent
    contestants, old_missing = concurrent_contestants(s)
    runs: dict[str, list[dict[str, Any]]] = {c.mode: [] for c in contestants}

    def measure(contestant: Contestant) -> Callable[[], float]:
        def run() -> float:
            argv = [contestant.mode, str(n), s.concurrent_sleep]
            data = sampled_python(CONCURRENT_CHILD, argv, contestant.path)
            if data["failed"]:
                raise RuntimeError(f"{contestant.mode}: {data['failed']} of {n} sleeps failed")
            if contestant.path is not None and not data["cmdrun"].startswith(contestant.path):
                raise RuntimeError(f"{contestant.mode} imported {data['cmdrun']}")
            runs[contestant.mode].append(data)
            return float(data["elapsed"])

        return run

    t = rotated_rounds({c.mode: measure(c) for c in contestants}, s.concurrent_rounds)
    floor = statistics.median(t["floor"])
    spawned = statistics.median(d["spawned"] for d in runs["floor"])

    def details(mode: str) -> str:
        data = runs[mode]
        peak = max(d["rss1"] for d in data) / 1024
        before = statistics.median(d["rss0"] for d in data) / 1024
        threads = max(d["threads"] for d in data)
        wall = statistics.median(t[mode])
        over = (
            ""
            if mode == "floor"
            else (
                f"{(wall - floor) / n * 1e6:.0f} us per process over the floor "
                f"({Versus(t[mode], t['floor']).ratio:.2f}x its wall, per-round "
                f"{Versus(t[mode], t['floor']).per_round}); "
            )
        )
        return (
            f"{over}peak RSS {peak:.1f} MiB ({before:.1f} before), peak threads {threads}; "
            f"wall IQR {spread(t[mode])}; {len(data)} rounds"
        )

    nofile = runs["arun"][0]["nofile"]
    where = f"{n:,} concurrent `sleep {s.concurrent_sleep}`"
    arun = statistics.median(t["arun"])
    # The target is the issue's, for 2,000 `sleep 1`: a smaller batch has none.
    targeted = (n, s.concurrent_sleep) == (FULL.concurrent, FULL.concurrent_sleep)
    rows = [
        Row(
            f'{where}: `asyncio.gather` of `cmdrun.arun(["sleep", "{s.concurrent_sleep}"])`: '
            "wall time",
            f"{arun:.2f} s",
            f"<= {CONCURRENT_LIMIT:.2f} s" if targeted else "",
            arun <= CONCURRENT_LIMIT if targeted else None,
            ("" if targeted else "--quick: no target (it is for 2,000 `sleep 1`); ")
            + f"the floor alone takes {floor:.2f} s here ({spawned:.2f} s to spawn the {n:,}: "
            f"{spawned / n * 1e6:.0f} us each); "
            + details("arun")
            + f"; RLIMIT_NOFILE raised to {nofile[1]} in the child",
        ),
        Row(
            f"{where}: `asyncio.gather` of `cmdrun.arun`: peak threads of the Python process",
            str(max(d["threads"] for d in runs["arun"])),
            "no thread per process",
            max(d["threads"] for d in runs["arun"]) <= 8,
            f"counted from /proc every {SAMPLE_EVERY * 1e3:.0f} ms; a small fixed pool would pass",
        ),
    ]
    for contestant in contestants[1:]:
        rows.append(
            Row(
                f"context: {where}: {contestant.label}: wall time",
                f"{statistics.median(t[contestant.mode]):.2f} s",
                details=details(contestant.mode),
            )
        )
    if old_missing:
        rows.append(
            Row(
                f"context: {where}: the old thread-pool `cmdrun.arun`",
                "skipped",
                details=old_missing,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 15. Async dialogues


async def aspawn_round_trips(tty: bool, n: int) -> float:
    """Seconds per round trip of ``n`` round trips with ``cmdrun.aspawn`` (a fresh child;
    starting it, a short warm-up and ending it are not timed)."""
    async with cmdrun.aspawn(ECHO_ARGV, tty=tty, timeout=WAIT) as session:
        sendline, expect = session.sendline, session.expect
        await expect(PROMPT)
        for _ in range(max(1, n // 20)):
            await sendline(LINE)
            await expect(PROMPT)
        gc.collect()
        before = ""
        start = time.perf_counter()
        for _ in range(n):
            await sendline(LINE)
            before = (await expect(PROMPT)).before
        elapsed = time.perf_counter() - start
        check_reply("aspawn", before)
        await session.sendeof()
        await session.wait()
    return elapsed / n


async def pexpect_round_trips(n: int) -> float:
    """The same with ``pexpect.spawn`` and ``await child.expect(..., async_=True)``."""
    child = pexpect.spawn(ECHO_ARGV[0], ECHO_ARGV[1:], timeout=WAIT)
    child.delaybeforesend = None
    child.delayafterclose = 0  # only close() sleeps on these, and it is not timed
    child.ptyproc.delayafterclose = 0  # type: ignore[attr-defined]
    try:
        sendline, expect = child.sendline, child.expect
        await expect(PROMPT, async_=True)
        for _ in range(max(1, n // 20)):
            sendline(LINE)
            await expect(PROMPT, async_=True)
        gc.collect()
        start = time.perf_counter()
        for _ in range(n):
            sendline(LINE)
            await expect(PROMPT, async_=True)
        elapsed = time.perf_counter() - start
        check_reply("pexpect async", child.before.decode())
    finally:
        if child.async_pw_transport is not None:  # the loop's reader of the PTY
            child.async_pw_transport[1].close()
        child.close(force=True)
    return elapsed / n


async def raw_asyncio_round_trips(n: int) -> float:
    """The least asyncio can do: ``Popen`` with pipes, one ``loop.add_reader`` whose
    callback reads, and per round trip an ``os.write`` and one future."""
    loop = asyncio.get_running_loop()
    proc = subprocess.Popen(ECHO_ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    fd_in, fd_out = proc.stdin.fileno(), proc.stdout.fileno()
    os.set_blocking(fd_out, False)
    prompt, line = PROMPT.encode(), f"{LINE}\n".encode()
    state: dict[str, Any] = {"received": b"", "waiter": None}

    def readable() -> None:
        state["received"] += os.read(fd_out, 65536)
        waiter = state["waiter"]
        if state["received"].endswith(prompt) and waiter is not None and not waiter.done():
            waiter.set_result(state["received"])

    async def round_trip() -> bytes:
        state["received"], state["waiter"] = b"", loop.create_future()
        os.write(fd_in, line)
        reply: bytes = await asyncio.wait_for(state["waiter"], WAIT)
        return reply

    loop.add_reader(fd_out, readable)
    try:
        state["waiter"] = loop.create_future()
        await asyncio.wait_for(state["waiter"], WAIT)  # the first prompt
        for _ in range(max(1, n // 20)):
            await round_trip()
        gc.collect()
        reply = b""
        start = time.perf_counter()
        for _ in range(n):
            state["received"], state["waiter"] = b"", loop.create_future()
            os.write(fd_in, line)
            reply = await state["waiter"]
        elapsed = time.perf_counter() - start
        check_reply("raw asyncio", reply[: -len(prompt)].decode())
    finally:
        loop.remove_reader(fd_out)
        proc.stdin.close()
        proc.wait()
        proc.stdout.close()
    return elapsed / n


def sync_round_trips(tty: bool, n: int) -> float:
    """The same with the synchronous ``cmdrun.spawn`` (section 4's contestant)."""
    dialogue = CmdrunDialogue(tty=tty)
    try:
        check_reply("spawn", dialogue.round_trips(max(1, n // 20)))
        gc.collect()
        start = time.perf_counter()
        reply = dialogue.round_trips(n)
        elapsed = time.perf_counter() - start
        check_reply("spawn", reply)
    finally:
        dialogue.close()
    return elapsed / n


def pexpect_async_problem() -> str:
    """Why ``pexpect.spawn(...).expect(async_=True)`` cannot be measured here, or ""."""
    try:
        importlib.import_module("pexpect._async")  # what expect(async_=True) imports
    except Exception as exc:  # pexpect 4.8 uses asyncio.coroutine, gone in Python 3.11
        return (
            f"pexpect {pexpect.__version__} on Python {platform.python_version()}: "
            f"expect(async_=True) fails: {type(exc).__name__}: {exc} (pexpect >= 4.9 works)"
        )
    return ""


def popenspawn_async_problem() -> str:
    """What ``PopenSpawn(...).expect(..., async_=True)`` does (it has no async support)."""

    async def attempt() -> str:
        child = PopenSpawn(ECHO_ARGV, timeout=WAIT)
        try:
            await child.expect(PROMPT, async_=True)
        except Exception as exc:
            # Its fileno() is -1: pexpect hands it to loop.connect_read_pipe all the same.
            return f"raises {type(exc).__name__}: {exc} (PopenSpawn.fileno() is -1)"
        finally:
            child.kill(9)
            child.proc.wait()
            child.proc.stdin.close()
            child.proc.stdout.close()
        return ""

    if pexpect_async_problem():
        return "not measured: " + pexpect_async_problem()
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None  # the half-made transport of the attempt
    try:
        problem = asyncio.run(attempt())
        gc.collect()
    finally:
        sys.unraisablehook = hook
    return problem


def bench_dialogues(s: AioSettings) -> list[Row]:
    n = s.round_trips
    contestants: dict[str, Callable[[], float]] = {
        "sync_pipe": lambda: sync_round_trips(False, n),
        "sync_pty": lambda: sync_round_trips(True, n),
        "asyncio_pipe": lambda: on_loop("asyncio", lambda: aspawn_round_trips(False, n)),
        "asyncio_pty": lambda: on_loop("asyncio", lambda: aspawn_round_trips(True, n)),
        "trio_pipe": lambda: on_loop("trio", lambda: aspawn_round_trips(False, n)),
        "trio_pty": lambda: on_loop("trio", lambda: aspawn_round_trips(True, n)),
        "raw_asyncio": lambda: on_loop("asyncio", lambda: raw_asyncio_round_trips(n)),
    }
    pexpect_problem = pexpect_async_problem()
    if not pexpect_problem:
        contestants["pexpect"] = lambda: on_loop("asyncio", lambda: pexpect_round_trips(n))
    popenspawn = popenspawn_async_problem()
    t = rotated_rounds(contestants, s.dialogue_rounds)

    def details(top: str, bottom: str) -> str:
        v = Versus(t[top], t[bottom])
        return (
            f"{statistics.median(t[top]) * 1e6:.1f} vs {statistics.median(t[bottom]) * 1e6:.1f} "
            f"us per round trip; per-round ratio IQR {v.per_round}; {s.dialogue_rounds} rounds "
            f"x {n} round trips"
        )

    def ratio(top: str, bottom: str) -> float:
        return Versus(t[top], t[bottom]).ratio

    rows = []
    for transport, tty in (("pipe", "False"), ("pty", "True")):
        for loop in ("asyncio", "trio"):
            ours = f"{loop}_{transport}"
            rows.append(
                ratio_row(
                    f"async dialogue: `await cmdrun.aspawn(tty={tty})` on {loop} / "
                    f"`cmdrun.spawn(tty={tty})`",
                    ratio(ours, f"sync_{transport}"),
                    "<=",
                    1.3,
                    details(ours, f"sync_{transport}"),
                )
            )
    pexpect_name = "pexpect.spawn `expect(async_=True)` (delaybeforesend=None)"
    if pexpect_problem:
        rows.append(
            Row(
                f"async dialogue: {pexpect_name} / `aspawn(tty=True)`",
                "skipped",
                ">= 5.00",
                None,
                pexpect_problem,
            )
        )
    else:
        rows.append(
            ratio_row(
                f"async dialogue: {pexpect_name} / `cmdrun.aspawn(tty=True)` on asyncio",
                ratio("pexpect", "asyncio_pty"),
                ">=",
                5.0,
                details("pexpect", "asyncio_pty"),
            )
        )
    rows += [
        Row(
            "context: async dialogue: pexpect PopenSpawn (pipes) `expect(async_=True)`",
            "error" if popenspawn else "works",
            details=popenspawn or "unexpectedly works: not measured",
        ),
        Row(
            "context: async dialogue: `cmdrun.aspawn(tty=False)` on asyncio / raw asyncio "
            "(one add_reader, a future per round trip)",
            f"{ratio('asyncio_pipe', 'raw_asyncio'):.2f}",
            details="what cmdrun adds to asyncio's own cost; "
            + details("asyncio_pipe", "raw_asyncio"),
        ),
        Row(
            "context: async dialogue: raw asyncio / `cmdrun.spawn(tty=False)`",
            f"{ratio('raw_asyncio', 'sync_pipe'):.2f}",
            details="an event loop's own cost per wake-up; " + details("raw_asyncio", "sync_pipe"),
        ),
    ]
    return rows


# --------------------------------------------------------------------------------------------
# 16. 200 concurrent PTY sessions


async def gather_all(loop: str, works: list[Awaitable[Any]]) -> list[Any]:
    """``asyncio.gather``, or a trio nursery, over ``works``; results in order."""
    if loop == "asyncio":
        return list(await asyncio.gather(*works))
    results: list[Any] = [None] * len(works)

    async def one(index: int, work: Awaitable[Any]) -> None:
        results[index] = await work

    async with trio.open_nursery() as nursery:
        for index, work in enumerate(works):
            nursery.start_soon(one, index, work)
    return results


async def talk(session: cmdrun.AsyncSession, trips: int) -> str:
    before = ""
    for _ in range(trips):
        await session.sendline(LINE)
        before = (await session.expect(PROMPT)).before
    return before


async def started(session: cmdrun.AsyncSession) -> cmdrun.AsyncSession:
    await session.expect(PROMPT)
    return session


async def ended(session: cmdrun.AsyncSession) -> None:
    await session.sendeof()
    await session.wait()


async def many_sessions(loop: str, count: int, trips: int) -> dict[str, float]:
    """Start ``count`` PTY sessions at once, ``trips`` round trips in each at once, end
    them at once: the wall time of each phase."""
    spawned: list[cmdrun.AsyncSession] = []
    try:
        start = time.perf_counter()
        for _ in range(count):  # aspawn starts the program on the loop's thread: one by one
            spawned.append(await cmdrun.aspawn(ECHO_ARGV, tty=True, timeout=WAIT))
        await gather_all(loop, [started(session) for session in spawned])
        talking = time.perf_counter()
        replies = await gather_all(loop, [talk(session, trips) for session in spawned])
        ending = time.perf_counter()
        await gather_all(loop, [ended(session) for session in spawned])
        done = time.perf_counter()
    finally:
        for session in spawned:
            await session.aclose()  # returns at once for those that ended
    for reply in replies:
        check_reply("aspawn", reply)
    return {"start": talking - start, "talk": ending - talking, "end": done - ending}


def bench_sessions(s: AioSettings) -> list[Row]:
    count, trips, alone = s.sessions, s.session_trips, s.alone_trips
    loops = ["asyncio", "trio"] if s.sessions_trio else ["asyncio"]
    phases: dict[str, list[dict[str, float]]] = {loop: [] for loop in loops}

    def together(loop: str) -> Callable[[], float]:
        def measure() -> float:
            async def main() -> float:
                timing = await many_sessions(loop, count, trips)
                phases[loop].append(timing)
                return timing["talk"] / (count * trips)

            return on_loop(loop, main)

        return measure

    contestants: dict[str, Callable[[], float]] = {
        "alone": lambda: on_loop("asyncio", lambda: aspawn_round_trips(True, alone))
    }
    contestants.update({loop: together(loop) for loop in loops})
    t = rotated_rounds(contestants, s.sessions_rounds)
    rows = []
    for loop in loops:
        timing = {key: statistics.median(p[key] for p in phases[loop]) for key in phases[loop][0]}
        total = sum(timing.values())
        v = Versus(t[loop], t["alone"])
        name = f"{count} concurrent PTY sessions x {trips} round trips on {loop}"
        rows += [
            Row(
                f"{'' if loop == 'asyncio' else 'context: '}{name}: total wall time",
                f"{total:.2f} s",
                details=f"start {timing['start']:.2f} s (aspawn one by one, then every first "
                f"prompt at once), {count * trips:,} round trips {timing['talk']:.2f} s, end "
                f"{timing['end']:.2f} s (sendeof + wait, at once); medians of "
                f"{len(phases[loop])} rounds",
            ),
            Row(
                f"{'' if loop == 'asyncio' else 'context: '}{name}: cost per round trip / one "
                "session alone (asyncio)",
                f"{v.ratio:.2f}",
                details=f"{statistics.median(t[loop]) * 1e6:.1f} vs "
                f"{statistics.median(t['alone']) * 1e6:.1f} us per round trip (wall time of "
                f"the round trips / their number; alone: {alone} round trips); per-round "
                f"ratio IQR {v.per_round}",
            ),
        ]
    return rows


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    rows = bench_concurrent(settings) + bench_dialogues(settings) + bench_sessions(settings)
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(f"{row.name}: {row.shown} {row.target} {verdict} ({row.details})")
    return 1 if args.check and any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
