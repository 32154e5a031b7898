"""The asyncio API: ``arun`` and ``arun_many``, mirrors of ``run`` and ``run_many``.

An asyncio run is the synchronous engine in a worker thread, so the two APIs share every
line of process handling: the same Result, errors, timeouts and kill policy. Cancelling the
awaiting task cancels the run's token, which wakes its pump at once; the task then waits
(shielded from further cancellation) until the process group is stopped and reaped, and
re-raises ``CancelledError``. Nothing is orphaned.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._args import check_flag
from ._parallel import (
    START_ERRORS,
    Outcome,
    check_jobs,
    no_token,
    not_started,
    prepare_all,
    run_one,
)
from ._pump import CancelToken
from ._result import Result
from ._run import Prepared, prepare
from ._stdin import FromAsync

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._pipeline import Runnable
    from ._spec import BatchOptions, RunOptions

# Waiting for a child blocks a thread, so asyncio runs need more threads than the default
# executor has (min(32, CPUs + 4)); idle threads are reused and cost little.
_executor: concurrent.futures.ThreadPoolExecutor | None = None


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=512, thread_name_prefix="cmdrun-aio"
        )
    return _executor


def _forget_executor() -> None:
    """In a fork child: the parent's worker threads do not exist here, and a pool that
    believes it has idle workers would queue every run forever."""
    global _executor
    _executor = None


os.register_at_fork(after_in_child=_forget_executor)


async def _in_thread(prepared: Prepared, index: int = 0) -> Outcome:
    """Run ``prepared`` in a worker thread; on cancellation stop it, wait, and re-raise."""
    try:
        token = CancelToken()
    except OSError as exc:  # out of fds: the command could not have started either
        return not_started(index, prepared, no_token(exc, prepared))
    prepared = prepared.watching(token)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    future = loop.run_in_executor(_get_executor(), context.run, run_one, index, prepared)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.cancel()
        while not future.done():  # the group is being stopped: do not orphan it
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                continue
            except Exception:
                break
        raise
    finally:
        if future.done():
            token.close()
        else:  # only when the loop itself is going away: let the thread close the token
            future.add_done_callback(lambda _: token.close())


async def arun(cmd: Runnable, **options: Unpack[RunOptions]) -> Result:
    """``await arun(cmd, ...)``: :func:`run` for asyncio, with the same options and errors.

    Cancelling the task (``task.cancel()``, ``asyncio.timeout``) stops the process group,
    reaps it and re-raises ``CancelledError``. ``stdin`` also takes an async iterable of
    ``bytes``/``str`` chunks: each chunk is awaited on this loop when the program's stdin
    has room, while its output keeps being read and its timeout keeps running.

    Raises:
        CommandFailed, CommandTimedOut, CommandNotFound, CommandNotExecutable, StartFailed,
        TypeError, ValueError: as :func:`run` does.
    """
    prepared = prepare(cmd, options, "arun")
    if isinstance(prepared.spec.stdin, FromAsync):  # read on this loop, fed from the thread
        spec = prepared.spec.replace(stdin=prepared.spec.stdin.on(asyncio.get_running_loop()))
        prepared = Prepared(spec, prepared.check, prepared.auto_tty)
    outcome = await _in_thread(prepared)
    error = outcome.error
    if error is not None and (prepared.check or isinstance(error, START_ERRORS)):
        raise error  # a start-up error is raised whatever ``check`` says, as run() does
    return outcome.result


async def arun_many(
    cmds: Iterable[Runnable],
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    fail_fast: bool = False,
    **options: Unpack[BatchOptions],
) -> list[Result]:
    """:func:`run_many` for asyncio: Results in input order, at most ``jobs`` at a time.

    Raises:
        CommandFailed, CommandTimedOut, CommandNotFound, CommandNotExecutable, StartFailed:
            with ``fail_fast``, the first failure (the others are stopped first).
        asyncio.CancelledError: when cancelled, after every process group was stopped.
    """
    check_flag(fail_fast, "fail_fast")
    batch = prepare_all(cmds, options, timeout, "arun_many")
    limit = asyncio.Semaphore(check_jobs(jobs))

    async def one(index: int, prepared: Prepared) -> Outcome:
        async with limit:
            return await _in_thread(prepared, index)

    tasks = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(batch)]
    results: list[Result | None] = [None] * len(tasks)
    try:
        for next_done in asyncio.as_completed(tasks):
            outcome = await next_done
            if fail_fast and outcome.error is not None:
                raise outcome.error
            results[outcome.index] = outcome.result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [r for r in results if r is not None]
