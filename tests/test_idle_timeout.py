"""``idle_timeout``: a program that writes nothing for S seconds is stopped like a timeout.

Real programs throughout. The only timed assertions are generous upper bounds proving the
program was stopped (``idle + kill_grace`` plus a margin for a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import math
import pickle
import subprocess
import time
from pathlib import Path

import pytest

import cmdrun
from children import PY, ignore_term_and_hang, pids_in, py, tree, wait_dead
from cmdrun import CommandTimedOut, Result
from cmdrun.testing import Cassette, FakeCommands

IDLE = 0.5
GRACE = 0.5
NOISE = 1.5  # scheduling margin on a busy 2-core machine
BOUND = IDLE + GRACE + NOISE


def talks_then_quiet() -> list[str]:
    """Print one line, then sleep silently."""
    return py(
        """
        import time
        print("hello", flush=True)
        time.sleep(30)
        """
    )


def talks_slowly(stream: str = "stdout", lines: int = 15, pause: float = 0.1) -> list[str]:
    """Write ``lines`` lines to ``stream``, one every ``pause`` seconds, then exit 0."""
    fd = 1 if stream == "stdout" else 2
    return py(
        f"""
        import os, time
        for i in range({lines}):
            os.write({fd}, b"line %d\\n" % i)
            time.sleep({pause})
        """
    )


def silent_then_says_bye_on_term() -> list[str]:
    """Say nothing; on SIGTERM print ``bye`` and exit."""
    return py(
        """
        import os, signal, sys, time
        def bye(*_):
            os.write(1, b"bye\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        time.sleep(30)
        """
    )


def timed(**kw: object) -> tuple[Result, float]:
    argv = kw.pop("argv")
    start = time.monotonic()
    result = cmdrun.run(argv, idle_timeout=IDLE, kill_grace=GRACE, check=False, **kw)  # type: ignore[arg-type, call-overload]
    return result, time.monotonic() - start


# -- the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("tty", [False, True])
def test_program_that_goes_quiet_is_stopped_after_idle_timeout(tty: bool) -> None:
    r, elapsed = timed(argv=talks_then_quiet(), tty=tty)
    assert r.timed_out
    assert r.timeout_kind == "idle"
    assert r.returncode == -15
    assert r.stdout.replace("\r\n", "\n") == "hello\n"
    assert r.idle_timeout == IDLE
    assert elapsed < BOUND


@pytest.mark.parametrize("tty", [False, True])
def test_program_that_keeps_talking_slowly_is_not_stopped(tty: bool) -> None:
    r, _ = timed(argv=talks_slowly(), tty=tty)
    assert r.ok
    assert not r.timed_out
    assert r.timeout_kind is None
    assert r.stdout.replace("\r\n", "\n").splitlines() == [f"line {i}" for i in range(15)]


def test_output_on_stderr_alone_resets_the_idle_clock() -> None:
    r, _ = timed(argv=talks_slowly("stderr"))
    assert r.ok
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 15


def test_output_going_to_a_file_still_resets_the_idle_clock(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    r, _ = timed(argv=talks_slowly(), stdout=out)
    assert r.ok
    assert len(out.read_text().splitlines()) == 15


def test_output_going_to_devnull_still_resets_the_idle_clock() -> None:
    r, _ = timed(argv=talks_slowly(), stdout=subprocess.DEVNULL)
    assert r.ok


def test_the_idle_clock_starts_with_the_program() -> None:
    r, elapsed = timed(argv=["sleep", "30"])
    assert r.timeout_kind == "idle"
    assert r.stdout == ""
    assert elapsed < BOUND


def test_output_written_while_stopping_is_kept() -> None:
    r, elapsed = timed(argv=silent_then_says_bye_on_term())
    assert r.timeout_kind == "idle"
    assert r.stdout == "bye\n"
    assert r.returncode == 0
    assert not r.ok
    assert elapsed < BOUND


def test_silent_program_ignoring_sigterm_is_killed_after_grace() -> None:
    r, elapsed = timed(
        argv=py("import signal, time; signal.signal(15, signal.SIG_IGN); time.sleep(60)")
    )
    assert r.timeout_kind == "idle"
    assert r.returncode == -9
    assert IDLE + GRACE - 0.05 <= elapsed < BOUND
    assert wait_dead([r.pid]) == []


def test_program_ignoring_sigterm_after_talking_is_killed() -> None:
    r, elapsed = timed(argv=ignore_term_and_hang())
    assert r.timeout_kind == "idle"
    assert r.returncode == -9
    assert r.stdout == "partial\n"
    assert elapsed < BOUND


@pytest.mark.parametrize("ignore_term", [False, True])
def test_idle_timeout_kills_grandchildren_that_hold_the_pipes(ignore_term: bool) -> None:
    r, elapsed = timed(argv=tree(3, ignore_term=ignore_term))
    assert r.timeout_kind == "idle"
    assert elapsed < BOUND
    assert wait_dead(pids_in(r.stdout)) == []


# -- with the total timeout -------------------------------------------------------------


def test_idle_timeout_first_decides_the_kind() -> None:
    r, elapsed = timed(argv=talks_then_quiet(), timeout=20)
    assert r.timeout_kind == "idle"
    assert r.timeout == 20
    assert elapsed < BOUND
    with pytest.raises(CommandTimedOut) as info:
        r.check_returncode()
    assert info.value.timeout == IDLE


def test_total_timeout_first_decides_the_kind() -> None:
    forever = talks_slowly(lines=1000)
    r, elapsed = timed(argv=forever, timeout=1.0)
    assert r.timed_out
    assert r.timeout_kind == "total"
    assert 1.0 - 0.05 <= elapsed < 1.0 + GRACE + NOISE
    with pytest.raises(CommandTimedOut, match="timed out after 1 s") as info:
        r.check_returncode()
    assert info.value.timeout == 1.0


def test_timeout_kind_is_none_for_a_normal_run_and_total_for_a_timeout() -> None:
    assert cmdrun.run(["true"]).timeout_kind is None
    assert cmdrun.run(["false"], check=False).timeout_kind is None
    stopped = cmdrun.run(["sleep", "30"], timeout=0.3, check=False)
    assert stopped.timed_out
    assert stopped.timeout_kind == "total"
    assert stopped.idle_timeout is None


# -- errors -----------------------------------------------------------------------------


def test_check_raises_command_timed_out_naming_the_idle_limit() -> None:
    argv = py(
        """
        import sys, time
        print("partial", flush=True)
        print("oops", file=sys.stderr, flush=True)
        time.sleep(30)
        """
    )
    with pytest.raises(CommandTimedOut) as info:
        cmdrun.run(argv, idle_timeout=IDLE, kill_grace=GRACE)
    err = info.value
    assert isinstance(err, subprocess.TimeoutExpired)
    assert err.timeout == IDLE
    assert err.result.timeout_kind == "idle"
    message = str(err)
    assert "produced no output for 0.5 s and was stopped (killed by SIGTERM)" in message
    assert message.startswith("command `")
    assert "timed out after" not in message
    assert "stderr (last lines):\n  oops" in message
    assert err.output == "partial\n"


def test_idle_timed_out_error_pickles_with_its_message() -> None:
    with pytest.raises(CommandTimedOut) as info:
        cmdrun.run(["sleep", "30"], idle_timeout=0.3)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert copy.timeout == 0.3
    assert "produced no output for 0.3 s" in str(copy)


# -- the doors --------------------------------------------------------------------------


def test_respond_waiting_for_a_prompt_that_never_comes_is_stopped_by_idle_timeout() -> None:
    start = time.monotonic()
    r = cmdrun.run(
        [PY, "-c", "input('Name? ')"],
        respond={"Login: ": "x"},
        idle_timeout=IDLE,
        kill_grace=GRACE,
        check=False,
    )
    assert time.monotonic() - start < BOUND
    assert r.timeout_kind == "idle"
    assert r.stdout == "Name? "


def test_stream_stops_a_quiet_program() -> None:
    lines = cmdrun.stream(talks_then_quiet(), idle_timeout=IDLE, kill_grace=GRACE, check=False)
    with lines:
        texts = [line.text for line in lines]
    assert texts == ["hello\n"]
    assert lines.result is not None
    assert lines.result.timeout_kind == "idle"


def test_stream_with_check_raises_after_the_lines() -> None:
    seen: list[str] = []
    lines = cmdrun.stream(talks_then_quiet(), idle_timeout=IDLE, kill_grace=GRACE)
    with pytest.raises(CommandTimedOut, match="produced no output"):
        seen.extend(line.text for line in lines)
    assert seen == ["hello\n"]


def test_run_many_applies_idle_timeout_to_each_command() -> None:
    quiet, talker = cmdrun.run_many(
        [talks_then_quiet(), talks_slowly()], idle_timeout=IDLE, kill_grace=GRACE
    )
    assert quiet.timeout_kind == "idle"
    assert talker.ok


def test_as_completed_with_idle_timeout() -> None:
    results = list(cmdrun.as_completed([["sleep", "30"]], idle_timeout=IDLE, kill_grace=GRACE))
    assert [r.timeout_kind for r in results] == ["idle"]


def test_run_many_fail_fast_raises_the_idle_timeout() -> None:
    with pytest.raises(CommandTimedOut, match=r"produced no output for 0\.5 s"):
        cmdrun.run_many([["sleep", "30"]], idle_timeout=IDLE, kill_grace=GRACE, fail_fast=True)


def test_arun_raises_the_idle_timeout() -> None:
    async def main() -> None:
        with pytest.raises(CommandTimedOut, match=r"produced no output for 0\.5 s") as info:
            await cmdrun.arun(talks_then_quiet(), idle_timeout=IDLE, kill_grace=GRACE)
        assert info.value.timeout == IDLE
        assert info.value.result.stdout == "hello\n"

    asyncio.run(main())


def test_arun_many_applies_idle_timeout() -> None:
    async def main() -> list[Result]:
        return await cmdrun.arun_many(
            [["sleep", "30"], talks_slowly()], idle_timeout=IDLE, kill_grace=GRACE
        )

    quiet, talker = asyncio.run(main())
    assert quiet.timeout_kind == "idle"
    assert talker.ok


def test_call_refuses_idle_timeout_and_says_what_to_use() -> None:
    with pytest.raises(TypeError, match=r"call\(\) does not take idle_timeout=.*tee=True"):
        cmdrun.call(["true"], idle_timeout=1)  # type: ignore[call-arg]


def test_spawn_refuses_idle_timeout() -> None:
    with pytest.raises(TypeError, match="idle_timeout"):
        cmdrun.spawn(["true"], idle_timeout=1)  # type: ignore[call-arg]


# -- checks before anything runs --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (math.nan, ValueError),
        ("1", TypeError),
        (True, TypeError),
        (1j, TypeError),
    ],
)
def test_bad_idle_timeout_is_refused_naming_it(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"^idle_timeout must"):
        cmdrun.run(["true"], idle_timeout=value)  # type: ignore[arg-type]
    with pytest.raises(error, match=r"^idle_timeout must"):
        cmdrun.run_many([["true"]], idle_timeout=value)  # type: ignore[typeddict-item]


def test_infinite_idle_timeout_means_no_limit() -> None:
    r = cmdrun.run(["true"], idle_timeout=math.inf)
    assert r.ok
    assert r.idle_timeout is None


# -- the Result -------------------------------------------------------------------------


def test_result_with_timeout_kind_pickles_and_shows_it() -> None:
    r = Result(("sleep", "9"), -15, timed_out=True, timeout_kind="idle", idle_timeout=2.0)
    copy = pickle.loads(pickle.dumps(r))
    assert copy.timeout_kind == "idle"
    assert copy.idle_timeout == 2.0
    assert copy.timed_out
    assert "timeout_kind='idle'" in repr(copy)
    with pytest.raises(CommandTimedOut, match="produced no output for 2 s") as info:
        copy.check_returncode()
    assert info.value.timeout == 2.0


def test_result_timed_out_without_a_kind_is_a_total_timeout() -> None:
    r = Result(("sleep", "9"), -15, timed_out=True, timeout=1.0)
    assert r.timeout_kind == "total"
    assert "timeout_kind" not in repr(Result(("true",), 0))


# -- test doubles -----------------------------------------------------------------------


def test_fake_without_output_that_runs_longer_than_idle_timeout_times_out_idle() -> None:
    with FakeCommands() as fake:
        fake.register(["build"], duration=60)
        r = cmdrun.run(["build"], idle_timeout=10, check=False)
        assert r.timeout_kind == "idle"
        assert r.returncode == -15
        assert r.duration == 10
        with pytest.raises(CommandTimedOut, match="produced no output for 10 s"):
            cmdrun.run(["build"], idle_timeout=10)
        assert cmdrun.run(["build"], idle_timeout=100).ok


def test_fake_total_timeout_shorter_than_idle_timeout_wins() -> None:
    with FakeCommands() as fake:
        fake.register(["build"], duration=60)
        r = cmdrun.run(["build"], idle_timeout=10, timeout=5, check=False)
        assert r.timeout_kind == "total"
        assert r.duration == 5


def test_fake_with_output_is_not_idle() -> None:
    with FakeCommands() as fake:
        fake.register(["build"], stdout="compiling\n", duration=60)
        assert cmdrun.run(["build"], idle_timeout=10).ok


def test_cassette_replays_the_timeout_kind(tmp_path: Path) -> None:
    path = tmp_path / "idle.json"
    results = []
    for record in (True, False):
        with Cassette(path, record=record):
            results.append(cmdrun.run(talks_then_quiet(), idle_timeout=0.3, check=False))
            with pytest.raises(CommandTimedOut, match=r"produced no output for 0\.3 s"):
                cmdrun.run(talks_then_quiet(), idle_timeout=0.3)
    recorded, replayed = results
    assert recorded.timeout_kind == replayed.timeout_kind == "idle"
    assert replayed.stdout == "hello\n"
    assert '"timeout_kind": "idle"' in path.read_text()
