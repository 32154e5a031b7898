"""Benchmark cmdrun against the standard library, as ratios measured in one run.

Usage::

    python benchmarks/bench.py [--quick] [--check] [--only WORD] [--page]

Seventeen things are measured, each against the obvious stdlib baseline or peer:

1. **Per-call overhead**: ``cmdrun.run(["true"])`` against
   ``subprocess.run(["true"], capture_output=True)``. Almost all of the time is fork/exec and
   the child itself, so this shows what cmdrun's extra work (argument checks, process group,
   pidfd, poll loop) costs per call. The two are timed in alternating blocks (A,B then B,A in
   the next round) and the ratio is taken between the medians of the per-call block times.
   Peers (asyncio, plumbum, sh, sarge, invoke, pexpect) are shown for context, each timed
   the same way against its own interleaved ``subprocess.run`` blocks.
2. **Capturing 256 MiB of stdout** (``head -c 268435456 /dev/zero``): throughput and peak
   memory. Each capture runs in a fresh Python process, so the memory high-water mark belongs
   to that one capture. The child records ``ru_maxrss`` before and after the capture; the
   growth divided by the output size says how many copies of the output were alive at once
   (``subprocess.run`` joins a list of chunks, so it briefly holds about two). On Linux a
   process inherits the RSS high-water mark of whoever exec'd it, so the child is started
   through ``/bin/sh`` (which forks rather than execs) to make its counter start from its
   own, small, memory; ``VmHWM`` from ``/proc/self/status`` is recorded as a cross-check.
3. **Import time**: ``python -c "import cmdrun; cmdrun.run"`` against ``python -c "import
   subprocess"``, timed as whole processes (what a CLI tool built on cmdrun pays at
   start-up: ``import cmdrun`` alone imports nothing more, the first public name used imports
   the rest). It also checks that this leaves ``pexpect`` unimported. For context, the same
   for each peer (``python -c "import plumbum"``, ...), bytecode cached, in the same rounds.
4. **Dialogues**: 1,000 send/expect round trips (``sendline("x")`` then ``expect("> ")``)
   with a tiny line-echo child, the same child for every contestant: a cmdrun pipe session
   and a cmdrun PTY session against ``pexpect.spawn`` with ``delaybeforesend=None`` and a raw
   ``Popen`` + ``os.write`` + ``os.read`` loop; pexpect with its defaults (which sleeps 50 ms
   before every send, so it gets only a few round trips), fully tuned pexpect (no sleep after
   reads either) and ``PopenSpawn`` for context. Only the round trips are timed, not starting
   or ending the child; in each round every contestant starts its own child, in an order
   rotated from round to round, and the ratios are between median per-round-trip times.
5. **A one-shot PTY run**: ``cmdrun.run(["true"], tty=True)`` against ``pexpect.spawn("true")``
   + ``expect(EOF)`` + ``close()``, with pexpect's defaults (``close()`` sleeps 0.1 s) and with
   ``delayafterclose=0``; interleaved blocks as in 1. For context, the same call forced
   through cmdrun's fallback start path (ptyprocess, a fork in Python) against the default
   (util-linux ``setsid --ctty``, no Python in the child).
6. **Reading 64 MiB through a PTY** (``head -c`` of a file of printable bytes with no newline,
   so the PTY's ``\n`` -> ``\r\n`` translation keeps the size exact): ``cmdrun.spawn(...,
   tty=True).read()`` and ``cmdrun.run(..., tty=True)`` against a raw ``pty.openpty()`` +
   ``Popen`` + ``os.read(master, 1 MiB)`` loop, with pexpect's ``read()`` for context.
7. **Batches** (``parallel.py`` has the details): ``cmdrun.run_many`` of 200 x ``sleep 0.05``
   with ``jobs=8`` and of 1,000 x ``true`` with ``jobs=2``, against ``xargs -P8``/``-P2``
   running the same commands; ``multiprocessing.Pool`` and ``ThreadPoolExecutor`` with
   ``subprocess.run`` for context. Wall times of whole batches, rotated rounds.
8. **asyncio**: ``await cmdrun.arun(["true"])`` against ``create_subprocess_exec`` +
   ``communicate()``, sequential awaits in one event loop, in alternating blocks as in 1.
9. **Bounded memory**: 2 GiB of output (512 MiB with ``--quick``) through
   ``run(max_output=1 MiB)`` and ``run(stdout=PATH)``, each in a fresh Python process (as in
   2) whose peak RSS must stay under 64 MiB; throughput for context.
10. **Pipelines** (``pipelines.py`` has the details): ``cat FILE | gzip -1 | wc -c`` over 1 GiB
    through ``cmdrun.run(cmdrun.pipe(...))`` against ``bash -c 'set -o pipefail; ...'``,
    plumbum's pipeline and a ``subprocess.Popen`` chain; peak RSS of the Python process.
11. **Input from a file or a generator**: 1 GiB to ``wc -c`` through ``stdin=PATH`` and
    ``stdin=`` a generator, each in a fresh process whose peak RSS must stay under 64 MiB.
12. **The pytest plugin** (``plugin.py`` has the details): the CPU time cmdrun's plugin adds to
    pytest's start-up and to every test that does not use it, against ``-p no:cmdrun``; the
    same for pytest-subprocess's plugin, and a test faking one call with ``fake_commands``
    against one with ``fp``, for context.
13. **The command line** (``cli.py`` has the details): ``cmdrun -- true`` as a whole process
    against ``python -c "import subprocess; subprocess.run(['true'])"``; ``python -m cmdrun``
    and coreutils ``timeout 10 true`` for context.
14. **The async API** (``aio.py`` has the details): 2,000 concurrent ``arun(["sleep", "1"])``
    under ``asyncio.gather`` (wall time, peak RSS, peak threads; each contestant in a fresh
    process) against a trio nursery, ``create_subprocess_exec``, ``trio.run_process``, the
    old thread-pool ``arun`` and the floor (``os.posix_spawn`` + ``os.waitpid``);
    ``aspawn`` dialogues on asyncio and trio against the synchronous ``spawn`` and pexpect's
    ``expect(async_=True)``; 200 concurrent PTY sessions of 100 round trips each.
17. **Commands on other machines** (``remote.py`` has the details), against real ``sshd`` on
    127.0.0.1 (``tests/sshd.py``): short commands through ``cmdrun.Remote`` (one shared
    connection) against plain ``ssh`` per command, fabric and plumbum; ``run_on`` of one
    command to 30 targets against fabric's ``ThreadingGroup`` and parallel-ssh; what a 1 s
    timeout leaves on the hosts, for ``run_on`` and, side by side, fabric, plumbum and
    ``Remote.run``.

Why ratios and not absolute times: absolute numbers depend on the machine, its load and the
kernel, and the machines this runs on are small and noisy. Both sides of each ratio are
measured in the same run, interleaved, so drift and background load hit both about equally
and the ratio stays comparable across machines and runs. Medians of repeated runs discard the
occasional outlier (a preempted round, a page-cache miss).

The table is printed to stdout as Markdown. With ``--check`` the exit status is 1 when a
target is missed; without it the script always exits 0.

With ``--page`` the script also runs the correctness table (``correctness.py``: what a 1 s
timeout leaves behind, library by library), then writes ``docs/benchmarks.md`` and its PNG
charts in ``docs/benchmarks/`` (``page.py``; matplotlib, from the ``bench`` extra). With
``--quick`` everything, page included, takes under a minute on 2 quiet CPUs (57 s here; the
correctness table runs beside the SSH sections): the figures are indicative, and the page
says which mode made them.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio
import cli
import interactive
import parallel
import pipelines
import plugin
import remote
from benchutil import Row, Versus, fresh_python, installed, ratio_row, rotated_rounds, spread
from interactive import (
    CmdrunDialogue,
    Dialogue,
    PexpectDialogue,
    PopenSpawnDialogue,
    RawPipeDialogue,
    RawPtyDialogue,
)

import cmdrun

CAPTURE_SIZE = 256 * 1024 * 1024
TRUE = ["true"]

#: A block runs the measured operation ``n`` times.
Block = Callable[[int], None]


@dataclass(frozen=True)
class Settings:
    """How many repetitions each measurement gets."""

    overhead_rounds: int
    overhead_calls: int
    peer_rounds: int
    peer_baseline_calls: int
    peer_share: float  # of each peer's calls per block (PEERS): fewer with --quick
    capture_repeats: int
    import_repeats: int
    import_warmups: int  # rounds that fill the bytecode and page caches first
    dialogue_rounds: int
    round_trips: int  # per contestant and round
    sleepy_round_trips: int  # for pexpect with its defaults: 50 ms each
    pty_run_rounds: int
    pty_run_calls: int  # per block; pexpect with its defaults gets PTY_RUN_SLEEPY_CALLS
    pty_read_rounds: int
    pty_read_size: int  # bytes read through the PTY by each contestant but pexpect's default
    parallel: parallel.ParallelSettings  # sections 7-9
    pipelines: pipelines.PipelineSettings  # sections 10-11
    plugin: plugin.PluginSettings  # section 12
    cli: cli.CliSettings  # section 13
    aio: aio.AioSettings  # sections 14-16
    ssh: remote.SshSettings  # section 17


FULL = Settings(
    overhead_rounds=15,
    overhead_calls=200,
    peer_rounds=7,
    peer_baseline_calls=100,
    peer_share=1.0,
    capture_repeats=5,
    import_repeats=30,
    import_warmups=2,
    dialogue_rounds=11,
    round_trips=1000,
    sleepy_round_trips=20,
    pty_run_rounds=9,
    pty_run_calls=40,
    pty_read_rounds=5,
    pty_read_size=64 << 20,
    parallel=parallel.FULL,
    pipelines=pipelines.FULL,
    plugin=plugin.FULL,
    cli=cli.FULL,
    aio=aio.FULL,
    ssh=remote.FULL,
)
QUICK = Settings(
    overhead_rounds=3,
    overhead_calls=40,
    peer_rounds=3,
    peer_baseline_calls=20,
    peer_share=0.3,
    capture_repeats=2,
    import_repeats=2,
    import_warmups=0,  # the sections before it have imported every library already
    dialogue_rounds=3,
    round_trips=100,
    sleepy_round_trips=3,
    pty_run_rounds=3,
    pty_run_calls=10,
    pty_read_rounds=3,
    pty_read_size=4 << 20,
    parallel=parallel.QUICK,
    pipelines=pipelines.QUICK,
    plugin=plugin.QUICK,
    cli=cli.QUICK,
    aio=aio.QUICK,
    ssh=remote.QUICK,
)


# --------------------------------------------------------------------------------------------
# 1. Per-call overhead


def repeat(fn: Callable[[], object]) -> Block:
    """A block that calls ``fn`` ``n`` times."""

    def block(n: int) -> None:
        for _ in range(n):
            fn()

    return block


def interleaved(
    a: Block, n_a: int, b: Block, n_b: int, rounds: int
) -> tuple[list[float], list[float]]:
    """Per-call seconds of ``a`` and ``b`` for each round, timed in alternating blocks.

    Odd rounds run ``b`` first, so neither side always follows the other.
    """
    a(1)  # warm up: imports, page cache, PATH lookups
    b(1)
    times_a: list[float] = []
    times_b: list[float] = []
    for r in range(rounds):
        order = ((a, n_a, times_a), (b, n_b, times_b))
        for block, n, out in order if r % 2 == 0 else order[::-1]:
            gc.collect()
            start = time.perf_counter()
            block(n)
            out.append((time.perf_counter() - start) / n)
    return times_a, times_b


def compare(
    a: Block, n_a: int, b: Block, n_b: int, rounds: int
) -> tuple[float, float, float, list[float]]:
    """Median per-call times of ``a`` and ``b``, their ratio, and the per-round ratios."""
    times_a, times_b = interleaved(a, n_a, b, n_b, rounds)
    med_a, med_b = statistics.median(times_a), statistics.median(times_b)
    per_round = [x / y for x, y in zip(times_a, times_b, strict=True)]
    return med_a, med_b, med_a / med_b, per_round


def subprocess_true() -> None:
    subprocess.run(TRUE, capture_output=True, check=True)


def cmdrun_true() -> None:
    cmdrun.run(TRUE)


def asyncio_block() -> Block:
    async def one() -> None:
        proc = await asyncio.create_subprocess_exec(
            *TRUE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await proc.communicate()

    async def many(n: int) -> None:
        for _ in range(n):
            await one()

    def block(n: int) -> None:
        asyncio.run(many(n))  # one event loop per block, not per call

    return block


def plumbum_block() -> Block:
    from plumbum import local

    def one() -> None:
        local["true"]()  # the lookup is part of the idiom, so it is timed too

    return repeat(one)


def sh_block() -> Block:
    import sh

    def one() -> None:
        sh.true()

    return repeat(one)


def sarge_block() -> Block:
    import sarge

    def one() -> None:
        sarge.capture_both("true")  # stdout and stderr captured, as subprocess.run's are

    return repeat(one)


def invoke_block() -> Block:
    import invoke

    def one() -> None:
        invoke.run("true", hide=True)

    return repeat(one)


def pexpect_block(no_delay: bool) -> Block:
    import pexpect

    def one() -> None:
        child = pexpect.spawn("true")
        if no_delay:
            # pexpect 4.x does not pass its own ``delayafterclose`` on to ptyprocess, whose
            # close() is the one that sleeps: set both.
            child.delayafterclose = 0
            child.ptyproc.delayafterclose = 0  # type: ignore[attr-defined]  # not in the stubs
        child.expect(pexpect.EOF)
        child.close()

    return repeat(one)


#: name, factory, calls per block. Slow peers get fewer calls so each takes about a second.
PEERS: list[tuple[str, Callable[[], Block], int]] = [
    ("asyncio create_subprocess_exec + communicate", asyncio_block, 200),
    ('plumbum `local["true"]()`', plumbum_block, 100),
    ("sh `sh.true()`", sh_block, 50),
    ('sarge `capture_both("true")`', sarge_block, 50),
    ('invoke `run("true", hide=True)`', invoke_block, 10),
    ("pexpect spawn + expect(EOF) + close (defaults)", lambda: pexpect_block(False), 3),
    ("pexpect spawn + expect(EOF) + close (delayafterclose=0)", lambda: pexpect_block(True), 40),
]


def bench_overhead(s: Settings) -> list[Row]:
    ours, base, ratio, per_round = compare(
        repeat(cmdrun_true),
        s.overhead_calls,
        repeat(subprocess_true),
        s.overhead_calls,
        s.overhead_rounds,
    )
    rows = [
        ratio_row(
            "per-call overhead: cmdrun.run / subprocess.run (`true`)",
            ratio,
            "<=",
            1.10,
            f"{ours * 1e6:.0f} vs {base * 1e6:.0f} us/call; per-round ratio IQR "
            f"{spread(per_round)}; {s.overhead_rounds} rounds x {s.overhead_calls} calls",
        )
    ]
    for name, factory, full_calls in PEERS:
        calls = max(1, round(full_calls * s.peer_share))
        label = f"context: {name} / subprocess.run"
        try:
            block = factory()
        except ImportError:
            rows.append(Row(label, "not installed"))
            continue
        try:
            peer, base, ratio, per_round = compare(
                block, calls, repeat(subprocess_true), s.peer_baseline_calls, s.peer_rounds
            )
        except Exception as exc:  # a broken peer must not sink the benchmark
            rows.append(Row(label, "error", details=f"{type(exc).__name__}: {exc}"[:120]))
            continue
        rows.append(
            Row(
                label,
                f"{ratio:.2f}",
                details=f"{peer * 1e6:.0f} vs {base * 1e6:.0f} us/call; per-round IQR "
                f"{spread(per_round)}; {s.peer_rounds} rounds x {calls} calls",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 2. Capturing 256 MiB


CAPTURE_CHILD = """
import json, resource, sys, time

mode, size = sys.argv[1], int(sys.argv[2])
cmd = ["head", "-c", str(size), "/dev/zero"]


if mode == "cmdrun":
    import cmdrun

    def capture():
        # Only the bytes, never .stdout: decoding would add a second copy.
        return len(cmdrun.run(cmd).stdout_bytes)
else:
    import subprocess

    def capture():
        return len(subprocess.run(cmd, capture_output=True, check=True).stdout)

rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm0 = hwm_kib()
start = time.perf_counter()
n = capture()  # the result (and its buffer) is released right here
elapsed = time.perf_counter() - start
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm1 = hwm_kib()
print(json.dumps({"n": n, "elapsed": elapsed, "rss0": rss0, "rss1": rss1,
                  "hwm0": hwm0, "hwm1": hwm1}))
"""


def capture_once(mode: str, size: int) -> dict[str, float]:
    """Run one capture in a fresh interpreter and return what it measured."""
    data: dict[str, float] = fresh_python(CAPTURE_CHILD, mode, str(size))
    if data["n"] != size:
        raise RuntimeError(f"{mode} captured {data['n']} bytes, expected {size}")
    return data


def bench_capture(s: Settings) -> list[Row]:
    subprocess.run(["head", "-c", "1", "/dev/zero"], capture_output=True, check=True)
    results: dict[str, list[dict[str, float]]] = {"cmdrun": [], "subprocess": []}
    for r in range(s.capture_repeats):
        modes = ["cmdrun", "subprocess"]
        for mode in modes if r % 2 == 0 else modes[::-1]:
            results[mode].append(capture_once(mode, CAPTURE_SIZE))

    def med(mode: str, key: str) -> float:
        return statistics.median(d[key] for d in results[mode])

    def growth(mode: str, before: str, after: str) -> float:
        return statistics.median(
            (d[after] - d[before]) * 1024 / CAPTURE_SIZE for d in results[mode]
        )

    t_ours, t_base = med("cmdrun", "elapsed"), med("subprocess", "elapsed")
    mib = CAPTURE_SIZE / 2**20
    rows = [
        ratio_row(
            "256 MiB capture: throughput cmdrun / subprocess.run",
            t_base / t_ours,
            ">=",
            1.2,
            f"{mib / t_ours:.0f} vs {mib / t_base:.0f} MiB/s "
            f"({t_ours:.3f} vs {t_base:.3f} s); {s.capture_repeats} fresh processes each",
        )
    ]
    for mode, label in (("cmdrun", "cmdrun.run"), ("subprocess", "subprocess.run")):
        value = growth(mode, "rss0", "rss1")
        check = growth(mode, "hwm0", "hwm1")
        details = (
            f"ru_maxrss {med(mode, 'rss0') / 1024:.0f} -> {med(mode, 'rss1') / 1024:.0f} MiB; "
            f"VmHWM growth {check:.2f}x"
        )
        if abs(value - check) > 0.05:
            details += " (ru_maxrss and VmHWM disagree: baseline inherited?)"
        name = f"256 MiB capture: peak RSS growth / output size, {label}"
        if mode == "cmdrun":
            rows.append(ratio_row(name, value, "<=", 1.25, details))
        else:
            rows.append(Row(name, f"{value:.2f}", details="context (about 2 expected); " + details))
    return rows


# --------------------------------------------------------------------------------------------
# 3. Import time


def run_python(code: str, env: dict[str, str] | None) -> float:
    """Seconds to run ``python -c code`` as a whole process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def cached_env(cache_dir: str) -> dict[str, str]:
    """Our environment, but with bytecode caching on, into ``cache_dir`` (not into src/)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env


#: The peers whose import time is shown for context, each a whole process as cmdrun's.
IMPORT_PEERS = ("pexpect", "sh", "plumbum", "sarge", "invoke", "fabric")


def bench_import(s: Settings) -> list[Row]:
    ours_code, base_code = "import cmdrun; cmdrun.run", "import subprocess"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-pyc-") as cache_dir:
        # "cached" is what an installed package gets: .pyc files for cmdrun as for the
        # stdlib (both read from the same fresh prefix, filled by the warm-up runs). With
        # PYTHONDONTWRITEBYTECODE set, an editable install recompiles cmdrun from source in
        # every process while the stdlib has its .pyc files: measured too, as context.
        variants: dict[str, dict[str, str] | None] = {"cached": cached_env(cache_dir)}
        if sys.flags.dont_write_bytecode:
            variants["inherited"] = None
        jobs = [(v, code) for v in variants for code in (ours_code, base_code)]
        peers = [m for m in IMPORT_PEERS if installed(m)]
        jobs += [("cached", f"import {module}") for module in peers]
        times: dict[tuple[str, str], list[float]] = {job: [] for job in jobs}
        for _ in range(s.import_warmups):  # warm up: fill the bytecode cache and the page cache
            for variant, code in jobs:
                run_python(code, variants[variant])
        for r in range(s.import_repeats):
            for variant, code in jobs if r % 2 == 0 else jobs[::-1]:
                times[variant, code].append(run_python(code, variants[variant]))

    for variant in variants:
        ours, base = times[variant, ours_code], times[variant, base_code]
        t_ours, t_base = statistics.median(ours), statistics.median(base)
        details = (
            f"{t_ours * 1e3:.1f} vs {t_base * 1e3:.1f} ms per process; per-pair ratio IQR "
            f"{spread([x / y for x, y in zip(ours, base, strict=True)])}; "
            f"{s.import_repeats} runs each"
        )
        name = "import time: `python -c 'import cmdrun; cmdrun.run'` / `... 'import subprocess'`"
        if variant == "cached":
            rows.append(ratio_row(name + " (.pyc cached)", t_ours / t_base, "<=", 1.5, details))
        else:
            note = "context: PYTHONDONTWRITEBYTECODE is set, cmdrun compiled from source each time"
            rows.append(
                Row(
                    name + " (env as inherited)",
                    f"{t_ours / t_base:.2f}",
                    "",
                    None,
                    f"{note}; {details}",
                )
            )

    base = times["cached", base_code]
    for module in IMPORT_PEERS:
        name = f"context: import time: `python -c 'import {module}'` / `... 'import subprocess'`"
        if module not in peers:
            rows.append(Row(name, "not installed"))
            continue
        theirs = times["cached", f"import {module}"]
        rows.append(
            Row(
                name,
                f"{statistics.median(theirs) / statistics.median(base):.2f}",
                details=f"{statistics.median(theirs) * 1e3:.1f} ms per process (.pyc cached); "
                f"per-pair ratio IQR "
                f"{spread([x / y for x, y in zip(theirs, base, strict=True)])}",
            )
        )

    probe = subprocess.run(
        [sys.executable, "-c", "import sys, cmdrun; cmdrun.run; print('pexpect' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = probe.stdout.strip()
    rows.append(
        Row(
            "`pexpect` in sys.modules after `import cmdrun; cmdrun.run`",
            loaded,
            "False",
            loaded == "False",
            "pexpect must be imported lazily",
        )
    )
    return rows


# --------------------------------------------------------------------------------------------
# Shared by 4-6: several contestants, one measurement each per round, rotated order


def timed_block(block: Block, n: int) -> Callable[[], float]:
    """A contestant: seconds per call of ``block`` over ``n`` calls."""

    def measure() -> float:
        start = time.perf_counter()
        block(n)
        return (time.perf_counter() - start) / n

    return measure


# --------------------------------------------------------------------------------------------
# 4. Dialogues: send/expect round trips


def dialogue_contestant(factory: Callable[[], Dialogue], n: int) -> Callable[[], float]:
    """A contestant: seconds per round trip over ``n`` round trips with a fresh child.

    Starting the child, the first prompt, a short warm-up and ending the child are not timed.
    """

    def measure() -> float:
        dialogue = factory()
        try:
            dialogue.check(dialogue.round_trips(max(1, n // 20)))
            gc.collect()
            start = time.perf_counter()
            reply = dialogue.round_trips(n)
            elapsed = time.perf_counter() - start
            dialogue.check(reply)
        finally:
            dialogue.close()
        return elapsed / n

    return measure


def bench_dialogues(s: Settings) -> list[Row]:
    n, sleepy = s.round_trips, s.sleepy_round_trips
    contestants = {
        "pipe": dialogue_contestant(lambda: CmdrunDialogue(tty=False), n),
        "pty": dialogue_contestant(lambda: CmdrunDialogue(tty=True), n),
        "raw": dialogue_contestant(RawPipeDialogue, n),
        "raw_pty": dialogue_contestant(RawPtyDialogue, n),
        "pexpect": dialogue_contestant(lambda: PexpectDialogue(delaybeforesend=None), n),
        "pexpect_nosleep": dialogue_contestant(
            lambda: PexpectDialogue(delaybeforesend=None, delayafterread=None), n
        ),
        "pexpect_defaults": dialogue_contestant(PexpectDialogue, sleepy),
        "popenspawn": dialogue_contestant(PopenSpawnDialogue, n),
    }
    t = rotated_rounds(contestants, s.dialogue_rounds)
    rounds = s.dialogue_rounds

    def details(top: str, bottom: str) -> str:
        v = Versus(t[top], t[bottom])
        counts = " / ".join(str(sleepy if "defaults" in name else n) for name in (top, bottom))
        return (
            f"{statistics.median(t[top]) * 1e6:.1f} vs {statistics.median(t[bottom]) * 1e6:.1f} "
            f"us per round trip; per-round ratio IQR {v.per_round}; {rounds} rounds x "
            f"{counts} round trips"
        )

    def ratio(top: str, bottom: str) -> float:
        return Versus(t[top], t[bottom]).ratio

    pexpect_tuned = "pexpect.spawn (delaybeforesend=None)"
    rows = [
        ratio_row(
            f"dialogue: {pexpect_tuned} / cmdrun.spawn(tty=False)",
            ratio("pexpect", "pipe"),
            ">=",
            3.0,
            details("pexpect", "pipe"),
        ),
        ratio_row(
            "dialogue: cmdrun.spawn(tty=False) / raw Popen + os.write + os.read loop",
            ratio("pipe", "raw"),
            "<=",
            3.0,
            details("pipe", "raw"),
        ),
        ratio_row(
            f"dialogue: {pexpect_tuned} / cmdrun.spawn(tty=True)",
            ratio("pexpect", "pty"),
            ">=",
            1.5,
            details("pexpect", "pty"),
        ),
    ]
    for name, top, bottom, note in (
        (
            "pexpect.spawn (delaybeforesend=None, delayafterread=None) / cmdrun.spawn(tty=True)",
            "pexpect_nosleep",
            "pty",
            "pexpect also sleeps 0.1 ms after every read unless delayafterread=None",
        ),
        (
            "pexpect.spawn (defaults) / cmdrun.spawn(tty=True)",
            "pexpect_defaults",
            "pty",
            "delaybeforesend=0.05: 50 ms per send",
        ),
        (
            "PopenSpawn (defaults) / cmdrun.spawn(tty=False)",
            "popenspawn",
            "pipe",
            "pipes and a reader thread",
        ),
        (
            "cmdrun.spawn(tty=True) / raw pty.openpty + os.write + os.read loop",
            "pty",
            "raw_pty",
            "what cmdrun adds to the PTY's own cost",
        ),
    ):
        rows.append(
            Row(
                f"context: dialogue: {name}",
                f"{ratio(top, bottom):.2f}",
                details=f"{note}; {details(top, bottom)}",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 5. A one-shot run on a PTY

#: Calls per block for pexpect with its defaults: its close() sleeps 0.1 s each time.
PTY_RUN_SLEEPY_CALLS = 3


def cmdrun_tty_true() -> None:
    cmdrun.run(TRUE, tty=True)


def cmdrun_tty_true_through_ptyprocess() -> None:
    """The fallback start path (a fork in Python), forced for comparison."""
    from cmdrun import _pty

    _pty.START_PATH = "ptyprocess"
    try:
        cmdrun.run(TRUE, tty=True)
    finally:
        _pty.START_PATH = None


def bench_pty_run(s: Settings) -> list[Row]:
    n = s.pty_run_calls
    ours, tuned, defaults = repeat(cmdrun_tty_true), pexpect_block(True), pexpect_block(False)
    fallback = repeat(cmdrun_tty_true_through_ptyprocess)
    for block in (ours, tuned, defaults, fallback):
        block(1)  # warm up
    t = rotated_rounds(
        {
            "cmdrun": timed_block(ours, n),
            "tuned": timed_block(tuned, n),
            "defaults": timed_block(defaults, PTY_RUN_SLEEPY_CALLS),
            "fallback": timed_block(fallback, n),
        },
        s.pty_run_rounds,
    )

    def details(top: str, bottom: str) -> str:
        v = Versus(t[top], t[bottom])
        calls = {"cmdrun": n, "tuned": n, "defaults": PTY_RUN_SLEEPY_CALLS, "fallback": n}
        return (
            f"{statistics.median(t[top]) * 1e3:.2f} vs {statistics.median(t[bottom]) * 1e3:.2f} "
            f"ms/call; per-round ratio IQR {v.per_round}; {s.pty_run_rounds} rounds x "
            f"{calls[top]} / {calls[bottom]} calls"
        )

    call = 'cmdrun.run(["true"], tty=True)'
    peer = "pexpect spawn + expect(EOF) + close"
    no_slower = Versus(t["cmdrun"], t["tuned"]).ratio
    margin = ""
    if 1.0 < no_slower <= 1.05:
        margin = "slower, but within the 5% noise margin; "
    return [
        ratio_row(
            f"PTY one-shot: {peer} (defaults) / {call}",
            Versus(t["defaults"], t["cmdrun"]).ratio,
            ">=",
            20.0,
            details("defaults", "cmdrun"),
        ),
        ratio_row(
            f"PTY one-shot: {call} / {peer} (delayafterclose=0)",
            no_slower,
            "<=",
            1.0,
            margin + details("cmdrun", "tuned"),
        ),
        Row(
            f"context: PTY one-shot: {call} through ptyprocess (fork in Python) / through "
            "setsid --ctty (the default)",
            f"{Versus(t['fallback'], t['cmdrun']).ratio:.2f}",
            details=details("fallback", "cmdrun"),
        ),
    ]


# --------------------------------------------------------------------------------------------
# 6. Reading 64 MiB through a PTY

#: pexpect's default read size makes it slow (about 8 MB/s): it reads an eighth as much, at
#: the same rate (8 MiB of a full run's 64 MiB).
PEXPECT_SLOW_SHARE = 8


def per_mib(read: Callable[[int], float], size: int) -> Callable[[], float]:
    """A contestant: seconds per MiB (so that contestants reading different amounts compare)."""
    return lambda: read(size) / (size / 2**20)


def bench_pty_read(s: Settings) -> list[Row]:
    size = s.pty_read_size
    what = f"{size >> 20} MiB"
    if size != FULL.pty_read_size:
        what += f" (--quick; {FULL.pty_read_size >> 20} MiB in a full run)"
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-pty-") as tmp:
        path = os.path.join(tmp, "printable")
        interactive.write_printable(path, size)
        readers: dict[str, Callable[[int], float]] = {
            "raw": lambda n: interactive.read_raw_pty(path, n),
            "spawn": lambda n: interactive.read_cmdrun_spawn(path, n),
            "run": lambda n: interactive.read_cmdrun_run(path, n),
            "pexpect": lambda n: interactive.read_pexpect(path, n, 2000),
            "pexpect_65536": lambda n: interactive.read_pexpect(path, n, 65536),
        }
        sizes = dict.fromkeys(readers, size)
        sizes["pexpect"] = size // PEXPECT_SLOW_SHARE
        for read in readers.values():
            read(1 << 20)  # warm up: imports, PATH lookups, the file in the page cache
        t = rotated_rounds(
            {name: per_mib(read, sizes[name]) for name, read in readers.items()},
            s.pty_read_rounds,
        )

    def details(name: str) -> str:
        v = Versus(t["raw"], t[name])
        rate, raw_rate = 1 / statistics.median(t[name]), 1 / statistics.median(t["raw"])
        return (
            f"{rate:.0f} vs {raw_rate:.0f} MiB/s; per-round ratio IQR {v.per_round}; "
            f"{s.pty_read_rounds} rounds x {sizes[name] >> 20} MiB"
        )

    def rate_ratio(name: str) -> float:
        return Versus(t["raw"], t[name]).ratio  # seconds per MiB, inverted: a rate ratio

    raw = "raw pty.openpty + os.read(1 MiB) loop"
    rows = [
        ratio_row(
            f"{what} through a PTY: rate of cmdrun.spawn(tty=True).read() / {raw}",
            rate_ratio("spawn"),
            ">=",
            0.7,
            details("spawn"),
        ),
        ratio_row(
            f"{what} through a PTY: rate of cmdrun.run(tty=True) / {raw}",
            rate_ratio("run"),
            ">=",
            0.7,
            details("run"),
        ),
    ]
    for name, label in (
        ("pexpect", "maxread=2000, the default"),
        ("pexpect_65536", "maxread=65536"),
    ):
        rows.append(
            Row(
                f"context: PTY read: rate of pexpect.spawn.read() ({label}) / {raw}",
                f"{rate_ratio(name):.2f}",
                details=details(name),
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 7-9. Batches, asyncio, bounded memory: see parallel.py


def bench_run_many_sleep(s: Settings) -> list[Row]:
    return parallel.bench_run_many_sleep(s.parallel)


def bench_run_many_true(s: Settings) -> list[Row]:
    return parallel.bench_run_many_true(s.parallel)


def bench_arun(s: Settings) -> list[Row]:
    return parallel.bench_arun(s.parallel)


def bench_bounded_memory(s: Settings) -> list[Row]:
    return parallel.bench_bounded_memory(s.parallel)


# 10-11. Pipelines, stdin= from a file or a generator: see pipelines.py


def bench_pipeline(s: Settings) -> list[Row]:
    return pipelines.bench_pipeline(s.pipelines)


def bench_stdin(s: Settings) -> list[Row]:
    return pipelines.bench_stdin(s.pipelines)


# 12. The pytest plugin's cost: see plugin.py


def bench_plugin(s: Settings) -> list[Row]:
    return plugin.bench_plugin(s.plugin)


# 13. The command line's start-up: see cli.py


def bench_cli(s: Settings) -> list[Row]:
    return cli.bench_cli(s.cli)


# 14-16. The async API: see aio.py


def bench_aio_concurrent(s: Settings) -> list[Row]:
    return aio.bench_concurrent(s.aio)


def bench_aio_dialogues(s: Settings) -> list[Row]:
    return aio.bench_dialogues(s.aio)


def bench_aio_sessions(s: Settings) -> list[Row]:
    return aio.bench_sessions(s.aio)


# 17. Commands on other machines (SSH): see remote.py


def bench_ssh_commands(s: Settings) -> list[Row]:
    return remote.bench_commands(s.ssh)


def bench_ssh_fanout(s: Settings) -> list[Row]:
    return remote.bench_fanout(s.ssh)


def bench_ssh_fanout_timeout(s: Settings) -> list[Row]:
    return remote.bench_fanout_timeout(s.ssh)


def bench_ssh_timeouts(s: Settings) -> list[Row]:
    return remote.bench_timeouts(s.ssh)


# --------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| Measurement | Ratio | Target | Pass | Details |",
        "|---|---:|---:|:---:|---|",
    ]
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "**FAIL**")
        lines.append(f"| {row.name} | {row.shown} | {row.target} | {verdict} | {row.details} |")
    return "\n".join(lines)


#: The sections in the order they run.
SECTIONS: list[Callable[[Settings], list[Row]]] = [
    bench_overhead,
    bench_capture,
    bench_import,
    bench_dialogues,
    bench_pty_run,
    bench_pty_read,
    bench_run_many_sleep,  # before bench_arun: its worker threads outlive it
    bench_run_many_true,
    bench_arun,
    bench_bounded_memory,
    bench_pipeline,
    bench_stdin,
    bench_plugin,
    bench_cli,
    bench_aio_concurrent,
    bench_aio_dialogues,
    bench_aio_sessions,
    bench_ssh_commands,
    bench_ssh_fanout,
    bench_ssh_fanout_timeout,
    bench_ssh_timeouts,
]

#: Where --page writes docs/benchmarks.md and docs/benchmarks/*.png: this checkout.
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """The machine, as the page and the charts name it: OS, kernel, CPU model and count."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = " ".join(line.split(":", 1)[1].split()) + ", "
                    break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()} {platform.machine()}"
    return f"{system}, {model}{os.cpu_count()} CPUs"


#: With ``--page --quick``, the correctness table runs in a thread from this section on: its
#: attempts mostly wait for 1 s timeouts and hangs, as the SSH sections mostly wait for the
#: network and their own timeouts, so the overlap saves the run about 15 s at the price of
#: noisier SSH figures (a quick run's figures are indicative anyway). A full run keeps it
#: apart, after every section.
CORRECTNESS_BESIDE = "bench_ssh_commands"

Correctness = tuple[list[dict[str, Any]] | None, str, str]


def wants_correctness(args: argparse.Namespace) -> bool:
    """Whether this run measures the correctness table: with --page, unless --only leaves it out."""
    return bool(args.page) and (not args.only or any(w in "correctness" for w in args.only))


def measure_correctness(quick: bool) -> Correctness:
    """page.measure_correctness, timed on stderr like a section."""
    import page

    section_start = time.perf_counter()
    found: Correctness = page.measure_correctness(quick)
    print(f"correctness done in {time.perf_counter() - section_start:.1f} s", file=sys.stderr)
    return found


def write_page(
    args: argparse.Namespace,
    by_section: dict[str, list[Row]],
    started: float,
    early: concurrent.futures.Future[Correctness] | None = None,
) -> None:
    """Run the correctness table (unless --only leaves it out, or ``early`` ran it already),
    then write the page and its charts (see page.py); what could not be drawn is said on
    stderr."""
    import page

    correctness: list[dict[str, Any]] | None = None
    problem, note = "left out by --only", ""
    if early is not None:
        correctness, problem, note = early.result()
    elif wants_correctness(args):
        correctness, problem, note = measure_correctness(args.quick)
    argv = ["python", "benchmarks/bench.py", *(sys.argv[1:] if args.argv is None else args.argv)]
    meta = page.Meta(
        command=" ".join(argv),
        quick=args.quick,
        date=datetime.date.today().isoformat(),
        machine=machine(),
        python=platform.python_version(),
        cmdrun=cmdrun.__version__,
        seconds=time.perf_counter() - started,
        only=tuple(args.only or ()),
        load=(args.load, os.getloadavg()[0]),
    )
    written = page.write(
        ROOT, meta, by_section, correctness, correctness_problem=problem, correctness_note=note
    )
    for line in written.problems:
        print(line, file=sys.stderr)
    print(
        f"wrote {written.page.relative_to(ROOT)} and {len(written.charts)} charts in "
        f"{(ROOT / page.CHARTS).relative_to(ROOT)}/",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats and smaller sizes (under a minute)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORD",
        help="run only the sections whose function name contains WORD (repeatable), "
        "e.g. --only run_many --only arun",
    )
    parser.add_argument(
        "--page",
        action="store_true",
        help="also run the correctness table, then write docs/benchmarks.md and its charts "
        "(needs matplotlib: the bench extra); with --only, a page of those sections alone",
    )
    args = parser.parse_args(argv)
    args.argv = argv
    args.load = os.getloadavg()[0]  # the page says how busy the machine was
    settings = QUICK if args.quick else FULL

    started = time.perf_counter()
    rows: list[Row] = []
    by_section: dict[str, list[Row]] = {}
    sections = SECTIONS
    if args.only:
        sections = [f for f in sections if any(word in f.__name__ for word in args.only)]
    early: concurrent.futures.Future[Correctness] | None = None
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="correctness")
    for section in sections:
        if section.__name__ == CORRECTNESS_BESIDE and args.quick and wants_correctness(args):
            early = pool.submit(measure_correctness, True)
        section_start = time.perf_counter()
        by_section[section.__name__] = section(settings)
        rows += by_section[section.__name__]
        print(
            f"{section.__name__} done in {time.perf_counter() - section_start:.1f} s",
            file=sys.stderr,
        )

    print(
        f"cmdrun {cmdrun.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs; "
        f"{'quick' if args.quick else 'full'} run{' (--only)' if args.only else ''}, "
        f"{time.perf_counter() - started:.0f} s; "
        "ratios of medians measured in this run\n"
    )
    print(table(rows))
    missed = [row.name for row in rows if row.passed is False]
    if missed:
        print("\nTargets missed:\n" + "\n".join(f"- {name}" for name in missed))
    if args.page:
        write_page(args, by_section, started, early)
    pool.shutdown()
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
