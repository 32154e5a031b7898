"""Values are values: what cmdrun hands out or passes around cannot be changed afterwards."""

from __future__ import annotations

import pytest

import cmdrun
from cmdrun._match import Buffer
from cmdrun._pump import CancelToken
from cmdrun._run import prepare
from cmdrun._start import Started


def test_spec_and_prepared_cannot_change_once_built() -> None:
    prepared = prepare(["true"], {}, "run")
    with pytest.raises(AttributeError, match="immutable"):
        prepared.spec.timeout = 5  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        prepared.spec = prepared.spec  # type: ignore[misc]
    copy = prepared.spec.replace(timeout=5.0)
    assert (copy.timeout, prepared.spec.timeout) == (5.0, None)


def test_line_match_and_started_are_immutable() -> None:
    line = cmdrun.Line("stdout", "a\n")
    with pytest.raises(AttributeError, match="immutable"):
        line.text = "b"  # type: ignore[misc]
    buffer = Buffer()
    buffer.add("x> ")
    found = buffer.search(["> "], sent="typed")
    assert found is not None
    assert found.sent == "typed"
    with pytest.raises(AttributeError, match="immutable"):
        found.sent = None  # type: ignore[misc]
    started = Started(object(), [(3, "stdout")], None)  # type: ignore[arg-type]
    assert started.readers == ((3, "stdout"),)
    with pytest.raises(AttributeError, match="immutable"):
        started.writer = 4  # type: ignore[misc]


def test_a_batch_does_not_change_the_commands_it_was_given() -> None:
    batch = [prepare(["true"], {}, "run") for _ in range(3)]
    specs = [p.spec for p in batch]
    watched = [p.watching(CancelToken()) for p in batch]
    assert [p.spec for p in batch] == specs
    for w in watched:
        assert w.spec.cancel is not None
        w.spec.cancel.close()
