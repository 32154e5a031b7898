"""Run a scenario in a fresh Python: for hostile parents (closed stdio, low limits, fork)
and for memory measured from a clean high-water mark."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
from typing import Any

import cmdrun

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SRC = os.path.dirname(os.path.dirname(os.path.abspath(cmdrun.__file__)))


#: Defined before the scenario's code: ``report(value)`` hands ``value`` back as JSON through
#: a file, and a traceback goes to a file too (the scenario's stdio may be closed).
_REPORT = """
import json as _json, sys as _sys, traceback as _traceback
def report(value):
    with open(_sys.argv[1], "w") as f:
        _json.dump(value, f)
def _excepthook(*exc):
    with open(_sys.argv[1] + ".err", "w") as f:
        f.write("".join(_traceback.format_exception(*exc)))
_sys.excepthook = _excepthook
"""


def python_env() -> dict[str, str]:
    """This environment, with ``cmdrun`` and ``tests/`` importable as they are here."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([_SRC, _TESTS]))


def fresh_python(code: str, *args: str, timeout: float = 60) -> Any:
    """Run ``code`` (dedented) in a new interpreter; return what it passed to ``report()``.

    ``cmdrun`` and the modules of ``tests/`` import there as here; ``sys.argv[2:]`` are
    ``args``. The interpreter is started through ``/bin/sh``, which forks: a process exec'd
    straight from this one would inherit our RSS high-water mark (``ru_maxrss``);
    ``; exit "$?"`` keeps sh from exec'ing. After ``timeout`` seconds its whole process
    group is killed and the test fails.
    """
    fd, path = tempfile.mkstemp(prefix="fresh-", suffix=".json")
    os.close(fd)
    argv = [sys.executable, "-c", _REPORT + textwrap.dedent(code), path, *args]
    env = python_env()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", shlex.join(argv) + '; exit "$?"'],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group: a hung scenario and its children
            proc.communicate()
            raise AssertionError(f"fresh Python still running after {timeout} s") from None
        if os.path.exists(path + ".err"):
            with open(path + ".err") as f:
                err += f.read()
        assert proc.returncode == 0, f"fresh Python failed ({proc.returncode}):\n{err}"
        with open(path) as f:
            return json.load(f)
    finally:
        for name in (path, path + ".err"):
            if os.path.exists(name):
                os.unlink(name)
