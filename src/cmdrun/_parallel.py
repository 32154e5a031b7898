"""Many commands at once: ``run_many`` and ``as_completed`` (the seed's ``Pool``, for commands).

Each command runs in a worker thread (starting and waiting for a process releases the GIL),
with its own timeout. Every run of a batch watches one :class:`~cmdrun._pump.CancelToken`:
``fail_fast`` and Ctrl-C cancel it, which wakes every running pump at once, so each stops its
process group by the kill policy and reaps it; commands not started yet never start.
"""

from __future__ import annotations

import contextvars
import os
import threading
import warnings
from collections.abc import Iterable, Iterator

from ._args import check_flag, check_int
from ._errors import (
    CmdrunError,
    CommandFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandTimedOut,
    ConnectionFailed,
    StartFailed,
)
from ._pipeline import Pipeline
from ._pump import MAIN_THREAD_TICK, CancelToken
from ._result import Result, applied_limit
from ._run import Prepared, prepare
from ._shield import SigintShield
from ._stdin import refuse_shared
from ._which import start_error

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from concurrent.futures import Future
    from queue import SimpleQueue
    from typing import Any

    from typing_extensions import Unpack

    from ._pipeline import Runnable
    from ._spec import BatchOptions, RunOptions

#: Exit statuses reported for a command that could not start, as a shell reports them.
NOT_FOUND = 127
NOT_EXECUTABLE = 126

#: Errors that mean the command never ran (StartFailed: the OS refused, e.g. out of fds).
#: Errors that mean a command of a batch never ran (a Result says so; nothing is raised).
START_ERRORS = (CommandNotFound, CommandNotExecutable, StartFailed, ConnectionFailed)

_warned_progress = False


def check_jobs(jobs: object) -> int:
    """``jobs`` as a positive int; None means the number of CPUs."""
    if jobs is None:
        return os.cpu_count() or 1
    return check_int(jobs, "jobs", 1, " (or None)")


def _check_flags(fail_fast: object, progress: object) -> None:
    check_flag(fail_fast, "fail_fast")
    check_flag(progress, "progress")


def prepare_all(
    cmds: Iterable[Runnable], options: BatchOptions, timeout: float | None, door: str
) -> list[Prepared]:
    """Check every command and option given to ``door`` (its name, for errors) before
    anything runs; the batch never raises for them."""
    if "check" in options:
        raise TypeError("run_many/as_completed never raise for a command's failure: use fail_fast")
    if isinstance(cmds, (str, bytes)):
        raise TypeError("cmds must be an iterable of commands, not a single command string")
    if isinstance(cmds, Pipeline):
        raise TypeError(f"cmds must be an iterable of commands, not one pipeline: [{cmds!r}]")
    refuse_shared(options.get("stdin"), door)
    each: RunOptions = {**options, "timeout": timeout, "check": False}
    return [prepare(cmd, each, door) for cmd in cmds]


class Outcome:
    """What one command of a batch did: its Result, and the error to raise for it, if any."""

    __slots__ = ("error", "index", "result")

    def __init__(self, index: int, result: Result, error: CmdrunError | None) -> None:
        self.index = index
        self.result = result
        self.error = error


def not_started(index: int, prepared: Prepared, exc: CmdrunError) -> Outcome:
    """The outcome of a command that could not start: status 127/126 (255: its host could
    not be reached, as ssh says it), the error in stderr."""
    status = NOT_FOUND if isinstance(exc, CommandNotFound) else NOT_EXECUTABLE
    if isinstance(exc, ConnectionFailed):
        status = 255
    spec = prepared.spec
    result = Result(
        spec.shown(),
        status,
        stderr_bytes=f"{exc}\n".encode(),
        timeout=spec.timeout,
        host=None if spec.remote is None else spec.remote.host,
    )
    return Outcome(index, result, exc)


def no_token(exc: OSError, prepared: Prepared) -> CmdrunError:
    """The error for a run whose cancel token (a pipe) could not be made, or ``exc`` raised."""
    error = start_error(exc, prepared.spec.args, prepared.spec.env, in_exec=False)
    if not isinstance(error, CmdrunError):
        raise error
    return error


class BatchClock:
    """The time of a batch's fakes, so that ``as_completed`` yields them in the order their
    durations make them end: a fake's duration is reported, never slept, and without this
    clock every fake of a batch would end at once, in whatever order threads ran.

    A fake waits here for its end. The clock moves only when every command running (``jobs``
    at a time, each starting as one ends, as the pool runs them) is a fake waiting for its
    end: it then jumps to the earliest end (on a tie, the command given first) and lets that
    fake end. A command that runs for real takes no time on this clock: the fakes wait for
    it. Nothing is slept, and the order depends only on the durations and ``jobs``.
    """

    __slots__ = ("_changed", "_ends", "_jobs", "_left", "_now")

    def __init__(self, jobs: int, total: int) -> None:
        self._changed = threading.Condition()
        self._jobs = jobs
        self._left = total  # commands not finished yet, running or waiting for a slot
        self._now = 0.0
        self._ends: dict[int, float] = {}  # the waiting fakes: command index -> end

    def wait(self, index: int, seconds: float) -> None:
        """Return once command ``index``, a fake taking ``seconds``, has ended."""
        with self._changed:
            self._ends[index] = self._now + seconds
            self._changed.notify_all()
            while not self._due(index):
                self._changed.wait()
            self._now = self._ends.pop(index)

    def _due(self, index: int) -> bool:
        if len(self._ends) < min(self._jobs, self._left):
            return False  # a command still runs, or one is about to start in a freed slot
        return min(self._ends, key=lambda i: (self._ends[i], i)) == index

    def finished(self) -> None:
        """One command of the batch is done (or was cancelled before it started)."""
        with self._changed:
            self._left -= 1
            self._changed.notify_all()


_batch_clock: contextvars.ContextVar[tuple[BatchClock, int] | None] = contextvars.ContextVar(
    "cmdrun_batch_clock", default=None
)


def pass_batch_time(seconds: float) -> None:
    """For fakes: wait until ``seconds`` have passed on the clock of the batch the current
    command belongs to (outside a batch: return at once)."""
    entry = _batch_clock.get()
    if entry is not None:
        entry[0].wait(entry[1], seconds)


def run_one(index: int, prepared: Prepared, clock: BatchClock | None = None) -> Outcome:
    """Run one command of a batch; a start-up error becomes a Result with status 127/126."""
    if clock is not None:  # each command runs in a context of its own
        _batch_clock.set((clock, index))
    try:
        result = prepared.run()
    except START_ERRORS as exc:
        return not_started(index, prepared, exc)
    return outcome_of(index, result)


def outcome_of(index: int, result: Result) -> Outcome:
    """The outcome of a command of a batch that ran: the error ``check`` would raise (none
    for a command the batch stopped)."""
    error: CmdrunError | None = None
    if result.timed_out:
        error = CommandTimedOut(result, applied_limit(result))
    elif not (result.ok or result.cancelled):
        error = CommandFailed(result)
    return Outcome(index, result, error)


def _unless_cancelled(
    token: CancelToken, index: int, prepared: Prepared, clock: BatchClock
) -> Outcome | None:
    """Run one command of a batch, unless the batch was cancelled before its turn (None):
    a worker may take a pending command between the cancel and the pool's shutdown."""
    if token.cancelled:
        return None
    return run_one(index, prepared, clock)


def _failed(future: Future[Outcome | None]) -> bool:
    """Whether ``future`` holds the outcome of a command that failed."""
    if future.cancelled() or future.exception() is not None:
        return False
    outcome = future.result()
    return outcome is not None and outcome.error is not None


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr, or None (with a one-time warning when tqdm is missing)."""
    global _warned_progress
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        if not _warned_progress:
            _warned_progress = True
            warnings.warn(
                "progress=True needs tqdm (pip install tqdm); running without it",
                RuntimeWarning,
                stacklevel=4,
            )
        return None
    return tqdm(total=total, unit="cmd", desc="cmdrun")


def _batch_token(batch: list[Prepared]) -> CancelToken | list[CmdrunError]:
    """The batch's cancel token or, if its pipe cannot be made, each command's error."""
    try:
        return CancelToken()
    except OSError as exc:
        return [no_token(exc, prepared) for prepared in batch]


def _finishing(
    finished: SimpleQueue[Future[Outcome | None]], count: int
) -> Iterator[Future[Outcome | None]]:
    """The ``count`` futures as they finish (each puts itself in ``finished``). The waiting
    thread wakes every ``MAIN_THREAD_TICK`` seconds, so that a Ctrl-C the kernel delivered
    to another thread is handled promptly; a batch of any size costs O(1) per command."""
    import queue

    for _ in range(count):
        while True:
            try:
                yield finished.get(timeout=MAIN_THREAD_TICK)
                break
            except queue.Empty:
                continue


def _outcomes(
    batch: list[Prepared],
    jobs: int,
    fail_fast: bool,
    progress: bool,
    *,
    cancel_on_failure: bool = False,
) -> Iterator[Outcome]:
    """Run the batch, yielding outcomes as they finish; stop everything on exit.

    ``cancel_on_failure`` is ``fail_fast`` without the raise (``cmdrun many --fail-fast``
    reports every command): the first failure cancels the batch from the worker thread that
    ran it, before that thread can take another command, so the commands running are
    stopped and yielded (``cancelled``) and the pending ones never start (never yielded).
    """
    import concurrent.futures  # imports logging: not at ``import cmdrun`` time
    from queue import SimpleQueue

    # The pool first: until a task is submitted it holds no thread and no fd, so nothing
    # leaks if the token's pipe cannot be made (out of fds).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cmdrun")
    shield = SigintShield().__enter__()  # a Ctrl-C before the try below would orphan workers
    token = _batch_token(batch)
    if not isinstance(token, CancelToken):  # out of fds: no command could start either
        shield.release()
        if fail_fast and token:
            raise token[0]
        for i, (prepared, error) in enumerate(zip(batch, token, strict=True)):
            yield not_started(i, prepared, error)
        return
    bar = None
    try:
        batch = [prepared.watching(token) for prepared in batch]
        bar = _progress_bar(len(batch), progress)
        finished: SimpleQueue[Future[Outcome | None]] = SimpleQueue()
        clock = BatchClock(jobs, len(batch))

        def done(future: Future[Outcome | None]) -> None:
            if cancel_on_failure and _failed(future):
                token.cancel()
            # Queued before the clock hears of it: a fake the clock lets end next is
            # yielded after this one.
            finished.put(future)
            clock.finished()

        for i, prepared in enumerate(batch):
            run = contextvars.copy_context().run
            future = pool.submit(run, _unless_cancelled, token, i, prepared, clock)
            future.add_done_callback(done)
        shield.release()
        for future in _finishing(finished, len(batch)):
            outcome = future.result()
            if bar is not None:
                bar.update()
            if outcome is None:
                continue
            if fail_fast and outcome.error is not None:
                token.cancel()
                raise outcome.error
            yield outcome
    finally:
        # Held again: every running group must be stopped and reaped before Ctrl-C goes on
        # (bounded by kill_grace), or workers would be left running children.
        with SigintShield():
            token.cancel()  # a no-op after a normal end; otherwise stop whatever still runs
            pool.shutdown(wait=True, cancel_futures=True)
            token.close()
            if bar is not None:
                bar.close()
        shield.release()


def run_many(
    cmds: Iterable[Runnable],
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    fail_fast: bool = False,
    progress: bool = False,
    **options: Unpack[BatchOptions],
) -> list[Result]:
    """Run many commands, at most ``jobs`` at a time; return their Results in input order.

    A failure or timeout of one command never loses the others' results: ``run_many`` does
    not raise for what commands do. A command that cannot start gets a Result with exit
    status 127 (not found) or 126 (not executable, or refused by the OS: out of fds, argument
    list too long) and the error in its stderr.

    Args:
        cmds: the commands, each as :func:`run` takes it.
        jobs: how many run at once (None: the number of CPUs).
        timeout: each command's own timeout, in seconds.
        fail_fast: on the first failure (first in time), stop the running commands, never
            start the pending ones, and raise that command's error.
        progress: show a progress bar on stderr (needs tqdm: ``pip install tqdm``).
        **options: the other keyword options of :func:`run` (not ``check``); ``stdin`` only
            as a path (opened for each command) or ``subprocess.DEVNULL``.

    Returns:
        One :class:`Result` per command, in the order of ``cmds``.

    Raises:
        CommandFailed, CommandTimedOut, CommandNotFound, CommandNotExecutable, StartFailed:
            with ``fail_fast``, the first failure.
        KeyboardInterrupt: after every running process group was stopped and reaped.
        TypeError, ValueError: bad arguments, before anything runs.
    """
    _check_flags(fail_fast, progress)
    batch = prepare_all(cmds, options, timeout, "run_many")
    results: list[Result | None] = [None] * len(batch)
    for outcome in _outcomes(batch, check_jobs(jobs), fail_fast, progress):
        results[outcome.index] = outcome.result
    return [r for r in results if r is not None]


def as_completed(
    cmds: Iterable[Runnable],
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    fail_fast: bool = False,
    progress: bool = False,
    **options: Unpack[BatchOptions],
) -> Iterator[Result]:
    """Like :func:`run_many`, but yield each Result as soon as its command finishes.

    Leaving the loop early stops the commands still running and skips the rest.

    Args:
        cmds: the commands, each as :func:`run` takes it.
        jobs: how many run at once (None: the number of CPUs).
        timeout: each command's own timeout, in seconds.
        fail_fast: on the first failure, stop the running commands, never start the
            pending ones, and raise that command's error.
        progress: show a progress bar on stderr (needs tqdm: ``pip install tqdm``).
        **options: the other keyword options of :func:`run`, as :func:`run_many` takes them.

    Yields:
        Each command's :class:`Result`, in the order the commands finish (``Result.args``
        says which command it was).

    Raises:
        CommandFailed, CommandTimedOut, CommandNotFound, CommandNotExecutable, StartFailed:
            with ``fail_fast``, the first failure.
        KeyboardInterrupt: after every running process group was stopped and reaped.
        TypeError, ValueError: bad arguments, as :func:`run_many` raises them.
    """
    _check_flags(fail_fast, progress)
    batch = prepare_all(cmds, options, timeout, "as_completed")
    return (o.result for o in _outcomes(batch, check_jobs(jobs), fail_fast, progress))
