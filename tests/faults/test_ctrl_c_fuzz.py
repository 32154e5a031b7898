"""Ctrl-C at random moments into every door of cmdrun: nothing may be left behind.

The driver (``ctrl_c_driver.py``) runs in a fresh Python, because the SIGINTs go to the
whole process; it prints what leaked per door, by kind.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

from faults.fresh import python_env

DRIVER = os.path.join(os.path.dirname(__file__), "ctrl_c_driver.py")
ROUNDS_PER_DOOR = 45  # 5 doors: 225 SIGINTs, ~10 s here


def test_ctrl_c_at_random_moments_leaves_nothing_behind() -> None:
    seed = random.randrange(1 << 30)
    proc = subprocess.run(
        [sys.executable, DRIVER, str(ROUNDS_PER_DOOR), str(seed)],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert sum(door["sigints"] for door in summary.values()) >= 200
    bad = {
        name: {k: v for k, v in door.items() if k not in ("sigints", "interrupted") and v}
        for name, door in summary.items()
    }
    lost = {name: door["sigints"] - door["interrupted"] for name, door in summary.items()}
    detail = f"seed {seed}: leaks {bad}, interrupts lost {lost}\n{proc.stderr}"
    assert not any(bad.values()), detail
    assert not any(lost.values()), detail
