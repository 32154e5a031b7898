"""``FakeCommands.register``: argument checks, matching rules, and what ports from
pytest-subprocess (``PROGRAM``, ``ANY(min=, max=)``, ``pass_command``, nested fakes...)."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import cmdrun
from cmdrun import testing
from cmdrun.testing import ANY, ANY_REST, FakeCommands, UnregisteredCommand


@pytest.fixture
def fake() -> Iterator[FakeCommands]:
    with FakeCommands() as fake:
        yield fake


# -- every argument checked at register() -----------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"stdout": 42}, TypeError, "stdout"),
        ({"stderr": object()}, TypeError, "stderr"),
        ({"stdout": ["ok", 3]}, TypeError, "stdout"),
        ({"returncode": "1"}, TypeError, "returncode"),
        ({"returncode": True}, TypeError, "returncode"),
        ({"duration": -1}, ValueError, "duration"),
        ({"duration": math.nan}, ValueError, "duration"),
        ({"duration": "1"}, TypeError, "duration"),
        ({"duration": True}, TypeError, "duration"),
        ({"tty": "yes"}, TypeError, "tty"),
        ({"callback": "print"}, TypeError, "callback"),
        ({"times": True}, TypeError, "times"),
        ({"times": 1.5}, TypeError, "times"),
        ({"times": 0}, ValueError, "times"),
        ({"raises": "boom"}, TypeError, "raises"),
    ],
)
def test_register_names_the_bad_argument(
    options: dict[str, Any], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=rf"\b{named}\b"):
        FakeCommands().register(["x"], **options)


def test_a_refused_registration_is_not_kept(fake: FakeCommands) -> None:
    with pytest.raises(TypeError):
        fake.register(["x"], stdout=42)  # type: ignore[arg-type]
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["x"])


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        (["one", "two"], "one\ntwo\n"),
        ([b"one", b"two"], "one\ntwo\n"),
        (["one", b"two"], "one\ntwo\n"),
        ([], ""),
        ([""], ""),
        (None, ""),
        (b"raw", "raw"),
    ],
)
def test_output_as_lines_is_joined_as_pytest_subprocess_joins_it(
    fake: FakeCommands, stdout: Any, expected: str
) -> None:
    fake.register(["x"], stdout=stdout, stderr=stdout)
    result = cmdrun.run(["x"])
    assert (result.stdout, result.stderr) == (expected, expected)


def test_an_infinite_duration_is_accepted_as_a_hang(fake: FakeCommands) -> None:
    fake.register(["hang"], duration=math.inf)
    with pytest.raises(cmdrun.CommandTimedOut):
        cmdrun.run(["hang"], timeout=0.5)


@pytest.mark.parametrize(
    ("options", "says"),
    [({"wait": 0.5}, "use `duration=`"), ({"occurrences": 2}, "use `times=`")],
)
def test_pytest_subprocess_option_names_say_what_to_use(options: dict[str, Any], says: str) -> None:
    with pytest.raises(TypeError, match=re.escape(says)):
        FakeCommands().register(["x"], **options)


def test_wait_is_refused_because_duration_is_never_slept() -> None:
    with pytest.raises(TypeError, match="never slept"):
        FakeCommands().register(["x"], wait=0.5)  # type: ignore[arg-type]


# -- patterns -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "error", "says"),
    [
        (b"git status", TypeError, "pattern"),
        (["git", ANY_REST, "--force"], ValueError, "ANY_REST"),
        ("git 'unclosed", ValueError, "pattern"),
        ("", ValueError, "pattern"),
        ([], ValueError, "pattern"),
        (["git", 3], TypeError, "argument 1"),
        (["git", None], TypeError, "argument 1"),
        (re.compile(b"git"), TypeError, "pattern"),
        (["git", re.compile(b"st")], TypeError, "argument 1"),
        (42, TypeError, "pattern"),
    ],
)
def test_register_refuses_bad_patterns(pattern: Any, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=re.escape(says)):
        FakeCommands().register(pattern)


def test_a_bytes_pattern_is_refused_and_later_calls_still_work(fake: FakeCommands) -> None:
    with pytest.raises(TypeError, match="bytes"):
        fake.register(b"git status")  # type: ignore[arg-type]
    fake.register(["git", "status"], stdout="clean\n")
    assert cmdrun.run(["git", "status"]).stdout == "clean\n"


def test_any_rest_in_the_middle_does_not_match_a_shorter_command(fake: FakeCommands) -> None:
    with pytest.raises(ValueError, match="last"):
        fake.register(["git", ANY_REST, "--force"])
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["git", "push"])


def test_a_regex_argument_must_match_the_whole_argument(fake: FakeCommands) -> None:
    fake.register(["cmake", re.compile(r"-S.+"), re.compile(r"-B.+")], stdout="configured\n")
    assert cmdrun.run(["cmake", "-S/src", "-B/build"]).stdout == "configured\n"
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["cmake", "x-S/src", "-B/build"])
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["cmake", "-B/build", "-S/src"])


def test_program_matches_the_program_by_its_basename(fake: FakeCommands) -> None:
    fake.register([testing.PROGRAM("ls"), ANY_REST], stdout="listing\n")
    assert cmdrun.run(["ls"]).stdout == "listing\n"
    assert cmdrun.run(["/usr/bin/ls", "-l"]).stdout == "listing\n"
    with pytest.raises(UnregisteredCommand, match=r"PROGRAM\('ls'\)"):
        cmdrun.run(["lsof"])


def test_program_takes_a_name_not_a_path() -> None:
    with pytest.raises(ValueError, match="basename"):
        testing.PROGRAM("/usr/bin/ls")
    with pytest.raises(TypeError, match="name"):
        testing.PROGRAM(3)  # type: ignore[arg-type]


def test_any_called_matches_a_range_of_arguments(fake: FakeCommands) -> None:
    fake.register(["cp", ANY(min=2, max=3), "dest"], stdout="copied\n")
    fake.register(["ls", ANY(min=0), "-l"], stdout="long\n")
    fake.register(["echo", ANY], stdout="one\n")
    fake.register(["env", ANY()], stdout="any number\n")
    assert cmdrun.run(["cp", "a", "b", "dest"]).stdout == "copied\n"
    assert cmdrun.run(["cp", "a", "b", "c", "dest"]).stdout == "copied\n"
    assert cmdrun.run(["ls", "-l"]).stdout == "long\n"
    assert cmdrun.run(["ls", "x", "y", "-l"]).stdout == "long\n"
    assert cmdrun.run(["echo", "hi"]).stdout == "one\n"
    assert cmdrun.run(["env"]).stdout == "any number\n"
    assert cmdrun.run(["env", "A=1", "B=2"]).stdout == "any number\n"
    for unanswered in (["cp", "a", "dest"], ["cp", "a", "b", "c", "d", "dest"], ["echo"]):
        with pytest.raises(UnregisteredCommand, match=r"ANY\(min=2, max=3\)"):
            cmdrun.run(unanswered)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"min": -1}, ValueError),
        ({"min": 3, "max": 2}, ValueError),
        ({"min": "1"}, TypeError),
        ({"max": 1.5}, TypeError),
        ({"max": True}, TypeError),
    ],
)
def test_any_refuses_bad_ranges(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=r"min|max"):
        ANY(**options)


def test_fixture_aliases_of_pytest_subprocess(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [fake_commands.program("git"), fake_commands.any(max=1), fake_commands.regex(r"v\d+")],
        stdout="tagged\n",
    )
    assert cmdrun.run(["/usr/bin/git", "tag", "v12"]).stdout == "tagged\n"
    assert cmdrun.run(["git", "v1"]).stdout == "tagged\n"
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["git", "a", "b", "v1"])


# -- real programs by pattern, and everything ------------------------------------------


def test_pass_command_runs_a_pattern_for_real_a_number_of_times(fake: FakeCommands) -> None:
    fake.pass_command(["echo", "real"], times=1)
    result = cmdrun.run(["echo", "real"])
    assert (result.stdout, result.pid > 0) == ("real\n", True)
    with pytest.raises(UnregisteredCommand, match="echo real"):
        cmdrun.run(["echo", "real"])
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["echo", "other"])


def test_pass_command_refuses_occurrences() -> None:
    with pytest.raises(TypeError, match=re.escape("use `times=`")):
        FakeCommands().pass_command(["echo"], occurrences=2)  # type: ignore[call-arg]


def test_allow_real_takes_argv_patterns_as_well_as_program_names(fake: FakeCommands) -> None:
    fake.allow_real.append(["echo", ANY])
    fake.allow_real.append("printf")
    assert cmdrun.run(["echo", "hi"]).stdout == "hi\n"
    assert cmdrun.run(["printf", "x"]).stdout == "x"
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["echo", "two", "words"])


def test_allow_unregistered_runs_every_unregistered_command_for_real(fake: FakeCommands) -> None:
    fake.register(["echo", "faked"], stdout="from the fake\n")
    fake.allow_unregistered(True)
    assert cmdrun.run(["echo", "real"]).stdout == "real\n"
    assert cmdrun.run(["echo", "faked"]).stdout == "from the fake\n"
    fake.allow_unregistered(False)
    with pytest.raises(UnregisteredCommand):
        cmdrun.run(["echo", "real"])
    with pytest.raises(TypeError, match="allow"):
        fake.allow_unregistered("yes")  # type: ignore[arg-type]


# -- nested fakes -----------------------------------------------------------------------


def test_an_inner_fake_falls_back_to_the_outer_one() -> None:
    with FakeCommands() as outer:
        outer.register(["git", "status"], stdout="outer\n")
        with FakeCommands() as inner:
            inner.register(["ls"], stdout="inner\n")
            assert cmdrun.run(["ls"]).stdout == "inner\n"
            assert cmdrun.run(["git", "status"]).stdout == "outer\n"
            with pytest.raises(UnregisteredCommand) as info:
                cmdrun.run(["hg"])
        with pytest.raises(UnregisteredCommand):
            cmdrun.run(["ls"])  # the inner one is gone
    message = str(info.value)
    assert "ls" in message
    assert "git status" in message
    assert [c.line for c in inner.calls] == ["ls", "git status", "hg"]


def test_a_fake_inside_the_fixture_falls_back_to_the_fixture(
    fake_commands: FakeCommands,
) -> None:
    fake_commands.register(["date"], stdout="fixture\n")
    with FakeCommands() as inner:
        inner.register(["uname"], stdout="inner\n")
        assert cmdrun.run(["date"]).stdout == "fixture\n"
        assert cmdrun.run(["uname"]).stdout == "inner\n"


# -- shell=True -------------------------------------------------------------------------


def test_a_shell_command_matches_its_registered_string(fake: FakeCommands) -> None:
    fake.register("ls -l | wc", stdout="3\n")
    fake.register(re.compile(r"^grep -c x < in$"), stdout="1\n")
    assert cmdrun.run("ls -l | wc", shell=True).stdout == "3\n"
    assert cmdrun.run("grep -c x < in", shell=True).stdout == "1\n"
    assert fake.calls[0].args == ("/bin/sh", "-c", "ls -l | wc")


def test_a_str_pattern_matches_a_plain_argv_and_a_shell_line(fake: FakeCommands) -> None:
    fake.register("git log -1", stdout="commit\n")
    assert cmdrun.run(["git", "log", "-1"]).stdout == "commit\n"
    assert cmdrun.run("git log -1", shell=True).stdout == "commit\n"
    with pytest.raises(UnregisteredCommand):
        cmdrun.run("git log -1 && rm -rf x", shell=True)


# -- what a fake reports -----------------------------------------------------------------


def test_plain_fakes_get_distinct_fake_pids(fake: FakeCommands) -> None:
    fake.register(["a"], stdout="x\n")
    fake.register(["b"])
    first, second = cmdrun.run(["a"]), cmdrun.run(["a"])
    piped = cmdrun.run(cmdrun.pipe(["a"], ["b"]))
    pids = [first.pid, second.pid, *(stage.pid for stage in piped.stages)]
    assert all(pid > 0 for pid in pids)
    assert len(set(pids)) == len(pids)
    assert piped.pid == piped.stages[0].pid


def test_as_completed_yields_fakes_in_the_order_of_their_durations(fake: FakeCommands) -> None:
    for name, seconds in [("slow", 5), ("mid", 2), ("fast", 1)]:
        fake.register([name], stdout=name, duration=seconds)
    cmds = [["slow"], ["mid"], ["fast"]]
    for _ in range(20):
        done = [r.stdout for r in cmdrun.as_completed(cmds, jobs=3)]
        assert done == ["fast", "mid", "slow"]


def test_as_completed_over_fakes_counts_the_free_slots(fake: FakeCommands) -> None:
    for name, seconds in [("slow", 5), ("mid", 2), ("fast", 1)]:
        fake.register([name], stdout=name, duration=seconds)
    cmds = [["slow"], ["mid"], ["fast"]]
    # Two at a time: fast starts when mid ends (t=2) and ends at t=3, before slow (t=5).
    assert [r.stdout for r in cmdrun.as_completed(cmds, jobs=2)] == ["mid", "fast", "slow"]
    assert [r.stdout for r in cmdrun.as_completed(cmds, jobs=1)] == ["slow", "mid", "fast"]
    assert [r.stdout for r in cmdrun.run_many(cmds, jobs=3)] == ["slow", "mid", "fast"]


def test_as_completed_orders_a_stopped_fake_by_when_it_was_stopped(fake: FakeCommands) -> None:
    fake.register(["hang"], duration=math.inf)  # silent: idle_timeout stops it at 0.5 s
    fake.register(["talks"], stdout="busy\n", duration=1)
    results = list(cmdrun.as_completed([["talks"], ["hang"]], jobs=2, idle_timeout=0.5))
    assert [r.args for r in results] == [("hang",), ("talks",)]
    assert results[0].timed_out


def _within(seconds: float, work: Callable[[], list[str]]) -> list[str]:
    """``work()``'s value, failing (instead of hanging the suite) if it takes too long."""
    box: list[list[str] | BaseException] = []

    def target() -> None:
        try:
            box.append(work())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still running after {seconds} s"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def test_a_batch_clock_is_not_stuck_by_a_fake_that_cannot_start(fake: FakeCommands) -> None:
    fake.register(["slow"], stdout="slow", duration=2)
    fake.register(["quick"], stdout="quick", duration=1)
    fake.register(["gone"], raises=cmdrun.CommandNotFound)
    cmds = [["slow"], ["gone"], ["quick"]]
    done = _within(10, lambda: [r.stdout for r in cmdrun.as_completed(cmds, jobs=2)])
    assert done == ["", "quick", "slow"]  # gone: status 127 at once; quick: from 0 to 1 s


def test_leaving_as_completed_early_does_not_hang_on_waiting_fakes(fake: FakeCommands) -> None:
    for name, seconds in [("a", 3), ("b", 1), ("c", 2), ("d", 4)]:
        fake.register([name], stdout=name, duration=seconds)

    def first() -> list[str]:
        for result in cmdrun.as_completed([["a"], ["b"], ["c"], ["d"]], jobs=2):
            return [result.stdout]
        return []

    assert _within(10, first) == ["b"]
    fake.register(["bad"], returncode=1, duration=1)
    with pytest.raises(cmdrun.CommandFailed):
        list(cmdrun.as_completed([["a"], ["bad"], ["c"]], jobs=2, fail_fast=True))


def test_a_real_command_in_a_batch_takes_no_fake_time(fake: FakeCommands) -> None:
    fake.register(["fake"], stdout="fake", duration=1)
    fake.allow_real.append("printf")
    cmds = [["fake"], ["printf", "real"]]
    assert _within(10, lambda: [r.stdout for r in cmdrun.as_completed(cmds)]) == ["real", "fake"]
