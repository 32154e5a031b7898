"""The one time bound the fault suite asserts: ``timeout + kill_grace`` plus generous slack."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 0.5
GRACE = 0.5
SLACK = 1.5  # a loaded 2-core CI machine running the suite on 2 workers
BOUND = TIMEOUT + GRACE + SLACK


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    start = time.monotonic()
    value = fn()
    return value, time.monotonic() - start
