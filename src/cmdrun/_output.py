"""Where output goes: sinks that keep it (all of it, or its tail), files, and live lines.

Pure data handling, no processes: each piece is fed bytes by the pump and unit-tested alone.
"""

from __future__ import annotations

import codecs
import io
import time
from collections.abc import Callable

from ._frozen import Frozen

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO


def as_terminal(data: bytes) -> bytes:
    """Line endings as a terminal outputs them (``\\n`` becomes ``\\r\\n``), for fakes."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Capture:
    """Keeps everything. ``io.BytesIO.getvalue()`` hands its buffer over without a copy."""

    __slots__ = ("_buffer",)

    dropped = 0

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self._buffer.write(data)

    def value(self) -> bytes:
        return self._buffer.getvalue()


class Chunks:
    """Keeps everything as the chunks it arrived in (no copy until :meth:`value`).

    For sessions, whose decoder holds the same chunk objects until it needs them: the
    bytes are then in memory once, not twice.
    """

    __slots__ = ("_chunks",)

    dropped = 0

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._chunks.append(data)

    def value(self) -> bytes:
        if len(self._chunks) > 1:
            self._chunks[:] = [b"".join(self._chunks)]
        return self._chunks[0] if self._chunks else b""


class Tail:
    """Keeps only the last ``limit`` bytes and counts the ones dropped (memory <= 2 * limit)."""

    __slots__ = ("_buffer", "_limit", "_total")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._total = 0

    def write(self, data: bytes) -> None:
        self._total += len(data)
        if len(data) >= self._limit:
            self._buffer[:] = data[len(data) - self._limit :]
            return
        self._buffer += data
        if len(self._buffer) > 2 * self._limit:  # trim in batches: amortised O(1) per byte
            del self._buffer[: len(self._buffer) - self._limit]

    def value(self) -> bytes:
        return bytes(self._buffer[-self._limit :]) if self._limit else b""

    @property
    def dropped(self) -> int:
        return self._total - min(self._total, self._limit)


class ToFile:
    """Writes straight to a binary file; keeps nothing in memory."""

    __slots__ = ("_file",)

    dropped = 0

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def value(self) -> bytes:
        return b""

    def flush(self) -> None:
        self._file.flush()


class Line(Frozen):
    """One line of output, as :func:`cmdrun.stream` yields it; not built by hand.

    Attributes:
        stream: ``"stdout"`` or ``"stderr"``.
        text: the line with its ending (``"\\n"`` or ``"\\r\\n"``); a progress redraw is one
            line, with its ``"\\r"`` on the side the program wrote it (``"\\r25%"`` or
            ``"25%\\r"``, see :func:`split_lines`); the last line of a stream may have no
            ending. ``text.strip("\\r\\n")`` is the text alone.
    """

    __slots__ = ("stream", "text")

    stream: str
    text: str

    def __init__(self, stream: str, text: str) -> None:
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "text", text)

    def __repr__(self) -> str:
        return f"Line({self.stream!r}, {self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Line) and (other.stream, other.text) == (self.stream, self.text)

    def __hash__(self) -> int:
        return hash((self.stream, self.text))


def split_lines(pending: str) -> tuple[list[str], str]:
    """Split ``pending`` into complete lines (with endings) and the unfinished rest.

    A line ends at ``\\n`` (``\\r\\n`` is one ending). A ``\\r`` followed by more text
    redraws the line, and each redraw is one line, whichever side of its text the program
    puts the ``\\r``:

    * a ``\\r`` that starts a line (at the start of the output, or right after a line
      ending) stays with the text after it: ``"\\r0%\\r25%\\n"`` gives ``"\\r0%"`` and
      ``"\\r25%\\n"`` (curl, pip, dd);
    * a ``\\r`` after text ends that line, unless the line began with ``\\r``; then the
      ``\\r`` begins the next one: ``"0%\\r25%\\r\\n"`` gives ``"0%\\r"`` and ``"25%\\r\\n"``.

    A ``\\r`` at the very end stays pending: the ``\\n`` may be in the next read. The rule
    looks at nothing but the text, so the lines do not depend on how the output was read.
    """
    lines: list[str] = []
    start = 0  # where the current line begins
    at = 0  # where to look for the next ending
    last = len(pending) - 1
    nl = pending.find("\n")
    while True:
        if 0 <= nl < at:  # found once per line: many redraws before one \n stay linear
            nl = pending.find("\n", at)
        cr = pending.find("\r", at, nl if nl >= 0 else last)
        if cr < 0 or pending[cr + 1] == "\n":  # no redraw before the next \n (or \r\n)
            if nl < 0:
                return lines, pending[start:]
            lines.append(pending[start : nl + 1])
            start = at = nl + 1
        elif cr == start:  # the \r begins this line's redraw
            at = cr + 1
        elif pending[start] == "\r":  # a redraw line already: this \r begins the next one
            lines.append(pending[start:cr])
            start, at = cr, cr + 1
        else:
            lines.append(pending[start : cr + 1])
            start = at = cr + 1


class LineFeed:
    """Turns chunks of bytes from several streams into lines, delivered to ``deliver``.

    Lines are cut as :func:`split_lines` says (one line per progress redraw). A line left
    unfinished while its stream stays silent for ``idle`` seconds (a prompt, a
    progress bar) is delivered as it is, without an ending, when :meth:`flush_idle` is
    called, so no output waits indefinitely for a line end; what follows starts a new line.
    A long line that keeps arriving is not cut: the wait counts from the stream's last data.
    Pending text is kept as a list of pieces and joined once, when its line ends, so a line of
    any length costs linear time.
    """

    __slots__ = ("_decoder", "_deliver", "_idle", "_pending", "_since")

    def __init__(
        self, encoding: str, errors: str, deliver: Callable[[str, str], object], idle: float = 0.1
    ) -> None:
        self._decoder = StreamDecoder(encoding, errors)
        self._deliver = deliver
        self._idle = idle
        self._pending: dict[str, list[str]] = {}
        self._since: dict[str, float] = {}

    def feed(self, stream: str, data: bytes) -> None:
        text = self._decoder.decode(stream, data)
        if not text:
            return
        pieces = self._pending.get(stream)
        self._since[stream] = time.monotonic()
        if pieces and "\n" not in text and "\r" not in text and not pieces[-1].endswith("\r"):
            pieces.append(text)  # the same line goes on: nothing to cut yet
            return
        if pieces:
            text = "".join(pieces) + text
        lines, rest = split_lines(text)
        for line in lines:
            self._deliver(stream, line)
        if rest:
            self._pending[stream] = [rest]
        else:
            self._pending.pop(stream, None)
            self._since.pop(stream, None)

    def flush_idle(self, now: float) -> None:
        """Deliver unfinished lines that have waited ``idle`` seconds."""
        for stream, since in list(self._since.items()):
            if now - since >= self._idle:
                del self._since[stream]
                self._deliver(stream, "".join(self._pending.pop(stream)))

    def flush(self) -> None:
        """At end of output: deliver every unfinished last line."""
        for stream in {*self._pending, *self._decoder.streams}:
            rest = "".join(self._pending.pop(stream, ())) + self._decoder.decode(
                stream, b"", final=True
            )
            if rest:
                self._deliver(stream, rest)
        self._since.clear()


class StreamDecoder:
    """Decodes chunks from several streams, each with its own incremental decoder, so a
    multibyte character split across reads (or interleaved with the other stream) survives."""

    __slots__ = ("_decoders", "_errors", "_factory")

    def __init__(self, encoding: str, errors: str) -> None:
        self._factory = codecs.getincrementaldecoder(encoding)
        self._errors = errors
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}

    def decode(self, stream: str, data: bytes, final: bool = False) -> str:
        decoder = self._decoders.get(stream)
        if decoder is None:
            decoder = self._decoders[stream] = self._factory(self._errors)
        return decoder.decode(data, final)

    @property
    def streams(self) -> list[str]:
        """The streams seen so far."""
        return list(self._decoders)

    def flush(self) -> str:
        """Whatever incomplete characters are left, at end of output."""
        return "".join(d.decode(b"", True) for d in self._decoders.values())
