"""PLACEHOLDER for the correctness table: fake figures with the real module's interface.

The real ``benchmarks/correctness.py`` is written on another branch and replaces this file
when the branches are merged. Until then, this stub lets ``bench.py --page`` draw the
correctness section; the page says that its figures are a placeholder (:data:`PLACEHOLDER`).
Nothing here is measured.

Interface: :func:`results` returns one dict per library and scenario with the keys
``library``, ``scenario`` ("sigterm-ignored", "grandchild-holds-pipes", "sigstop",
"ctrl-c"), ``seconds`` (float, or None when the call hung), ``hung`` (bool), ``survivors``
and ``survivors_later`` (int: processes left alive when the call returned, and a moment
later), ``outcome`` and ``how`` (str).
"""

from __future__ import annotations

from typing import Any

#: Read by bench.py: the page warns that these figures are not measured.
PLACEHOLDER = True

SCENARIOS = ("sigterm-ignored", "grandchild-holds-pipes", "sigstop", "ctrl-c")

#: library -> per scenario: (seconds or None for a hang, survivors, survivors later).
_FAKE: dict[str, tuple[tuple[float | None, int, int], ...]] = {
    "cmdrun": ((1.01, 0, 0), (1.01, 0, 0), (1.01, 0, 0), (0.02, 0, 0)),
    "subprocess": ((None, 1, 1), (None, 2, 2), (None, 1, 1), (0.01, 1, 1)),
    "pexpect": ((1.02, 0, 0), (1.02, 1, 1), (1.02, 0, 0), (0.01, 1, 1)),
    "sh": ((1.05, 0, 0), (None, 2, 2), (1.05, 1, 1), (0.02, 2, 2)),
}


def results(quick: bool) -> list[dict[str, Any]]:
    """Fake results, in the real module's shape (``quick`` changes nothing here)."""
    del quick
    out = []
    for library, cells in _FAKE.items():
        for scenario, (seconds, left, later) in zip(SCENARIOS, cells, strict=True):
            out.append(
                {
                    "library": library,
                    "scenario": scenario,
                    "seconds": seconds,
                    "hung": seconds is None,
                    "survivors": left,
                    "survivors_later": later,
                    "outcome": "PLACEHOLDER: not measured",
                    "how": "placeholder",
                }
            )
    return out
