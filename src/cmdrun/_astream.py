"""``astream``: a command's output lines as they arrive, in async code (asyncio or trio)."""

from __future__ import annotations

import collections
from types import TracebackType

from ._aio import Driver
from ._output import Line
from ._result import Result
from ._run import Prepared, prepare

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._pipeline import Runnable
    from ._spec import RunOptions


class AsyncStream:
    """The lines of a running command, for ``async for``; returned by :func:`astream`, not
    built by hand.

    Leaving the ``async with`` block early, or :meth:`aclose`, stops the command's process
    group (kill policy) and reaps it; so does cancelling the task that iterates.

    Attributes:
        result: the command's :class:`Result` once the output has ended, else None.
    """

    __slots__ = ("_driver", "_lines", "_prepared", "result")

    def __init__(self, prepared: Prepared) -> None:
        self._prepared = prepared
        self._lines: collections.deque[Line] = collections.deque()
        self._driver: Driver[Result] | None = None
        self.result: Result | None = None

    def _deliver(self, stream: str, text: str) -> None:
        self._lines.append(Line(stream, text))

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Line:
        if self._driver is None:  # the program starts with the first line asked for
            self._driver = Driver(self._prepared.execution(self._deliver))
        driver = self._driver
        while not self._lines:
            if driver.done:
                if self.result is None and driver.value is not None:
                    self.result = driver.value
                    self._prepared.finish(driver.value)  # check: raise for a failure
                raise StopAsyncIteration
            await driver.step()
        return self._lines.popleft()

    async def aclose(self) -> None:
        """Stop the command if it is still running, and reap it."""
        if self._driver is not None:
            await self._driver.stop()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def astream(cmd: Runnable, **options: Unpack[RunOptions]) -> AsyncStream:
    """Run a command and iterate over its output lines as they arrive, in async code::

        async with cmdrun.astream(["make"]) as lines:
            async for line in lines:
                print(line.stream, line.text, end="")
        print(lines.result.returncode)

    The same lines, options and errors as :func:`stream`: with ``check`` (the default) the
    loop ends by raising ``CommandFailed``/``CommandTimedOut`` for a failure. The program
    starts when the first line is asked for; no thread waits for it.

    Args:
        cmd: as for :func:`run`.
        **options: the keyword options of :func:`run`, as :func:`stream` takes them;
            ``stdin`` also takes an async iterable.

    Returns:
        An :class:`AsyncStream`: iterate over it with ``async for``, inside ``async with``
        to be sure the command is stopped when the block is left.

    Raises:
        TypeError: a bad argument, raised here, before anything runs (as for :func:`run`).
        ValueError: a bad argument, raised here, before anything runs (as for :func:`run`).
    """
    return AsyncStream(prepare(cmd, options, "astream"))
