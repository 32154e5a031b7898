"""The dialogue examples, each run as a user would: ``python examples/NAME.py``.

The nslookup examples start their own DNS server on 127.0.0.1 (``examples/_dnsserver.py``),
so they never leave the machine; the answers below are that server's documentation-range
records.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

from children import WWW_ANSWER

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

MX_LINE = "python.org\tmail exchanger = 50 mail.python.org.\n"

# The made-up password in examples/terminal_password.py; it must never be printed.
PASSWORD = "opensesame-42"


def run_example(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def nslookup() -> None:
    # Not a skip: in CI a missing nslookup would silently hide three examples.
    assert shutil.which("nslookup"), (
        "nslookup is missing: install it with `apt-get install bind9-dnsutils`"
    )


@pytest.mark.usefixtures("nslookup")
def test_nslookup_call_shares_stdout_and_prints_exit_code() -> None:
    proc = run_example("nslookup_call.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    command, _, rest = proc.stdout.partition("\n")
    assert command.startswith("$ nslookup -port=")
    assert command.endswith(" www.python.org 127.0.0.1")
    port = command.split("-port=")[1].split()[0]
    # nslookup's own output comes after our header line and before our exit code line.
    assert rest.startswith(f"Server:\t\t127.0.0.1\nAddress:\t127.0.0.1#{port}\n")
    assert WWW_ANSWER in rest
    assert rest.endswith("\nExit code: 0\n")


@pytest.mark.usefixtures("nslookup")
def test_nslookup_communicate_prints_the_mx_answer_without_prompts() -> None:
    proc = run_example("nslookup_communicate.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("$ nslookup\nDefault server: 127.0.0.1\n")
    assert "Non-authoritative answer:\n" + MX_LINE in proc.stdout
    assert "mail.python.org\tinternet address = 203.0.113.25\n" in proc.stdout
    assert "> " not in proc.stdout
    assert proc.stdout.endswith("\nExit code: 0\n")
    assert proc.stderr == ""


@pytest.mark.usefixtures("nslookup")
def test_nslookup_dialogue_parses_the_mx_record_between_prompts() -> None:
    proc = run_example("nslookup_dialogue.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-2:] == ["MX for python.org: 50 mail.python.org.", "Exit code: 0"]
    # The printed answer is clean: no echo of the typed command, no prompt, no \r.
    assert lines[0] == "Server:\t\t127.0.0.1"
    assert MX_LINE in proc.stdout
    assert "> " not in proc.stdout
    assert "\r" not in proc.stdout
    assert "python.org" not in lines  # the echo of the typed query


def test_terminal_password_is_refused_on_pipes_and_answered_on_a_pty() -> None:
    proc = run_example("terminal_password.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    masked = "access granted (you typed '******', 13 characters)"
    assert proc.stdout.splitlines() == [
        "1. over pipes: exit 1: error: must be run from a terminal",
        f"2. run(respond=...): tty=True, exit 0: Password: | {masked}",
        f"3. spawn + expect: tty=True, exit 0: {masked}",
        "the password appears in the captured output: False",
    ]
    assert PASSWORD not in proc.stdout + proc.stderr


def test_python_repl_answers_each_line_and_keeps_streams_apart() -> None:
    proc = run_example("python_repl.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        "sum of squares below 10: 285",
        "longest word: 'quick'",
        "1 / 0 -> ZeroDivisionError: division by zero",
        "Exit code: 0",
    ]
    assert lines[4] == "stdout: \"285\\n'quick'\\n\""
    assert lines[5].startswith("stderr: '>>> >>> >>> >>> Traceback (most recent call last):")
