"""The kill policy says when a group ignored the first signal and had to be killed."""

from __future__ import annotations

import logging

import pytest

import cmdrun
from children import ignore_term_and_hang


def test_escalation_to_sigkill_is_logged_with_the_survivors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cmdrun")
    result = cmdrun.run(ignore_term_and_hang(), timeout=0.3, kill_grace=0.2, check=False)
    assert result.signal is not None
    assert result.signal.name == "SIGKILL"
    messages = [r.getMessage() for r in caplog.records if "SIGKILL" in r.getMessage()]
    assert len(messages) == 1
    assert f"process group {result.pid} still had 1 process(es)" in messages[0]


def test_a_group_that_obeys_the_first_signal_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cmdrun")
    cmdrun.run(["sleep", "30"], timeout=0.2, check=False)
    assert not [r for r in caplog.records if "SIGKILL" in r.getMessage()]
