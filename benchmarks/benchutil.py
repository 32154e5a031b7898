"""What every section of bench.py shares: table rows, ratios of medians, rotated rounds, and
measurements taken in a fresh Python process."""

from __future__ import annotations

import gc
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    name: str
    shown: str
    target: str = ""
    passed: bool | None = None  # None: context only, no target
    details: str = ""


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here. ``sh``, once imported (an early section
    imports it), puts an object without ``__spec__`` in ``sys.modules``, and ``find_spec``
    then raises ValueError."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def within(value: float, op: str, limit: float) -> bool:
    """Whether ``value`` meets a target written as ``op limit`` (``<=`` or ``>=``)."""
    return value <= limit if op == "<=" else value >= limit


def ratio_row(name: str, value: float, op: str, limit: float, details: str) -> Row:
    """A table row for a ratio that has a target."""
    return Row(name, f"{value:.2f}", f"{op} {limit:.2f}", within(value, op, limit), details)


def spread(values: list[float]) -> str:
    """The interquartile range of ``values``, as a noise indicator."""
    if len(values) < 4:
        return f"{min(values):.2f}-{max(values):.2f}"
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.2f}-{q[2]:.2f}"


def rotated_rounds(
    contestants: Mapping[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Each contestant's measurements, one per round; the order rotates from round to round,
    so no contestant always runs first, or always right after the same other one."""
    names = list(contestants)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            results[name].append(contestants[name]())
    return results


@dataclass(frozen=True)
class Versus:
    """The ratio ``top / bottom`` of two contestants' medians, and its per-round spread."""

    top: list[float]
    bottom: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.top) / statistics.median(self.bottom)

    @property
    def per_round(self) -> str:
        return spread([a / b for a, b in zip(self.top, self.bottom, strict=True)])


#: Prepended to the code a fresh child runs: reads the VmHWM cross-check of ``ru_maxrss``.
HWM_KIB = """
def hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1
"""


def fresh_python(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` (which prints one JSON object) in a fresh interpreter; return the object.

    The interpreter is started through ``/bin/sh``, which forks: on Linux a process inherits
    the RSS high-water mark (``ru_maxrss``) of whoever exec'd it, so a child exec'd straight
    from this process would start with ours. ``; exit "$?"`` keeps sh from exec'ing its last
    command in place of forking it. ``code`` can call ``hwm_kib()`` (VmHWM, in KiB).
    """
    argv = [sys.executable, "-c", HWM_KIB + code, *args]
    script = shlex.join(argv) + '; exit "$?"'
    proc = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"fresh Python child {args} failed:\n{proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data
