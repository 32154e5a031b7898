"""Where a program's stdin comes from when ``stdin=`` names a source other than /dev/null.

:func:`check_stdin` sorts what a caller gave into one of four sources, checked before
anything runs:

* :class:`FromPath`: a file opened read-only at the start and handed to the child as its
  stdin (the data never passes through Python); the fd is closed once the child has it.
* :class:`FromFd`: a binary file with a real fd, or an open fd, handed over as it is.
* :class:`FromChunks`: an iterable of ``bytes``/``str`` chunks (or a binary file without
  an fd, read in chunks), written by the pump as the child reads: one chunk in memory at a
  time, interleaved with the reading of the output.
* :class:`FromAsync`: an async iterable, for ``arun``/``astream``: its :class:`Feed` fetches
  each chunk with a task of the event loop that drives the pump, which waits for it on the
  feed's wake-up fd among its other fds.

A pipeline hands its source to its first stage: it is simply that child's stdin.
"""

from __future__ import annotations

import errno
import io
import math
import os
import stat
import subprocess
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from ._frozen import Frozen

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import IO, Any, TypeAlias

#: What ``stdin=`` takes (``subprocess.DEVNULL`` or None: the program reads /dev/null).
Stdin: TypeAlias = (
    "str | os.PathLike[str] | IO[bytes] | int | Iterable[bytes | str] | "
    "AsyncIterable[bytes | str] | None"
)

#: How much a binary file without an fd is read at a time.
READ_CHUNK = 1 << 16

_ALTERNATIVES = (
    "give a path, a binary file, an iterable of bytes/str chunks or subprocess.DEVNULL; "
    "data you hold goes in with input="
)


class FromPath(Frozen):
    """A file the child reads directly, opened at the start (see :meth:`open`)."""

    __slots__ = ("path",)

    path: str

    def __init__(self, path: str) -> None:
        object.__setattr__(self, "path", path)

    def open(self) -> int:
        """A new read-only fd on the file, for one start; the caller closes it.

        Raises:
            OSError: the file cannot be opened (it names the path, as ``open()`` does).
        """
        return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)


class FromFd(Frozen):
    """An fd the caller owns, handed to the child as it is (never closed by cmdrun).

    ``file`` is the file object it came from, if any: a buffered reader may have read
    ahead, so :meth:`fd` puts a seekable fd's offset where the file object says it is.
    """

    __slots__ = ("file", "number")

    number: int
    file: IO[bytes] | None

    def __init__(self, number: int, file: IO[bytes] | None = None) -> None:
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "file", file)

    def fd(self) -> int:
        """The fd, its offset made the file object's own (what it would read next)."""
        if self.file is not None and self.file.seekable():
            os.lseek(self.number, self.file.tell(), os.SEEK_SET)
        return self.number


class Feed:
    """Chunks for the pump to write, one at a time (see ``Pump.feed``).

    :meth:`pull` returns the next non-empty chunk, None once there is no more, or ``b""``
    when the next one is not ready yet: the pump then waits for :attr:`wake_fd` to become
    readable (-1: a feed that is always ready). :meth:`close` ends it early.
    """

    wake_fd = -1

    def __init__(self, chunks: Iterable[bytes | str], encoding: str) -> None:
        self._chunks: Iterator[bytes | str] | None = iter(chunks)
        self._source = chunks
        self._encoding = encoding

    def pull(self) -> bytes | None:
        while self._chunks is not None:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.close()
                return None
            data = encode_chunk(chunk, self._encoding)
            if data:
                return data
        return None

    def close(self) -> None:
        """Close the iterator (a generator's ``finally`` runs now)."""
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "close", None)
        if chunks is not None and callable(close):
            close()


def encode_chunk(chunk: object, encoding: str) -> bytes:
    """A chunk as bytes (``str`` encoded with ``encoding``).

    Raises:
        TypeError: not bytes-like or str.
    """
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode(encoding)
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"stdin= chunks must be bytes or str, not {type(chunk).__name__}: {chunk!r}")


class FromChunks(Frozen):
    """An iterable of chunks (read once), written to the child as it reads."""

    __slots__ = ("chunks",)

    chunks: Iterable[bytes | str]

    def __init__(self, chunks: Iterable[bytes | str]) -> None:
        object.__setattr__(self, "chunks", chunks)

    def feed(self, encoding: str) -> Feed:
        return Feed(self.chunks, encoding)


class FromAsync(Frozen):
    """An async iterable of chunks, for ``arun``/``astream``: read by tasks of the loop that
    runs the call (its feed is made there, when the program starts)."""

    __slots__ = ("chunks",)

    chunks: AsyncIterable[bytes | str]

    def __init__(self, chunks: AsyncIterable[bytes | str]) -> None:
        object.__setattr__(self, "chunks", chunks)

    def feed(self, encoding: str) -> Feed:
        return _AsyncFeed(self.chunks, encoding)


Source: TypeAlias = "FromPath | FromFd | FromChunks | FromAsync"


def check_stdin(stdin: object, input: object, respond: object, tty: bool) -> Source | None:
    """The source ``stdin=`` names, or None for /dev/null (checked before anything runs).

    Raises:
        TypeError: not a source, a text file, or given with ``input=`` or ``respond=``.
        ValueError: ``subprocess.DEVNULL`` with ``input``/``respond``; any source with
            ``tty=True``; an fd that is not open.
        FileNotFoundError, PermissionError, IsADirectoryError: a path that cannot be read.
    """
    if stdin is None:
        return None
    if type(stdin) is int and stdin == subprocess.DEVNULL:
        if input is not None or respond:
            raise ValueError("stdin=subprocess.DEVNULL means no input: drop it, or input=/respond=")
        return None
    if input is not None:
        raise TypeError("stdin= and input= both give the program's input: choose one")
    if respond:
        raise TypeError(
            "stdin= and respond= both write to the program's input (respond= types its "
            "replies there): use spawn() to mix a stream of data and answers"
        )
    if tty:
        raise ValueError(
            "stdin= needs pipes: on a pseudo-terminal the input is what is typed; use "
            "tty=False (or 'auto', which then stays on pipes)"
        )
    return _source(stdin)


def _source(stdin: object) -> Source:
    if isinstance(stdin, (str, os.PathLike)):
        return FromPath(_readable(stdin))
    if isinstance(stdin, int) and not isinstance(stdin, bool):
        return FromFd(_open_fd(stdin))
    if isinstance(stdin, io.TextIOBase):
        raise TypeError(
            f"stdin={stdin!r} is a text file: give a binary one (open(path, 'rb'), "
            "sys.stdin.buffer) or its path"
        )
    if callable(getattr(stdin, "read", None)):
        return _from_file(stdin)
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        raise TypeError(f"stdin= takes a source, not the data itself: use input= ({_ALTERNATIVES})")
    if hasattr(stdin, "__aiter__") and not hasattr(stdin, "__iter__"):
        return FromAsync(stdin)
    if hasattr(stdin, "__iter__"):
        return FromChunks(stdin)
    raise TypeError(f"stdin={stdin!r} is not a source of input: {_ALTERNATIVES}")


def _readable(path: str | os.PathLike[str]) -> str:
    """``path`` as a str, once it names a readable file (not a directory)."""
    name = os.fspath(path)
    if not isinstance(name, str):
        raise TypeError(f"stdin= takes a str path, not {name!r}")
    try:
        info = os.stat(name)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            exc.errno, f"{exc.strerror} (stdin= reads this file; data goes in with input=)", name
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    if not os.access(name, os.R_OK, effective_ids=os.access in os.supports_effective_ids):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
    return name


def _open_fd(fd: int) -> int:
    if fd == subprocess.PIPE or fd < 0:
        raise TypeError(
            f"stdin={fd}: cmdrun makes the pipe itself when it writes the input: {_ALTERNATIVES}"
        )
    try:
        os.fstat(fd)
    except OSError:
        raise ValueError(f"stdin: fd {fd} is not open in this process") from None
    return fd


def _from_file(file: Any) -> Source:
    """A binary file: its fd handed over, or without a real fd, its bytes read in chunks."""
    if getattr(file, "closed", False) is True:
        raise ValueError(f"stdin={file!r} is closed")
    readable = getattr(file, "readable", None)
    if callable(readable) and not readable():
        raise ValueError(f"stdin={file!r} is not open for reading")
    try:
        fd = file.fileno()
    except (AttributeError, OSError, ValueError):  # io.BytesIO, gzip and HTTP streams
        return FromChunks(_reads(file))
    if not isinstance(fd, int):
        raise TypeError(f"stdin={file!r}: fileno() returned {fd!r}, not an fd")
    return FromFd(fd, file)


def _reads(file: Any) -> Iterator[bytes | str]:
    while chunk := file.read(READ_CHUNK):
        yield chunk


def refuse_shared(stdin: object, door: str) -> None:
    """Batches run each command with the same options: a source read once cannot serve them.

    Raises:
        TypeError: ``stdin`` is not a path, None or ``subprocess.DEVNULL``.
    """
    if stdin is None or isinstance(stdin, (str, os.PathLike)):
        return
    if type(stdin) is int and stdin == subprocess.DEVNULL:
        return
    raise TypeError(
        f"{door}() gives its options to every command, and stdin={stdin!r} can be read once "
        "only: give a path (opened for each command), or run the commands one by one"
    )


def refuse_async(source: Source | None, door: str) -> None:
    """An async iterable needs an event loop to run it on.

    Raises:
        TypeError: ``source`` is async.
    """
    if isinstance(source, FromAsync):
        raise TypeError(
            f"stdin= is an async iterable, which {door}() cannot read: use await "
            "cmdrun.arun(...), or give a plain iterable"
        )


class _AsyncFeed(Feed):
    """A :class:`Feed` over an async iterable, on the event loop that drives the pump.

    One task of that loop (asyncio or trio, see :mod:`cmdrun._aloop`) iterates the source
    for its whole life, as a plain ``async for`` would, so a generator may hold a cancel
    scope or a context across its ``yield``s. It fetches one chunk, hands it over and waits
    to be asked for the next (a byte on a pipe). Until a chunk is there, :meth:`pull`
    answers ``b""`` and the pump waits for :attr:`wake_fd`, so output keeps being read, and
    timeouts and cancellation keep working, while the source takes its time.
    """

    def __init__(self, chunks: AsyncIterable[bytes | str], encoding: str) -> None:
        from ._aloop import current

        super().__init__((), encoding)
        self._loop = current()
        self._aiter: AsyncIterator[bytes | str] | None = chunks.__aiter__()
        self._cancel: Any = None  # cancels the fetching task
        self._fetched: tuple[bool, Any] | None = None
        self.wake_fd, self._wake_write = os.pipe()
        self._ask_read, self._ask_write = os.pipe()
        for fd in (self.wake_fd, self._wake_write, self._ask_read, self._ask_write):
            os.set_blocking(fd, False)

    async def _fetch_all(self, chunks: AsyncIterator[bytes | str]) -> object:
        """The fetching task: each chunk handed over, then wait to be asked again."""
        try:
            while True:
                try:
                    chunk: object = await chunks.__anext__()
                except StopAsyncIteration:
                    chunk = _END
                self._hand_over((True, chunk))
                if chunk is _END:
                    return None
                await self._loop.wait_readable(self._ask_read, math.inf)
                _drain(self._ask_read)
        except GeneratorExit:  # this task was closed (its loop is gone): nothing may wait now
            chunks = None  # type: ignore[assignment]
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:  # its ``finally`` runs now, even when cancelled
                await self._loop.uncancellable(aclose)

    def _hand_over(self, outcome: tuple[bool, Any]) -> None:
        self._fetched = outcome
        if self._wake_write >= 0:
            try:
                os.write(self._wake_write, b"x")
            except BlockingIOError:  # already readable: enough
                pass

    def _ended(self, outcome: tuple[bool, Any]) -> None:
        if not outcome[0] and self._fetched is None:  # the source raised
            self._hand_over(outcome)

    def pull(self) -> bytes | None:
        while self._aiter is not None:
            if self._cancel is None:
                self._cancel = self._loop.start(self._fetch_all(self._aiter), self._ended)
            fetched = self._fetched
            if fetched is None:
                return b""
            self._fetched = None
            _drain(self.wake_fd)
            ok, chunk = fetched
            if not ok:
                self._aiter = None
                raise chunk  # the iterator's own exception, unchanged
            if chunk is _END:
                self._aiter = None
                return None
            os.write(self._ask_write, b"x")  # the task may fetch the next one
            data = encode_chunk(chunk, self._encoding)
            if data:
                return data
        return None

    def close(self) -> None:
        """Stop fetching: the task is cancelled and closes the async generator (its
        ``finally`` runs); a source never started is closed by a task of its own. With no
        loop running (a coroutine closed after its loop), nothing is asked of the loop."""
        from ._aloop import current

        ait, self._aiter = self._aiter, None
        cancel, self._cancel = self._cancel, None
        try:
            current()
        except RuntimeError:
            pass
        else:
            if cancel is not None:
                cancel()
            elif ait is not None and hasattr(ait, "aclose"):
                self._loop.start(ait.aclose(), _ignore)
        if self._wake_write >= 0:
            for fd in (self.wake_fd, self._wake_write, self._ask_read, self._ask_write):
                os.close(fd)
            self._wake_write = -1


def _ignore(outcome: tuple[bool, Any]) -> None:
    pass


_END = object()


async def _next_chunk(chunks: AsyncIterator[bytes | str]) -> object:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return _END


def _drain(fd: int) -> None:
    """Empty a wake-up pipe (non-blocking), so the next poll waits for the next wake-up."""
    try:
        while os.read(fd, 64):
            pass
    except BlockingIOError:
        pass
