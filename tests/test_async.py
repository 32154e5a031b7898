"""The async API, and the behaviour it shares with the sync API (tested with ``run``, and
with ``arun`` under ``asyncio.run`` and under ``trio.run``)."""

from __future__ import annotations

import asyncio
import functools
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import trio

import cmdrun
from children import own_children, pids_in, py, tree, wait_dead, write_both
from cmdrun import Result

Runner = Callable[..., Result]


def _sync(cmd: Any, **kw: Any) -> Result:
    return cmdrun.run(cmd, **kw)


def _async(cmd: Any, **kw: Any) -> Result:
    return asyncio.run(cmdrun.arun(cmd, **kw))


def _trio(cmd: Any, **kw: Any) -> Result:
    result: Result = trio.run(functools.partial(cmdrun.arun, cmd, **kw))
    return result


@pytest.fixture(params=[_sync, _async, _trio], ids=["sync", "async", "trio"])
def run(request: pytest.FixtureRequest) -> Runner:
    runner: Runner = request.param
    return runner


def test_captures_output(run: Runner) -> None:
    result = run(write_both("out\n", "err\n"))
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 0)


def test_feeds_input(run: Runner) -> None:
    assert run(["cat"], input="x" * 1_000_000).stdout == "x" * 1_000_000


def test_failure_raises_command_failed(run: Runner) -> None:
    with pytest.raises(cmdrun.CommandFailed, match="exited with status 3"):
        run(write_both("", "bad\n", code=3))
    assert run(write_both("", "", code=3), check=False).returncode == 3


def test_not_found(run: Runner) -> None:
    with pytest.raises(cmdrun.CommandNotFound):
        run(["cmdrun-no-such-program"])
    with pytest.raises(cmdrun.CommandNotFound):
        run(["cmdrun-no-such-program"], check=False)


def test_timeout_stops_the_group_and_keeps_output(run: Runner) -> None:
    start = time.monotonic()
    with pytest.raises(cmdrun.CommandTimedOut) as info:
        run(tree(2), timeout=0.5, kill_grace=0.5)
    assert time.monotonic() - start < 0.5 + 0.5 + 0.5 + 0.75
    assert wait_dead(pids_in(info.value.output)) == []


def test_bad_arguments(run: Runner) -> None:
    with pytest.raises(ValueError, match="timeout"):
        run(["true"], timeout=0)


def test_live_lines_and_max_output(run: Runner) -> None:
    lines: list[str] = []
    result = run(["seq", "1000"], on_stdout=lines.append, max_output=10)
    assert len(lines) == 1000
    assert result.stdout == "\n999\n1000\n"[-10:]


def test_respond(run: Runner) -> None:
    result = run(py("print('hi', input('Name? '))"), respond={"Name? ": "ann"}, tty=False)
    assert result.stdout.endswith("hi ann\n")


def test_tty_fallback(run: Runner) -> None:
    assert run(["tty"]).tty


def test_output_to_file(run: Runner, tmp_path: pathlib.Path) -> None:
    run(["echo", "filed"], stdout=tmp_path / "o")
    assert (tmp_path / "o").read_text() == "filed\n"


def test_cancelling_arun_stops_the_group() -> None:
    before = own_children()

    async def main() -> list[int]:
        lines: list[str] = []
        task = asyncio.create_task(cmdrun.arun(tree(2), on_stdout=lines.append, kill_grace=0.5))
        while not lines:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pids_in(lines[0])

    pids = asyncio.run(main())
    assert wait_dead(pids) == []
    assert own_children() == before


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_stops_the_group() -> None:
    before = own_children()

    async def main() -> None:
        async with asyncio.timeout(0.3):
            await cmdrun.arun(["sleep", "30"])

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert own_children() == before


def test_arun_many_in_order_with_fail_fast() -> None:
    async def main() -> list[Result]:
        return await cmdrun.arun_many([["echo", str(i)] for i in range(10)], jobs=3)

    assert [r.stdout for r in asyncio.run(main())] == [f"{i}\n" for i in range(10)]

    async def failing() -> list[Result]:
        cmds = [["sleep", "30"], ["sh", "-c", "exit 7"], ["sleep", "30"]]
        return await cmdrun.arun_many(cmds, fail_fast=True, kill_grace=0.5)

    before = own_children()
    with pytest.raises(cmdrun.CommandFailed):
        asyncio.run(failing())
    assert own_children() == before


def test_cancelling_arun_many_stops_everything() -> None:
    before = own_children()

    async def main() -> None:
        task = asyncio.create_task(cmdrun.arun_many([["sleep", "30"]] * 4, jobs=4))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert own_children() == before


def test_many_concurrent_aruns() -> None:
    async def main() -> list[Result]:
        return list(await asyncio.gather(*(cmdrun.arun(["echo", str(i)]) for i in range(100))))

    assert [r.stdout for r in asyncio.run(main())] == [f"{i}\n" for i in range(100)]
