"""The async API's runs (``arun``, ``arun_many``) and the driver every async call uses.

An async call drives the very generators the synchronous API drives (the engine's
``execution``, a session's ``_expect``, ...): they yield each wait ``(waiter, until)``, and
where the synchronous driver blocks in ``poll``, :class:`Driver` waits on the event loop for
the waiter's one fd (the pump's ``epoll`` fd, which holds the child's pipes and its pidfd).
So decoding, matching, line cutting, timeouts, the kill policy and the Result are the same
code, and no thread waits for any process. The program is started on the loop's thread, as
asyncio's own subprocess functions do.

Cancelled while it waits (``task.cancel()``, ``asyncio.timeout``, a trio cancel scope), a
driver stops the program by the kill policy and reaps it, shielded from further
cancellation, before the cancellation goes on: nothing is orphaned.
"""

from __future__ import annotations

import collections
import math
import select
import time
from collections.abc import Generator, Iterable
from typing import Generic, TypeVar

from ._aloop import Loop, current
from ._args import check_flag
from ._parallel import START_ERRORS, Outcome, check_jobs, not_started, outcome_of, prepare_all
from ._pump import FdWait, advance
from ._result import Result
from ._run import Prepared, prepare

T = TypeVar("T")  # typing costs nothing here: async code has imported it already

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Unpack

    from ._pipeline import Runnable
    from ._pump import Wait, Waiter
    from ._spec import BatchOptions, RunOptions

    #: On cancellation: given the generator and its last wait, what to drive to the end
    #: (a generator and the wait to resume it from), or None when nothing is left to stop.
    Stopper = Callable[
        [Generator[Wait, None, T], Wait], "tuple[Generator[Wait, None, T], Wait] | None"
    ]


def stop_run(
    steps: Generator[Wait, None, T], wait: Wait
) -> tuple[Generator[Wait, None, T], Wait] | None:
    """How a run stops: its pump is cancelled (the kill policy runs in its own loop, output
    still read) and the run goes on to its end; a run that waits for no pump just ends."""
    if wait is None or isinstance(wait[0], FdWait):
        steps.close()
        return None
    wait[0].cancel()
    return steps, None  # resume at once: the pump sees the cancel and starts stopping


def resume(steps: Generator[Wait, None, T], waiter: Waiter) -> Wait:
    """After the loop's wait: handle what is ready, then resume ``steps`` (an exception
    raised while handling it is thrown in, as :func:`~cmdrun._pump.advance` does)."""
    try:
        waiter.handle()
    except BaseException as exc:
        return steps.throw(exc)
    return next(steps)


class Driver(Generic[T]):
    """Drives one generator of waits on the running event loop; see the module docstring.

    ``stopper`` says what a cancellation stops (default: :func:`stop_run`).
    """

    __slots__ = ("_loop", "_steps", "_stopper", "_wait", "done", "value")

    def __init__(self, steps: Generator[Wait, None, T], stopper: Stopper[T] | None = None) -> None:
        self._loop: Loop | None = None  # found when there is something to wait for
        self._steps = steps
        self._stopper = stopper or stop_run
        self._wait: Wait = None
        self.done = False
        self.value: T | None = None

    async def run(self) -> T:
        """Drive to the end and return what the generator returns."""
        while not self.done:
            await self.step()
        return self.value  # type: ignore[return-value]

    async def step(self) -> None:
        """Wait for what the generator yielded last, then resume it once."""
        wait = self._wait
        try:
            if wait is not None:
                armed = wait[0].arm(wait[1])
                if armed is not None:
                    try:
                        await self._on_loop().wait_readable(*armed)
                    except GeneratorExit:  # the coroutine is closed: see finish_blocking
                        self.done = True
                        then = self._stopper(self._steps, self._wait)
                        if then is not None:
                            finish_blocking(*then)
                        raise
                    except BaseException:  # cancelled (or Ctrl-C under trio)
                        await self.stop()
                        raise
                    self._wait = resume(self._steps, wait[0])
                    return
            self._wait = advance(self._steps, wait)  # nothing to wait for on the loop
        except StopIteration as done:
            self.done = True
            self.value = done.value

    async def stop(self) -> None:
        """Stop what runs (kill policy) and drive to the end, shielded from cancellation."""
        if self.done:
            return
        self.done = True
        then = self._stopper(self._steps, self._wait)
        if then is not None:
            await self._on_loop().uncancellable(lambda: _to_the_end(*then))

    def _on_loop(self) -> Loop:
        """The running loop, found at the first wait: a call that never waits (a fake, a
        session already ended) needs none, not even in a coroutine being closed."""
        if self._loop is None:
            self._loop = current()
        return self._loop


def finish_blocking(steps: Generator[Wait, None, object], wait: Wait) -> None:
    """Drive ``steps`` from ``wait`` to its end here, blocking (the value is dropped).

    For a coroutine that is being closed (``GeneratorExit`` where it awaited): asyncio
    destroys a task still pending when its loop is closed, and the garbage collector then
    closes its coroutine, which can await nothing any more, nor make a task.
    """
    try:
        while True:
            wait = advance(steps, wait)
    except StopIteration:
        pass


async def _to_the_end(steps: Generator[Wait, None, object], wait: Wait) -> None:
    """Drive ``steps`` from ``wait`` to its end (the value is dropped)."""
    loop = current()
    try:
        while True:
            if wait is not None:
                armed = wait[0].arm(wait[1])
                if armed is not None:
                    await loop.wait_readable(*armed)
                    wait = resume(steps, wait[0])
                    continue
            wait = advance(steps, wait)
    except StopIteration:
        pass


async def arun(cmd: Runnable, **options: Unpack[RunOptions]) -> Result:
    """``await arun(cmd, ...)``: :func:`run` for asyncio and trio, with the same options,
    Result and errors.

    The program's pipes and exit are watched on the event loop itself: no thread waits for
    it, so thousands can run at once. Cancelling the call (``task.cancel()``,
    ``asyncio.timeout``, a trio cancel scope) stops the process group by the kill policy and
    reaps it before the cancellation goes on. ``stdin`` also takes an async iterable of
    ``bytes``/``str`` chunks, each awaited (by a task of the loop) when the program's stdin
    has room, while its output keeps being read and its timeout keeps running.

    Args:
        cmd: as for :func:`run`.
        **options: the keyword options of :func:`run`, with the same meanings and defaults;
            ``stdin`` also takes an async iterable.

    Returns:
        The :class:`Result`, as :func:`run` returns it.

    Raises:
        CommandFailed: as :func:`run` does.
        CommandTimedOut: as :func:`run` does.
        CommandNotFound: as :func:`run` does.
        CommandNotExecutable: as :func:`run` does.
        StartFailed: as :func:`run` does.
        TypeError: a bad argument, as for :func:`run`.
        ValueError: a bad argument, as for :func:`run`.
    """
    prepared = prepare(cmd, options, "arun")
    result = await Driver(prepared.execution()).run()
    return prepared.finish(result)


async def arun_many(
    cmds: Iterable[Runnable],
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    fail_fast: bool = False,
    **options: Unpack[BatchOptions],
) -> list[Result]:
    """:func:`run_many` for asyncio and trio: Results in input order, at most ``jobs`` at a
    time (default: the number of CPUs), all watched by one task on one fd.

    Args:
        cmds: the commands, each as :func:`run` takes it.
        jobs: how many run at once (None: the number of CPUs).
        timeout: each command's own timeout, in seconds.
        fail_fast: on the first failure, stop the others and raise that command's error.
        **options: the other keyword options of :func:`run`, as :func:`run_many` takes them.

    Returns:
        One :class:`Result` per command, in the order of ``cmds``.

    Raises:
        TypeError, ValueError: bad arguments, as :func:`run_many` raises them.
        CommandFailed, CommandTimedOut, CommandNotFound, CommandNotExecutable, StartFailed:
            with ``fail_fast``, the first failure (the others are stopped first).
        asyncio.CancelledError, trio.Cancelled: when cancelled, after every process group
            was stopped and reaped.
    """
    check_flag(fail_fast, "fail_fast")
    batch = prepare_all(cmds, options, timeout, "arun_many")
    return await _Batch(batch, check_jobs(jobs), fail_fast).run()


class _Entry:
    """A command of a batch that runs: its generator, its last wait, and the fd of its waiter
    registered in the batch's epoll."""

    __slots__ = ("due", "fd", "prepared", "steps", "wait", "waiter")

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.steps = prepared.execution()
        self.wait: Wait = None
        self.waiter: Waiter | None = None  # whose fd is registered
        self.fd = -1
        self.due = math.inf


class _Batch:
    """``arun_many``: every running command's waiter fd in one epoll, which the loop waits
    for; a command whose fd is ready, or whose wait has run out, is resumed."""

    def __init__(self, batch: list[Prepared], jobs: int, fail_fast: bool) -> None:
        self._pending = collections.deque(enumerate(batch))
        self._running: dict[int, _Entry] = {}
        self._results: list[Result | None] = [None] * len(batch)
        self._jobs = jobs
        self._fail_fast = fail_fast
        self._error: BaseException | None = None
        self._stopping = False
        self._loop = current()
        try:
            self._epoll: select.epoll | None = select.epoll()
        except OSError:  # out of fds: each pump is looked at every 10 ms instead
            self._epoll = None

    async def run(self) -> list[Result]:
        try:
            try:
                await self._drive()
            except GeneratorExit:  # the coroutine is closed: see finish_blocking
                self._stop_all(None)
                for entry in self._running.values():
                    finish_blocking(entry.steps, entry.wait)
                raise
            except BaseException as exc:
                self._stop_all(exc)
                await self._loop.uncancellable(self._drive)
                raise
        finally:
            if self._epoll is not None:
                self._epoll.close()
        if self._error is not None:
            raise self._error
        return [result for result in self._results if result is not None]

    def _stop_all(self, error: BaseException | None) -> None:
        """Start no more commands and stop the running ones (kill policy)."""
        if error is not None and self._error is None:
            self._error = error
        self._stopping = True
        self._pending.clear()
        for index, entry in list(self._running.items()):
            then = stop_run(entry.steps, entry.wait)
            if then is None:
                self._forget(index)
            else:
                entry.wait = then[1]

    def _ended(self, index: int, outcome: Outcome) -> None:
        self._forget(index)
        self._results[index] = outcome.result
        if outcome.error is not None and self._fail_fast and not self._stopping:
            self._stop_all(outcome.error)

    def _forget(self, index: int) -> None:
        entry = self._running.pop(index)
        if entry.fd >= 0 and self._epoll is not None:
            try:  # its pump closed the fd already (which leaves the epoll) or is about to
                self._epoll.unregister(entry.fd)
            except OSError:
                pass

    def _resume(self, index: int, entry: _Entry, after_wait: bool) -> None:
        try:
            wait = entry.wait
            if wait is None:
                entry.wait = next(entry.steps)
            elif after_wait:
                entry.wait = resume(entry.steps, wait[0])
            else:
                entry.wait = advance(entry.steps, wait)  # a waiter that never blocks
        except StopIteration as done:
            self._ended(index, outcome_of(index, done.value))
        except START_ERRORS as exc:
            self._ended(index, not_started(index, entry.prepared, exc))
        except BaseException:
            self._running.pop(index, None)
            raise

    def _start_more(self) -> None:
        while self._pending and len(self._running) < self._jobs:
            index, prepared = self._pending.popleft()
            entry = self._running[index] = _Entry(prepared)
            self._resume(index, entry, after_wait=False)  # starts the program

    def _arm(self, index: int, entry: _Entry, now: float) -> bool:
        """Register ``entry``'s fd and note when its wait runs out; False if it was resumed
        instead (nothing to wait for)."""
        wait = entry.wait
        armed = None if wait is None else wait[0].arm(wait[1])
        if wait is None or armed is None:
            self._resume(index, entry, after_wait=False)
            return False
        fd, seconds = armed
        if self._epoll is None or fd < 0:
            fd, seconds = -1, min(seconds, 0.01)  # no fd to watch: looked at every 10 ms
        elif entry.waiter is not wait[0] or entry.fd != fd:
            if entry.fd >= 0:
                try:
                    self._epoll.unregister(entry.fd)
                except OSError:  # closed with its pump
                    pass
            self._epoll.register(fd, select.EPOLLIN)
        entry.waiter, entry.fd = wait[0], fd
        entry.due = now + seconds
        return True

    async def _drive(self) -> None:
        while True:
            if not self._stopping:
                self._start_more()
            if not self._running:
                return
            now = time.monotonic()
            soonest = math.inf
            waiting = 0
            for index, entry in list(self._running.items()):
                if index in self._running and self._arm(index, entry, now):
                    waiting += 1
                    soonest = min(soonest, entry.due)
            if not waiting:
                await self._loop.checkpoint()
                continue
            epoll = self._epoll
            await self._loop.wait_readable(
                -1 if epoll is None else epoll.fileno(), max(0.0, soonest - now)
            )
            ready = set() if epoll is None else {fd for fd, _ in epoll.poll(0)}
            now = time.monotonic()
            for index, entry in list(self._running.items()):
                if entry.waiter is not None and (entry.fd in ready or entry.due <= now):
                    self._resume(index, entry, after_wait=True)
