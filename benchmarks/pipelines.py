"""bench.py's sections 10-11: pipelines, and input from a file or a generator.

10. **A pipeline**: ``cat FILE | gzip -1 | wc -c`` over a 1 GiB file of log-like text (16 MiB
    with ``--quick``), through ``cmdrun.run(cmdrun.pipe(...))`` against the same pipeline run
    by ``bash -c 'set -o pipefail; ...'`` (the floor: the shell connects the stages and waits),
    plumbum's ``(cat[FILE] | gzip["-1"] | wc["-c"])()`` and a hand-made ``subprocess.Popen``
    chain (each stage's ``stdout=PIPE`` handed to the next stage as its stdin). In all four the
    data flows between the children without passing through Python, so what is measured is
    what each adds around the same work: starting three processes, waiting for them, reading
    the small answer. Every contestant's answer is compared with bash's: a wrong answer is
    shown as "wrong", never as a time. Rounds rotate the order; ratios are between medians.
    The peak RSS of a fresh Python process running the cmdrun pipeline is reported too.
11. **Input from elsewhere**: 1 GiB (128 MiB with ``--quick``) through
    ``run(pipe(["cat"], ["wc", "-c"]), stdin=PATH)`` (the file's fd is handed to ``cat``; a
    ``wc -c`` handed a file would only ``fstat`` it) and to ``wc -c`` through ``stdin=`` a
    generator of 1 MiB chunks (written as the child reads), each in a fresh
    Python process whose peak RSS must stay under 64 MiB; throughput for context, with a
    ``subprocess.Popen`` + ``stdin.write`` loop of the same chunks as the baseline for the
    generator.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchutil import Row, Versus, fresh_python, ratio_row, rotated_rounds

import cmdrun

RSS_LIMIT_MIB = 64
CHUNK = 1 << 20


@dataclass(frozen=True)
class PipelineSettings:
    """How big and how often for this module's measurements."""

    pipeline_size: int  # bytes of the file the pipeline compresses
    pipeline_rounds: int
    feed_size: int  # bytes fed to wc -c in section 11
    feed_repeats: int  # fresh processes per mode


FULL = PipelineSettings(pipeline_size=1 << 30, pipeline_rounds=5, feed_size=1 << 30, feed_repeats=3)
QUICK = PipelineSettings(
    pipeline_size=16 << 20, pipeline_rounds=3, feed_size=128 << 20, feed_repeats=2
)


def _label(size: int) -> str:
    return f"{size >> 20} MiB" if size < 1 << 30 else f"{size >> 30} GiB"


def write_log_file(path: str, size: int) -> None:
    """A file of ``size`` bytes of log-like text (gzip -1 packs it about 8:1, at a few
    hundred MB/s: the pipeline's time is not all compression)."""
    lines = [
        f"2026-12-01T05:{i % 60:02d}:{i % 59:02d} INFO worker-{i % 8} request {i:08d} "
        f"done in {i % 97} ms\n"
        for i in range(20_000)
    ]
    block = "".join(lines).encode()
    block = (block * (1 + CHUNK // len(block)))[:CHUNK]
    with open(path, "wb") as f:
        for _ in range(size // CHUNK):
            f.write(block)
        f.write(block[: size % CHUNK])


# --------------------------------------------------------------------------------------------
# 10. Pipelines


def _stages(path: str) -> list[list[str]]:
    return [["cat", path], ["gzip", "-1"], ["wc", "-c"]]


def via_bash(path: str) -> str:
    line = " | ".join(" ".join(stage) for stage in _stages(path))
    out = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line}"], capture_output=True, check=True
    )
    return out.stdout.decode()


def via_cmdrun(path: str) -> str:
    return cmdrun.run(cmdrun.pipe(*_stages(path)), check=True).stdout


def via_popen_chain(path: str) -> str:
    procs: list[subprocess.Popen[bytes]] = []
    previous = None
    for stage in _stages(path):
        proc = subprocess.Popen(stage, stdin=previous, stdout=subprocess.PIPE)
        if previous is not None:
            previous.close()  # the next stage holds it now: SIGPIPE reaches the writer
        previous = proc.stdout
        procs.append(proc)
    out, _ = procs[-1].communicate()
    for proc in procs[:-1]:
        proc.wait()
    if any(proc.returncode for proc in procs):
        raise subprocess.CalledProcessError(procs[-1].returncode, "popen chain")
    return out.decode()


def via_plumbum(path: str) -> str:
    from plumbum import local

    chain = local["cat"][path] | local["gzip"]["-1"] | local["wc"]["-c"]
    return str(chain())


def timed(fn: Callable[[str], str], path: str, expected: list[str]) -> Callable[[], float]:
    """A contestant: seconds for one run, or ``nan`` when its answer is wrong."""

    def once() -> float:
        start = time.perf_counter()
        answer = fn(path)
        elapsed = time.perf_counter() - start
        if not expected:
            expected.append(answer.strip())
        return elapsed if answer.strip() == expected[0] else float("nan")

    return once


def _peers() -> dict[str, Callable[[str], str]]:
    peers: dict[str, Callable[[str], str]] = {"popen": via_popen_chain}
    try:
        import plumbum  # noqa: F401
    except ImportError:
        pass
    else:
        peers["plumbum"] = via_plumbum
    return peers


PIPELINE_RSS = """
import json, resource, sys, time
import cmdrun
stages = [["cat", sys.argv[1]], ["gzip", "-1"], ["wc", "-c"]]
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = cmdrun.run(cmdrun.pipe(*stages), check=True)
elapsed = time.perf_counter() - start
print(json.dumps({"rss0": rss0, "rss1": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "hwm1": hwm_kib(), "elapsed": elapsed, "out": result.stdout.strip()}))
"""


def bench_pipeline(s: PipelineSettings) -> list[Row]:
    size = s.pipeline_size
    label = _label(size)
    if size != FULL.pipeline_size:
        label += f" (--quick; {_label(FULL.pipeline_size)} in a full run)"
    what = f"`cat FILE | gzip -1 | wc -c`, {label}"
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-pipe-") as tmp:
        path = os.path.join(tmp, "log.txt")
        write_log_file(path, size)
        expected = [via_bash(path).strip()]
        contestants = {"bash": timed(via_bash, path, expected)}
        contestants["cmdrun"] = timed(via_cmdrun, path, expected)
        for name, fn in _peers().items():
            contestants[name] = timed(fn, path, expected)
        times = rotated_rounds(contestants, s.pipeline_rounds)
        memory = fresh_python(PIPELINE_RSS, path)

    rows: list[Row] = []
    ours = times["cmdrun"]
    if any(math.isnan(t) for t in ours):  # a wrong answer
        return [Row(f"pipeline {what}: cmdrun.run(cmdrun.pipe(...))", "wrong", "", False)]
    names = {
        "bash": ("`bash -c 'set -o pipefail; ...'`", "<=", 1.02),
        "plumbum": ("plumbum `(cat[FILE] | gzip['-1'] | wc['-c'])()`", "<=", 1.00),
        "popen": ("a subprocess.Popen chain (stdout=PIPE handed on)", "<=", 1.00),
    }
    for name, (peer, op, limit) in names.items():
        if name not in times:
            continue
        theirs = times[name]
        if any(math.isnan(t) for t in theirs):
            rows.append(Row(f"pipeline {what}: {peer}", "wrong", "", None, "wrong answer"))
            continue
        v = Versus(ours, theirs)
        rows.append(
            ratio_row(
                f"pipeline {what}: wall time cmdrun.run(cmdrun.pipe(...)) / {peer}",
                v.ratio,
                op,
                limit,
                f"medians {statistics.median(ours):.2f} s vs {statistics.median(theirs):.2f} s "
                f"of {len(ours)} rotated rounds; per-round {v.per_round}",
            )
        )
    peak = memory["rss1"] / 1024
    rows.append(
        Row(
            f"pipeline {what}: peak RSS of the Python process running cmdrun.pipe",
            f"{peak:.1f} MiB",
            f"< {RSS_LIMIT_MIB} MiB",
            peak < RSS_LIMIT_MIB and memory["out"] == expected[0],
            f"ru_maxrss after the run in a fresh process ({memory['rss0'] / 1024:.1f} MiB "
            f"before; VmHWM {memory['hwm1'] / 1024:.1f}); {memory['elapsed']:.2f} s",
        )
    )
    return rows


# --------------------------------------------------------------------------------------------
# 11. stdin= from a file and from a generator

FEED = """
import json, resource, subprocess, sys, time
import cmdrun
mode, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CHUNK = 1 << 20
block = b"x" * CHUNK
def chunks():
    for _ in range(size // CHUNK):
        yield block
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "path":  # through cat: wc -c would only fstat() a file it was handed
    out = cmdrun.run(cmdrun.pipe(["cat"], ["wc", "-c"]), stdin=path, check=True).stdout
elif mode == "generator":
    out = cmdrun.run(["wc", "-c"], stdin=chunks(), check=True).stdout
else:  # the baseline for a generator: Popen and a write loop
    proc = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for data in chunks():
        proc.stdin.write(data)
    proc.stdin.close()
    out = proc.stdout.read().decode()
    proc.wait()
elapsed = time.perf_counter() - start
print(json.dumps({"rss0": rss0, "rss1": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "hwm1": hwm_kib(), "elapsed": elapsed, "out": out.strip()}))
"""

#: Room the file of section 11 needs, with some to spare.
DISK_MARGIN = 256 << 20


def bench_stdin(s: PipelineSettings) -> list[Row]:
    size = s.feed_size
    label = _label(size)
    if size != FULL.feed_size:
        label += f" (--quick; {_label(FULL.feed_size)} in a full run)"
    modes = {
        "path": "`run(pipe(['cat'], ['wc', '-c']), stdin=PATH)`",
        "generator": "`run(['wc', '-c'], stdin=generator of 1 MiB chunks)`",
        "popen": "subprocess.Popen + stdin.write loop of the same chunks",
    }
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-feed-") as tmp:
        path = os.path.join(tmp, "input")
        if shutil.disk_usage(tmp).free < size + DISK_MARGIN:
            return [Row(f"stdin= {label}", "skipped", "", None, f"no room in {tmp}")]
        with open(path, "wb") as f:
            f.truncate(size)  # a sparse file: reads as zeros, costs no disk
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for r in range(s.feed_repeats):
            order = list(modes)
            shift = r % len(order)
            for mode in order[shift:] + order[:shift]:
                results[mode].append(fresh_python(FEED, mode, str(size), path))

    rows: list[Row] = []
    for mode in ("path", "generator"):
        runs = results[mode]
        peak = max(d["rss1"] for d in runs) / 1024
        right = all(int(d["out"]) == size for d in runs)
        elapsed = statistics.median(d["elapsed"] for d in runs)
        rows.append(
            Row(
                f"stdin= {label}, {modes[mode]}: peak RSS of the Python process",
                f"{peak:.1f} MiB" if right else "wrong",
                f"< {RSS_LIMIT_MIB} MiB",
                peak < RSS_LIMIT_MIB and right,
                f"ru_maxrss after the run, worst of {len(runs)} fresh processes "
                f"({statistics.median(d['rss0'] for d in runs) / 1024:.1f} MiB before; "
                f"VmHWM {max(d['hwm1'] for d in runs) / 1024:.1f}); "
                f"{(size >> 20) / elapsed:.0f} MiB/s ({elapsed:.2f} s)",
            )
        )
    ours = [d["elapsed"] for d in results["generator"]]
    theirs = [d["elapsed"] for d in results["popen"]]
    v = Versus(ours, theirs)
    rows.append(
        Row(
            f"context: stdin= {label} from a generator: wall time cmdrun / {modes['popen']}",
            f"{v.ratio:.2f}",
            "",
            None,
            f"medians {statistics.median(ours):.2f} s vs {statistics.median(theirs):.2f} s; "
            f"per-round {v.per_round}; Popen peak RSS "
            f"{max(d['rss1'] for d in results['popen']) / 1024:.1f} MiB",
        )
    )
    return rows
