"""Error messages quote the program's output and arguments without letting them act on a
terminal: control characters and undecodable bytes are shown escaped."""

from __future__ import annotations

import pytest

import cmdrun
from children import py, write_both

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"


def test_failure_message_escapes_terminal_control_sequences() -> None:
    with pytest.raises(cmdrun.CommandFailed) as info:
        cmdrun.run(write_both("", f"before\t{HOSTILE}after\r\nlast\n", code=1))
    message = str(info.value)
    assert "\x1b" not in message
    assert "\x07" not in message
    assert "\r" not in message
    assert "before\t\\x1b]0;pwned\\x07\\x1b[2Jafter\n  last" in message


def test_timeout_message_escapes_terminal_control_sequences() -> None:
    code = f"import sys, time; sys.stderr.write({HOSTILE!r}); sys.stderr.flush(); time.sleep(30)"
    with pytest.raises(cmdrun.CommandTimedOut) as info:
        cmdrun.run(py(code), timeout=0.5)
    assert "\x1b" not in str(info.value)
    assert "\\x1b[2J" in str(info.value)


def test_failure_message_with_undecodable_output_can_be_printed() -> None:
    code = "import os, sys; os.write(2, b'bad \\xff\\xfe bytes\\n'); sys.exit(1)"
    with pytest.raises(cmdrun.CommandFailed) as info:
        cmdrun.run(py(code), errors="surrogateescape")
    assert info.value.result.stderr == "bad \udcff\udcfe bytes\n"
    message = str(info.value)
    message.encode("utf-8")  # no lone surrogate left to refuse
    assert "bad \\udcff\\udcfe bytes" in message


def test_failure_message_escapes_an_argument_with_control_characters() -> None:
    with pytest.raises(cmdrun.CommandFailed) as info:
        cmdrun.run(["sh", "-c", "exit 3", "sh", "\x1b[2J\udcff"], errors="surrogateescape")
    message = str(info.value)
    assert "\x1b" not in message
    message.encode("utf-8")
    assert "\\x1b[2J\\udcff" in message


def test_session_message_escapes_an_argument_with_control_characters() -> None:
    program = ["sh", "-c", "exit 0", "sh", "\x1b[2J"]
    with (
        cmdrun.spawn(program, tty=False, timeout=5) as s,
        pytest.raises(cmdrun.UnexpectedEOF) as info,
    ):
        s.expect("never")
    assert "\x1b" not in str(info.value)
    assert "\\x1b[2J" in str(info.value)


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("exit 3", "the program exited with status 3"),
        ("kill -TERM $$", "the program was killed by SIGTERM"),
        ("exec >&- 2>&-; sleep 5", "the program is still running"),
    ],
)
def test_unexpected_eof_message_says_what_the_program_did_in_a_sentence(
    script: str, says: str
) -> None:
    with (
        cmdrun.spawn(["sh", "-c", script], tty=False, timeout=5) as s,
        pytest.raises(cmdrun.UnexpectedEOF) as info,
    ):
        s.expect("never")
    assert says in str(info.value)
