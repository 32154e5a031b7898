"""``stream``'s own TTY fallback, and the output hooks of one run working together."""

from __future__ import annotations

import pytest

import cmdrun
from children import py


def test_stream_of_a_program_that_refuses_pipes_reruns_it_on_a_pty() -> None:
    with cmdrun.stream(["tty"]) as lines:
        got = list(lines)
    assert lines.result is not None
    assert lines.result.tty
    assert lines.result.returncode == 0
    # The lines of the refused run were already yielded; the PTY run's come after them.
    assert got[-1].stream == "stdout"
    assert got[-1].text.startswith("/dev/pts/")
    assert got[-1].text.endswith("\r\n")
    assert lines.result.stdout == got[-1].text


def test_stream_with_tty_false_keeps_the_refusal() -> None:
    with cmdrun.stream(["tty"], tty=False, check=False) as lines:
        got = [line.text for line in lines]
    assert got == ["not a tty\n"]
    assert lines.result is not None
    assert (lines.result.tty, lines.result.returncode) == (False, 1)


LOGIN = """
import sys
name = input("name? ")
password = input("password? ")
print(f"welcome {name}, your password is {password}", flush=True)
print("done", file=sys.stderr, flush=True)
"""


def test_respond_tee_and_callbacks_in_one_run(capfd: pytest.CaptureFixture[str]) -> None:
    out_lines: list[str] = []
    err_lines: list[str] = []
    result = cmdrun.run(
        py(LOGIN),
        respond={"name? ": "ann", "password? ": cmdrun.Secret("hunter2")},
        tee=True,
        on_stdout=out_lines.append,
        on_stderr=err_lines.append,
        timeout=10,
    )
    expected = "name? password? welcome ann, your password is ******\n"
    assert result.stdout == expected
    assert result.stderr == "done\n"
    captured = capfd.readouterr()
    assert captured.out == expected
    assert captured.err == "done\n"
    # The prompts may arrive as lines of their own (idle) or joined to the next one.
    assert "".join(out_lines) == expected
    assert out_lines[-1].endswith("******\n")
    assert err_lines == ["done\n"]
    assert "hunter2" not in result.stdout + captured.out + "".join(out_lines)
