"""Pure text machinery for dialogues: decoding, pattern search, automatic answers, cleaning.

Nothing here touches a process, so all of it is unit-tested in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ._frozen import Frozen
from ._secret import Secret

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import TypeAlias

Pattern: TypeAlias = "str | re.Pattern[str]"

_set = object.__setattr__  # how Match sets its fields, once
Reply: TypeAlias = "str | Secret"

# Every ECMA-48 escape sequence a terminal program emits: CSI (``ESC [``: colours, cursor,
# ``?1049h`` screen switches), the strings OSC, DCS, SOS, PM and APC up to their terminator,
# charset selections and other ``ESC`` + intermediates + final (``ESC ( B``, ``ESC # 8``),
# and two-character ones (``ESC =``, ``ESC >``, ``ESC 7``, ``ESC c``).
# (The patterns below are compiled on first use, through re's own cache, not at import.)
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]+[0-~]"
    r"|\x1b[0-~]"
)

# Text drawn while ``ESC ( 0`` selects the DEC line-drawing set (ncurses boxes with a
# terminal type such as xterm), up to the next charset selection.
_LINE_DRAWING = r"(?s)\x1b\(0(.*?)(?=\x1b\([^0]|\Z)"
_DEC_GRAPHICS = str.maketrans("jklmnqtuvwx`a", "┘┐┌└┼─├┤┴┬│◆▒")

# A run of \r before \n is one line ending: telnet sends \r\r\n (its \r\n through a
# terminal that maps \n to \r\n). A lone \r also ends a line.
_LINE_END = r"\r+\n|\r"


def check_patterns(patterns: Sequence[object]) -> tuple[Pattern, ...]:
    """Validate ``expect`` patterns: literal strings or compiled ``str`` regexes.

    Raises:
        ValueError: no pattern, or an empty string.
        TypeError: anything else (bytes regexes included).
    """
    if len(patterns) == 1 and type(patterns[0]) is str and patterns[0]:
        return tuple(patterns)  # type: ignore[arg-type]  # the usual expect("> ")
    if not patterns:
        raise ValueError("expect() needs at least one pattern")
    for i, pattern in enumerate(patterns):
        if isinstance(pattern, str):
            if not pattern:
                raise ValueError(f"pattern {i} is an empty string")
        elif not (isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str)):
            raise TypeError(
                f"pattern {i} ({pattern!r}) must be a str or a compiled str regex, "
                f"not {type(pattern).__name__}"
            )
    return tuple(patterns)  # type: ignore[arg-type]


def describe(patterns: Iterable[Pattern]) -> str:
    """Patterns as a message shows them."""
    return ", ".join(repr(p) if isinstance(p, str) else f"re({p.pattern!r})" for p in patterns)


def _draw_lines(shifted: re.Match[str]) -> str:
    return re.sub(_ESCAPES, "", shifted.group(1)).translate(_DEC_GRAPHICS)


def clean(text: str) -> str:
    """Terminal output as plain text: ``\\r\\n`` (or ``\\r\\r\\n``) and a lone ``\\r`` to
    ``\\n``, escape sequences removed.

    Text drawn in the DEC line-drawing set (``ESC ( 0``, the boxes of ``dialog`` or ``top``
    on an ``xterm`` terminal type) becomes box characters (``┌─┐``). Nothing is placed where
    cursor movements would put it: a full-screen program's text comes out in the order it
    was drawn.

    Args:
        text: what a program printed on a terminal (``Result.stdout``, ``Match.before``).

    Returns:
        The plain text.
    """
    if "\x1b(0" in text:
        text = re.sub(_LINE_DRAWING, _draw_lines, text)
    text = re.sub(_ESCAPES, "", text)
    return re.sub(_LINE_END, "\n", text) if "\r" in text else text


class Match(Frozen):
    """The result of :meth:`Session.expect`.

    Returned by ``expect``; not built by hand.

    Attributes:
        index: which pattern matched (position in the ``expect`` call).
        pattern: that pattern.
        before: the text received before the match.
        text: the matched text.
        match: the :class:`re.Match` for a regex pattern, else None.
    """

    __slots__ = ("before", "index", "match", "pattern", "sent", "text")

    if TYPE_CHECKING:  # for type checkers only: ``re`` cannot be resolved from ``cmdrun``
        index: int
        pattern: Pattern
        before: str
        text: str
        match: re.Match[str] | None
        sent: str | None

    def __init__(
        self,
        index: int,
        pattern: Pattern,
        before: str,
        *,
        text: str,
        match: re.Match[str] | None,
        sent: str | None = None,
    ) -> None:
        _set(self, "index", index)
        _set(self, "pattern", pattern)
        _set(self, "before", before)
        _set(self, "text", text)
        _set(self, "match", match)
        _set(self, "sent", sent)

    @property
    def lines(self) -> list[str]:
        """``before`` as clean lines: escapes removed, no ``\\r``, no blank edges, and
        without the terminal's echo of the line last sent at the start (a line editor such
        as readline or libedit may echo it a second time)."""
        lines = clean(self.before).split("\n")
        if self.sent is not None:
            sent = self.sent.strip()
            while lines and lines[0].strip() == sent:
                lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def __repr__(self) -> str:
        return f"Match(index={self.index}, text={self.text!r}, before={self.before[-60:]!r})"


def _earliest(
    text: str, patterns: Sequence[Pattern], literal_from: int
) -> tuple[int, int, int, re.Match[str] | None] | None:
    """(start, end, index, re.Match) of the match that starts first; ties go to the lower index."""
    best: tuple[int, int, int, re.Match[str] | None] | None = None
    for index, pattern in enumerate(patterns):
        if isinstance(pattern, str):
            start = text.find(pattern, max(0, literal_from - len(pattern) + 1))
            if start >= 0 and (best is None or start < best[0]):
                best = (start, start + len(pattern), index, None)
        else:
            found = pattern.search(text)
            if found is not None and (best is None or found.start() < best[0]):
                best = (found.start(), found.end(), index, found)
    return best


class Buffer:
    """Text received and not consumed by a match yet.

    Literal patterns are searched only where new text could complete them, so waiting for a
    prompt after megabytes of output stays linear. Regexes are searched over the whole
    unconsumed text (a regex may match anywhere); call :meth:`Session.read` rather than a
    regex ``expect`` to skip a huge output.
    """

    __slots__ = ("_chunks", "_scanned", "_scanned_for", "_text")

    def __init__(self) -> None:
        self._text = ""
        self._chunks: list[str] = []
        self._scanned = 0  # how much of _text was searched in vain for _scanned_for
        self._scanned_for: Sequence[Pattern] = ()

    def add(self, text: str) -> None:
        if text:
            self._chunks.append(text)

    @property
    def text(self) -> str:
        if self._chunks:
            self._text += "".join(self._chunks)
            self._chunks.clear()
        return self._text

    def search(self, patterns: Sequence[Pattern], sent: str | None = None) -> Match | None:
        """Consume and return the earliest match, or None (remembering what was searched).

        ``sent`` is the line last typed, which the match keeps to drop its echo from
        :attr:`Match.lines`."""
        text = self.text
        if patterns != self._scanned_for:
            self._scanned, self._scanned_for = 0, patterns
        if len(patterns) == 1 and type(patterns[0]) is str:  # expect("> "): the usual call
            pattern = patterns[0]
            start = text.find(pattern, max(0, self._scanned - len(pattern) + 1))
            if start < 0:
                self._scanned = len(text)
                return None
            end, index, match = start + len(pattern), 0, None
        else:
            found = _earliest(text, patterns, self._scanned)
            if found is None:
                self._scanned = len(text)
                return None
            start, end, index, match = found
        self._text = text[end:]
        self._scanned = 0
        before, matched = text[:start], text[start:end]
        return Match(index, patterns[index], before, text=matched, match=match, sent=sent)

    def take_all(self) -> str:
        """Consume and return everything."""
        text = self.text
        self._text = ""
        self._scanned = 0
        return text


class Responder:
    """Answers prompts automatically: ``feed`` text as it arrives, get the replies due.

    Every occurrence of every prompt is answered, in the order they appear. Text that cannot
    be part of a prompt any more is dropped, so memory stays bounded on long outputs.
    """

    __slots__ = ("_buffer", "_keep", "_patterns", "_replies")

    def __init__(self, respond: Mapping[Pattern, Reply]) -> None:
        self._patterns = check_patterns(list(respond))
        self._replies = [respond[p] for p in self._patterns]
        for reply in self._replies:
            if not isinstance(reply, (str, Secret)):
                raise TypeError(f"a respond reply must be str or Secret, not {reply!r}")
        self._buffer = Buffer()
        longest = max((len(p) for p in self._patterns if isinstance(p, str)), default=0)
        self._keep = max(4096, 2 * longest)

    @property
    def patterns(self) -> tuple[Pattern, ...]:
        return self._patterns

    def feed(self, text: str) -> list[tuple[Pattern, Reply]]:
        """The ``(prompt, reply)`` pairs completed by ``text``."""
        self._buffer.add(text)
        due: list[tuple[Pattern, Reply]] = []
        while (found := self._buffer.search(self._patterns)) is not None:
            due.append((found.pattern, self._replies[found.index]))
        rest = self._buffer.text
        if len(rest) > self._keep:
            self._buffer.take_all()
            self._buffer.add(rest[-self._keep :])
        return due
