"""How live output is cut into lines, without a process (``split_lines``, ``LineFeed``).

The end-to-end tests, with real programs, are in ``test_live_output.py``.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmdrun._output import LineFeed, split_lines


@pytest.mark.parametrize(
    ("text", "lines", "rest"),
    [
        ("a\nb\n", ["a\n", "b\n"], ""),
        ("a\r\nb", ["a\r\n"], "b"),
        ("0%\r25%\r50%\r\n", ["0%\r", "25%\r", "50%\r\n"], ""),
        ("\r0%\r25%\r50%\n", ["\r0%", "\r25%", "\r50%\n"], ""),
        ("\r0%\r25%\r\n", ["\r0%", "\r25%\r\n"], ""),
        ("done\n\r1/3\r2/3\r3/3\n", ["done\n", "\r1/3", "\r2/3", "\r3/3\n"], ""),
        ("0%\r\r5%\r", ["0%\r"], "\r5%\r"),
        ("\r0%", [], "\r0%"),
        ("50%\r", [], "50%\r"),
    ],
)
def test_split_lines_gives_one_line_per_redraw(text: str, lines: list[str], rest: str) -> None:
    assert split_lines(text) == (lines, rest)


def _feed(chunks: list[str]) -> list[str]:
    got: list[str] = []
    feed = LineFeed("utf-8", "strict", lambda _stream, line: got.append(line), idle=math.inf)
    for chunk in chunks:
        feed.feed("stdout", chunk.encode())
    feed.flush()
    return got


def test_an_idle_redraw_is_delivered_and_the_next_one_starts_a_line() -> None:
    got: list[str] = []
    feed = LineFeed("utf-8", "strict", lambda _stream, line: got.append(line), idle=0.0)
    for chunk in (b"\r0%", b"\r25%", b"\r50%\n"):
        feed.feed("stdout", chunk)
        feed.flush_idle(math.inf)
    assert got == ["\r0%", "\r25%", "\r50%\n"]


@settings(max_examples=300, deadline=None, database=None)
@given(
    text=st.text(alphabet="ab\r\n", max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=8),
)
def test_lines_do_not_depend_on_how_the_output_was_chunked(text: str, cuts: list[int]) -> None:
    edges = [0, *sorted(c for c in cuts if c <= len(text)), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(edges)]
    lines = _feed(chunks)
    assert lines == _feed([text])
    assert "".join(lines) == text
    for line in lines:  # at most one redraw per line: a bare \r only at either end
        inner = line.removesuffix("\r\n").removesuffix("\n").removesuffix("\r")[1:]
        assert "\r" not in inner, line
