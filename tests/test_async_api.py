"""The async API with real programs, on asyncio and on trio: ``arun``, ``arun_many``,
``aspawn`` and ``astream``, their test doubles, and what they cost (no thread per process,
no event loop imported by ``import cmdrun``).

Every ``@pytest.mark.anyio`` test runs twice, once per backend (``anyio_backend`` in
conftest.py). Leaks are checked inside the test, once its loop runs: the loop's own fds
exist before the snapshot.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

import cmdrun
import leakcheck
from children import (
    PY,
    catches_ctrl_c,
    fail_when_lines,
    line_acker,
    most_at_once,
    password_program,
    pid_then_cat,
    pid_writer_then_sleep,
    pids_in,
    prompt_then_die,
    prompter,
    py,
    start_end_logger,
    tree,
    wait_for_file_between,
    winch_reporter,
    write_both,
)
from cmdrun import (
    CommandFailed,
    CommandNotFound,
    CommandTimedOut,
    ExpectTimeout,
    Secret,
    SessionClosed,
    UnexpectedEOF,
)
from cmdrun._pump import _Poller
from cmdrun._secret import MASK
from cmdrun.testing import Answer, Cassette, DialogueMismatch, Exit, FakeCommands, In, Out

pytestmark = pytest.mark.anyio

BOTH = pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
PASSWORD = "hunter2-Zq8x"


@pytest.fixture(autouse=True)
def no_stray_children() -> Iterator[None]:
    """Every test reaps what it started (zombies count as leaks)."""
    before = leakcheck.children_of(os.getpid())
    yield
    after = leakcheck.children_of(os.getpid())
    assert after == before, f"children left: {after} (before: {before})"


# -- helpers ----------------------------------------------------------------------------


def tool_script(path: pathlib.Path) -> pathlib.Path:
    """Write a script that prints ``tool says ARG``, reads a line, prints ``read LINE``
    (a program the test can delete, to show that a replay runs nothing)."""
    path.write_text('#!/bin/sh\necho "tool says $1"\nread x; echo "read $x"\n')
    path.chmod(0o755)
    return path


# -- arun -------------------------------------------------------------------------------


async def test_arun_captures_stdout_stderr_and_status() -> None:
    result = await cmdrun.arun(write_both("out\n", "err\n"))
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 0)
    assert result.ok
    assert not result.tty
    assert result.pid > 0


async def test_arun_feeds_a_megabyte_of_input_without_deadlock() -> None:
    data = "0123456789abcdef" * 65536  # 1 MiB: far beyond a pipe's buffer both ways
    result = await cmdrun.arun(["cat"], input=data, timeout=30)
    assert result.stdout == data


async def test_arun_failure_raises_command_failed_with_the_result() -> None:
    with pytest.raises(CommandFailed, match="exited with status 3") as info:
        await cmdrun.arun(write_both("partial\n", "bad thing\n", code=3))
    assert info.value.returncode == 3
    assert info.value.result.stdout == "partial\n"
    assert "bad thing" in str(info.value)
    unchecked = await cmdrun.arun(write_both("", "", code=3), check=False)
    assert unchecked.returncode == 3
    assert not unchecked.ok


async def test_arun_missing_program_raises_command_not_found() -> None:
    with pytest.raises(CommandNotFound) as info:
        await cmdrun.arun(["cmdrun-no-such-program"])
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(CommandNotFound):
        await cmdrun.arun(["cmdrun-no-such-program"], check=False)


async def test_arun_timeout_stops_the_group_and_keeps_partial_output() -> None:
    before = leakcheck.snapshot()
    with pytest.raises(CommandTimedOut) as info:
        await cmdrun.arun(tree(2), timeout=0.5, kill_grace=0.5)
    result = info.value.result
    assert result.timed_out
    assert result.timeout_kind == "total"
    pids = pids_in(result.stdout)
    assert len(pids) == 2
    leakcheck.assert_gone(pids)
    leakcheck.assert_no_leaks(before, threads=False)


async def test_arun_idle_timeout_stops_a_program_gone_quiet() -> None:
    code = "import time; print('hello', flush=True); time.sleep(30)"
    with pytest.raises(CommandTimedOut, match=r"produced no output for 0\.4 s") as info:
        await cmdrun.arun(py(code), idle_timeout=0.4, kill_grace=0.5)
    assert info.value.result.timeout_kind == "idle"
    assert info.value.result.stdout == "hello\n"


@BOTH
async def test_arun_respond_answers_a_prompt(tty: bool) -> None:
    code = "print('hi', input('Name? '), flush=True)"
    result = await cmdrun.arun(py(code), respond={"Name? ": "ann"}, tty=tty, timeout=10)
    assert result.stdout.endswith("hi ann\n" if not tty else "hi ann\r\n")
    assert result.tty is tty


async def test_arun_on_a_pty() -> None:
    result = await cmdrun.arun(["tty"], tty=True, timeout=10)
    assert result.tty
    assert result.stdout.startswith("/dev/pts/")


async def test_arun_tty_auto_reruns_a_program_that_refused_pipes() -> None:
    result = await cmdrun.arun(["tty"], timeout=10)  # tty="auto" is the default
    assert (result.tty, result.returncode) == (True, 0)
    assert result.stdout.startswith("/dev/pts/")
    refused = await cmdrun.arun(["tty"], tty=False, check=False)
    assert (refused.tty, refused.returncode) == (False, 1)


async def test_arun_runs_a_pipeline_and_reports_each_stage() -> None:
    pipeline = cmdrun.pipe(["printf", "b\\na\\nc\\n"], ["sort"], ["head", "-n", "2"])
    result = await cmdrun.arun(pipeline, timeout=10)
    assert result.stdout == "a\nb\n"
    assert [stage.args[0] for stage in result.stages] == ["printf", "sort", "head"]
    assert [stage.returncode for stage in result.stages] == [0, 0, 0]
    failing = cmdrun.pipe(["echo", "x"], ["sh", "-c", "cat; exit 4"], ["cat"])
    with pytest.raises(CommandFailed) as info:
        await cmdrun.arun(failing, timeout=10)
    assert [stage.returncode for stage in info.value.result.stages] == [0, 4, 0]


async def test_arun_on_stdout_and_on_stderr_see_each_line() -> None:
    out: list[str] = []
    err: list[str] = []
    code = "import sys\nfor i in range(3): print(i, flush=True); print('e', i, file=sys.stderr)"
    result = await cmdrun.arun(py(code), on_stdout=out.append, on_stderr=err.append)
    assert out == ["0\n", "1\n", "2\n"]
    assert err == ["e 0\n", "e 1\n", "e 2\n"]
    assert result.stdout == "0\n1\n2\n"


# -- arun(stdin=async iterable) ---------------------------------------------------------


async def test_async_stdin_chunks_are_fed_as_the_program_reads() -> None:
    """Each chunk is asked for only after the program answered the one before: a driver
    that gathered the whole source before starting the program would wait forever."""
    acked = {i: anyio.Event() for i in range(3)}

    def saw(line: str) -> None:
        if line.startswith("got "):
            acked[int(line.split()[1])].set()

    async def chunks() -> AsyncIterator[str]:
        for i in range(3):
            yield f"{i}\n"
            await acked[i].wait()

    result = await cmdrun.arun(line_acker(), stdin=chunks(), on_stdout=saw, timeout=20)
    assert result.stdout == "got 0\ngot 1\ngot 2\ntotal 3\n"


async def test_async_stdin_that_raises_stops_the_program_and_the_error_propagates() -> None:
    before = leakcheck.snapshot()
    boom = ValueError("the source broke")
    closed: list[bool] = []
    started = anyio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"first\n"
            await started.wait()
            raise boom
        finally:
            closed.append(True)

    seen: list[str] = []

    def saw(line: str) -> None:
        seen.append(line)
        started.set()

    with pytest.raises(ValueError, match="the source broke") as info:
        await cmdrun.arun(pid_then_cat(), stdin=chunks(), on_stdout=saw, timeout=20)
    assert info.value is boom
    assert closed == [True]
    leakcheck.assert_gone(pids_in("".join(seen)))
    leakcheck.assert_no_leaks(before, threads=False)


async def test_async_stdin_is_closed_when_the_program_stops_reading() -> None:
    closed: list[bool] = []

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "line\n"
        finally:
            closed.append(True)

    result = await cmdrun.arun(["head", "-n", "2"], stdin=endless(), timeout=20)
    assert result.stdout == "line\nline\n"
    # Closed by a task of the loop, which may run just after arun returns.
    with anyio.fail_after(5):
        while not closed:
            await anyio.sleep(0.01)
    assert closed == [True]


async def test_async_stdin_waiting_for_a_chunk_is_cancelled_when_the_program_ends() -> None:
    """The program exits while the source waits (a minute) for its next chunk: the run ends
    at once, and the source is cancelled and closed."""
    closed: list[bool] = []

    async def slow() -> AsyncIterator[str]:
        try:
            yield "only line\n"
            await anyio.sleep(60)
            yield "never\n"
        finally:
            closed.append(True)

    with anyio.fail_after(20):  # far below the minute the source would take
        result = await cmdrun.arun(["head", "-n", "1"], stdin=slow(), timeout=40)
        while not closed:
            await anyio.sleep(0.01)
    assert result.stdout == "only line\n"


GENERATOR_WITH_A_CANCEL_SCOPE = """
import sys, anyio, cmdrun

async def chunks():
    with anyio.fail_after(10):
        for i in range(3):
            yield f"{i}\\n"
            await anyio.sleep(0)

async def main():
    assert [chunk async for chunk in chunks()] == ["0\\n", "1\\n", "2\\n"]  # one task: fine
    result = await cmdrun.arun(["cat"], stdin=chunks(), timeout=20)
    print(repr(result.stdout))

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_stdin_generator_may_yield_inside_its_own_cancel_scope(backend: str) -> None:
    """``async for`` in one task reads such a generator; so should ``arun``. In a process
    of its own: trio says its state cannot be trusted after the failure."""
    ran = subprocess.run(
        [sys.executable, "-c", GENERATOR_WITH_A_CANCEL_SCOPE, backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.stdout == "'0\\n1\\n2\\n'\n", ran.stderr[-2000:]


async def test_async_stdin_of_mixed_text_and_bytes() -> None:
    async def chunks() -> AsyncIterator[str | bytes]:
        for i in range(1000):
            yield f"{i}\n" if i % 2 else f"{i}\n".encode()
            if i % 100 == 0:
                await anyio.sleep(0)

    result = await cmdrun.arun(["wc", "-l"], stdin=chunks(), timeout=20)
    assert result.stdout.strip() == "1000"


# -- arun_many --------------------------------------------------------------------------


async def test_arun_many_returns_results_in_input_order() -> None:
    delays = ["0.3", "0.2", "0.1", "0"]
    cmds = [["sh", "-c", f"sleep {d}; echo {i}"] for i, d in enumerate(delays)]
    results = await cmdrun.arun_many(cmds, jobs=4)
    assert [r.stdout for r in results] == ["0\n", "1\n", "2\n", "3\n"]


async def test_arun_many_runs_at_most_jobs_at_once(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "log"
    results = await cmdrun.arun_many([start_end_logger(log)] * 8, jobs=3, timeout=20)
    assert all(r.ok for r in results)
    assert 2 <= most_at_once(log) <= 3


async def test_arun_many_gives_a_program_that_cannot_start_status_127() -> None:
    results = await cmdrun.arun_many([["echo", "ok"], ["cmdrun-no-such-program"], ["true"]])
    assert [r.returncode for r in results] == [0, 127, 0]
    assert results[0].stdout == "ok\n"
    assert "cmdrun-no-such-program" in results[1].stderr


async def test_arun_many_fail_fast_raises_the_first_failure_after_stopping_the_rest(
    tmp_path: pathlib.Path,
) -> None:
    before = leakcheck.snapshot()
    pidfile = tmp_path / "pids"
    cmds = [
        pid_writer_then_sleep(pidfile),
        fail_when_lines(pidfile, 2, 7),
        pid_writer_then_sleep(pidfile),
        ["sleep", "60"],  # never started: the failure comes first
    ]
    with pytest.raises(CommandFailed) as info:
        await cmdrun.arun_many(cmds, jobs=3, fail_fast=True, kill_grace=0.5, timeout=30)
    assert info.value.returncode == 7
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2
    leakcheck.assert_gone(pids)
    leakcheck.assert_no_leaks(before, threads=False)


async def test_arun_many_runs_200_fast_commands() -> None:
    results = await cmdrun.arun_many([["echo", str(i)] for i in range(200)], jobs=16)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(200)]


# -- aspawn: real dialogues -------------------------------------------------------------


async def test_python_repl_over_pipes_several_round_trips() -> None:
    async with cmdrun.aspawn([PY, "-i", "-q"], tty=False, timeout=20) as s:
        assert not s.tty
        await s.expect(">>> ")
        for n in range(5):
            await s.sendline(f"print({n} * 7)")
            found = await s.expect(">>> ")
            assert found.before == f"{n * 7}\n"
        await s.sendline("x = [i * i for i in range(4)]")
        await s.expect(">>> ")
        await s.sendline("print(sum(x))")
        assert (await s.expect(">>> ")).before == "14\n"
        await s.sendeof()
        result = await s.wait()
    assert result.returncode == 0


async def test_sqlite3_on_a_pty() -> None:
    async with cmdrun.aspawn(["sqlite3", ":memory:"], tty=True, timeout=20) as s:
        assert s.tty
        prompt = "sqlite> "
        await s.expect(prompt)
        await s.sendline("create table t (name text, n integer);")
        await s.expect(prompt)
        await s.sendline("insert into t values ('ann', 1), ('bob', 2);")
        await s.expect(prompt)
        await s.sendline("select name || '=' || n from t order by n;")
        found = await s.expect(prompt)
        assert found.lines[-2:] == ["ann=1", "bob=2"]
        await s.sendline(".quit")
        result = await s.wait()
    assert result.returncode == 0
    assert result.tty


@BOTH
async def test_secret_is_masked_in_logfile_match_and_result(tty: bool) -> None:
    """A careless program prints the password it read: cmdrun shows only the mask (on a
    terminal, getpass turns echo off first, so the Secret is typed at once)."""
    log = io.StringIO()
    child = password_program(PASSWORD, echo_input=True)
    async with cmdrun.aspawn(child, tty=tty, timeout=20, logfile=log) as s:
        await s.expect("User: ")
        await s.sendline("ann")
        await s.expect("Password: ")
        await s.sendline(Secret(PASSWORD))
        found = await s.expect(re.compile(r"you typed \S+"))
        await s.expect("access granted for ann")
        result = await s.wait()
    assert found.text == "you typed " + MASK
    assert "you typed " + MASK in result.stdout
    assert "you typed " + MASK in log.getvalue()
    for text in (found.before, found.text, result.stdout, result.stderr, log.getvalue()):
        assert PASSWORD not in text


@BOTH
async def test_expect_timeout_leaves_the_session_running_and_usable(tty: bool) -> None:
    async with cmdrun.aspawn(prompter(), tty=tty, timeout=20) as s:
        await s.expect("> ")
        with pytest.raises(ExpectTimeout) as info:
            await s.expect("never printed", timeout=0.3)
        assert isinstance(info.value, TimeoutError)
        assert "never printed" in str(info.value)
        assert s.alive
        await s.sendline("still here")
        found = await s.expect("> ")
        assert "got: still here" in found.lines
        await s.sendeof()
        assert (await s.wait()).returncode == 0


@BOTH
@pytest.mark.parametrize(("sig", "how"), [(None, "exited with status 3"), (9, "killed by SIGKILL")])
async def test_unexpected_eof_says_how_the_program_ended(
    tty: bool, sig: int | None, how: str
) -> None:
    async with cmdrun.aspawn(prompt_then_die(sig), tty=tty, timeout=20) as s:
        await s.expect("name? ")
        with pytest.raises(UnexpectedEOF) as info:
            await s.expect("never")
        assert how in str(info.value)
        assert isinstance(info.value, EOFError)
        assert info.value.returncode == (-sig if sig else 3)


@BOTH
async def test_read_returns_everything_until_the_output_ends(tty: bool) -> None:
    code = "for i in range(3): print('line', i)"
    async with cmdrun.aspawn(py(code), tty=tty, timeout=20) as s:
        text = await s.read()
        assert text.replace("\r\n", "\n") == "line 0\nline 1\nline 2\n"
        assert await s.read() == ""


@BOTH
async def test_sendeof_ends_the_programs_input(tty: bool) -> None:
    async with cmdrun.aspawn(["cat"], tty=tty, timeout=20) as s:
        await s.sendline("one")
        await s.expect("one")
        await s.sendeof()
        result = await s.wait()
    assert result.returncode == 0
    assert "one" in result.stdout


@BOTH
async def test_interrupt_is_ctrl_c(tty: bool) -> None:
    async with cmdrun.aspawn(catches_ctrl_c(), tty=tty, timeout=20) as s:
        await s.expect("ready")
        await s.interrupt()
        await s.expect("interrupted")
        assert (await s.wait()).returncode == 0


async def test_sendcontrol_c_on_a_pty_kills_a_program_that_does_not_catch_it() -> None:
    async with cmdrun.aspawn(prompter(), tty=True, timeout=20) as s:
        await s.expect("> ")
        await s.sendcontrol("c")
        assert (await s.wait()).returncode == -2


@BOTH
async def test_wait_and_aclose_return_the_result(tty: bool) -> None:
    s = await cmdrun.aspawn(["sh", "-c", "echo done; exit 5"], tty=tty, timeout=20)
    result = await s.wait()
    assert (result.returncode, result.tty) == (5, tty)
    assert "done" in result.stdout
    assert (await s.aclose()).returncode == 5  # closing after the end: the same Result

    running = await cmdrun.aspawn(["sleep", "30"], tty=tty, timeout=20, kill_grace=0.5)
    assert running.alive
    stopped = await running.aclose()
    assert stopped.returncode == -15
    assert not running.alive


async def test_await_form_and_async_with_form() -> None:
    spawning = cmdrun.aspawn(prompter(), tty=False, timeout=20)
    assert "aspawn" in repr(spawning)
    s = await spawning
    assert isinstance(s, cmdrun.AsyncSession)
    try:
        await s.expect("> ")
        await s.sendline("a")
        await s.expect("got: a")
    finally:
        await s.aclose()
    assert not s.alive

    async with cmdrun.aspawn(prompter(), tty=False, timeout=20) as inside:
        assert isinstance(inside, cmdrun.AsyncSession)
        await inside.expect("> ")
        pid = inside.pid
    assert not inside.alive
    leakcheck.assert_gone([pid])


@BOTH
async def test_input_given_at_spawn_is_typed_first(tty: bool) -> None:
    async with cmdrun.aspawn(prompter(), tty=tty, timeout=20, input="a\nb\n") as s:
        await s.expect("got: b")
        await s.sendline("c")
        await s.expect("got: c")
        await s.sendeof()
        result = await s.wait()
    assert re.findall(r"got: \w", result.stdout) == ["got: a", "got: b", "got: c"]


async def test_resize_on_a_pty_sends_the_new_size() -> None:
    async with cmdrun.aspawn(winch_reporter(), tty=True, timeout=20, dimensions=(24, 80)) as s:
        await s.expect("READY")
        s.resize(33, 111)
        await s.expect("SIZE 33 111")
        assert (await s.wait()).returncode == 0


@BOTH
async def test_calls_after_close_raise_session_closed(tty: bool) -> None:
    s = await cmdrun.aspawn(prompter(), tty=tty, timeout=20)
    await s.aclose()
    with pytest.raises(SessionClosed, match="closed"):
        await s.sendline("late")
    with pytest.raises(SessionClosed):
        await s.send("late")
    with pytest.raises(SessionClosed):
        await s.sendeof()
    with pytest.raises(SessionClosed):
        await s.interrupt()


async def test_aspawn_of_a_missing_program_raises_command_not_found() -> None:
    with pytest.raises(CommandNotFound):
        await cmdrun.aspawn(["cmdrun-no-such-program"])
    with pytest.raises(CommandNotFound):
        async with cmdrun.aspawn(["cmdrun-no-such-program"]):
            raise AssertionError("never entered")


# -- the event-loop driver sees what the synchronous one sees ----------------------------


async def test_stdout_before_a_stderr_prompt_is_seen_first_when_the_loop_was_busy() -> None:
    """A program prints its answer on stdout, then its prompt on stderr (``python3 -i``
    does): by the time a busy loop looks, both pipes are ready, and the answer must still
    come before the prompt, as with ``spawn``."""
    async with cmdrun.aspawn(prompter(">>> ", stream="stderr"), tty=False, timeout=20) as s:
        await s.expect(">>> ")
        for word in ("one", "two", "three"):
            await s.sendline(word)
            time.sleep(0.1)  # the loop is busy elsewhere (deliberately blocked)
            found = await s.expect(">>> ")
            assert found.before == f"got: {word}\n"


def test_poller_reports_ready_fds_in_registration_order_on_epoll_too() -> None:
    """epoll keeps an fd that was read to its end first in line; poll does not."""
    first_r, first_w = os.pipe()
    second_r, second_w = os.pipe()
    poller = _Poller()
    try:
        poller.register(first_r, select.POLLIN)
        poller.register(second_r, select.POLLIN)
        assert poller.loop_fd() >= 0  # now on epoll, as under an event loop
        os.write(second_w, b"x")
        assert poller.poll(0) == [(second_r, select.POLLIN)]
        os.read(second_r, 1)
        os.write(first_w, b"1")
        os.write(second_w, b"2")
        assert [fd for fd, _ in poller.poll(0)] == [first_r, second_r]
    finally:
        poller.close()
        for fd in (first_r, first_w, second_r, second_w):
            os.close(fd)


# -- astream ----------------------------------------------------------------------------


async def test_astream_yields_a_line_while_the_program_still_runs(tmp_path: pathlib.Path) -> None:
    """The program waits for a file the test creates only after it received line 1."""
    flag = tmp_path / "go"
    child = wait_for_file_between("first\n", "second\n", str(flag))
    got: list[str] = []
    async with cmdrun.astream(child, timeout=40) as lines:
        async for line in lines:
            got.append(line.text)
            if line.text == "first\n":
                assert lines.result is None  # still running
                flag.touch()
    assert got == ["first\n", "second\n"]
    assert lines.result is not None
    assert lines.result.returncode == 0


async def test_astream_sets_result_and_tells_the_streams_apart() -> None:
    async with cmdrun.astream(write_both("out\n", "err\n")) as lines:
        seen = [(line.stream, line.text) async for line in lines]
    assert sorted(seen) == [("stderr", "err\n"), ("stdout", "out\n")]
    assert lines.result is not None
    assert (lines.result.stdout, lines.result.stderr) == ("out\n", "err\n")


async def test_astream_check_raises_command_failed_at_the_end_of_the_loop() -> None:
    got: list[str] = []

    async def consume() -> None:
        async with cmdrun.astream(write_both("a\nb\n", "why\n", code=2)) as lines:
            async for line in lines:
                got.append(line.text)

    with pytest.raises(CommandFailed) as info:
        await consume()
    assert sorted(got) == ["a\n", "b\n", "why\n"]  # every line came before the error
    assert info.value.returncode == 2
    async with cmdrun.astream(write_both("a\n", "", code=2), check=False) as unchecked:
        assert [line.text async for line in unchecked] == ["a\n"]
    assert unchecked.result is not None
    assert unchecked.result.returncode == 2


async def test_leaving_astream_early_stops_the_group() -> None:
    before = leakcheck.snapshot()
    pids: list[int] = []
    async with cmdrun.astream(tree(2), kill_grace=0.5, timeout=30) as lines:
        async for line in lines:
            pids = pids_in(line.text)
            break
    assert len(pids) == 2
    leakcheck.assert_gone(pids)
    leakcheck.assert_no_leaks(before, threads=False)


# -- test doubles -----------------------------------------------------------------------


async def test_fake_commands_fixture_answers_every_async_door(
    fake_commands: FakeCommands,
) -> None:
    fake_commands.register(["git", "rev-parse", "HEAD"], stdout="abc123\n")
    fake_commands.register(["make"], stdout="building\ndone\n", stderr="warn\n", returncode=2)
    assert (await cmdrun.arun(["git", "rev-parse", "HEAD"])).stdout == "abc123\n"
    with pytest.raises(CommandFailed):
        await cmdrun.arun(["make"])
    many = await cmdrun.arun_many([["make"], ["git", "rev-parse", "HEAD"]])
    assert [r.returncode for r in many] == [2, 0]
    async with cmdrun.astream(["make"], check=False) as lines:
        texts = [line.text async for line in lines]
    assert sorted(texts) == ["building\n", "done\n", "warn\n"]
    assert lines.result is not None
    assert lines.result.returncode == 2
    assert fake_commands.call_count(["make"]) == 3


async def test_fake_commands_feed_async_stdin_to_a_fake() -> None:
    async def chunks() -> AsyncIterator[str]:
        for word in ("async ", "chunks\n"):
            yield word
            await anyio.sleep(0)

    with FakeCommands() as fake:
        fake.register(["upper"], callback=lambda call: Answer(stdout=(call.input or "").upper()))
        assert (await cmdrun.arun(["upper"], stdin=chunks())).stdout == "ASYNC CHUNKS\n"


async def test_fake_dialogue_driven_by_aspawn() -> None:
    steps: list[Out | In | Exit] = [
        Out("Name? "),
        In("ann"),
        Out("hi ann\n"),
        Out("Again? "),
        In("no"),
        Exit(0),
    ]
    with FakeCommands() as fake:
        fake.register(["greeter"], dialogue=steps)
        async with cmdrun.aspawn(["greeter"], tty=False, timeout=5) as s:
            await s.expect("Name? ")
            await s.sendline("ann")
            found = await s.expect("Again? ")
            assert found.before == "hi ann\n"
            await s.sendline("no")
            assert (await s.wait()).returncode == 0
        async with cmdrun.aspawn(["greeter"], tty=False, timeout=5) as s:
            await s.expect("Name? ")
            with pytest.raises(DialogueMismatch, match="expects In"):
                await s.sendline("bob")


async def test_cassette_records_real_async_calls_and_replays_them_without_processes(
    tmp_path: pathlib.Path,
) -> None:
    script = tool_script(tmp_path / "tool.sh")
    path = tmp_path / "cassette.json"

    async def calls() -> tuple[str, str, str]:
        ran = await cmdrun.arun([str(script), "one"], input="in\n")
        async with cmdrun.aspawn([str(script), "two"], tty=False, timeout=10) as s:
            first = await s.expect("tool says two\n")
            await s.sendline("answer")
            await s.expect("read answer")
            await s.wait()
        return ran.stdout, first.text, (await s.aclose()).stdout

    with Cassette(path, record=True):
        recorded = await calls()
    assert recorded == (
        "tool says one\nread in\n",
        "tool says two\n",
        "tool says two\nread answer\n",
    )
    script.unlink()  # replayed without running anything: the program is gone
    with Cassette(path):
        assert await calls() == recorded


CASSETTE_TESTS = """
import pytest
import cmdrun

SCRIPT = {script!r}
pytestmark = pytest.mark.anyio
BACKENDS = [
    pytest.param(name, marks=pytest.mark.cmdrun_cassette(f"cassettes/{{name}}.json"))
    for name in ("asyncio", "trio")
]


@pytest.mark.parametrize("anyio_backend", BACKENDS)
async def test_talks(anyio_backend):
    ran = await cmdrun.arun([SCRIPT, "one"], input="in\\n")
    assert ran.stdout == "tool says one\\nread in\\n"
    async with cmdrun.aspawn([SCRIPT, "two"], tty=False, timeout=10) as s:
        await s.expect("tool says two")
        await s.sendline(cmdrun.Secret("hunter2"))
        await s.expect("read ******")
        assert (await s.wait()).returncode == 0
"""


def test_cassette_marker_records_and_replays_async_calls(pytester: pytest.Pytester) -> None:
    script = tool_script(pytester.path / "tool.sh")
    pytester.makepyfile(test_user=CASSETTE_TESTS.format(script=str(script)))
    recorded = pytester.runpytest("-p", "no:cacheprovider", "--cmdrun-record")
    recorded.assert_outcomes(passed=2)
    for backend in ("asyncio", "trio"):
        text = (pytester.path / "cassettes" / f"{backend}.json").read_text()
        assert "hunter2" not in text
        assert [call["kind"] for call in json.loads(text)["calls"]] == ["run", "spawn"]
    script.unlink()  # replayed without running anything: the program is gone
    replayed = pytester.runpytest("-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=2)


# -- what it costs ----------------------------------------------------------------------


def test_async_names_import_no_event_loop() -> None:
    code = (
        "import sys, cmdrun\n"
        "for name in ('arun', 'arun_many', 'aspawn', 'astream', 'AsyncSession', 'AsyncStream'):\n"
        "    getattr(cmdrun, name)\n"
        "print(sorted(m for m in ('asyncio', 'trio', 'anyio', 'sniffio') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n", out.stderr


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_no_thread_per_process(backend: str) -> None:
    """Run by ``anyio.run`` (plain ``asyncio.run``/``trio.run``), not by anyio's pytest
    plugin: that one runs trio as a guest, with its own thread waiting for I/O."""
    base = {thread.ident for thread in threading.enumerate()}
    seen: dict[int | None, str] = {}
    samples = 0
    results: list[cmdrun.Result] = []

    async def main() -> None:
        done = anyio.Event()

        async def sample() -> None:
            nonlocal samples
            while not done.is_set():
                samples += 1
                for thread in threading.enumerate():
                    if thread.ident not in base:
                        seen[thread.ident] = thread.name
                await anyio.sleep(0.02)

        async def one() -> None:
            results.append(await cmdrun.arun(["sleep", "0.3"], timeout=30))

        async with anyio.create_task_group() as outer:
            outer.start_soon(sample)
            async with anyio.create_task_group() as runs:
                for _ in range(100):
                    runs.start_soon(one)
            done.set()

    anyio.run(main, backend=backend)
    assert len(results) == 100
    assert all(r.ok for r in results)
    assert samples >= 5
    assert seen == {}, f"threads started during the runs: {sorted(seen.values())}"


@pytest.mark.anyio
async def test_a_spawning_awaited_twice_gives_the_same_session() -> None:
    spawning = cmdrun.aspawn(["cat"], tty=False)
    first = await spawning
    try:
        assert await spawning is first
    finally:
        await first.aclose()
