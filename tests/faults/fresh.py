"""Run a scenario in a fresh Python: for hostile parents (closed stdio, low limits, fork)
and for memory measured from a clean high-water mark."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from typing import Any

import cmdrun

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SRC = os.path.dirname(os.path.dirname(os.path.abspath(cmdrun.__file__)))


def fresh_python(code: str, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Run ``code`` (dedented; it prints one JSON object last) in a new interpreter.

    ``cmdrun`` and the modules of ``tests/`` import there as here. The interpreter is
    started through ``/bin/sh``, which forks: a process exec'd straight from this one would
    inherit our RSS high-water mark (``ru_maxrss``); ``; exit "$?"`` keeps sh from exec'ing.
    """
    argv = [sys.executable, "-c", textwrap.dedent(code), *args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_SRC, _TESTS]))
    proc = subprocess.run(
        ["/bin/sh", "-c", shlex.join(argv) + '; exit "$?"'],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"fresh Python failed ({proc.returncode}):\n{proc.stderr}"
    data: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return data
