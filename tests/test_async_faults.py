"""Fault hunting in the async API: cancellation at every awkward moment, on asyncio and trio.

Whatever cancels an async call (``task.cancel()``, ``asyncio.timeout``, ``wait_for``, a trio
or anyio cancel scope, a failing sibling, Ctrl-C, the end of ``asyncio.run``), the program's
process group is stopped by the kill policy and reaped before the cancellation goes on: no
process, zombie or fd is left, and the clean-up neither spins nor blocks the loop. Also: a
callback or ``stdin=`` source that raises, 500 sessions at once, no fds left, sessions and
calls left behind by their loop. Every ``@pytest.mark.anyio`` test runs on both loops; a few
run a loop of their own (asyncio's ``TaskGroup``, ``wait_for``, a real parent process pressed
with Ctrl-C, a loop closed under a pending call).
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

import cmdrun
import leakcheck
from children import ignore_and_hang, own_children, pids_in, py, tree

GRACE = 0.3  # kill_grace of programs that ignore SIGTERM: short, so the file runs fast
PIDS_LINE = re.compile(r"pids[ \d]+\r?\n")


@pytest.fixture(scope="module")
def _warm() -> None:
    """Open what cmdrun opens once per process (the cached ``/dev/null``) before any check."""
    cmdrun.run(["true"])
    cmdrun.run(["true"], tty=True)


@pytest.fixture(autouse=True)
def no_leaks(_warm: None) -> Iterator[None]:
    """No test may leave an fd, a child process or a zombie behind."""
    before = leakcheck.snapshot()
    yield
    leakcheck.assert_no_leaks(before, threads=False)


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Pids the test's programs printed: all must be gone after the test."""
    printed: list[int] = []
    yield printed
    leakcheck.assert_gone(printed)


def sh_tree(pidfile: pathlib.Path) -> list[str]:
    """``sh -c 'sleep 30 & sleep 30'`` (the background sleep holds the pipes), each pid
    appended to ``pidfile`` first."""
    return [
        "sh",
        "-c",
        f'echo $$ >> "{pidfile}"; sleep 30 & echo $! >> "{pidfile}"; sleep 30',
    ]


async def pids_written(pidfile: pathlib.Path, count: int) -> list[int]:
    """The pids in ``pidfile`` once it holds ``count`` of them (at most 10 s)."""
    with anyio.fail_after(10):
        while True:
            text = pidfile.read_text() if pidfile.exists() else ""
            found = [int(p) for p in text.split()]
            if len(found) >= count:
                return found
            await anyio.sleep(0.01)


def printer() -> list[str]:
    """Print numbered lines forever (flushed, 100 a second), after a ``pids`` line with
    two sleeping children that hold the pipes too."""
    return py(
        """
        import subprocess, time
        kids = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
        print("pids", *[k.pid for k in kids], flush=True)
        i = 0
        while True:
            print("line", i, flush=True)
            i += 1
            time.sleep(0.01)
        """
    )


async def cancel_when(ready: anyio.Event, work: Callable[[], Awaitable[object]]) -> float:
    """Run ``work()``, cancel it once ``ready`` is set; return the seconds from the
    cancellation to the moment it reached here (``work`` must not end by itself)."""
    cancelled_at = math.inf
    async with anyio.create_task_group() as tg:

        async def cancel() -> None:
            nonlocal cancelled_at
            await ready.wait()
            cancelled_at = time.monotonic()
            tg.cancel_scope.cancel()

        tg.start_soon(cancel)
        await work()
        pytest.fail("the work ended by itself")
    return time.monotonic() - cancelled_at


class Typed:
    """A session observer that keeps what was typed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def output(self, stream: str, data: bytes) -> None:
        pass

    def typed(self, text: str, secret: bool) -> None:
        self.texts.append(text)

    def finished(self, result: cmdrun.Result) -> None:
        pass


# -- cancellation of each kind of call --------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
async def test_cancelled_expect_stops_and_reaps_the_session(tty: bool, pids: list[int]) -> None:
    async with cmdrun.aspawn(tree(2), tty=tty, kill_grace=GRACE) as s:
        pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
        with anyio.move_on_after(0.2) as scope:
            await s.expect("never printed")
        assert scope.cancelled_caught
        assert not s.alive  # stopped and reaped before the cancellation went on
        assert not leakcheck.survivors(pids, within=0)
        with pytest.raises(cmdrun.SessionClosed):
            await s.sendline("more")


@pytest.mark.anyio
async def test_consumer_cancelled_while_waiting_for_a_line(pids: list[int]) -> None:
    got = []
    with anyio.CancelScope() as scope:
        async with cmdrun.astream(printer()) as lines:
            async for line in lines:
                if line.text.startswith("pids"):
                    pids.extend(pids_in(line.text))
                    scope.deadline = anyio.current_time() + 0.2  # while lines keep coming
                got.append(line.text)
    assert scope.cancelled_caught
    assert len(got) > 2
    assert not leakcheck.survivors(pids, within=0)


@pytest.mark.anyio
async def test_consumer_cancelled_in_its_own_await_between_lines(pids: list[int]) -> None:
    with anyio.CancelScope() as scope:
        async with cmdrun.astream(printer(), kill_grace=GRACE) as lines:
            async for line in lines:
                if line.text.startswith("pids"):
                    pids.extend(pids_in(line.text))
                    scope.deadline = anyio.current_time() + 0.1
                    await anyio.sleep(30)  # cancelled here, not in cmdrun: __aexit__ stops it
    assert scope.cancelled_caught
    assert lines.result is None
    assert not leakcheck.survivors(pids, within=0)


@pytest.mark.anyio
async def test_cancelled_arun_of_a_tree_holding_the_pipes(tmp_path: pathlib.Path) -> None:
    pidfile = tmp_path / "pids"
    started = time.monotonic()
    async with anyio.create_task_group() as tg:

        async def cancel_when_started() -> None:
            await pids_written(pidfile, 2)
            tg.cancel_scope.cancel()

        tg.start_soon(cancel_when_started)
        await cmdrun.arun(sh_tree(pidfile), kill_grace=GRACE)
    assert time.monotonic() - started < 10  # not the 30 s the grandchild holds the pipes
    leakcheck.assert_gone(await pids_written(pidfile, 2), within=0)


@pytest.mark.anyio
async def test_cancelled_arun_honours_kill_grace_of_a_child_deaf_to_sigterm(
    pids: list[int],
) -> None:
    ready = anyio.Event()

    def heard(line: str) -> None:
        pids.extend(pids_in(line))
        ready.set()

    async def work() -> None:
        await cmdrun.arun(ignore_and_hang(signal.SIGTERM), kill_grace=GRACE, on_stdout=heard)

    took = await cancel_when(ready, work)
    assert GRACE * 0.9 <= took < GRACE + 3  # SIGKILL after the grace, not 60 s later
    assert not leakcheck.survivors(pids, within=0)


@pytest.mark.anyio
async def test_cancelled_arun_many_stops_every_group(tmp_path: pathlib.Path) -> None:
    files = [tmp_path / f"pids{i}" for i in range(4)]
    async with anyio.create_task_group() as tg:

        async def cancel_when_started() -> None:
            for f in files:
                await pids_written(f, 2)
            tg.cancel_scope.cancel()

        tg.start_soon(cancel_when_started)
        await cmdrun.arun_many([sh_tree(f) for f in files], jobs=4, kill_grace=GRACE)
    for f in files:
        leakcheck.assert_gone(await pids_written(f, 2), within=0)


@pytest.mark.anyio
async def test_cancelled_wait_stops_the_session_and_is_no_timeout(pids: list[int]) -> None:
    s = await cmdrun.aspawn(tree(2), tty=False, kill_grace=GRACE)
    pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
    with anyio.move_on_after(0.2) as scope:
        await s.wait()  # the cancellation goes on: no CommandTimedOut "after 30 s"
    assert scope.cancelled_caught
    assert not s.alive
    assert not leakcheck.survivors(pids, within=0)
    result = await s.aclose()
    assert result.returncode == -signal.SIGTERM
    assert not result.timed_out


@pytest.mark.anyio
async def test_cancelled_aclose_still_finishes_the_kill_policy(pids: list[int]) -> None:
    s = await cmdrun.aspawn(ignore_and_hang(signal.SIGTERM), tty=False, kill_grace=GRACE)
    pids.extend(pids_in((await s.expect(PIDS_LINE)).text))
    started = time.monotonic()
    with anyio.move_on_after(0.05) as scope:
        await s.aclose()
    took = time.monotonic() - started
    assert scope.cancelled_caught
    assert GRACE * 0.9 <= took < GRACE + 3  # the grace ran out, SIGKILL, reaped: then raised
    assert not s.alive
    assert (await s.aclose()).returncode == -signal.SIGKILL


@pytest.mark.anyio
async def test_cancelled_while_a_secret_waits_for_echo_off(pids: list[int]) -> None:
    # cat on a terminal never turns echo off: the Secret waits SECRET_ECHO_WAIT (2 s)
    typed = Typed()
    async with cmdrun.aspawn(["cat"], tty=True, kill_grace=GRACE) as s:
        pids.append(s.pid)
        s.observe(typed)
        with anyio.move_on_after(0.2) as scope:
            await s.sendline(cmdrun.Secret("hunter2"))
        assert scope.cancelled_caught
        assert not s.alive
    assert typed.texts == []  # never typed after all


@pytest.mark.anyio
async def test_cancelled_while_an_async_stdin_source_awaits_its_next_chunk(
    pids: list[int],
) -> None:
    events: list[str] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"first\n"
            events.append("waiting")
            await anyio.sleep(30)
            yield b"never\n"
        finally:
            events.append("finally")

    ready = anyio.Event()

    def heard(line: str) -> None:
        ready.set()

    async def work() -> None:
        await cmdrun.arun(["cat"], stdin=source(), on_stdout=heard, kill_grace=GRACE)

    await cancel_when(ready, work)
    for _ in range(10):  # the fetch task gets the cancellation on its next turn
        if "finally" in events:
            break
        await anyio.sleep(0.01)
    assert events == ["waiting", "finally"]


@pytest.mark.anyio
async def test_cancelled_while_a_secret_input_waits_at_start() -> None:
    # aspawn's own input= Secret waits (up to 2 s) for echo off before aspawn returns
    kids = own_children()
    with anyio.move_on_after(0.2) as scope:
        async with cmdrun.aspawn(["cat"], tty=True, input=cmdrun.Secret("pw")):
            pytest.fail("aspawn returned before the Secret was typed")
    assert scope.cancelled_caught
    assert own_children() == kids


@pytest.mark.anyio
async def test_call_made_in_an_already_cancelled_scope_leaves_nothing(
    tmp_path: pathlib.Path,
) -> None:
    pidfile = tmp_path / "pids"
    kids = own_children()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await cmdrun.arun(sh_tree(pidfile), kill_grace=GRACE)
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with cmdrun.aspawn(sh_tree(pidfile), tty=False, kill_grace=GRACE) as s:
            await s.expect("never printed")
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with cmdrun.astream(sh_tree(pidfile), kill_grace=GRACE) as lines:
            async for _ in lines:
                pass
    assert own_children() == kids
    written = pidfile.read_text().split() if pidfile.exists() else []
    leakcheck.assert_gone([int(p) for p in written], within=0)


# -- failures while the loop drives a run -----------------------------------------------------


class CallbackBroke(Exception):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("fails", ["on_stdout", "stdin source"])
async def test_a_failing_callback_or_source_stops_the_program_without_blocking_the_loop(
    fails: str, pids: list[int]
) -> None:
    # The program is deaf to SIGTERM: the kill policy waits out the grace, on the loop.
    grace = 1.5
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    def heard(line: str) -> None:
        pids.extend(pids_in(line))
        if fails == "on_stdout":
            raise CallbackBroke("the callback failed")

    async def source() -> AsyncIterator[bytes]:
        while not pids:
            await anyio.sleep(0.01)
        raise CallbackBroke("the source failed")
        yield b""  # an async generator

    options: dict[str, Any] = {"kill_grace": grace, "on_stdout": heard}
    if fails == "stdin source":
        options["stdin"] = source()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        started = time.monotonic()
        with pytest.raises(CallbackBroke):
            await cmdrun.arun(ignore_and_hang(signal.SIGTERM), **options)
        took = time.monotonic() - started
        await anyio.sleep(0.05)  # the ticker's turn after the call
        tg.cancel_scope.cancel()
    assert took >= grace * 0.9
    assert not leakcheck.survivors(pids, within=0)
    assert max(gaps) < grace * 0.6  # the loop ran on meanwhile


# -- cancellation delivered again and again ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["move_on_after", "cancel scope"])
async def test_repeated_cancellation_neither_cuts_the_clean_up_nor_spins(
    how: str, pids: list[int]
) -> None:
    # anyio's scopes on asyncio cancel the task again at every turn of the loop until it
    # leaves the scope: the clean-up (1 s of grace) must still run to its end, and wait.
    grace = 1.0
    s = await cmdrun.aspawn(ignore_and_hang(signal.SIGTERM), tty=False, kill_grace=grace)
    pids.extend(pids_in((await s.expect(PIDS_LINE)).text))
    cpu, started = time.process_time(), time.monotonic()
    if how == "move_on_after":
        with anyio.move_on_after(0.05):
            await s.expect("never printed")
    else:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_soon, scope)
                await s.expect("never printed")
    took, cpu = time.monotonic() - started, time.process_time() - cpu
    assert grace * 0.9 <= took < grace + 3
    assert cpu < 0.5 * took  # waiting, not spinning
    assert not s.alive
    assert (await s.aclose()).returncode == -signal.SIGKILL


async def _cancel_soon(scope: anyio.CancelScope) -> None:
    await anyio.sleep(0.05)
    scope.cancel()


@pytest.mark.anyio
async def test_repeated_cancellation_of_arun_many(tmp_path: pathlib.Path) -> None:
    grace = 1.0
    cmds = [ignore_and_hang(signal.SIGTERM) for _ in range(3)]
    printed: list[str] = []
    scope = anyio.CancelScope()
    cancel_at = math.inf

    def heard(line: str) -> None:
        nonlocal cancel_at
        printed.append(line)
        if len(printed) == 3:  # all three are deaf to SIGTERM now
            scope.deadline = anyio.current_time() + 0.05
            cancel_at = time.monotonic() + 0.05

    cpu, started = time.process_time(), time.monotonic()
    with scope:
        await cmdrun.arun_many(cmds, jobs=3, kill_grace=grace, on_stdout=heard)
    now = time.monotonic()
    assert len(printed) == 3
    assert grace * 0.9 <= now - cancel_at < grace + 3
    assert time.process_time() - cpu < 0.5 * (now - started)
    leakcheck.assert_gone([p for line in printed for p in pids_in(line)], within=0)


def test_plain_asyncio_cancelled_again_and_again_during_the_grace() -> None:
    # Without anyio in the process (cmdrun then shields with asyncio alone): a task
    # cancelled every 10 ms while the kill policy waits out the grace still reaps, then
    # ends cancelled, without spinning.
    code = """
import asyncio, json, signal, sys, time, cmdrun
pids = []
CHILD = [sys.executable, "-c", "import os, signal, time; "
         "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True); "
         "time.sleep(60)"]

async def main():
    task = asyncio.create_task(cmdrun.arun(CHILD, kill_grace=1.0, on_stdout=pids.append))
    while not pids:
        await asyncio.sleep(0.01)
    cpu, started = time.process_time(), time.monotonic()
    cancels = 0
    while not task.done():
        task.cancel()
        cancels += 1
        await asyncio.sleep(0.01)
    took, cpu = time.monotonic() - started, time.process_time() - cpu
    print(json.dumps({"cancelled": task.cancelled(), "took": took, "cpu": cpu, "cancels": cancels,
                      "pid": int(pids[0]), "anyio": "anyio" in sys.modules}))

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cancelled"]
    assert not report["anyio"]
    assert 0.9 <= report["took"] < 4
    assert report["cancels"] > 5
    assert report["cpu"] < 0.5 * report["took"]
    leakcheck.assert_gone([report["pid"]], within=0)


# -- asyncio's and trio's own ways to cancel --------------------------------------------------


def _deaf(pids: list[int], grace: float = GRACE) -> tuple[list[str], dict[str, object]]:
    """A program deaf to SIGTERM and the arun options that note its pid in ``pids`` (it
    prints it once it ignores SIGTERM)."""
    return ignore_and_hang(signal.SIGTERM), {
        "kill_grace": grace,
        "on_stdout": lambda line: pids.extend(pids_in(line)),
    }


def _group_holds(call: Callable[[], object], kind: type[BaseException]) -> bool:
    """Whether ``call()`` raises an exception group holding a ``kind`` (ExceptionGroup is
    a builtin from Python 3.11 only: trio raises a backport's before)."""
    try:
        call()
    except BaseException as exc:  # an exception group: inspected
        return any(isinstance(inner, kind) for inner in getattr(exc, "exceptions", ()))
    return False


async def _until(pids: list[int]) -> None:
    while not pids:
        await asyncio.sleep(0.01)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_asyncio_taskgroup_sibling_failure_stops_the_runs(tmp_path: pathlib.Path) -> None:
    files = [tmp_path / f"pids{i}" for i in range(3)]

    async def fail_once_started() -> None:
        for f in files:
            while not (f.exists() and len(f.read_text().split()) == 2):
                await asyncio.sleep(0.01)
        raise ValueError("sibling failed")

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            for f in files:
                tg.create_task(cmdrun.arun(sh_tree(f), kill_grace=GRACE))
            tg.create_task(fail_once_started())

    assert _group_holds(lambda: asyncio.run(main()), ValueError)
    for f in files:
        leakcheck.assert_gone([int(p) for p in f.read_text().split()], within=0)


@pytest.mark.parametrize("how", ["wait_for", "timeout"])
def test_asyncio_wait_for_and_timeout_stop_the_run(how: str, pids: list[int]) -> None:
    if how == "timeout" and sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in 3.11")
    cmd, options = _deaf(pids)

    async def limited() -> None:
        if how == "wait_for":
            await asyncio.wait_for(cmdrun.arun(cmd, **options), 0.3)  # type: ignore[arg-type]
        else:
            async with asyncio.timeout(0.3):
                await cmdrun.arun(cmd, **options)  # type: ignore[arg-type]

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):  # not the builtin TimeoutError before 3.11
            await limited()
        return time.monotonic() - started

    took = asyncio.run(main())
    if pids:  # it ignored SIGTERM in time (it always does but on a very slow machine)
        assert took >= 0.3 + GRACE * 0.9
    assert took < 0.3 + GRACE + 3
    assert not leakcheck.survivors(pids, within=0)


def test_asyncio_task_cancelled_twice_still_reaps(pids: list[int]) -> None:
    grace = 1.0
    cmd, options = _deaf(pids, grace)

    async def main() -> float:
        task = asyncio.create_task(cmdrun.arun(cmd, **options))  # type: ignore[arg-type]
        await _until(pids)
        started = time.monotonic()
        task.cancel()
        await asyncio.sleep(0.1)  # the clean-up is under way
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        return time.monotonic() - started

    took = asyncio.run(main())
    assert grace * 0.9 <= took < grace + 3
    assert not leakcheck.survivors(pids, within=0)


def test_asyncio_run_ending_during_a_clean_up_waits_for_it(pids: list[int]) -> None:
    # asyncio.run() cancels every task left when main() returns: the task that stops the
    # program (deaf to SIGTERM, so the grace runs) too. The program must be gone when
    # asyncio.run() returns, even while its task is still referenced (asyncio's docs advise
    # keeping background tasks in a set).
    background: set[asyncio.Task[cmdrun.Result]] = set()
    cmd, options = _deaf(pids)

    async def main() -> None:
        task = asyncio.create_task(cmdrun.arun(cmd, **options))  # type: ignore[arg-type]
        background.add(task)
        await _until(pids)
        task.cancel()
        await asyncio.sleep(0.05)  # its clean-up has begun when main() returns

    asyncio.run(main())
    assert not leakcheck.survivors(pids, within=0)
    assert background.pop().cancelled()


def test_trio_nursery_sibling_failure_stops_the_session(pids: list[int]) -> None:
    import trio

    async def main() -> None:
        async with trio.open_nursery() as nursery:

            async def dialogue() -> None:
                async with cmdrun.aspawn(tree(2), kill_grace=GRACE) as s:
                    pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
                    await s.expect("never printed")

            async def fail() -> None:
                while len(pids) < 3:
                    await trio.sleep(0.01)
                raise ValueError("sibling failed")

            nursery.start_soon(dialogue)
            nursery.start_soon(fail)

    assert _group_holds(lambda: trio.run(main), ValueError)
    assert not leakcheck.survivors(pids, within=0)


# -- Ctrl-C in a real parent process ----------------------------------------------------------

_DOORS = {
    "arun": "await cmdrun.arun(CHILD)",
    "arun_many": "await cmdrun.arun_many([CHILD, CHILD])",
    "astream": "async with cmdrun.astream(CHILD) as lines:\n    async for _ in lines: pass",
    "aspawn": "async with cmdrun.aspawn(CHILD, tty=True) as s:\n    await s.expect('never')",
}


@pytest.mark.parametrize("door", sorted(_DOORS))
@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_ctrl_c_in_a_real_parent_leaves_no_process(
    tmp_path: pathlib.Path, loop: str, door: str
) -> None:
    pidfile = tmp_path / "pids"
    runs = "asyncio.run(door())" if loop == "asyncio" else "trio.run(door)"
    code = "\n".join(
        [
            f"import json, sys, cmdrun, {loop}",
            "CHILD = json.loads(sys.argv[1])",
            "async def door():",
            textwrap.indent(_DOORS[door], "    "),
            "try:",
            f"    {runs}",
            "except KeyboardInterrupt:",
            "    print('KeyboardInterrupt', flush=True)",
            "    sys.exit(42)",
        ]
    )
    parent = [sys.executable, "-c", code, json.dumps(sh_tree(pidfile))]
    expected = 4 if door == "arun_many" else 2
    proc = subprocess.Popen(parent, stdout=subprocess.PIPE)
    try:
        written: list[int] = []
        deadline = time.monotonic() + 15
        while len(written) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
            written = [int(p) for p in pidfile.read_text().split()] if pidfile.exists() else []
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    assert len(written) == expected
    assert (proc.returncode, out) == (42, b"KeyboardInterrupt\n")
    leakcheck.assert_gone(written, within=0)


# -- many at once -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("cancelled", [0, 250])
async def test_500_concurrent_sessions_leave_no_fd_and_no_process(cancelled: int) -> None:
    count = 500
    fds, kids = len(os.listdir("/proc/self/fd")), own_children()
    scopes: list[anyio.CancelScope] = []
    talked = 0
    all_talked = anyio.Event()
    results: list[cmdrun.Result] = []

    async def session(i: int) -> None:
        nonlocal talked
        async with cmdrun.aspawn(["cat"], tty=False, kill_grace=GRACE) as s:
            await s.sendline(f"ping {i}")
            await s.expect(f"ping {i}\n")
            talked += 1
            if talked == count:
                all_talked.set()
            if i < cancelled:
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    await s.expect("never printed")
                assert not s.alive
            else:
                await all_talked.wait()
                await s.sendeof()
                await s.wait()
        results.append(await s.aclose())

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(session, i)
        await all_talked.wait()
        assert len(own_children() - kids) == count  # all running at once
        for scope in scopes:
            scope.cancel()
    assert len(results) == count
    assert sum(r.returncode == -signal.SIGTERM for r in results) == cancelled
    assert sum(r.returncode == 0 for r in results) == count - cancelled
    assert len(os.listdir("/proc/self/fd")) == fds
    assert own_children() == kids


# -- out of fds -------------------------------------------------------------------------------

_OUT_OF_FDS = """
import json, os, resource, sys, cmdrun, {loop}
StartFailed = cmdrun.StartFailed  # the sync API's lazy import, done (see the test below)

async def chunks():
    yield b"a\\n"

async def dialogue(tty):
    async with cmdrun.aspawn(["cat"], tty=tty) as s:
        await s.sendline("ping")
        await s.expect("ping")
        return "ok"

async def stream():
    async with cmdrun.astream(["echo", "x"]) as lines:
        return "ok" if [line.text async for line in lines] == ["x\\n"] else "wrong"

CALLS = {{
    "arun": lambda: cmdrun.arun(["true"]),
    "arun async stdin": lambda: cmdrun.arun(["cat"], stdin=chunks()),
    "aspawn pipes": lambda: dialogue(False),
    "aspawn pty": lambda: dialogue(True),
    "astream": stream,
}}

async def attempt(call):
    try:
        {fail_after}(10):
            outcome = await call()
        return "ok" if outcome == "ok" or getattr(outcome, "ok", False) else repr(outcome)
    except StartFailed as exc:
        return "StartFailed: " + exc.reason
    except {timeout_error}:
        return "hang"
    except Exception as exc:
        return type(exc).__name__ + ": " + str(exc)

async def main():
    for call in CALLS.values():  # lazy imports and probes, done while fds are plenty
        warm = await attempt(call)
        assert warm == "ok", warm
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    report = {{}}
    for name, call in CALLS.items():
        for free in range(14):
            before = sorted(os.listdir("/proc/self/fd"))
            held = []
            try:
                while True:
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            for _ in range(free):
                os.close(held.pop())
            outcomes = [await attempt(call) for _ in range(3)]
            for fd in held:
                os.close(fd)
            leaked = sorted(set(os.listdir("/proc/self/fd")) - set(before))
            report.setdefault(name, []).append({{"outcomes": outcomes, "leaked": leaked}})
    print(json.dumps(report))

{run}
"""


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_out_of_fds_gives_start_failed_never_a_hang_or_a_leak(loop: str) -> None:
    if loop == "asyncio" and sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in 3.11")
    code = _OUT_OF_FDS.format(
        loop=loop,
        fail_after="async with asyncio.timeout" if loop == "asyncio" else "with trio.fail_after",
        timeout_error="TimeoutError" if loop == "asyncio" else "trio.TooSlowError",
        run="asyncio.run(main())" if loop == "asyncio" else "trio.run(main)",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert own_children() == set()
    report = json.loads(done.stdout)
    for name, rows in report.items():
        for free, row in enumerate(rows):
            assert row["leaked"] == [], (name, free, row)
            for outcome in row["outcomes"]:
                assert outcome in ("ok", "StartFailed: out of file descriptors"), (name, free)
        assert rows[0]["outcomes"] != ["ok"] * 3, name
        assert rows[-1]["outcomes"] == ["ok"] * 3, name


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_async_only_program_catches_start_failed_when_out_of_fds(loop: str) -> None:
    # Its first ``except cmdrun.StartFailed`` runs when no fd is left: the name must not
    # need an import then (an import opens the module's file: EMFILE instead of the error).
    code = f"""
import os, resource, cmdrun, {loop}

async def main():
    await cmdrun.arun(["true"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    try:
        await cmdrun.arun(["true"])
    except cmdrun.StartFailed as exc:
        print(exc.reason)
    for fd in held:
        os.close(fd)

{"asyncio.run(main())" if loop == "asyncio" else "trio.run(main)"}
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.stdout, done.stderr[-300:]) == ("out of file descriptors\n", "")


# -- sessions and streams left behind ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
async def test_session_dropped_without_aclose_warns_and_is_stopped(
    tty: bool, pids: list[int]
) -> None:
    s = await cmdrun.aspawn(tree(2), tty=tty, kill_grace=GRACE)
    pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
    held = [s]
    del s
    with pytest.warns(ResourceWarning, match="never closed"):
        held.clear()  # the last reference
    assert not leakcheck.survivors(pids, within=0)


@pytest.mark.anyio
async def test_stream_dropped_half_read_is_stopped(pids: list[int]) -> None:
    lines = cmdrun.astream(printer(), kill_grace=GRACE)
    async for line in lines:
        pids.extend(pids_in(line.text))
        break
    del lines
    gc.collect()
    assert not leakcheck.survivors(pids, within=0)


def test_session_outlives_its_event_loop_and_closes_on_another(pids: list[int]) -> None:
    import trio

    async def start() -> cmdrun.AsyncSession:
        s = await cmdrun.aspawn(tree(2), tty=False, kill_grace=GRACE)
        pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
        return s

    s = asyncio.run(start())  # that loop is closed now; the program runs on
    assert s.alive

    async def talk_and_close() -> cmdrun.Result:
        with pytest.raises(cmdrun.ExpectTimeout):
            await s.expect("never printed", timeout=0.1)
        return await s.aclose()

    result = trio.run(talk_and_close)  # another loop, even another library
    assert result.returncode == -signal.SIGTERM
    assert not leakcheck.survivors(pids, within=0)


def test_asyncio_run_ending_with_a_session_still_waiting_stops_it(pids: list[int]) -> None:
    async def dialogue() -> None:
        async with cmdrun.aspawn(tree(2), tty=True, kill_grace=GRACE) as s:
            pids.extend([s.pid, *pids_in((await s.expect(PIDS_LINE)).text)])
            await s.expect("never printed")

    async def main() -> None:
        left = asyncio.create_task(dialogue())  # asyncio.run cancels it at the end
        while len(pids) < 3:
            await asyncio.sleep(0.01)

        assert not left.done()

    asyncio.run(main())
    assert not leakcheck.survivors(pids, within=0)


async def _dialogue(cmd: list[str], pids: list[int]) -> None:
    async with cmdrun.aspawn(cmd, tty=False, kill_grace=GRACE) as s:
        pids.extend(pids_in((await s.expect(PIDS_LINE)).text))
        await s.expect("never printed")


async def _lines(cmd: list[str], options: dict[str, Any]) -> None:
    async with cmdrun.astream(cmd, **options) as lines:
        async for _ in lines:
            pass


async def _forever() -> AsyncIterator[bytes]:
    yield b"first\n"
    await asyncio.sleep(60)
    yield b"never\n"


_PENDING = {
    "arun": lambda cmd, options, pids: cmdrun.arun(cmd, **options),
    "arun async stdin": lambda cmd, options, pids: cmdrun.arun(cmd, stdin=_forever(), **options),
    "arun_many": lambda cmd, options, pids: cmdrun.arun_many([cmd, cmd], **options),
    "aspawn": lambda cmd, options, pids: _dialogue(cmd, pids),
    "astream": lambda cmd, options, pids: _lines(cmd, options),
}


@pytest.mark.parametrize("door", sorted(_PENDING))
def test_event_loop_closed_under_a_pending_call_leaves_nothing(door: str, pids: list[int]) -> None:
    # run_until_complete() then close(), with a task still pending: asyncio destroys the
    # task and the garbage collector closes its coroutine, where no await is possible any
    # more. The program is stopped then and there (blocking), and nothing else happens: no
    # error from a clean-up that tried to await, no new event loop made for it.
    cmd, options = _deaf(pids)
    loop = asyncio.new_event_loop()

    async def main() -> None:
        task = loop.create_task(_PENDING[door](cmd, options, pids))
        while len(pids) < (2 if door == "arun_many" else 1):
            await asyncio.sleep(0.01)
        assert not task.done()

    loop.run_until_complete(main())
    loop.close()
    unraisable: list[str] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(repr(u.exc_value))
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not leakcheck.survivors(pids, within=0)
    assert unraisable == []
