"""Faking pipelines: each stage is a registered command fed the output of the one before."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
from collections.abc import AsyncIterator

import pytest

import cmdrun
from cmdrun.testing import (
    ANY_REST,
    Answer,
    Call,
    Cassette,
    CassetteMiss,
    FakeCommands,
    In,
    Out,
    UnregisteredCommand,
)

BACKUP = cmdrun.pipe(["tar", "-cf", "-", "/srv"], ["gzip"])


def _upper(call: Call) -> str:
    return (call.input or "").upper()


def test_each_stage_is_fed_the_output_of_the_one_before() -> None:
    with FakeCommands() as fake:
        fake.register(["printf", ANY_REST], stdout="one\ntwo\n")
        fake.register(["tr", "a-z", "A-Z"], callback=_upper)
        fake.register(["wc", "-l"], callback=lambda call: f"{(call.input or '').count(chr(10))}\n")
        result = cmdrun.run(cmdrun.pipe("printf x", "tr a-z A-Z", "wc -l"))
    assert result.stdout == "2\n"
    assert result.args == cmdrun.pipe("printf x", "tr a-z A-Z", "wc -l")
    assert [call.args for call in fake.calls] == [
        ("printf", "x"),
        ("tr", "a-z", "A-Z"),
        ("wc", "-l"),
    ]
    assert [call.input for call in fake.calls] == [None, "one\ntwo\n", "ONE\nTWO\n"]
    assert [stage.args for stage in result.stages] == [
        ("printf", "x"),
        ("tr", "a-z", "A-Z"),
        ("wc", "-l"),
    ]
    assert all(stage.ok and stage.returncode == 0 for stage in result.stages)


def test_input_feeds_the_first_stage() -> None:
    with FakeCommands() as fake:
        fake.register(["cat"], callback=lambda call: call.input)
        fake.register(["tr", "a-z", "A-Z"], callback=_upper)
        result = cmdrun.run(cmdrun.pipe(["cat"], ["tr", "a-z", "A-Z"]), input="hi\n")
    assert result.stdout == "HI\n"
    assert fake.calls[0].input == "hi\n"


def test_a_failing_first_stage_decides_the_status_and_is_named() -> None:
    with FakeCommands() as fake:
        fake.register(
            ["tar", ANY_REST], returncode=2, stderr="tar: /srv: Cannot stat: No such file\n"
        )
        fake.register(["gzip"], stdout=b"\x1f\x8b")
        with pytest.raises(cmdrun.CommandFailed) as caught:
            cmdrun.run(BACKUP)
    message = str(caught.value)
    assert "stage 1 of 2 `tar -cf - /srv` exited with status 2" in message
    assert "Cannot stat" in message
    result = caught.value.result
    assert result.returncode == 2
    assert [stage.ok for stage in result.stages] == [False, True]
    assert result.stages[0].stderr == "tar: /srv: Cannot stat: No such file\n"
    assert result.stderr == "tar: /srv: Cannot stat: No such file\n"


def test_the_rightmost_failure_wins_and_sigpipe_upstream_is_not_one() -> None:
    with FakeCommands() as fake:
        fake.register(["yes"], returncode=-13)
        fake.register(["head", "-n1"], stdout="y\n")
        assert cmdrun.run(cmdrun.pipe(["yes"], ["head", "-n1"])).ok
        fake.register(["a"], returncode=3)
        fake.register(["b"], returncode=4)
        fake.register(["c"])
        result = cmdrun.run(cmdrun.pipe("a", "b", "c"), check=False)
    assert result.returncode == 4
    assert [stage.ok for stage in result.stages] == [False, False, True]


def test_a_stage_that_cannot_start_is_named_and_no_stage_answers() -> None:
    answered: list[Call] = []
    with FakeCommands() as fake:
        fake.register(["tar", ANY_REST], callback=answered.append)
        fake.register(["gzip"], raises=cmdrun.CommandNotFound)
        with pytest.raises(cmdrun.CommandNotFound) as caught:
            cmdrun.run(BACKUP)
    assert "stage 2 of 2 `gzip`" in str(caught.value)
    assert answered == []  # every stage is looked up before any answers


def test_an_unregistered_stage_fails_loudly() -> None:
    with FakeCommands() as fake:
        fake.register(["tar", ANY_REST])
        with pytest.raises(UnregisteredCommand, match="`gzip`"):
            cmdrun.run(BACKUP)


def test_a_pipeline_of_allowed_programs_runs_for_real() -> None:
    with FakeCommands(allow_real=["printf", "tr"]):
        result = cmdrun.run(cmdrun.pipe(["printf", "abc"], ["tr", "a-z", "A-Z"]))
    assert result.stdout == "ABC"
    assert len({stage.pid for stage in result.stages}) == 2
    assert all(stage.pid > 0 for stage in result.stages)


def test_a_real_stage_is_fed_a_fake_stage_output() -> None:
    with FakeCommands(allow_real=["tr"]) as fake:
        fake.register(["fetch"], stdout="from the fake\n")
        result = cmdrun.run(cmdrun.pipe(["fetch"], ["tr", "a-z", "A-Z"]))
    assert result.stdout == "FROM THE FAKE\n"
    assert result.stages[1].pid > 0


def test_a_stage_longer_than_the_timeout_stops_every_stage() -> None:
    with FakeCommands() as fake:
        fake.register(["tar", ANY_REST], stdout="data", duration=5)
        fake.register(["gzip"], stdout="zz")
        result = cmdrun.run(BACKUP, timeout=1, check=False)
        with pytest.raises(cmdrun.CommandTimedOut, match="timed out after 1 s"):
            cmdrun.run(BACKUP, timeout=1)
    assert result.timed_out
    assert result.timeout_kind == "total"
    assert [stage.returncode for stage in result.stages] == [-15, -15]
    assert result.duration == 1


def test_a_silent_stage_longer_than_the_idle_timeout_stops_as_idle() -> None:
    with FakeCommands() as fake:
        fake.register(["sleeper"], duration=10)
        fake.register(["cat"])
        result = cmdrun.run(cmdrun.pipe("sleeper", "cat"), idle_timeout=2, check=False)
    assert result.timeout_kind == "idle"


def test_output_options_apply_to_the_last_stage(tmp_path: pathlib.Path) -> None:
    lines: list[str] = []
    with FakeCommands() as fake:
        fake.register(["gen"], stdout="a\nb\n", stderr="gen warns\n")
        fake.register(["tr", "a-z", "A-Z"], callback=lambda call: Answer(_upper(call), "tr says\n"))
        pipeline = cmdrun.pipe("gen", "tr a-z A-Z")
        out = tmp_path / "out"
        cmdrun.run(pipeline, stdout=out, on_stderr=lines.append)
        merged = cmdrun.run(pipeline, merge_stderr=True)
    assert out.read_text() == "A\nB\n"
    assert lines == ["gen warns\n", "tr says\n"]
    assert merged.stdout == "A\nB\ngen warns\ntr says\n"
    assert merged.stages[0].stderr == ""  # merged: no stage keeps its own


def test_a_dialogue_stage_reads_the_output_before_it() -> None:
    with FakeCommands() as fake:
        fake.register(["gen"], stdout="ping\n")
        fake.register(["responder"], dialogue=[In("ping"), Out("pong\n")])
        assert cmdrun.run(cmdrun.pipe("gen", "responder")).stdout == "pong\n"


def test_register_refuses_a_pipeline() -> None:
    with FakeCommands() as fake, pytest.raises(TypeError, match="each stage"):
        fake.register(BACKUP)  # type: ignore[arg-type]


def test_batches_and_asyncio_take_faked_pipelines() -> None:
    with FakeCommands() as fake:
        fake.register(["gen"], stdout="x\n")
        fake.register(["tr", "a-z", "A-Z"], callback=_upper)
        pipeline = cmdrun.pipe("gen", "tr a-z A-Z")
        many = cmdrun.run_many([pipeline, pipeline], jobs=2)
        done = [r.stdout for r in cmdrun.as_completed([pipeline])]
        one = asyncio.run(cmdrun.arun(pipeline))
        with cmdrun.stream(pipeline) as lines:
            streamed = [line.text for line in lines]
    assert [r.stdout for r in many] == ["X\n", "X\n"]
    assert done == ["X\n"]
    assert one.stdout == "X\n"
    assert streamed == ["X\n"]


def test_no_fd_is_left_open(tmp_path: pathlib.Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    with FakeCommands(allow_real=["tr"]) as fake:
        fake.register(["gen"], stdout="x\n")
        for _ in range(5):
            cmdrun.run(cmdrun.pipe("gen", "tr a-z A-Z"), stdout=tmp_path / "o")
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_cassette_records_and_replays_a_pipeline(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "pipe.json"
    failing = cmdrun.pipe(["sh", "-c", "echo oops >&2; exit 3"], ["tr", "a-z", "A-Z"])
    with Cassette(path, record=True):
        recorded = cmdrun.run(cmdrun.pipe(["printf", "abc"], ["tr", "a-z", "A-Z"]))
        broken = cmdrun.run(failing, check=False)
    with Cassette(path):
        replayed = cmdrun.run(cmdrun.pipe(["printf", "abc"], ["tr", "a-z", "A-Z"]))
        with pytest.raises(cmdrun.CommandFailed, match="stage 1 of 2") as caught:
            cmdrun.run(failing)
        with pytest.raises(CassetteMiss, match=re.escape("`printf abc | cat`")):
            cmdrun.run(cmdrun.pipe(["printf", "abc"], ["cat"]))
    assert replayed.stdout == recorded.stdout == "ABC"
    assert replayed.args == recorded.args
    assert caught.value.result.returncode == broken.returncode == 3
    assert caught.value.result.stages[0].stderr == broken.stages[0].stderr == "oops\n"
    assert [s.ok for s in caught.value.result.stages] == [False, True]


def test_a_fake_reads_its_stdin_source(tmp_path: pathlib.Path) -> None:
    """What ``stdin=`` holds reaches a fake as its input, however it was given."""
    path = tmp_path / "in.txt"
    path.write_text("from a file\n")

    async def chunks() -> AsyncIterator[str]:
        yield "async "
        yield "chunks\n"

    with FakeCommands() as fake, path.open("rb") as file:
        fake.register(["cat"], callback=lambda call: call.input)
        assert cmdrun.run(["cat"], stdin=path).stdout == "from a file\n"
        assert cmdrun.run(["cat"], stdin=file).stdout == "from a file\n"
        assert cmdrun.run(["cat"], stdin=iter([b"gen", "erator\n"])).stdout == "generator\n"
        assert asyncio.run(cmdrun.arun(["cat"], stdin=chunks())).stdout == "async chunks\n"
        piped = cmdrun.run(cmdrun.pipe(["cat"], ["cat"]), stdin=path)
    assert piped.stdout == "from a file\n"
    assert fake.calls[0].input == "from a file\n"


def test_an_allowed_real_program_gets_the_stdin_source_untouched() -> None:
    with FakeCommands(allow_real=["wc"]):
        assert cmdrun.run(["wc", "-c"], stdin=iter([b"x" * 1000])).stdout.strip() == "1000"
