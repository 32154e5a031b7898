"""bench.py's sections 7-9: many commands at once, asyncio, and output too big for memory.

7. **Batches**: ``cmdrun.run_many`` against ``xargs -P``, the tool a shell user would reach
   for, running exactly the same commands: 200 x ``sleep 0.05`` eight at a time (how well
   the slots are kept busy: the floor is 25 waves x 50 ms = 1.25 s), and 1,000 x ``true``
   two at a time (the per-command cost with both CPUs busy). Each xargs child gets one dummy
   argument (``-n1``) so that both sides start exactly one process per command; xargs is
   started with ``subprocess.run`` and its children's output goes to ``/dev/null``, while
   cmdrun captures every command's stdout and stderr. ``multiprocessing.Pool`` and
   ``ThreadPoolExecutor`` each calling ``subprocess.run(capture_output=True)`` are shown for
   context (creating and closing the pool is timed too: it is part of the idiom, as it is of
   ``run_many``). Contestants are timed in rounds with a rotated order; ratios are between
   median wall times.
8. **asyncio**: ``await cmdrun.arun(["true"])`` against ``asyncio.create_subprocess_exec``
   + ``communicate()``, awaited one after the other in one event loop, in alternating
   blocks (A,B then B,A); the ratio is between the medians of the per-call block times.
   ``cmdrun.run`` called straight from the loop (blocking it) shows what waiting on the
   event loop costs ``arun`` (the same engine, driven by the loop instead of ``poll``).
9. **Bounded memory**: a child writing 2 GiB (``head -c 2147483648 /dev/zero``), run with
   ``max_output=1 MiB`` (only the last MiB is kept) and with ``stdout=`` a file in a
   temporary directory. Each run is a fresh Python process started through ``/bin/sh`` (see
   :func:`benchutil.fresh_python`), which reports its ``ru_maxrss`` after the run: the
   whole process's peak RSS, interpreter included, which must stay under 64 MiB.

``--quick`` (:data:`QUICK`) runs fewer rounds and smaller batches (48 sleeps, 100 ``true``),
leaves out the two pools of 7 and writes 256 MiB instead of 2 GiB in 9.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchutil import Row, Versus, fresh_python, ratio_row, rotated_rounds

import cmdrun


@dataclass(frozen=True)
class ParallelSettings:
    """How many repetitions each measurement of this module gets."""

    sleep_rounds: int  # 200 x sleep 0.05, about 1.3 s per contestant and round
    sleep_count: int  # how many sleeps a batch has (200)
    sleep_context: bool  # also time the process and thread pools there (2 more contestants)
    true_rounds: int  # 1,000 x true, about 0.5 s per contestant and round
    true_count: int  # how many `true` a batch has (1,000)
    arun_rounds: int
    arun_calls: int  # per block
    memory_size: int  # bytes the child writes
    memory_repeats: int  # fresh processes per mode


FULL = ParallelSettings(
    sleep_rounds=7,
    sleep_count=200,
    sleep_context=True,
    true_rounds=11,
    true_count=1000,
    arun_rounds=15,
    arun_calls=200,
    memory_size=2 << 30,
    memory_repeats=3,
)
QUICK = ParallelSettings(
    sleep_rounds=3,
    sleep_count=48,
    sleep_context=False,
    true_rounds=3,
    true_count=100,
    arun_rounds=3,
    arun_calls=40,
    memory_size=256 << 20,
    memory_repeats=1,
)

#: No single command of a batch may take longer than this (a safety net, never reached).
COMMAND_TIMEOUT = 60.0

# --------------------------------------------------------------------------------------------
# 7. Batches: run_many against xargs -P


@dataclass(frozen=True)
class Batch:
    """``count`` runs of ``argv``, ``jobs`` at a time. ``argv`` is a program and one argument,
    so that ``xargs -n1 PROGRAM`` fed the argument ``count`` times runs exactly the same."""

    argv: tuple[str, str]
    count: int
    jobs: int
    label: str  # the commands, as the table names them

    @property
    def cmds(self) -> list[list[str]]:
        return [list(self.argv)] * self.count

    @property
    def shown(self) -> str:
        return f"{self.count:,} x {self.label}"


SLEEPS = Batch(("sleep", "0.05"), 200, 8, "`sleep 0.05`")
TRUES = Batch(("true", "x"), 1000, 2, "`true` (as `true x`: xargs -n1 passes one argument)")


def timed(fn: Callable[[], None]) -> Callable[[], float]:
    """A contestant: the wall time of one call of ``fn``."""

    def measure() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return measure


def with_cmdrun(batch: Batch) -> Callable[[], None]:
    def run() -> None:
        results = cmdrun.run_many(batch.cmds, jobs=batch.jobs, timeout=COMMAND_TIMEOUT)
        if len(results) != batch.count or not all(r.ok for r in results):
            raise RuntimeError(f"run_many: {sum(not r.ok for r in results)} commands failed")

    return run


def with_xargs(batch: Batch) -> Callable[[], None]:
    program, arg = batch.argv
    args = f"{arg}\n".encode() * batch.count
    argv = ["xargs", f"-P{batch.jobs}", "-n1", program]

    def run() -> None:
        # check: xargs exits non-zero if any of its commands did.
        subprocess.run(
            argv, input=args, stdout=subprocess.DEVNULL, check=True, timeout=COMMAND_TIMEOUT
        )

    return run


def run_captured(argv: Sequence[str]) -> int:
    """One command, as a pool runs it (module level: a process pool pickles it by name)."""
    return subprocess.run(argv, capture_output=True, check=True).returncode


def with_process_pool(batch: Batch) -> Callable[[], None]:
    def run() -> None:
        with multiprocessing.Pool(batch.jobs) as pool:  # the platform's default start method
            pool.map(run_captured, batch.cmds, chunksize=1)  # one command per task, as xargs

    return run


def with_thread_pool(batch: Batch) -> Callable[[], None]:
    def run() -> None:
        with concurrent.futures.ThreadPoolExecutor(batch.jobs) as pool:
            list(pool.map(run_captured, batch.cmds))

    return run


def batch_rounds(
    batch: Batch, rounds: int, context: Mapping[str, Callable[[Batch], Callable[[], None]]]
) -> dict[str, list[float]]:
    """Wall times of cmdrun, xargs and the ``context`` contestants, rotated rounds."""
    makers = {"cmdrun": with_cmdrun, "xargs": with_xargs, **context}
    small = Batch(batch.argv, batch.jobs * 2, batch.jobs, batch.label)
    for make in makers.values():  # warm up: imports, page cache, PATH lookups
        make(small)()
    return rotated_rounds({name: timed(make(batch)) for name, make in makers.items()}, rounds)


def batch_details(t: dict[str, list[float]], top: str, rounds: int) -> str:
    v = Versus(t[top], t["xargs"])
    return (
        f"{statistics.median(t[top]):.3f} vs {statistics.median(t['xargs']):.3f} s; "
        f"per-round ratio IQR {v.per_round}; {rounds} rounds"
    )


def bench_run_many_sleep(s: ParallelSettings) -> list[Row]:
    batch, rounds = dataclasses.replace(SLEEPS, count=s.sleep_count), s.sleep_rounds
    pools = {"processes": with_process_pool, "threads": with_thread_pool}
    t = batch_rounds(batch, rounds, pools if s.sleep_context else {})
    floor = batch.count / batch.jobs * float(batch.argv[1])
    xargs = f"`xargs -P{batch.jobs} -n1 sleep`"
    rows = [
        ratio_row(
            f"run_many: {batch.shown}, jobs={batch.jobs}: wall time cmdrun.run_many / {xargs}",
            Versus(t["cmdrun"], t["xargs"]).ratio,
            "<=",
            1.05,
            f"floor {floor:.2f} s; " + batch_details(t, "cmdrun", rounds),
        )
    ]
    for name, label in (
        ("processes", f"multiprocessing.Pool({batch.jobs}) + subprocess.run"),
        ("threads", f"ThreadPoolExecutor({batch.jobs}) + subprocess.run"),
    ):
        row_name = f"context: {batch.shown}: {label} / {xargs}"
        if name not in t:
            rows.append(Row(row_name, "skipped", details="not measured with --quick"))
            continue
        rows.append(
            Row(
                row_name,
                f"{Versus(t[name], t['xargs']).ratio:.2f}",
                details="pool created and closed in the timing; " + batch_details(t, name, rounds),
            )
        )
    return rows


def bench_run_many_true(s: ParallelSettings) -> list[Row]:
    batch, rounds = dataclasses.replace(TRUES, count=s.true_count), s.true_rounds
    t = batch_rounds(batch, rounds, {"threads": with_thread_pool})
    xargs = f"`xargs -P{batch.jobs} -n1 true`"

    def per_command(name: str) -> str:
        return f"{statistics.median(t[name]) / batch.count * 1e6:.0f}"

    return [
        ratio_row(
            f"run_many: {batch.shown}, jobs={batch.jobs}: wall time cmdrun.run_many / {xargs}",
            Versus(t["cmdrun"], t["xargs"]).ratio,
            "<=",
            1.25,
            f"{per_command('cmdrun')} vs {per_command('xargs')} us per command; "
            + batch_details(t, "cmdrun", rounds),
        ),
        Row(
            f"context: {batch.shown}: ThreadPoolExecutor({batch.jobs}) + subprocess.run / {xargs}",
            f"{Versus(t['threads'], t['xargs']).ratio:.2f}",
            details=f"{per_command('threads')} us per command; "
            + batch_details(t, "threads", rounds),
        ),
    ]


# --------------------------------------------------------------------------------------------
# 8. asyncio: arun against create_subprocess_exec


async def with_arun() -> None:
    await cmdrun.arun(["true"])


async def with_asyncio() -> None:
    proc = await asyncio.create_subprocess_exec(
        "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"true exited with {proc.returncode}")


async def with_blocking_run() -> None:
    cmdrun.run(["true"])  # blocks the loop: the engine without the event loop's waits


async def alternating_blocks(
    contestants: Mapping[str, Callable[[], Awaitable[None]]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Per-call seconds of each contestant per round, in blocks of ``calls`` sequential
    awaits, all in the running event loop; odd rounds run the contestants in reverse."""
    names = list(contestants)
    for name in names:  # warm up: imports, the child watcher, PATH lookups
        await contestants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            one = contestants[name]
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                await one()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def bench_arun(s: ParallelSettings) -> list[Row]:
    contestants = {"arun": with_arun, "asyncio": with_asyncio, "run": with_blocking_run}
    t = asyncio.run(alternating_blocks(contestants, s.arun_rounds, s.arun_calls))

    def details(top: str, bottom: str) -> str:
        v = Versus(t[top], t[bottom])
        return (
            f"{statistics.median(t[top]) * 1e6:.0f} vs {statistics.median(t[bottom]) * 1e6:.0f} "
            f"us/call; per-round ratio IQR {v.per_round}; {s.arun_rounds} rounds x "
            f"{s.arun_calls} sequential awaits, one event loop"
        )

    return [
        ratio_row(
            'per-call overhead: `await cmdrun.arun(["true"])` / asyncio '
            "create_subprocess_exec + communicate",
            Versus(t["arun"], t["asyncio"]).ratio,
            "<=",
            1.2,
            details("arun", "asyncio"),
        ),
        Row(
            'context: per-call: `await cmdrun.arun(["true"])` / `cmdrun.run(["true"])` '
            "called in the event loop",
            f"{Versus(t['arun'], t['run']).ratio:.2f}",
            details="the cost of waiting on the event loop; " + details("arun", "run"),
        ),
    ]


# --------------------------------------------------------------------------------------------
# 9. Bounded memory: 2 GiB of output

MAX_OUTPUT = 1 << 20
RSS_LIMIT_MIB = 64
#: Free space needed before writing the output to a file.
DISK_NEEDED = 4 << 30

MEMORY_CHILD = """
import json, os, resource, sys, time

import cmdrun

mode, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cmd = ["head", "-c", str(size), "/dev/zero"]
options = {"max_output": 1 << 20} if mode == "tail" else {"stdout": path}

rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm0 = hwm_kib()
start = time.perf_counter()
result = cmdrun.run(cmd, **options)
elapsed = time.perf_counter() - start
kept, dropped = len(result.stdout_bytes), result.stdout_dropped
del result
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm1 = hwm_kib()
written = os.path.getsize(path) if mode == "file" else 0
print(json.dumps({"elapsed": elapsed, "kept": kept, "dropped": dropped, "written": written,
                  "rss0": rss0, "rss1": rss1, "hwm0": hwm0, "hwm1": hwm1}))
"""


def memory_once(mode: str, size: int, path: str) -> dict[str, Any]:
    """One run of ``head -c size /dev/zero`` in a fresh Python process; check what it kept."""
    try:
        data = fresh_python(MEMORY_CHILD, mode, str(size), path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    if mode == "tail":
        expected = {"kept": MAX_OUTPUT, "dropped": size - MAX_OUTPUT, "written": 0}
    else:
        expected = {"kept": 0, "dropped": 0, "written": size}
    got = {key: data[key] for key in expected}
    if got != expected:
        raise RuntimeError(f"{mode}: expected {expected}, got {got}")
    return data


def bench_bounded_memory(s: ParallelSettings) -> list[Row]:
    size = s.memory_size
    label = f"{size >> 20} MiB" if size < 1 << 30 else f"{size >> 30} GiB"
    if size != FULL.memory_size:
        label += f" (--quick; {FULL.memory_size >> 30} GiB in a full run)"
    to_file = "`run(cmd, stdout=PATH)`"
    modes = {"tail": "`run(cmd, max_output=1 << 20)`", "file": to_file}
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-big-") as tmp:
        free = shutil.disk_usage(tmp).free
        skipped = free < DISK_NEEDED
        if skipped:
            del modes["file"]
        path = os.path.join(tmp, "stdout")
        results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for r in range(s.memory_repeats):
            order = list(modes)
            for mode in order if r % 2 == 0 else order[::-1]:
                results[mode].append(memory_once(mode, size, path))

    rows: list[Row] = []
    for mode, call in modes.items():
        runs = results[mode]
        peak = max(d["rss1"] for d in runs) / 1024
        hwm = max(d["hwm1"] for d in runs) / 1024
        before = statistics.median(d["rss0"] for d in runs) / 1024
        elapsed = statistics.median(d["elapsed"] for d in runs)
        how = (
            "keeps the last 1 MiB, drops the rest"
            if mode == "tail"
            else f"the file's fd is handed to the child; file in {tempfile.gettempdir()}, "
            "deleted after each run"
        )
        rows.append(
            Row(
                f"bounded memory: {label} of stdout, {call}: peak RSS of the Python process",
                f"{peak:.1f} MiB",
                f"< {RSS_LIMIT_MIB} MiB",
                peak < RSS_LIMIT_MIB,
                f"{how}; ru_maxrss after the run, worst of {len(runs)} fresh processes "
                f"(median {statistics.median(d['rss1'] for d in runs) / 1024:.1f}; "
                f"{before:.1f} MiB before it; VmHWM {hwm:.1f}); "
                f"{(size >> 20) / elapsed:.0f} MiB/s ({elapsed:.2f} s)",
            )
        )
    if skipped:
        rows.append(
            Row(
                f"bounded memory: {label} of stdout, {to_file}: peak RSS of the Python process",
                "skipped",
                f"< {RSS_LIMIT_MIB} MiB",
                None,
                f"only {free / 2**30:.1f} GiB free in {tempfile.gettempdir()}, "
                f"{DISK_NEEDED >> 30} GiB needed",
            )
        )
    return rows
