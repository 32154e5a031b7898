"""A parent that ignores SIGCHLD cannot learn exit statuses: cmdrun says so instead of lying."""

from __future__ import annotations

import pytest

import cmdrun
from children import py

IGNORING_SIGCHLD = """
import signal, sys
import cmdrun
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
try:
    result = cmdrun.run(["sh", "-c", "exit 3"], check=False, tty={tty})
except cmdrun.StartFailed as exc:
    print("StartFailed:", exc.reason)
else:
    print("returncode", result.returncode)
"""


@pytest.mark.parametrize("tty", [False, True])
def test_ignored_sigchld_is_a_clear_error_not_a_lost_status(tty: bool) -> None:
    result = cmdrun.run(py(IGNORING_SIGCHLD.format(tty=tty)), timeout=30)
    assert result.stdout == "StartFailed: SIGCHLD is ignored in this process\n"


INHERITS_IGNORED_SIGCHLD = """
import signal, subprocess, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # inherited across exec, as from a service manager
code = "import cmdrun; cmdrun.run(['true'])"
child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
print(child.stderr.strip().splitlines()[-1])
"""


def test_inherited_ignored_sigchld_is_noticed_too() -> None:
    result = cmdrun.run(py(INHERITS_IGNORED_SIGCHLD), timeout=30)
    assert "StartFailed: could not start 'true': SIGCHLD is ignored" in result.stdout
