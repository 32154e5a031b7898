"""The event loop under an async call: asyncio or trio, found when the call is made.

cmdrun's async API asks four things of a loop, and this module is the only place that
knows either loop's API for them:

* wait until one fd is readable, or a time has passed (:meth:`Loop.wait_readable`): a run
  or a session waits on its pump's one ``epoll`` fd, so no thread waits for any process;
* finish a clean-up that cancellation cannot interrupt (:meth:`Loop.uncancellable`): a
  cancelled call stops and reaps its process group before the cancellation goes on;
* start a task that fetches the next chunk of an async ``stdin=`` source while the pump
  keeps reading the output (:meth:`Loop.start`);
* yield to the loop (:meth:`Loop.checkpoint`).

Each is a few lines on each loop, so cmdrun depends on neither anyio nor sniffio. Under
anyio, its asyncio and trio backends are these same loops, and a shielded anyio cancel scope
is honoured on asyncio too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable, Coroutine

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Protocol, TypeVar

    T = TypeVar("T")
else:
    Protocol = object  # a plain base at run time; type checkers see typing's


class Loop(Protocol):
    """The four things cmdrun needs of an event loop (see the module docstring)."""

    name: str

    async def wait_readable(self, fd: int, seconds: float) -> None:
        """Return once ``fd`` is readable or ``seconds`` (``inf``: no limit) have passed
        (with ``fd`` -1: once they have passed)."""
        ...

    async def uncancellable(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` to its end, even if the calling task is cancelled meanwhile."""
        ...

    def start(
        self, work: Coroutine[Any, Any, Any], done: Callable[[tuple[bool, Any]], object]
    ) -> Callable[[], object]:
        """Run ``work`` as a task of its own; ``done`` gets its outcome. Returns a function
        that cancels it (its ``done`` then gets the cancellation)."""
        ...

    async def checkpoint(self) -> None:
        """Let the loop run other tasks (and deliver a pending cancellation)."""
        ...


class _Asyncio:
    name = "asyncio"

    async def wait_readable(self, fd: int, seconds: float) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        if seconds <= 0 or fd < 0:
            await asyncio.sleep(max(0.0, seconds))
            return
        woken = loop.create_future()
        loop.add_reader(fd, _wake, woken)
        timer = None if math.isinf(seconds) else loop.call_later(seconds, _wake, woken)
        try:
            await woken
        finally:
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()

    async def uncancellable(self, work: Callable[[], Awaitable[T]]) -> T:
        import asyncio

        # Its own task, which nothing can cancel: asyncio.run() cancels every task left
        # when its main task ends, and waits for them; this one then finishes its clean-up.
        task: asyncio.Future[T] = _uncancellable_task()(work(), loop=asyncio.get_running_loop())
        anyio = sys.modules.get("anyio")
        # anyio's cancel scopes cancel a task again at every turn of the loop until it
        # leaves the scope: a shielded anyio scope stops that (else this loop would spin).
        shield = None if anyio is None else anyio.CancelScope(shield=True)
        if shield is not None:
            shield.__enter__()
        try:
            while True:
                try:
                    return await asyncio.shield(task)
                except asyncio.CancelledError:
                    if task.done():
                        return task.result()
                    # cancelled again while cleaning up: the clean-up comes first
        finally:
            if shield is not None:
                shield.__exit__(None, None, None)

    def start(
        self, work: Coroutine[Any, Any, Any], done: Callable[[tuple[bool, Any]], object]
    ) -> Callable[[], object]:
        import asyncio

        def finished(task: asyncio.Task[Any]) -> None:
            if task.cancelled():
                done((False, asyncio.CancelledError()))
            elif task.exception() is not None:
                done((False, task.exception()))
            else:
                done((True, task.result()))

        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(finished)
        return task.cancel

    async def checkpoint(self) -> None:
        import asyncio

        await asyncio.sleep(0)


def _uncancellable_task() -> Any:
    """The class of a task that ignores ``cancel()`` (made on first use: asyncio is lazy)."""
    global _UNCANCELLABLE_TASK
    if _UNCANCELLABLE_TASK is None:
        import asyncio

        class UncancellableTask(asyncio.Task):  # type: ignore[type-arg]
            def cancel(self, msg: Any = None) -> bool:
                return False

        _UNCANCELLABLE_TASK = UncancellableTask
    return _UNCANCELLABLE_TASK


_UNCANCELLABLE_TASK: Any = None


def _wake(future: Any) -> None:
    if not future.done():
        future.set_result(None)


class _Trio:
    name = "trio"

    async def wait_readable(self, fd: int, seconds: float) -> None:
        import trio

        if fd < 0:
            await trio.sleep(max(0.0, seconds))
            return
        with trio.move_on_after(max(0.0, seconds)):
            await trio.lowlevel.wait_readable(fd)

    async def uncancellable(self, work: Callable[[], Awaitable[T]]) -> T:
        import trio

        with trio.CancelScope(shield=True):
            return await work()
        raise AssertionError("a shielded scope lets no cancellation in")  # for type checkers

    def start(
        self, work: Coroutine[Any, Any, Any], done: Callable[[tuple[bool, Any]], object]
    ) -> Callable[[], object]:
        import trio

        scope = trio.CancelScope()

        async def run() -> None:
            outcome: tuple[bool, Any]
            with scope:
                try:
                    outcome = (True, await work)
                except BaseException as exc:  # handed to ``done``: a system task must not raise
                    outcome = (False, exc)
            if scope.cancelled_caught or (not outcome[0] and scope.cancel_called):
                outcome = (False, _TrioCancelled())
            done(outcome)

        # A system task: no nursery needed, and it lives as long as the run does at most.
        trio.lowlevel.spawn_system_task(run)
        return scope.cancel

    async def checkpoint(self) -> None:
        import trio

        await trio.lowlevel.checkpoint()


class _TrioCancelled(Exception):
    """A started task was cancelled (trio's own Cancelled cannot be made by hand)."""


_ASYNCIO = _Asyncio()
_TRIO = _Trio()


def current() -> Loop:
    """The loop running the calling task.

    Raises:
        RuntimeError: no asyncio or trio loop runs in this thread.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return _ASYNCIO
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            return _TRIO
    raise RuntimeError(
        "cmdrun's async functions must be awaited in a task of a running asyncio or trio "
        "event loop (no loop runs in this thread)"
    )
