"""The shortcuts of the per-run and per-round-trip paths do what the long way did.

Each shortcut skips work only where it is known to be unneeded (an argument left at its
default, a read that emptied the stream, output that just ended); these tests give each
one the case it must not skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Generator
from typing import Any

import pytest

import cmdrun
from children import close_stdout_then, open_fds, py
from cmdrun._defaults import (
    DEFAULT_DIMENSIONS,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_ENCODING,
    DEFAULT_ERRORS,
    DEFAULT_KILL_GRACE,
)
from cmdrun._engine import _hooks
from cmdrun._launcher import drive
from cmdrun._match import Buffer, check_patterns
from cmdrun._platform import make_nonblocking
from cmdrun._pump import MAIN_THREAD_TICK, SHORT_READ, Pump
from cmdrun._result import Result
from cmdrun._spec import Spec, build_spec

# -- build_spec: defaults skip their checks, anything else is checked ----------------------

BAD_OPTIONS = [
    ({"encoding": "no-such-codec"}, LookupError),
    ({"kill_grace": -1}, ValueError),
    ({"kill_grace": "2"}, TypeError),
    ({"drain_timeout": -1.0}, ValueError),
    ({"drain_timeout": float("inf")}, ValueError),
    ({"dimensions": (0, 80)}, ValueError),
    ({"dimensions": (24.0, 80)}, ValueError),
    ({"term": ""}, ValueError),
    ({"term": 5}, TypeError),
    ({"timeout": 0}, ValueError),
    ({"idle_timeout": -1}, ValueError),
    ({"cwd": "/no/such/dir"}, FileNotFoundError),
    ({"env": {"A": 1}}, TypeError),
    ({"inherit_env": 0}, TypeError),
    ({"merge_stderr": 1}, TypeError),
    ({"merge_stderr": None}, TypeError),
    ({"tee": "yes"}, TypeError),
    ({"die_with_parent": 0}, TypeError),
    ({"echo": 1}, TypeError),
    ({"stdout": subprocess.PIPE}, TypeError),
    ({"stderr": 3.5}, TypeError),
    ({"max_output": -1}, ValueError),
    ({"on_stdout": 5}, TypeError),
    ({"on_stderr": "print"}, TypeError),
    ({"respond": ["> "]}, TypeError),
    ({"input": 5}, TypeError),
    ({"pass_fds": (1,)}, ValueError),
    ({"shell": 1}, TypeError),
]


@pytest.mark.parametrize(("options", "error"), BAD_OPTIONS, ids=lambda v: repr(v)[:40])
def test_an_option_given_is_checked_though_defaults_skip_their_checks(
    options: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        build_spec(["true"], **options)  # type: ignore[arg-type]
    with pytest.raises(error):
        cmdrun.run(["true"], **options)  # type: ignore[arg-type]


def _fields(spec: Spec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in Spec.__slots__}


def test_defaults_given_explicitly_build_the_same_spec_as_defaults_left_out() -> None:
    plain = build_spec(["true"])
    # Equal values that are not the signature's own objects take the long way.
    explicit = build_spec(
        ["true"],
        encoding="".join(["utf", "-8"]),
        errors="".join(["re", "place"]),
        kill_grace=2,
        drain_timeout=1,
        dimensions=(24, 80)[:],
        merge_stderr=False,
        tee=False,
        die_with_parent=False,
        inherit_env=True,
        timeout=None,
        pass_fds=[],
    )
    assert explicit.encoding == DEFAULT_ENCODING
    assert explicit.errors == DEFAULT_ERRORS
    assert (explicit.kill_grace, explicit.drain_timeout) == (2.0, 1.0)
    assert type(explicit.kill_grace) is float
    assert type(explicit.drain_timeout) is float
    assert _fields(plain) == _fields(explicit)
    assert plain.dimensions == DEFAULT_DIMENSIONS
    assert (plain.kill_grace, plain.drain_timeout) == (DEFAULT_KILL_GRACE, DEFAULT_DRAIN_TIMEOUT)


def test_flags_given_as_true_are_kept() -> None:
    spec = build_spec(["true"], merge_stderr=True, tee=True, die_with_parent=True)
    assert (spec.merge_stderr, spec.tee, spec.die_with_parent) == (True, True, True)
    assert build_spec(["true"], inherit_env=False).env == {}


def test_term_defaults_by_the_env_given_not_the_merged_environment() -> None:
    assert build_spec(["true"], env={"A": "1"}).term == "dumb"
    assert build_spec(["true"], env={"TERM": "xterm"}).term is None


# -- the engine: no hooks when nothing watches the output ------------------------------------


def test_hooks_are_made_only_for_what_watches_the_output() -> None:
    assert _hooks(build_spec(["true"]), None) == (None, None, None)
    for options in ({"tee": True}, {"on_stdout": print}, {"on_stderr": print}):
        hook, _, _ = _hooks(build_spec(["true"], **options), None)  # type: ignore[arg-type]
        assert hook is not None
    hook, feed, _ = _hooks(build_spec(["true"]), lambda stream, line: None)
    assert hook is not None
    assert feed is not None
    hook, _, answer = _hooks(build_spec(["cat"], respond={"> ": "y"}), None)
    assert hook is not None
    assert answer is not None


# -- pipes: one fcntl call, the child's ends stay blocking -----------------------------------


def test_a_new_pipe_end_made_nonblocking_keeps_close_on_exec() -> None:
    read, write = os.pipe()
    try:
        make_nonblocking(read)
        assert not os.get_blocking(read)
        assert os.get_blocking(write)
        assert not os.get_inheritable(read)
    finally:
        os.close(read)
        os.close(write)


def test_the_program_gets_blocking_stdio_while_cmdrun_reads_without_blocking() -> None:
    report = "import os; print(*(os.get_blocking(fd) for fd in (0, 1, 2)))"
    assert cmdrun.run(py(report)).stdout == "True True True\n"
    assert cmdrun.run(py(report), input="x").stdout == "True True True\n"


# -- the pump: a short read ends the turn, a hang-up is read to the end ----------------------


class _Self:
    """A child that never exits (this process): the pump only reads."""

    pid = os.getpid()
    returncode = None

    def poll(self) -> None:
        return None

    def wait(self) -> int:
        raise AssertionError("never waited for")


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = os.read

    def read(fd: int, size: int) -> bytes:
        try:
            data = real(fd, size)
        except BlockingIOError:
            sizes.append(-1)
            raise
        sizes.append(len(data))
        return data

    monkeypatch.setattr(os, "read", read)
    return sizes


def _pipe_pump() -> tuple[Pump, int]:
    read, write = os.pipe()
    make_nonblocking(read)
    return Pump(_Self(), [(read, "stdout")], None, 1.0), write


def test_a_short_read_ends_the_turn_and_the_rest_comes_at_the_next(
    counted_reads: list[int],
) -> None:
    pump, write = _pipe_pump()
    try:
        os.write(write, b"hi")
        pump.step(time.monotonic() + 5)
        assert counted_reads == [2]  # no second read to meet EAGAIN
        os.write(write, b" there")
        pump.step(time.monotonic() + 5)
        assert pump.sinks["stdout"].value() == b"hi there"
        assert not pump.eof
    finally:
        os.close(write)
        pump.close()


def test_a_long_read_goes_on_until_the_stream_is_empty(counted_reads: list[int]) -> None:
    pump, write = _pipe_pump()
    try:
        os.write(write, b"x" * (SHORT_READ * 4))
        pump.step(time.monotonic() + 5)
        assert counted_reads == [SHORT_READ * 4, -1]
        assert pump.sinks["stdout"].value() == b"x" * (SHORT_READ * 4)
    finally:
        os.close(write)
        pump.close()


def test_short_output_then_a_hangup_is_read_to_its_end_in_one_turn(
    counted_reads: list[int],
) -> None:
    pump, write = _pipe_pump()
    try:
        os.write(write, b"bye")
        os.close(write)
        pump.step(time.monotonic() + 5)
        assert pump.eof
        assert counted_reads == [3, 0]
        assert pump.sinks["stdout"].value() == b"bye"
    finally:
        pump.close()


# -- the pump: the exit awaited in the step in which the output ended ----------------------


def test_a_program_whose_output_ends_before_it_exits_still_gets_its_status() -> None:
    result = cmdrun.run(close_stdout_then(0.3, code=3), check=False)
    assert (result.returncode, result.stdout) == (3, "partial\n")
    assert result.duration >= 0.3


def test_a_program_that_ends_its_output_then_hangs_still_times_out() -> None:
    started = time.monotonic()
    result = cmdrun.run(close_stdout_then(30), timeout=0.5, kill_grace=0.5, check=False)
    assert result.timed_out
    assert result.stdout == "partial\n"
    assert time.monotonic() - started < 5


def test_an_event_loop_run_whose_output_ends_first_gets_the_status() -> None:
    import asyncio

    result = asyncio.run(cmdrun.arun(close_stdout_then(0.2, code=5), check=False))
    assert (result.returncode, result.stdout) == (5, "partial\n")


def _started_pump(argv: list[str]) -> Pump:
    out, out_child = os.pipe()
    proc = subprocess.Popen(argv, stdout=out_child, start_new_session=True)
    os.close(out_child)
    make_nonblocking(out)
    return Pump(proc, [(out, "stdout")], None, 1.0)


@pytest.mark.parametrize("short_steps", [False, True])
def test_the_step_in_which_the_output_ends_waits_for_the_exit_unless_asked_not_to(
    short_steps: bool,
) -> None:
    pump = _started_pump(close_stdout_then(2.0))
    try:
        if short_steps:
            pump.max_wait = 0.05  # a caller with work between steps (idle lines)
        until = time.monotonic() + 10
        took = 0.0
        while not pump.eof:
            began = time.monotonic()
            pump.step(until)
            took = time.monotonic() - began
        assert pump.child.returncode is None
        # The step that read the end went on waiting for the exit, for as long as a step of
        # the main thread waits (MAIN_THREAD_TICK): unless steps are to be short.
        assert (took >= MAIN_THREAD_TICK * 0.9) is not short_steps
    finally:
        pump.stopper.begin()
        pump.run_to_end(time.monotonic() + 10, 0.1)
        pump.close()


def test_a_program_reaped_when_its_output_ended_leaves_no_fd_open() -> None:
    before = open_fds()
    for _ in range(20):
        out, out_child = os.pipe()
        err, err_child = os.pipe()
        proc = subprocess.Popen(
            ["true"], stdout=out_child, stderr=err_child, start_new_session=True
        )
        os.close(out_child)
        os.close(err_child)
        make_nonblocking(out)
        make_nonblocking(err)
        pump = Pump(proc, [(out, "stdout"), (err, "stderr")], None, 1.0)
        assert pump.run_to_end(time.monotonic() + 10, 1.0) is False
        assert proc.returncode == 0
        pump.close()
    assert open_fds() == before


# -- Result: every field is set --------------------------------------------------------------


def test_a_result_has_every_field_set() -> None:
    result = Result(("true",), 0)
    for name in Result.__slots__:
        getattr(result, name)  # AttributeError if the constructor forgot one
    ran = cmdrun.run(["true"])
    assert all(hasattr(ran, name) for name in Result.__slots__)


# -- sessions: a line typed is written at once, or queued behind what the pipe holds ---------


def test_lines_larger_than_the_free_pipe_space_are_queued_and_all_arrive() -> None:
    count = "import sys, time; time.sleep(0.3); print(len(sys.stdin.buffer.read()))"
    with cmdrun.spawn(py(count), tty=False, timeout=20) as session:
        for _ in range(3):
            session.send(b"x" * 60_000)  # the second one fills the 64 KiB pipe: queued
        session.sendline("y" * 100)
        session.sendeof()
        assert session.expect(re.compile(r"\d+")).text == str(180_101)


def test_the_typed_line_count_starts_again_after_sendline() -> None:
    with cmdrun.spawn(["cat"], timeout=20) as session:
        session.send("a" * 4000)
        session.sendline("")  # hands the 4000 bytes over: a new line starts
        session.send("b" * 4000)  # would be 8000 on one line without the reset
        session.sendline("")
        session.expect("b" * 4000)
        session.send("c" * 3000)
        with pytest.raises(ValueError, match="a terminal holds at most"):
            session.send("d" * 2000)


def test_run_checks_check_unless_it_is_true() -> None:
    with pytest.raises(TypeError, match="check must be True or False"):
        cmdrun.run(["true"], check=1)  # type: ignore[arg-type]
    assert cmdrun.run(["false"], check=False).returncode == 1
    with pytest.raises(cmdrun.CommandFailed):
        cmdrun.run(["false"], check=True)


# -- expect: one literal pattern searched without the general loop ---------------------------


def test_one_literal_pattern_finds_what_the_general_search_finds() -> None:
    for chunks in (
        ["ab> c"],
        ["ab>", " c"],
        ["a", "b", ">", " ", "c"],
        ["> > "],
        ["x" * 5000, "> "],
    ):
        one, general = Buffer(), Buffer()
        found_one = found_general = None
        for chunk in chunks:
            one.add(chunk)
            general.add(chunk)
            found_one = found_one or one.search(("> ",))
            found_general = found_general or general.search(("> ", "never"))
        assert found_one is not None
        assert found_general is not None
        assert (found_one.before, found_one.text, found_one.index) == (
            found_general.before,
            found_general.text,
            found_general.index,
        )
        assert one.text == general.text


def test_check_patterns_still_refuses_a_bad_single_pattern() -> None:
    with pytest.raises(ValueError, match="empty string"):
        check_patterns(("",))
    with pytest.raises(TypeError, match="must be a str"):
        check_patterns((b"> ",))
    with pytest.raises(ValueError, match="at least one"):
        check_patterns(())
    assert check_patterns(["> "]) == ("> ",)


# -- drive: the synchronous driver, without advance() -----------------------------------------


class _Failing:
    def step(self, until: float) -> None:
        raise ValueError("from the wait")


def test_drive_throws_a_failed_wait_into_the_steps_and_goes_on() -> None:
    def steps() -> Generator[Any, None, str]:
        yield None  # nothing to wait for: resumed at once
        try:
            yield _Failing(), 0.0
        except ValueError as exc:
            yield None
            return f"handled: {exc}"
        return "not reached"

    assert drive(steps()) == "handled: from the wait"

    def unhandled() -> Generator[Any, None, str]:
        yield _Failing(), 0.0
        return "not reached"

    with pytest.raises(ValueError, match="from the wait"):
        drive(unhandled())
