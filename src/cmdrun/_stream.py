"""``stream``: iterate over a command's output lines as they arrive."""

from __future__ import annotations

import collections
from collections.abc import Generator, Iterator
from types import TracebackType

from ._output import Line
from ._pump import advance
from ._result import Result
from ._run import Prepared, prepare

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._pipeline import Runnable
    from ._pump import Wait
    from ._spec import RunOptions


class Stream:
    """The lines of a running command, as they arrive; returned by :func:`stream`, not built
    by hand.

    Iterate over it (once) for :class:`Line` objects; ``result`` holds the :class:`Result`
    once the output has ended. Leaving the loop early, or the ``with`` block, stops the
    command's process group (kill policy) and reaps it.

    The iteration raises what :func:`run` raises, when :func:`run` would: the start errors
    (``CommandNotFound``, ``CommandNotExecutable``, ``StartFailed``) at the first line asked
    for; with ``check``, ``CommandFailed`` or ``CommandTimedOut`` after the last line.

    Attributes:
        result: the command's :class:`Result` once the output has ended, else None.
    """

    def __init__(self, prepared: Prepared) -> None:
        self._prepared = prepared
        self._lines: collections.deque[Line] = collections.deque()
        self._steps: Generator[Wait, None, Result] | None = None
        self._iterator: Generator[Line, None, None] | None = None
        self.result: Result | None = None

    def _deliver(self, stream: str, text: str) -> None:
        self._lines.append(Line(stream, text))

    def __iter__(self) -> Iterator[Line]:
        if self._iterator is None:
            self._iterator = self._lines_until_end()
        return self._iterator

    def _lines_until_end(self) -> Generator[Line, None, None]:
        steps = self._steps = self._prepared.execution(self._deliver)
        wait: Wait = None
        while True:  # relay the lines delivered at each step of the run (or runs)
            try:
                wait = advance(steps, wait)
            except StopIteration as done:
                result: Result = done.value
                break
            while self._lines:
                yield self._lines.popleft()
        while self._lines:
            yield self._lines.popleft()
        self.result = result
        self._prepared.finish(result)

    def close(self) -> None:
        """Stop the command if it is still running, and reap it."""
        if self._iterator is not None:
            self._iterator.close()
        if self._steps is not None:
            self._steps.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def stream(cmd: Runnable, **options: Unpack[RunOptions]) -> Stream:
    """Run a command and iterate over its output lines as they arrive.

    Each :class:`Line` has ``stream`` (``"stdout"`` or ``"stderr"``) and ``text`` (with its
    line ending, as ``on_stdout`` gets it). A line ends at ``\\n``, and each redraw of a
    progress line (``\\r`` before or after its text) is a line of its own; text left
    without an ending for 0.1 s (a prompt, a progress bar) is delivered as it is, so no
    output waits indefinitely.

    Args:
        cmd: as for :func:`run`.
        **options: the keyword options of :func:`run`. With ``check`` (the default), the loop
            ends by raising ``CommandFailed``/``CommandTimedOut`` if the command failed.
            ``stdin`` as for :func:`run`: a path, a file, or chunks written as the program
            reads them while its lines come out.

    Returns:
        A :class:`Stream`: iterate over it; use it as a context manager to be sure the
        command is stopped when the block is left.

    Raises:
        TypeError: a bad argument, raised here, before anything runs (as for :func:`run`).
        ValueError: a bad argument, raised here, before anything runs (as for :func:`run`).
    """
    return Stream(prepare(cmd, options, "stream"))
