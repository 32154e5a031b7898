"""Every example runs as a user would run it: as a script, in a fresh interpreter."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_demo() -> None:
    proc = run_example("demo.py")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "1. run: hello from cmdrun | exit 0"
    assert lines[1] == "2. input: wc counted 300000 words"
    assert lines[2] == "3. error: command `ls /no/such/dir` exited with status 2"
    assert lines[3].startswith("4. timeout: stopped after 0.5")
    assert lines[3].endswith("partial output 'started\\n'")
    assert "printed by the child" in proc.stdout
    assert "exit code 3" in proc.stdout
    assert "6. not found: command not found: 'no-such-program'" in proc.stdout
    assert "=== nslookup_call.py" in proc.stdout
    assert "canonical name = dualstack.python.map.fastly.net." in proc.stdout
    assert "MX for python.org: 50 mail.python.org." in proc.stdout


def test_mxtool_against_the_local_dns_server() -> None:
    for extra in ([], ["--interactive"]):
        proc = run_example("mxtool.py", "python.org", *extra)
        assert (proc.returncode, proc.stdout) == (0, "50 mail.python.org.\n"), proc.stderr


def test_mxtool_reports_nxdomain() -> None:
    proc = run_example("mxtool.py", "nosuch.python.org")
    assert proc.returncode == 1
    assert "NXDOMAIN" in proc.stderr
