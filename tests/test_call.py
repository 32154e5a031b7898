"""call(): the child shares the parent's stdio and the exit code comes back."""

from __future__ import annotations

import pytest

import cmdrun
from children import kill_self, py, write_both


def test_call_returns_exit_code_and_never_raises_for_it() -> None:
    assert cmdrun.call(["true"]) == 0
    assert cmdrun.call(["sh", "-c", "exit 5"]) == 5


def test_call_returns_negative_signal_number() -> None:
    assert cmdrun.call(kill_self(15)) == -15


def test_call_child_writes_to_the_parents_stdout_and_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert cmdrun.call(write_both("shared out\n", "shared err\n")) == 0
    out, err = capfd.readouterr()
    assert out == "shared out\n"
    assert "shared err\n" in err


def test_call_feeds_input(capfd: pytest.CaptureFixture[str]) -> None:
    code = "import sys; print(sys.stdin.read().upper(), end='')"
    assert cmdrun.call(py(code), input="fed\n") == 0
    assert capfd.readouterr().out == "FED\n"


def test_call_string_command_and_errors() -> None:
    assert cmdrun.call("sh -c 'exit 2'") == 2
    with pytest.raises(cmdrun.CommandNotFound):
        cmdrun.call("cmdrun-no-such-program")
