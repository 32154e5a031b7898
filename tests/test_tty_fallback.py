"""When ``run(tty="auto")`` may rerun a command on a PTY: only on evidence of a bare refusal."""

from __future__ import annotations

import logging
import pathlib

import pytest

import cmdrun
from children import dev_tty_user
from cmdrun._run import refused_terminal
from cmdrun._spec import build_spec

LEDGER_SCRIPT = """
stty size
echo ran >> "$1"
exit 1
"""


def test_script_that_did_work_before_a_tty_warning_runs_once(tmp_path: pathlib.Path) -> None:
    ledger = tmp_path / "ledger"
    script = tmp_path / "append.sh"
    script.write_text(LEDGER_SCRIPT)
    result = cmdrun.run(["sh", str(script), str(ledger)], check=False)
    assert "Inappropriate ioctl" in result.stderr
    assert (result.returncode, result.tty) == (1, False)
    assert ledger.read_text() == "ran\n"


def test_long_output_is_not_scanned_for_a_refusal() -> None:
    code = "import sys; sys.stdout.write('x' * 5000 + '\\nnot a tty\\n'); sys.exit(1)"
    result = cmdrun.run(["python3", "-c", code], check=False)
    assert not result.tty


def test_output_beside_the_refusal_means_the_program_did_something() -> None:
    result = cmdrun.run(["sh", "-c", "echo copied 3 files; echo not a tty; exit 1"], check=False)
    assert not result.tty


def test_refusal_written_to_a_file_target_is_not_rerun(tmp_path: pathlib.Path) -> None:
    result = cmdrun.run(["tty"], stdout=tmp_path / "out", check=False)
    assert (result.returncode, result.tty) == (1, False)


def test_programs_own_prefixed_refusal_is_rerun(tmp_path: pathlib.Path) -> None:
    tool = tmp_path / "mytool"
    tool.write_text(
        "#!/bin/sh\n[ -t 0 ] || { echo 'mytool: a terminal is required' >&2; exit 2; }\n"
    )
    tool.chmod(0o755)
    result = cmdrun.run([str(tool)], check=False)
    assert (result.tty, result.returncode) == (True, 0)


REFUSER_IGNORING_TERM = """
trap "" TERM
sleep 0.5
echo ran >> "$1"
echo "not a tty"
exit 1
"""


@pytest.fixture
def refuser(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> tuple[pathlib.Path, pathlib.Path]:
    """A refusing script that ignores SIGTERM, and its ledger; reruns are logged at INFO."""
    caplog.set_level(logging.INFO, logger="cmdrun")
    script = tmp_path / "refuse.sh"
    script.write_text(REFUSER_IGNORING_TERM)
    return script, tmp_path / "ledger"


def _reruns(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "again on a pty" in r.getMessage()]


def test_cancelled_refusal_is_not_started_again(
    refuser: tuple[pathlib.Path, pathlib.Path], caplog: pytest.LogCaptureFixture
) -> None:
    script, ledger = refuser
    with pytest.raises(cmdrun.CommandFailed):
        cmdrun.run_many(
            [["sh", str(script), str(ledger)], ["sh", "-c", "sleep 0.1; exit 3"]],
            fail_fast=True,
            kill_grace=5,
            jobs=2,
        )
    assert ledger.read_text() == "ran\n"
    assert not _reruns(caplog)


async def _cancel_after(seconds: float, script: pathlib.Path, ledger: pathlib.Path) -> None:
    import asyncio

    task = asyncio.ensure_future(cmdrun.arun(["sh", str(script), str(ledger)], kill_grace=5))
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_refusal_of_a_cancelled_arun_is_not_started_again(
    refuser: tuple[pathlib.Path, pathlib.Path], caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    script, ledger = refuser
    asyncio.run(_cancel_after(0.1, script, ledger))
    assert ledger.read_text() == "ran\n"
    assert not _reruns(caplog)


def test_deciding_on_a_rerun_does_not_decode_a_big_failed_output() -> None:
    result = cmdrun.run(["sh", "-c", "head -c 50000000 /dev/zero; exit 1"], check=False)
    assert len(result.stdout_bytes) == 50_000_000
    assert result._text == {}  # the refusal check looked at sizes only: nothing decoded


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_program_that_cannot_open_dev_tty_is_rerun_on_a_pty(shell: str) -> None:
    first = cmdrun.run(dev_tty_user(shell), tty=False, check=False)
    assert "/dev/tty: No such device or address" in first.stderr
    result = cmdrun.run(dev_tty_user(shell), timeout=10)
    assert (result.tty, result.returncode) == (True, 0)
    assert result.stdout == "on a terminal\r\n"


def test_gpg_refusing_dev_tty_is_a_refusal(tmp_path: pathlib.Path) -> None:
    (tmp_path / "plain").write_text("secret\n")
    args = ["gpg", "--homedir", str(tmp_path), "--pinentry-mode", "loopback", "--symmetric"]
    args += ["-o", str(tmp_path / "out.gpg"), str(tmp_path / "plain")]
    cmdrun.run(["gpg", "--homedir", str(tmp_path), "--list-keys"], check=False)  # keybox made
    spec = build_spec(args)
    try:
        result = cmdrun.run(args, tty=False, check=False)
    finally:  # the gpg-agent it started
        cmdrun.run(["gpgconf", "--homedir", str(tmp_path), "--kill", "gpg-agent"], check=False)
    assert result.stderr == "gpg: cannot open '/dev/tty': No such device or address\n"
    assert refused_terminal(result, spec)


def test_script_whose_helper_could_not_open_dev_tty_is_not_rerun(tmp_path: pathlib.Path) -> None:
    ledger = tmp_path / "ledger"
    script = f"echo ran >> {ledger}; sh -c 'exec 3<>/dev/tty'"
    result = cmdrun.run(["bash", "-c", script], check=False)
    assert "sh: 1: cannot create /dev/tty: No such device or address" in result.stderr
    assert (result.returncode, result.tty) == (2, False)
    assert ledger.read_text() == "ran\n"


def test_python_traceback_from_opening_dev_tty_is_not_a_bare_refusal() -> None:
    # A traceback reports a crash, which may come after any amount of work: not rerun.
    result = cmdrun.run(["python3", "-c", "open('/dev/tty')"], check=False)
    assert "No such device or address: '/dev/tty'" in result.stderr
    assert (result.returncode, result.tty) == (1, False)
