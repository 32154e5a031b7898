"""bench.py's section 13: how long the ``cmdrun`` command takes to run ``true``, start to end.

Usage (this section alone)::

    python benchmarks/cli.py [--quick] [--check]

A shell script or a Makefile may run ``cmdrun -- CMD`` thousands of times, so the whole
process counts: the interpreter's start, the imports, parsing the options, running the
program, exiting. Measured: the wall time of ``cmdrun -- true`` (the console script the
package installs) from spawn to reap, against ``python -c "import subprocess;
subprocess.run(['true'])"``, the least a Python tool that runs a program can cost. Target:
at most 1.5 times as long. For context: ``python -m cmdrun -- true`` (runpy's extra work),
and coreutils ``timeout 10 true`` (a C program, no interpreter).

Every process imports this checkout's cmdrun (``PYTHONPATH``) with its bytecode cached, as
an installed package has (``PYTHONDONTWRITEBYTECODE`` would make it compile every module on
every start). Processes are spawned with ``os.posix_spawn`` and reaped with ``waitpid``, so
the measuring costs each contestant the same little. Contestants run in rotated rounds; each
round's figure is the mean of several runs; the ratio is of the medians over the rounds, with
the interquartile range of the per-round ratios as noise.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchutil import Row, Versus, ratio_row, rotated_rounds

ROOT = pathlib.Path(__file__).resolve().parent.parent
STARTUP_LIMIT = 1.5


@dataclass(frozen=True)
class CliSettings:
    """How many rounds, and runs of each contestant per round."""

    rounds: int
    runs: int


FULL = CliSettings(rounds=15, runs=20)
QUICK = CliSettings(rounds=3, runs=2)


def console_script() -> str | None:
    """The installed ``cmdrun`` script: beside this interpreter, else on PATH."""
    beside = pathlib.Path(sys.executable).with_name("cmdrun")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("cmdrun")


def bench_env(cache: str) -> dict[str, str]:
    """This environment, importing this checkout's cmdrun with bytecode cached in ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def timed(argv: list[str], env: dict[str, str], runs: int) -> Callable[[], float]:
    """A contestant: the mean wall time, in ms, of ``runs`` runs of ``argv`` to the end."""
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0]) or argv[0]
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]

    def measure() -> float:
        total = 0.0
        for _ in range(runs):
            started = time.perf_counter()
            pid = os.posix_spawn(program, argv, env, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            total += time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{argv} exited with status {status}")
        return total / runs * 1000

    return measure


def bench_cli(s: CliSettings) -> list[Row]:
    """Section 13: ``cmdrun -- true`` against a Python that runs ``true`` with subprocess."""
    script = console_script()
    with tempfile.TemporaryDirectory() as cache:
        env = bench_env(cache)
        cmdrun_argv = [script] if script else [sys.executable, "-m", "cmdrun"]
        contestants = {
            "python + subprocess.run": [
                sys.executable,
                "-c",
                "import subprocess; subprocess.run(['true'])",
            ],
            "cmdrun -- true": [*cmdrun_argv, "--", "true"],
            "python -m cmdrun -- true": [sys.executable, "-m", "cmdrun", "--", "true"],
            "timeout 10 true": ["timeout", "10", "true"],
        }
        runners = {name: timed(argv, env, s.runs) for name, argv in contestants.items()}
        for runner in runners.values():
            runner()  # warm-up: writes the bytecode cache, fills the page cache
        times = rotated_rounds(runners, s.rounds)
    base = times["python + subprocess.run"]
    median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
    startup = Versus(times["cmdrun -- true"], base)
    which = script or "no console script installed: python -m cmdrun measured instead"
    rows = [
        ratio_row(
            "cmdrun -- true, whole process, vs python -c subprocess.run(['true'])",
            startup.ratio,
            "<=",
            STARTUP_LIMIT,
            f"{median['cmdrun -- true']:.1f} ms vs {median['python + subprocess.run']:.1f} ms; "
            f"per-round IQR {startup.per_round}; {which}",
        )
    ]
    for name in ("python -m cmdrun -- true", "timeout 10 true"):
        versus = Versus(times[name], base)
        rows.append(
            Row(
                f"{name}, whole process (context)",
                f"{versus.ratio:.2f}",
                details=f"{median[name]:.1f} ms; per-round IQR {versus.per_round}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    rows = bench_cli(QUICK if args.quick else FULL)
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(f"{row.name}: {row.shown} {row.target} {verdict} ({row.details})")
    return 1 if args.check and any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
