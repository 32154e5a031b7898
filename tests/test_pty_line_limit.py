"""A terminal in canonical mode holds at most 4095 bytes of one line: cmdrun never lets a
longer typed line be cut silently, it refuses it before typing."""

from __future__ import annotations

import pathlib

import pytest

import cmdrun
from children import py

LIMIT = 4095


def test_run_tty_input_line_at_the_limit_arrives_whole() -> None:
    result = cmdrun.run(["wc", "-c"], tty=True, input="x" * LIMIT + "\n")
    assert result.stdout.strip() == str(LIMIT + 1)


def test_run_tty_many_long_lines_arrive_whole() -> None:
    result = cmdrun.run(["wc", "-c"], tty=True, input=("y" * 3000 + "\n") * 5)
    assert result.stdout.strip() == "15005"


def test_run_tty_input_line_over_the_limit_raises_before_the_program_starts(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "started"
    with pytest.raises(ValueError, match=r"10000 bytes.*4095") as caught:
        cmdrun.run(["sh", "-c", f"touch {marker}; wc -c"], tty=True, input="x" * 10000 + "\n")
    assert not marker.exists()
    assert "tty=False" in str(caught.value)


def test_last_line_without_newline_counts_too() -> None:
    with pytest.raises(ValueError, match="4096 bytes"):
        cmdrun.run(["wc", "-c"], tty=True, input="a\n" + "x" * 4096)


def test_secret_input_over_the_limit_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="6000 bytes") as caught:
        cmdrun.run(["wc", "-c"], tty=True, input=cmdrun.Secret("s3cr3t" * 1000))
    assert "s3cr3t" not in str(caught.value)


def test_respond_reply_over_the_limit_is_refused_on_a_pty() -> None:
    with pytest.raises(ValueError, match="4095"):
        cmdrun.run(["wc", "-c"], tty=True, respond={"?": "z" * 5000}, timeout=10)


def test_spawn_input_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="4095"):
        cmdrun.spawn(["wc", "-c"], input="x" * 5000 + "\n")


def test_pipes_take_any_line_length() -> None:
    result = cmdrun.run(["wc", "-c"], tty=False, input="x" * 10000 + "\n")
    assert result.stdout.strip() == "10001"


REFUSER = py(
    """
    import os, sys
    if not os.isatty(0):
        print("not a tty")
        sys.exit(1)
    print(len(sys.stdin.readline()))
    """
)


def test_tty_auto_does_not_rerun_with_a_line_the_terminal_would_cut(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO", logger="cmdrun"):
        result = cmdrun.run(REFUSER, input="x" * 10000 + "\n", check=False)
    assert not result.tty
    assert result.returncode == 1
    assert "4095" in caplog.text


def test_tty_auto_reruns_with_lines_within_the_limit() -> None:
    result = cmdrun.run(REFUSER, input="x" * 100 + "\n")
    assert result.tty
    assert result.stdout.strip() == "101"


def test_sendline_over_the_limit_raises_and_types_nothing() -> None:
    with cmdrun.spawn(["wc", "-c"], timeout=10) as session:
        with pytest.raises(ValueError, match=r"10000 bytes.*4095"):
            session.sendline("x" * 10000)
        session.sendline("abc")
        session.sendeof()
        result = session.wait()
    assert result.stdout.split()[-1] == "4"


def test_line_built_from_several_sends_is_checked_as_a_whole() -> None:
    with cmdrun.spawn(["wc", "-c"], timeout=10) as session:
        session.send("x" * 3000)
        with pytest.raises(ValueError, match="5000 bytes"):
            session.sendline("x" * 2000)
        session.sendline("")
        session.send("y" * 3000)
        session.sendeof()  # ends the partial line: the next one starts empty
        session.sendline("z" * 3000)
        session.sendeof()
        result = session.wait()
    assert result.stdout.split()[-1] == str(3001 + 3000 + 3001)


def test_long_line_is_allowed_once_the_program_turns_canonical_mode_off() -> None:
    args = ["sh", "-c", "stty raw -echo; echo ready; head -c 10001 | wc -c"]
    with cmdrun.spawn(args, timeout=10) as session:
        session.expect("ready")
        session.sendline("x" * 10000)
        session.expect("10001")
