"""The short soak: 1,000 mixed runs and 200 sessions leave fds, children and threads flat.

It runs ``benchmarks/soak.py --ci`` in a fresh Python (its counts are its own, with no
pytest machinery around) and reads the rows it prints as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from faults.fresh import python_env

SOAK = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "soak.py")
GRACE = 0.2  # the soak's kill_grace: a child ignoring SIGTERM costs that much past its timeout
SLACK = 1.5


def test_short_soak_loses_nothing_and_leaks_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, SOAK, "--ci", "--json"],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: it found something (asserted below)
    rows = json.loads(proc.stdout.splitlines()[-1])
    assert sum(row["count"] for row in rows if "session" not in row["what"]) >= 1000
    assert sum(row["count"] for row in rows if "session" in row["what"]) >= 200
    leaks = {
        row["what"]: {k: v for k, v in row.items() if k.endswith(("_delta", "bytes")) and v}
        for row in rows
    }
    assert not any(leaks.values()), f"{leaks}\n{proc.stdout}"
    assert [row["first_errors"] for row in rows if row["errors"]] == []
    assert max(row["worst_overshoot"] for row in rows) < GRACE + SLACK
    assert proc.returncode == 0, proc.stdout + proc.stderr
