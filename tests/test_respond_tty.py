"""Automatic answers, secrets that never leak, and the automatic PTY fallback."""

from __future__ import annotations

import logging
import re
import time

import pytest

import cmdrun
from children import isatty_report, password_program, prompter, py
from cmdrun import Secret

PASSWORD = "s3cr3t-Pa55"


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_respond_answers_several_prompts(tty: bool) -> None:
    result = cmdrun.run(
        password_program(PASSWORD),
        respond={"User: ": "ann", re.compile(r"Password: ?"): Secret(PASSWORD)},
        tty=tty,
        timeout=20,
    )
    assert "access granted for ann" in result.stdout
    assert result.tty is tty


def test_respond_answers_every_occurrence() -> None:
    result = cmdrun.run(
        py("for i in range(3): print('got', input('Continue? '))"),
        respond={"Continue? ": "yes"},
        tty=False,
        timeout=20,
    )
    assert result.stdout.count("got yes") == 3


def test_respond_keeps_the_timeout_guarantee() -> None:
    start = time.monotonic()
    result = cmdrun.run(
        prompter("> "), respond={"> ": "again"}, timeout=0.5, kill_grace=0.5, check=False
    )
    assert result.timed_out
    assert time.monotonic() - start < 0.5 + 0.5 + 0.5 + 0.75
    assert "got: again" in result.stdout


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_secret_never_leaks(tty: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A careless program prints the password it read; cmdrun masks it everywhere."""
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    secret = Secret(PASSWORD)
    program = password_program("other", echo_input=True)
    with pytest.raises(cmdrun.CommandFailed) as info:
        cmdrun.run(
            [*program[:-1], program[-1] + "\nraise SystemExit(1)"],
            respond={"User: ": "ann", "Password: ": secret},
            tty=tty,
            timeout=20,
        )
    result = info.value.result
    assert "you typed ******" in result.stdout
    places = [
        result.stdout,
        result.stderr,
        repr(result),
        str(info.value),
        repr(info.value),
        caplog.text,
        repr(secret),
        str(secret),
    ]
    for place in places:
        assert PASSWORD not in place
    assert PASSWORD.encode() not in result.stdout_bytes + result.stderr_bytes


def test_secret_in_a_session_is_masked_in_matches_and_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    program = password_program(PASSWORD, need_tty=True, echo_input=True)
    with cmdrun.spawn(program, tty=True, timeout=10) as s:
        s.expect("User: ")
        s.sendline("ann")
        s.expect("Password: ")
        s.sendline(Secret(PASSWORD))
        with pytest.raises(cmdrun.UnexpectedEOF) as info:
            s.expect("never")
        assert "you typed ******" in info.value.received
        result = s.wait()
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in caplog.text
    assert "send: '******\\n'" in caplog.text
    assert PASSWORD not in result.stdout


def test_secret_as_input() -> None:
    result = cmdrun.run(["cat"], input=Secret(PASSWORD))
    assert result.stdout == "******"


def test_fallback_reruns_coreutils_tty_on_a_pty(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cmdrun")
    result = cmdrun.run(["tty"])
    assert result.tty
    assert result.stdout.startswith("/dev/pts/")
    assert any("running it again on a pty" in r.getMessage() for r in caplog.records)


def test_no_fallback_with_tty_false() -> None:
    result = cmdrun.run(["tty"], tty=False, check=False)
    assert (result.returncode, result.stdout.strip(), result.tty) == (1, "not a tty", False)


def test_fallback_for_a_program_that_checks_isatty() -> None:
    result = cmdrun.run(isatty_report(), dimensions=(40, 120))
    assert result.tty
    assert result.stdout.split() == ["rows", "40", "cols", "120"]


def test_fallback_feeds_the_same_input_again() -> None:
    code = """
import sys
if not sys.stdin.isatty():
    sys.exit("error: must be run from a terminal")
print("read", input().upper())
"""
    result = cmdrun.run(py(code), input="fed twice\n")
    assert result.tty
    assert result.stdout.strip().endswith("read FED TWICE")


def test_no_fallback_for_other_failures() -> None:
    result = cmdrun.run(["sh", "-c", "echo failed >&2; exit 1"], check=False)
    assert not result.tty


@pytest.mark.parametrize(
    ("name", "value"),
    [("TTY_REFUSAL_WINDOW", 0), ("TTY_REFUSAL_MAX_OUTPUT", 0), ("TTY_REFUSALS", [])],
)
def test_rebinding_a_public_setting_takes_effect(
    monkeypatch: pytest.MonkeyPatch, name: str, value: object
) -> None:
    assert cmdrun.run(["tty"]).tty  # the default settings rerun it
    monkeypatch.setattr(cmdrun, name, value)
    assert not cmdrun.run(["tty"], check=False).tty
    with cmdrun.stream(["tty"], check=False) as lines:
        assert [line.text for line in lines] == ["not a tty\n"]
    assert lines.result is not None
    assert not lines.result.tty


def test_refusal_signatures_are_extensible(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import sys; sys.stdin.isatty() or sys.exit('this tool needs a console')"
    assert not cmdrun.run(py(code), check=False).tty
    monkeypatch.setattr(
        cmdrun, "TTY_REFUSALS", (*cmdrun.TTY_REFUSALS, re.compile("needs a console"))
    )
    assert cmdrun.run(py(code)).tty


def test_refusal_signatures_appended_in_place_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import sys; sys.stdin.isatty() or sys.exit('this tool wants a console')"
    monkeypatch.setattr(cmdrun, "TTY_REFUSALS", list(cmdrun.TTY_REFUSALS))
    cmdrun.TTY_REFUSALS.append("wants a console")
    assert cmdrun.run(py(code)).tty


def test_run_tty_true_turns_echo_off_and_sends_eof() -> None:
    result = cmdrun.run(["cat"], tty=True, input="typed\n", timeout=10)
    assert result.stdout == "typed\r\n"


def test_a_match_cannot_split_a_secret() -> None:
    code = "pw = input(); print('got', pw)"
    with cmdrun.spawn(py(code), tty=False, timeout=10) as s:
        s.sendline(Secret("ab-XY-cd"))
        found = s.expect("got ")
        rest = s.read()
    assert found.before == ""
    assert rest == "******\n"
