"""Pipelines: ``cmdrun.pipe(a, b, ...)`` through every door, with real processes."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import pathlib
import pickle
import signal
import subprocess
import time

import pytest

import cmdrun
import leakcheck
from children import alive, ctrl_c_parent, deaf_to_ctrl_c, ignore_and_hang, pids_in, py, wait_dead
from cmdrun import CommandFailed, CommandNotExecutable, CommandNotFound, CommandTimedOut, pipe


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_group_gone(pgid: int, within: float = 2.0) -> bool:
    end = time.monotonic() + within
    while not _group_gone(pgid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def tree_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small directory to archive: a few files, one of them incompressible-ish."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n" * 5000)
    (root / "sub" / "b.bin").write_bytes(os.urandom(100_000))
    (root / "sub" / "c.txt").write_text("".join(f"line {i}\n" for i in range(20_000)))
    return root


# -- the pipeline value -------------------------------------------------------------------


def test_pipeline_reads_as_the_shell_line_and_reprs_as_pipe() -> None:
    p = pipe(["tar", "-cf", "-", "my dir"], "gzip -9", ["wc", "-c"])
    assert str(p) == "tar -cf - 'my dir' | gzip -9 | wc -c"
    assert repr(p) == "pipe(['tar', '-cf', '-', 'my dir'], ['gzip', '-9'], ['wc', '-c'])"
    assert p.commands == (("tar", "-cf", "-", "my dir"), ("gzip", "-9"), ("wc", "-c"))
    assert len(p) == 3
    assert list(p) == list(p.commands)


def test_pipelines_compare_hash_and_pickle_by_their_commands() -> None:
    a = pipe(["echo", "x"], ["cat"])
    assert a == pipe("echo x", "cat")
    assert hash(a) == hash(pipe("echo x", "cat"))
    assert a != pipe(["echo", "y"], ["cat"])
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.commands = ()


def test_or_appends_a_stage_and_nested_pipelines_are_flattened() -> None:
    a = pipe(["echo", "x"], ["cat"])
    assert a | ["wc", "-c"] == pipe(["echo", "x"], ["cat"], ["wc", "-c"])
    assert a | "wc -c" == pipe(["echo", "x"], ["cat"], ["wc", "-c"])
    assert ["seq", "3"] | a == pipe(["seq", "3"], ["echo", "x"], ["cat"])
    assert pipe(a, a).commands == a.commands * 2
    assert len(a | a) == 4


def test_a_pipeline_needs_two_good_commands() -> None:
    with pytest.raises(ValueError, match=r"at least 2 commands.*run\(\)"):
        pipe(["echo"])
    with pytest.raises(ValueError, match="at least 2"):
        pipe()
    with pytest.raises(ValueError, match="empty command"):
        pipe(["echo"], [])
    with pytest.raises(TypeError, match="str or a sequence"):
        pipe(["echo"], 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pipe(["echo"], ["cat"]) | 3  # type: ignore[operator]
    with pytest.raises(TypeError, match="use pipe"):
        cmdrun.Pipeline("echo x")


def test_doors_that_run_one_program_refuse_a_pipeline_clearly() -> None:
    p = pipe(["echo", "x"], ["cat"])
    with pytest.raises(TypeError, match=r"spawn\(\) runs one program.*run\(\)"):
        cmdrun.spawn(p)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"call\(\) runs one program.*run\(\)"):
        cmdrun.call(p)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"shell=True.*not a pipeline"):
        cmdrun.run(p, shell=True)
    with pytest.raises(ValueError, match="tty=True: a pipeline runs on pipes"):
        cmdrun.run(p, tty=True)
    with pytest.raises(TypeError, match="not one pipeline"):
        cmdrun.run_many(p)


# -- plumbing -----------------------------------------------------------------------------


def test_tar_gzip_wc_gives_the_shells_answer_byte_for_byte(tree_dir: pathlib.Path) -> None:
    tar = ["tar", "-cf", "-", "-C", str(tree_dir.parent), tree_dir.name]
    result = cmdrun.run(pipe(tar, ["gzip", "-n"], ["wc", "-c"]))
    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {pipe(tar, ['gzip', '-n'], ['wc', '-c'])}"],
        capture_output=True,
        check=True,
    )
    assert result.stdout_bytes == shell.stdout
    assert int(result.stdout) > 1000
    assert [stage.returncode for stage in result.stages] == [0, 0, 0]
    assert [stage.args[0] for stage in result.stages] == ["tar", "gzip", "wc"]


def test_tar_gzip_to_a_file_unpacks_to_the_same_archive(
    tree_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tar = ["tar", "-cf", "-", "-C", str(tree_dir.parent), tree_dir.name]
    target = tmp_path / "backup.tgz"
    result = cmdrun.run(pipe(tar, ["gzip"]), stdout=target)
    assert result.ok
    assert result.stdout_bytes == b""
    assert (
        gzip.decompress(target.read_bytes())
        == subprocess.run(tar, capture_output=True, check=True).stdout
    )


def test_input_feeds_the_first_stage() -> None:
    assert cmdrun.run(pipe(["tr", "a-z", "A-Z"], ["cat"]), input="hello").stdout == "HELLO"
    big = b"x" * 5_000_000
    assert cmdrun.run(pipe(["cat"], ["wc", "-c"]), input=big).stdout.strip() == "5000000"


def test_max_output_and_on_stdout_apply_to_the_last_stage() -> None:
    lines: list[str] = []
    result = cmdrun.run(
        pipe(["seq", "1", "100000"], ["grep", "7$"]), max_output=8, on_stdout=lines.append
    )
    assert result.stdout_bytes == b"997\n99997\n"[-8:]
    assert result.stdout_dropped > 0
    assert len(lines) == 10_000
    assert lines[0] == "7\n"
    assert lines[-1] == "99997\n"


def test_each_stage_keeps_its_stderr_and_result_stderr_has_all() -> None:
    seen: list[str] = []
    first = ["sh", "-c", "echo one >&2; echo data"]
    second = ["sh", "-c", "cat; echo two >&2"]
    result = cmdrun.run(pipe(first, second), on_stderr=seen.append)
    assert result.stdout == "data\n"
    assert [stage.stderr for stage in result.stages] == ["one\n", "two\n"]
    assert [stage.stderr_bytes for stage in result.stages] == [b"one\n", b"two\n"]
    assert sorted(result.stderr.splitlines()) == ["one", "two"]
    assert sorted(seen) == ["one\n", "two\n"]


def test_stderr_to_a_file_takes_every_stage(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "err.log"
    first = ["sh", "-c", "echo one >&2; echo data"]
    second = ["sh", "-c", "cat; sleep 0.1; echo two >&2"]
    result = cmdrun.run(pipe(first, second), stderr=log)
    assert log.read_text() == "one\ntwo\n"
    assert result.stderr == ""
    assert [s.stderr for s in result.stages] == ["", ""]


def test_merge_stderr_sends_every_stage_into_the_final_output() -> None:
    first = ["sh", "-c", "echo one >&2; echo data"]
    second = ["sh", "-c", "cat; echo two >&2"]
    result = cmdrun.run(pipe(first, second), merge_stderr=True)
    assert sorted(result.stdout.splitlines()) == ["data", "one", "two"]
    assert result.stderr == ""


def test_result_names_the_pipeline_and_every_stage_pid() -> None:
    p = pipe(["sh", "-c", "echo $$"], ["sh", "-c", "cat; echo $$"])
    result = cmdrun.run(p)
    assert result.args == p
    assert cmdrun.run(result.args).ok
    first, second = (int(line) for line in result.stdout.split())
    assert [stage.pid for stage in result.stages] == [first, second]
    assert result.pid == first
    assert "stages=[0, 0]" in repr(result)
    again = pickle.loads(pickle.dumps(result))
    assert again.args == p
    assert again.stages == result.stages


def test_stages_of_a_single_command_describe_the_command() -> None:
    result = cmdrun.run(["sh", "-c", "echo oops >&2; exit 3"], check=False)
    (stage,) = result.stages
    assert (stage.args, stage.pid, stage.returncode, stage.ok) == (
        result.args,
        result.pid,
        3,
        False,
    )
    assert stage.stderr == "oops\n"
    assert stage.signal is None
    assert "stages" not in repr(result)


def test_stages_share_one_process_group_led_by_the_first() -> None:
    first = ["sh", "-c", "ps -o pgid= -p $$; sleep 0.2"]
    result = cmdrun.run(pipe(first, ["sh", "-c", "cat; ps -o pgid= -p $$"]))
    groups = {int(line) for line in result.stdout.split()}
    assert groups == {result.pid}
    assert os.getpgid(0) != result.pid


def test_a_finished_pipeline_leaves_no_fd_or_process() -> None:
    before = leakcheck.snapshot()
    for _ in range(3):
        cmdrun.run(pipe(["seq", "1000"], ["grep", "1"], ["wc", "-l"]))
    leakcheck.assert_no_leaks(before, threads=False)


def test_debug_log_shows_the_pipeline_as_a_shell_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="cmdrun"):
        cmdrun.run(pipe(["echo", "a b"], ["cat"]))
    assert "run: echo 'a b' | cat" in caplog.text


# -- pipefail -----------------------------------------------------------------------------


def test_yes_into_head_is_ok_although_yes_dies_of_sigpipe() -> None:
    result = cmdrun.run(pipe(["yes"], ["head", "-n1"]))
    assert result.ok
    assert result.stdout == "y\n"
    assert result.stages[0].signal == signal.SIGPIPE
    assert result.stages[0].ok


def test_exit_141_upstream_is_ok_but_not_in_the_last_stage() -> None:
    assert cmdrun.run(pipe(["sh", "-c", "echo a; exit 141"], ["head", "-n1"])).ok
    last = cmdrun.run(pipe(["echo", "a"], ["sh", "-c", "cat; exit 141"]), check=False)
    assert last.returncode == 141
    assert not last.stages[1].ok


FAIL = "cat >/dev/null; echo broke-{n} >&2; echo more-{n} >&2; exit {n}"


@pytest.mark.parametrize(
    ("index", "stages"),
    [
        (0, [["sh", "-c", FAIL.format(n=3)], ["cat"], ["cat"]]),
        (1, [["echo", "x"], ["sh", "-c", FAIL.format(n=3)], ["cat"]]),
        (2, [["echo", "x"], ["cat"], ["sh", "-c", FAIL.format(n=3)]]),
    ],
    ids=["first", "middle", "last"],
)
def test_a_failing_stage_decides_the_status_and_is_named(
    index: int, stages: list[list[str]]
) -> None:
    with pytest.raises(CommandFailed) as caught:
        cmdrun.run(pipe(*stages))
    result = caught.value.result
    assert result.returncode == 3
    assert [stage.ok for stage in result.stages] == [i != index for i in range(3)]
    message = str(caught.value)
    assert f"stage {index + 1} of 3 `sh -c '{FAIL.format(n=3)}'` exited with status 3" in message
    assert message.endswith("  broke-3\n  more-3")
    assert caught.value.cmd == result.args


def test_tar_of_a_missing_dir_fails_the_backup(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "backup.tgz"
    with pytest.raises(CommandFailed) as caught:
        cmdrun.run(pipe(["tar", "-cf", "-", "/no/such"], ["gzip"]), stdout=target)
    message = str(caught.value)
    assert "stage 1 of 2 `tar -cf - /no/such` exited with status 2" in message
    assert "/no/such" in message.split("\n", 1)[1]  # tar's complaint, quoted
    assert caught.value.returncode == 2


def test_the_rightmost_failure_wins_and_a_signal_is_named() -> None:
    p = pipe(["sh", "-c", "exit 2"], ["sh", "-c", "cat; kill -9 $$"], ["cat"])
    with pytest.raises(CommandFailed) as caught:
        cmdrun.run(p)
    assert "stage 2 of 3 `sh -c 'cat; kill -9 $$'` was killed by SIGKILL" in str(caught.value)
    result = cmdrun.run(pipe(["sh", "-c", "exit 2"], ["sh", "-c", "cat; exit 5"]), check=False)
    assert result.returncode == 5
    assert [s.ok for s in result.stages] == [False, False]


# -- stopping -----------------------------------------------------------------------------


def test_timeout_stops_every_stage_even_one_ignoring_sigterm() -> None:
    p = pipe(["sh", "-c", "echo $$; exec sleep 30"], ignore_and_hang(signal.SIGTERM), ["cat"])
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as caught:
        cmdrun.run(p, timeout=0.5, kill_grace=0.5)
    assert time.monotonic() - start < 5
    result = caught.value.result
    assert str(caught.value).startswith(f"pipeline `{p}` timed out after 0.5 s")
    assert result.timed_out
    assert _wait_group_gone(result.pid)
    assert wait_dead([stage.pid for stage in result.stages]) == []


def test_timeout_stops_a_grandchild_holding_a_pipe() -> None:
    p = pipe(["sh", "-c", "sleep 30 & echo pids $!; sleep 30"], ["cat"])
    start = time.monotonic()
    result = cmdrun.run(p, timeout=0.5, check=False)
    assert time.monotonic() - start < 5
    assert result.timed_out
    assert wait_dead(pids_in(result.stdout)) == []
    assert _wait_group_gone(result.pid)


def test_ctrl_c_in_the_parent_stops_every_stage(tmp_path: pathlib.Path) -> None:
    pidfile = tmp_path / "pids"
    child = deaf_to_ctrl_c(str(pidfile))
    call = "cmdrun.run(cmdrun.pipe(CHILD, CHILD, CHILD), kill_grace=0.5)"
    start = time.monotonic()
    code, out, pids = ctrl_c_parent(call, child, str(pidfile), 3)
    assert (code, out) == (42, b"KeyboardInterrupt\n")
    assert time.monotonic() - start < 10
    assert len(pids) == 3
    assert wait_dead(pids) == []


def test_die_with_parent_stops_every_stage_when_the_parent_is_killed(
    tmp_path: pathlib.Path,
) -> None:
    pidfile = tmp_path / "pids"
    stage = ["sh", "-c", f'echo $$ >> "{pidfile}"; exec sleep 60']
    parent = py(
        """
        import json, sys, cmdrun
        stage = json.loads(sys.argv[1])
        cmdrun.run(cmdrun.pipe(stage, stage), die_with_parent=True, kill_grace=0.5)
        """,
        __import__("json").dumps(stage),
    )
    proc = subprocess.Popen(parent)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if pidfile.exists() and len(pidfile.read_text().split()) == 2:
                break
            time.sleep(0.02)
        pids = [int(p) for p in pidfile.read_text().split()]
        proc.kill()
        proc.wait()
        assert wait_dead(pids, within=5) == []
    finally:
        proc.kill()


def test_fail_fast_stops_every_stage_of_a_running_pipeline() -> None:
    stage = ["sh", "-c", "exec sleep 30"]
    long = pipe(stage, stage)
    start = time.monotonic()
    with pytest.raises(CommandFailed):
        cmdrun.run_many([long, ["sh", "-c", "sleep 0.5; exit 1"]], jobs=2, fail_fast=True)
    assert time.monotonic() - start < 5
    # The pipeline's result is not returned: its stages are found by their command line.
    assert wait_dead(_pids_of("exec sleep 30")) == []


def _pids_of(needle: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if needle.encode() in f.read() and alive(int(name)):
                        found.append(int(name))
            except OSError:
                continue
    return found


# -- stages that cannot start --------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_missing_program_is_named_by_stage_and_nothing_runs(index: int) -> None:
    stages = [["sleep", "30"], ["cat"], ["cat"]]
    stages[index] = ["no-such-program-xyz", "-v"]
    before = leakcheck.snapshot()
    with pytest.raises(CommandNotFound) as caught:
        cmdrun.run(pipe(*stages))
    assert str(caught.value).startswith(
        f"stage {index + 1} of 3 `no-such-program-xyz -v`: command not found: 'no-such-program-xyz'"
    )
    assert pickle.loads(pickle.dumps(caught.value)).args == caught.value.args
    leakcheck.assert_no_leaks(before, threads=False)


def test_a_stage_failing_at_exec_stops_the_started_ones(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "broken"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    before = leakcheck.snapshot()
    start = time.monotonic()
    with pytest.raises(CommandNotExecutable) as caught:
        cmdrun.run(pipe(["sleep", "30"], [str(script)], ["cat"]))
    assert time.monotonic() - start < 5
    assert str(caught.value).startswith(f"stage 2 of 3 `{script}`: cannot execute")
    assert "interpreter not found" in str(caught.value)
    leakcheck.assert_no_leaks(before, threads=False)


# -- every door ----------------------------------------------------------------------------


def test_run_many_and_as_completed_take_pipelines() -> None:
    a = pipe(["echo", "a"], ["tr", "a", "A"])
    b = pipe(["echo", "b"], ["tr", "b", "B"], ["cat"])
    results = cmdrun.run_many([a, b, ["echo", "c"]])
    assert [r.stdout for r in results] == ["A\n", "B\n", "c\n"]
    assert [r.args for r in results][:2] == [a, b]
    assert sorted(r.stdout for r in cmdrun.as_completed([a, b])) == ["A\n", "B\n"]


def test_run_many_reports_a_missing_stage_as_127() -> None:
    (result,) = cmdrun.run_many([pipe(["echo"], ["no-such-program-xyz"])])
    assert result.returncode == 127
    assert [stage.args for stage in result.stages] == [("echo",), ("no-such-program-xyz",)]
    assert "stage 2 of 2" in result.stderr


def test_arun_and_arun_many_take_pipelines() -> None:
    async def main() -> tuple[str, list[str]]:
        one = await cmdrun.arun(pipe(["echo", "a"], ["tr", "a", "A"]))
        many = await cmdrun.arun_many([pipe(["echo", "b"], ["cat"]), pipe(["echo", "c"], ["cat"])])
        return one.stdout, [r.stdout for r in many]

    assert asyncio.run(main()) == ("A\n", ["b\n", "c\n"])


def test_stream_gives_the_last_stages_lines() -> None:
    with cmdrun.stream(pipe(["seq", "3"], ["sed", "s/^/n/"])) as lines:
        assert [(line.stream, line.text) for line in lines] == [
            ("stdout", "n1\n"),
            ("stdout", "n2\n"),
            ("stdout", "n3\n"),
        ]


def test_tty_auto_runs_a_pipeline_on_pipes_without_rerun() -> None:
    refuses = ["sh", "-c", "cat >/dev/null; echo 'not a tty' >&2; exit 1"]
    result = cmdrun.run(pipe(["echo"], refuses), check=False)
    assert result.returncode == 1
    assert not result.tty


def test_without_pidfds_stage_exits_are_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    from cmdrun import _platform

    monkeypatch.setattr(_platform, "HAS_PIDFD", False)
    assert cmdrun.run(pipe(["yes"], ["head", "-n2"])).stdout == "y\ny\n"
    failed = cmdrun.run(pipe(["sh", "-c", "exit 4"], ["cat"]), check=False)
    assert failed.returncode == 4
    stopped = cmdrun.run(pipe(["sleep", "30"], ["cat"]), timeout=0.3, check=False)
    assert stopped.timed_out
    assert _wait_group_gone(stopped.pid)


def test_a_stage_reading_the_terminal_is_stopped_and_the_timeout_ends_it() -> None:
    # The parent owns a terminal's foreground; the pipeline is a background job of its
    # session, so its stage cannot read the line waiting on the terminal (SIGTTIN).
    parent = py(
        """
        import cmdrun
        reader = ["sh", "-c", "read x < /dev/tty; echo got $x"]
        r = cmdrun.run(cmdrun.pipe(reader, ["cat"]), timeout=1, check=False)
        print("timed_out", r.timed_out, r.returncode, r.stdout.strip())
        """
    )
    result = cmdrun.run(parent, tty=True, input="hello\n", timeout=30)
    assert "timed_out True -15" in result.stdout
    assert "got hello" not in result.stdout


def test_pipes_between_stages_get_a_big_buffer() -> None:
    """1 MiB instead of the kernel's 64 KiB: fewer wake-ups of the stages (see _Pipes.link)."""
    probe = "import fcntl; print(fcntl.fcntl(1, 1032))"  # F_GETPIPE_SZ of its stdout
    result = cmdrun.run(pipe(py(probe), ["cat"]))
    assert int(result.stdout) >= 1 << 20


def test_idle_timeout_watches_the_last_stage_and_every_stderr() -> None:
    talker = py("import time\nfor i in range(8):\n    print(i, flush=True); time.sleep(0.1)")
    quiet = cmdrun.run(
        pipe(["sh", "-c", "echo start; sleep 30"], ["cat"]), idle_timeout=0.5, check=False
    )
    assert quiet.timeout_kind == "idle"
    assert quiet.stdout == "start\n"
    assert [stage.returncode for stage in quiet.stages] == [-signal.SIGTERM] * 2
    slow = cmdrun.run(pipe(talker, ["cat"]), idle_timeout=0.5)
    assert slow.ok
    assert slow.stdout.split() == [str(i) for i in range(8)]


def test_stdin_sources_feed_the_first_stage(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"b\na\nc\n")
    assert cmdrun.run(pipe(["sort"], ["head", "-n1"]), stdin=source).stdout == "a\n"
    chunks = (f"{n}\n" for n in range(1000))
    assert cmdrun.run(pipe(["tail", "-n1"], ["cat"]), stdin=chunks).stdout == "999\n"
