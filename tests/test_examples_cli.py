"""Every example script parses its options: ``--help`` explains, a wrong option is refused.

Neither runs the example: ``--help`` prints usage and exits 0, an unknown option exits 2
with argparse's message, and nothing else is printed (the examples print as they go).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
# test_*.py are pytest modules, not scripts.
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("test_"))


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_every_example_script_is_covered() -> None:
    assert len(SCRIPTS) >= 7
    assert "nslookup_dialogue.py" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_prints_usage_and_exits_without_running_the_example(name: str) -> None:
    proc = run_script(name, "--help")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("usage: "), proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("name", SCRIPTS)
def test_unknown_option_is_refused_with_usage_error(name: str) -> None:
    proc = run_script(name, "--no-such-option")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("usage: ")
    assert f"{name}: error: " in proc.stderr


def test_demo_help_names_the_server_option_it_passes_on() -> None:
    assert "--server" in run_script("demo.py", "--help").stdout
