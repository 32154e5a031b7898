"""Soak cmdrun: many runs and sessions in one process, then count what was lost or left.

Usage::

    python benchmarks/soak.py [--ci] [--json]

Five phases, each after a short warm-up of its own (so what cmdrun keeps once per process,
such as the asyncio executor's idle threads, is not counted):

1. **sequential runs** (10,000; ``--ci``: 600): ``run`` with input through ``cat``,
   failures, programs not found, timeouts (some on children ignoring SIGTERM), ``stream``,
   ``on_stdout`` callbacks, ``max_output``, ``merge_stderr``, PTY runs and ``call``, in turn;
2. **sequential aruns** (1,000; ``--ci``: 100): the same kinds through ``await arun`` in one
   event loop;
3. **run_many** (1,000 commands, 64 at a time; ``--ci``: 150 in batches of 50): ``cat`` with
   a different input each, one in ten a ``sleep`` stopped by the batch's timeout;
4. **arun_many**: the same through asyncio;
5. **sessions** (200): pipe and PTY dialogues, closed by ``with``, by ``close()`` or after
   ``wait()``, in turn.

For each phase the table gives the wall time, the bytes lost (input sent through ``cat``
and not found in the output, byte for byte), the change in this process's open fds, in its
child processes and zombies and in its threads (measured after a settle time of up to 2 s;
the asyncio executor's idle worker threads are not counted: it keeps them by design),
the worst timeout overshoot (``Result.duration - timeout``: the time the kill policy took)
and the number of errors (an unexpected exception or outcome). Every delta should be 0.

With ``--json`` the rows are also printed as one JSON line at the end (the short soak in
``tests/faults/test_soak.py`` reads it). The exit status is 1 when anything leaked, was
lost or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import cmdrun

TIMEOUT = 0.05
GRACE = 0.2
BATCH_TIMEOUT = 1.0
SETTLE = 2.0

IGNORE_TERM = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)",
]


@dataclass
class Tally:
    """What one phase found."""

    what: str
    count: int = 0
    wall: float = 0.0
    lost_bytes: int = 0
    fd_delta: int = 0
    children_delta: int = 0
    zombies_delta: int = 0
    thread_delta: int = 0
    worst_overshoot: float = 0.0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(message)

    def bytes(self, sent: bytes, got: bytes) -> None:
        """Count the bytes of ``sent`` that did not come back as they were."""
        if got != sent:
            same = sum(a == b for a, b in zip(sent, got, strict=False))
            self.lost_bytes += len(sent) - same

    def timed_out(self, result: cmdrun.Result) -> None:
        if not result.timed_out or result.timeout is None:
            self.error(f"expected a timeout: {result!r}")
            return
        self.worst_overshoot = max(self.worst_overshoot, result.duration - result.timeout)


# What this process holds: fds, live children, zombie children, threads.
Census = tuple[int, int, int, int]


def census() -> Census:
    me, live, zombies = os.getpid(), 0, 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == me:
            zombies += fields[0] == b"Z"
            live += fields[0] != b"Z"
    return len(os.listdir("/proc/self/fd")), live, zombies, _threads()


def _threads() -> int:
    """Threads, less the asyncio API's idle workers: its executor keeps them by design (a
    worker stuck on a run would still show, as a child process that did not go)."""
    return sum(not t.name.startswith("cmdrun-aio") for t in threading.enumerate())


def settled(before: Census) -> Census:
    """The census once it is back to ``before``, or after :data:`SETTLE` seconds."""
    end = time.monotonic() + SETTLE
    while True:
        now = census()
        if now == before or time.monotonic() > end:
            return now
        time.sleep(0.05)


def payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 100, 4096, 70_000, 300_000]))


@dataclass
class Case:
    """One run to make: its argv and options, and how to judge what came back."""

    argv: list[str]
    options: dict[str, object]
    check: Callable[[cmdrun.Result], None]
    raises: type[Exception] | None = None  # the error the run must raise instead


def _cases(tally: Tally, rng: random.Random) -> list[Callable[[], Case]]:
    """Factories for each kind of run, used in turn."""

    def expect(ok: Callable[[cmdrun.Result], bool]) -> Callable[[cmdrun.Result], None]:
        def check(result: cmdrun.Result) -> None:
            if not ok(result):
                tally.error(f"unexpected: {result!r}")

        return check

    def cat() -> Case:
        sent = payload(rng)
        return Case(["cat"], {"input": sent}, lambda r: tally.bytes(sent, r.stdout_bytes))

    def tail() -> Case:
        sent, keep = payload(rng), rng.randrange(1, 5000)
        kept = sent[max(0, len(sent) - keep) :]
        return Case(
            ["cat"],
            {"input": sent, "max_output": keep},
            lambda r: tally.bytes(kept, r.stdout_bytes),
        )

    def merged() -> Case:
        text = payload(rng).hex()
        sent = (text + "done\n").encode()
        argv = ["sh", "-c", "cat; echo done >&2"]
        return Case(
            argv, {"input": text, "merge_stderr": True}, lambda r: tally.bytes(sent, r.stdout_bytes)
        )

    def failing() -> Case:
        return Case(["sh", "-c", "exit 3"], {"check": False}, expect(lambda r: r.returncode == 3))

    def not_found() -> Case:
        return Case(
            ["cmdrun-soak-no-such-program"], {}, expect(lambda r: False), cmdrun.CommandNotFound
        )

    def lines() -> Case:
        text = payload(rng).hex().replace("a", "\n").replace("b", "\r\n")
        got: list[str] = []
        options = {"input": text, "on_stdout": got.append}
        return Case(["cat"], options, expect(lambda r: "".join(got) == r.stdout == text))

    def pty() -> Case:
        return Case(["echo", "pty"], {"tty": True}, expect(lambda r: r.stdout == "pty\r\n"))

    return [cat, tail, merged, failing, not_found, lines, pty]


def _slow_cases(tally: Tally) -> tuple[Callable[[], Case], Callable[[], Case]]:
    """A run stopped by its timeout, and one whose child ignores SIGTERM (costs the grace)."""
    options: dict[str, object] = {"timeout": TIMEOUT, "kill_grace": GRACE, "check": False}

    def timing_out() -> Case:
        return Case(["sleep", "5"], options, tally.timed_out)

    def ignoring_term() -> Case:
        return Case(IGNORE_TERM, options, tally.timed_out)

    return timing_out, ignoring_term


def case_for(i: int, tally: Tally, rng: random.Random) -> Case:
    """The ``i``-th run of a sequential phase: mostly quick kinds, 1 in 20 a timeout, 1 in
    100 a child that ignores SIGTERM."""
    timing_out, ignoring_term = _slow_cases(tally)
    if i % 100 == 99:
        return ignoring_term()
    if i % 20 == 10:
        return timing_out()
    quick = _cases(tally, rng)
    return quick[i % len(quick)]()


def run_case(case: Case, tally: Tally) -> None:
    try:
        result = cmdrun.run(case.argv, **case.options)  # type: ignore[arg-type]
    except Exception as exc:
        if case.raises is None or not isinstance(exc, case.raises):
            tally.error(f"{case.argv[0]}: {exc!r}")
        return
    case.check(result)


async def arun_case(case: Case, tally: Tally) -> None:
    try:
        result = await cmdrun.arun(case.argv, **case.options)  # type: ignore[arg-type]
    except Exception as exc:
        if case.raises is None or not isinstance(exc, case.raises):
            tally.error(f"{case.argv[0]}: {exc!r}")
        return
    case.check(result)


def stream_and_call(i: int, tally: Tally) -> None:
    """The doors other than run(): stream() and call(), in turn."""
    if i % 2:
        with cmdrun.stream(["sh", "-c", "echo a; echo b >&2; echo c"]) as lines:
            texts = sorted(line.text for line in lines)
        if texts != ["a\n", "b\n", "c\n"]:
            tally.error(f"stream gave {texts}")
    elif cmdrun.call(["sh", "-c", "exit 4"]) != 4:
        tally.error("call lost the exit status")


def sequential(tally: Tally, n: int, rng: random.Random) -> None:
    for i in range(n):
        if i % 10 == 5:
            stream_and_call(i, tally)
        else:
            run_case(case_for(i, tally, rng), tally)


def sequential_async(tally: Tally, n: int, rng: random.Random) -> None:
    async def main() -> None:
        for i in range(n):
            await arun_case(case_for(i, tally, rng), tally)

    asyncio.run(main())


def batch(tally: Tally, size: int, rng: random.Random) -> tuple[list[list[str]], list[bytes]]:
    """``size`` commands: ``cat`` each fed its own input, one in ten a sleep to time out."""
    cmds, inputs = [], []
    for i in range(size):
        data = rng.randbytes(rng.randrange(0, 2000))
        inputs.append(data)
        cmds.append(["sleep", "5"] if i % 10 == 9 else ["sh", "-c", f"printf %s {data.hex()}"])
    return cmds, inputs


def judge_batch(
    tally: Tally, cmds: list[list[str]], inputs: list[bytes], results: list[cmdrun.Result]
) -> None:
    if len(results) != len(cmds):
        tally.error(f"{len(cmds)} commands, {len(results)} results")
        return
    for cmd, data, result in zip(cmds, inputs, results, strict=True):
        if cmd[0] == "sleep":
            tally.timed_out(result)
        else:
            tally.bytes(data.hex().encode(), result.stdout_bytes)


def many(tally: Tally, n: int, size: int, jobs: int, rng: random.Random) -> None:
    for _ in range(n // size):
        cmds, inputs = batch(tally, size, rng)
        results = cmdrun.run_many(cmds, jobs=jobs, timeout=BATCH_TIMEOUT, kill_grace=GRACE)
        judge_batch(tally, cmds, inputs, results)


def many_async(tally: Tally, n: int, size: int, jobs: int, rng: random.Random) -> None:
    async def main() -> None:
        for _ in range(n // size):
            cmds, inputs = batch(tally, size, rng)
            results = await cmdrun.arun_many(
                cmds, jobs=jobs, timeout=BATCH_TIMEOUT, kill_grace=GRACE
            )
            judge_batch(tally, cmds, inputs, results)

    asyncio.run(main())


def sessions(tally: Tally, n: int, rng: random.Random) -> None:
    """Dialogues over pipes and PTYs, ended by ``with``, ``close()`` or ``wait()`` in turn."""
    for i in range(n):
        tty = i % 2 == 0
        word = rng.randbytes(8).hex()
        s = cmdrun.spawn(["cat"], tty=tty, timeout=10)
        s.sendline(word)
        found = s.expect(word)
        if found.text != word:
            tally.error(f"session matched {found.text!r}")
        ending = i % 3
        if ending == 0:
            with s:
                pass
        elif ending == 1:
            s.close()
        else:
            s.sendeof()
            result = s.wait()
            if result.returncode != 0:
                tally.error(f"session ended with {result!r}")


@dataclass(frozen=True)
class Sizes:
    """How much each phase does."""

    sequential: int
    aruns: int
    many: int
    batch: int
    jobs: int
    sessions: int


FULL = Sizes(sequential=10_000, aruns=1_000, many=1_000, batch=1_000, jobs=64, sessions=200)
CI = Sizes(sequential=600, aruns=100, many=150, batch=50, jobs=8, sessions=200)


def phase(what: str, count: int, body: Callable[[Tally, int], None]) -> Tally:
    """Warm up with ``body(tally, small)``, then measure ``body(tally, count)``."""
    warm = Tally(what)
    body(warm, max(1, min(count, 50)))
    before = settled(census())
    tally = Tally(what, count=count, errors=warm.errors, first_errors=warm.first_errors)
    tally.lost_bytes = warm.lost_bytes
    start = time.monotonic()
    body(tally, count)
    tally.wall = time.monotonic() - start
    after = settled(before)
    deltas = [a - b for a, b in zip(after, before, strict=True)]
    tally.fd_delta, tally.children_delta, tally.zombies_delta, tally.thread_delta = deltas
    return tally


def soak(sizes: Sizes, seed: int) -> list[Tally]:
    rng = random.Random(seed)
    bodies: list[tuple[str, int, Callable[[Tally, int], None]]] = [
        (
            "sequential runs (run, stream, call)",
            sizes.sequential,
            lambda t, n: sequential(t, n, rng),
        ),
        (
            "sequential aruns (one event loop)",
            sizes.aruns,
            lambda t, n: sequential_async(t, n, rng),
        ),
        (
            f"run_many, {sizes.jobs} at a time",
            sizes.many,
            lambda t, n: many(t, n, min(n, sizes.batch), sizes.jobs, rng),
        ),
        (
            f"arun_many, {sizes.jobs} at a time",
            sizes.many,
            lambda t, n: many_async(t, n, min(n, sizes.batch), sizes.jobs, rng),
        ),
        ("sessions (pipe and PTY)", sizes.sessions, lambda t, n: sessions(t, n, rng)),
    ]
    tallies = []
    for what, count, body in bodies:
        tallies.append(phase(what, count, body))
        print(f"{what}: done in {tallies[-1].wall:.1f} s", file=sys.stderr)
    return tallies


def table(tallies: list[Tally]) -> str:
    lines = [
        "| what | count | wall time | lost bytes | fd delta | children / zombies delta "
        "| thread delta | worst timeout overshoot | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in tallies:
        lines.append(
            f"| {t.what} | {t.count:,} | {t.wall:.1f} s | {t.lost_bytes} | {t.fd_delta} "
            f"| {t.children_delta} / {t.zombies_delta} | {t.thread_delta} "
            f"| {t.worst_overshoot * 1000:.0f} ms | {t.errors} |"
        )
    return "\n".join(lines)


def clean(t: Tally) -> bool:
    return not (
        t.lost_bytes
        or t.fd_delta
        or t.children_delta
        or t.zombies_delta
        or t.thread_delta
        or t.errors
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ci", action="store_true", help="the short soak (about 30 s)")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    started = time.monotonic()
    tallies = soak(CI if args.ci else FULL, seed)
    print(
        f"cmdrun {cmdrun.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs; "
        f"{'short (--ci)' if args.ci else 'full'} soak, seed {seed}, "
        f"{time.monotonic() - started:.0f} s\n"
    )
    print(table(tallies))
    for t in tallies:
        for message in t.first_errors:
            print(f"\n{t.what}: {message}")
    if args.json:
        print(json.dumps([asdict(t) for t in tallies]))
    return 0 if all(clean(t) for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
