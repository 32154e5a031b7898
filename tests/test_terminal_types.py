"""Full-screen programs on a PTY: ``term=`` gives them a real terminal type, and ``clean``
and ``Match.lines`` strip what such a terminal type makes them emit."""

from __future__ import annotations

import asyncio
import pathlib
import shutil

import pytest

import cmdrun

XTERM = "xterm-256color"


def needs(program: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} not installed")


@pytest.fixture
def text_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "notes.txt"
    path.write_text("first line\nsecond line\nthe last line\n")
    return path


# -- which TERM a program gets ---------------------------------------------------------------


def test_pty_programs_get_term_dumb_by_default() -> None:
    result = cmdrun.run(["sh", "-c", 'echo "TERM=$TERM"'], tty=True)
    assert result.stdout == "TERM=dumb\r\n"


def test_term_option_sets_the_terminal_type_on_run_and_spawn() -> None:
    result = cmdrun.run(["sh", "-c", 'echo "TERM=$TERM"'], tty=True, term=XTERM)
    assert result.stdout == f"TERM={XTERM}\r\n"
    with cmdrun.spawn(["sh", "-c", 'echo "TERM=$TERM"'], term=XTERM) as session:
        session.expect(f"TERM={XTERM}")


def test_term_option_wins_over_term_in_env() -> None:
    result = cmdrun.run(
        ["sh", "-c", 'echo "TERM=$TERM"'], tty=True, env={"TERM": "vt100"}, term=XTERM
    )
    assert result.stdout == f"TERM={XTERM}\r\n"


def test_term_in_env_is_kept_without_term_option() -> None:
    result = cmdrun.run(["sh", "-c", 'echo "TERM=$TERM"'], tty=True, env={"TERM": "vt100"})
    assert result.stdout == "TERM=vt100\r\n"


def test_term_applies_to_the_pty_rerun_of_tty_auto() -> None:
    code = 'tty -s || { echo "not a tty"; exit 1; }; echo "TERM=$TERM"'
    result = cmdrun.run(["sh", "-c", code], term=XTERM)
    assert result.tty
    assert result.stdout == f"TERM={XTERM}\r\n"


@pytest.mark.parametrize("term", ["", "xterm\x00"])
def test_bad_term_value_raises_value_error(term: str) -> None:
    with pytest.raises(ValueError, match="term"):
        cmdrun.run(["true"], tty=True, term=term)


def test_term_that_is_not_a_string_raises_type_error() -> None:
    with pytest.raises(TypeError, match="term"):
        cmdrun.run(["true"], tty=True, term=256)  # type: ignore[arg-type]


def test_term_on_pipes_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"term= .*pseudo-terminal"):
        cmdrun.run(["true"], tty=False, term=XTERM)
    with pytest.raises(ValueError, match=r"term= .*pseudo-terminal"):
        cmdrun.spawn(["true"], tty=False, term=XTERM)


# -- escape codes a real terminal type brings ------------------------------------------------


@pytest.mark.parametrize(
    "escape",
    [
        "\x1b[?1049h",  # alternate screen
        "\x1b[22;0;0t",  # window title stack
        "\x1b(B",  # G0 charset: ASCII
        "\x1b(0",  # G0 charset: line drawing
        "\x1b)0",  # G1 charset
        "\x1b%G",  # UTF-8 mode
        "\x1b#8",  # screen alignment test
        "\x1b=",  # keypad application mode
        "\x1b>",  # keypad normal mode
        "\x1b7",  # save cursor
        "\x1b8",  # restore cursor
        "\x1bc",  # full reset
        "\x1bP1$r0m\x1b\\",  # DCS string
        "\x1b_app\x1b\\",  # APC string
        "\x1b]0;title\x07",  # OSC title
    ],
)
def test_clean_removes_escape_sequences_of_xterm_programs(escape: str) -> None:
    assert cmdrun.clean(f"a{escape}b\r\n") == "ab\n"


def test_clean_draws_line_drawing_characters_as_box_characters() -> None:
    text = "\x1b(0\x1b[0;1mlqq\x1b[0mk\x1b(B ok \x1b(0x\x1b(B"
    assert cmdrun.clean(text) == "┌──┐ ok │"


# -- full-screen programs, for real ----------------------------------------------------------


@needs("dialog")
def test_dialog_msgbox_text_arrives_with_a_real_terminal_type() -> None:
    args = ["dialog", "--msgbox", "Hello from dialog", "8", "40"]
    with cmdrun.spawn(args, term=XTERM, timeout=10) as session:
        found = session.expect("Hello from dialog")
        session.sendline("")  # presses OK
        result = session.wait()
    assert result.returncode == 0
    assert any("<  OK  >" in line for line in found.lines)
    assert not any("\x1b" in line for line in found.lines)
    assert "Hello from dialog" in cmdrun.clean(result.stdout)


@needs("dialog")
def test_dialog_infobox_through_run_shows_its_text_cleaned() -> None:
    args = ["dialog", "--infobox", "Copying files", "5", "30"]
    result = cmdrun.run(args, tty=True, term=XTERM, timeout=10)
    text = cmdrun.clean(result.stdout)
    assert "Copying files" in text
    assert "\x1b" not in text


@needs("less")
def test_less_shows_the_file_and_quits_with_q(text_file: pathlib.Path) -> None:
    with cmdrun.spawn(["less", str(text_file)], term=XTERM, timeout=10) as session:
        found = session.expect("the last line")
        session.send("q")
        result = session.wait()
    assert result.returncode == 0
    assert found.lines == ["first line", "second line"]
    assert "not fully functional" not in result.stdout


@needs("top")
def test_top_batch_mode_prints_its_summary_on_a_pty() -> None:
    result = cmdrun.run(["top", "-b", "-n", "1"], tty=True, term=XTERM, timeout=10)
    assert "load average" in result.stdout
    assert "PID" in result.stdout


@needs("top")
def test_interactive_top_draws_and_quits_with_q() -> None:
    with cmdrun.spawn(["top"], term=XTERM, timeout=10) as session:
        found = session.expect("PID")
        session.send("q")
        result = session.wait()
    assert result.returncode == 0
    assert any("load average" in line for line in found.lines)
    assert "\x1b" not in cmdrun.clean(result.stdout)


@needs("vim")
def test_vim_ex_mode_script_typed_on_a_pty(text_file: pathlib.Path) -> None:
    args = ["vim", "-Nes", "-u", "NONE", "-i", "NONE", str(text_file)]
    script = "%s/line/LINE/\n%print\nwq\n"
    result = cmdrun.run(args, tty=True, term=XTERM, input=script, timeout=10)
    assert cmdrun.clean(result.stdout) == "first LINE\nsecond LINE\nthe last LINE\n"
    assert text_file.read_text() == "first LINE\nsecond LINE\nthe last LINE\n"


def test_term_option_reaches_arun_and_run_many() -> None:
    args = ["sh", "-c", 'echo "TERM=$TERM"']
    result = asyncio.run(cmdrun.arun(args, tty=True, term=XTERM))
    assert result.stdout == f"TERM={XTERM}\r\n"
    [batch] = cmdrun.run_many([args], tty=True, term=XTERM)
    assert batch.stdout == f"TERM={XTERM}\r\n"
