"""Press Ctrl-C at random moments into each of cmdrun's doors; count what leaks.

Run by ``test_ctrl_c_fuzz.py`` in a fresh Python (the SIGINTs go to this whole process)::

    python ctrl_c_driver.py ROUNDS_PER_DOOR SEED

For each door (run, stream, spawn+expect, run_many, call) it starts the operation in the
main thread while a timer thread sends SIGINT to this process 0.05-20 ms later, catches the
KeyboardInterrupt, then checks that no child process, zombie or fd is left and that every
pid the children wrote is gone; an operation that ran on for a second after the SIGINT is
counted as late (the interrupt waited for the commands to end). Leftovers are counted, then
cleaned up, so each round is judged on its own. The last line printed is a JSON summary.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import cmdrun
import leakcheck

SETTLE = 0.5
CHILD_SECONDS = 5
LATE = 1.0  # an operation still running this long after the SIGINT missed it


def child(pidfile: str) -> list[str]:
    """A child that records its pid, then waits long enough to be interrupted."""
    return ["sh", "-c", f'echo $$ >> "{pidfile}"; exec sleep {CHILD_SECONDS}']


def doors(pidfile: str) -> dict[str, Callable[[], object]]:
    argv = child(pidfile)

    def stream() -> None:
        with cmdrun.stream(argv) as lines:
            for _ in lines:
                pass

    def spawn_expect() -> None:
        with cmdrun.spawn(argv, tty=random.random() < 0.5) as s:
            s.expect("never printed")

    return {
        "run": lambda: cmdrun.run(argv, timeout=30),
        "stream": stream,
        "spawn+expect": spawn_expect,
        "run_many": lambda: cmdrun.run_many([argv] * 3, jobs=3),
        "call": lambda: cmdrun.call(argv),
    }


def interrupt_once(operation: Callable[[], object]) -> tuple[bool, float]:
    """Run ``operation`` with a SIGINT 0.05-20 ms in.

    Returns whether it raised KeyboardInterrupt, and how long it ran.
    """
    timer = threading.Timer(random.uniform(0.00005, 0.020), os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    interrupted = False
    try:
        timer.start()
        operation()
    except KeyboardInterrupt:
        interrupted = True
    except Exception:  # the interrupt was lost and the operation ended on its own
        pass
    finally:
        timer.join()
    return interrupted, time.monotonic() - start


def written_pids(pidfile: str) -> list[int]:
    with open(pidfile) as f:
        return [int(p) for p in f.read().split()]


def clean_up(before: leakcheck.Snapshot, pids: list[int]) -> None:
    """Kill and reap what a leaky round left, and close its fds."""
    now = leakcheck.snapshot()
    for pid in [*pids, *(now.children - before.children)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in (now.children | now.zombies) - before.children - before.zombies:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    for fd in set(now.fds) - set(before.fds):
        try:
            os.close(fd)
        except OSError:
            pass


def judge(before: leakcheck.Snapshot, pidfile: str, counts: dict[str, int]) -> None:
    """Count this round's leftovers by kind (one round counts once per kind)."""
    pids = written_pids(pidfile)
    if not leakcheck.wait_for_no_leaks(before, within=SETTLE, threads=False) and not (
        leakcheck.survivors(pids, within=0)
    ):
        return
    now = leakcheck.snapshot()
    counts["zombies"] += bool(now.zombies - before.zombies)
    running = (now.children - before.children) | set(leakcheck.survivors(pids, within=0))
    counts["running"] += bool(running)
    counts["fd_only"] += bool(set(now.fds) - set(before.fds)) and not (
        running or now.zombies - before.zombies
    )
    counts["leaky_rounds"] += 1
    clean_up(before, pids)


def main() -> None:
    rounds, seed = int(sys.argv[1]), int(sys.argv[2])
    random.seed(seed)
    summary: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = os.path.join(tmp, "pids")
        for name, operation in doors(pidfile).items():
            counts = dict.fromkeys(("sigints", "interrupted", "late", "leaky_rounds"), 0)
            counts.update(zombies=0, running=0, fd_only=0)
            open(pidfile, "w").close()
            interrupt_once(operation)  # warm up what cmdrun opens once (not judged)
            clean_up(leakcheck.snapshot(), written_pids(pidfile))
            time.sleep(0.05)
            for _ in range(rounds):
                open(pidfile, "w").close()
                before = leakcheck.snapshot()
                interrupted, elapsed = interrupt_once(operation)
                counts["sigints"] += 1
                counts["interrupted"] += interrupted
                counts["late"] += elapsed > LATE
                judge(before, pidfile, counts)
            summary[name] = counts
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
