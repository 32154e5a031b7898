"""``cmdrun many``: a list of commands run in parallel, as a user runs it (a real process)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cmdrun
from children import alive, cli_script, ignore_term_and_hang, py, wait_dead, write_both

SRC = str(Path(cmdrun.__file__).resolve().parent.parent)


def _env() -> dict[str, str]:
    """This environment, with the tested cmdrun first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": SRC + (os.pathsep + path if path else "")}


def _many_argv(*args: str) -> list[str]:
    """``cmdrun many ARGS``: the console script, or ``python -m cmdrun`` without it."""
    return [*(cli_script() or [sys.executable, "-m", "cmdrun"]), "many", *args]


def cli_many(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``cmdrun many ARGS`` as a user would; ``kw`` goes to ``subprocess.run``."""
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(_many_argv(*args), text=True, env=_env(), check=False, **kw)


def start_many(*args: str) -> subprocess.Popen[str]:
    """Start ``cmdrun many ARGS`` in the background, output captured."""
    return subprocess.Popen(
        _many_argv(*args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def line(argv: list[str]) -> str:
    """One line of a commands file that runs ``argv`` (a child from children.py: its
    multi-line ``-c`` code becomes one line, ``exec('...')``)."""
    return shlex.join(f"exec({arg!r})" if "\n" in arg else arg for arg in argv)


def commands_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "commands.txt"
    path.write_text("".join(f"{text}\n" for text in lines))
    return str(path)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(text) for text in stdout.splitlines()]


def by_index(stdout: str) -> list[dict[str, Any]]:
    return sorted(json_lines(stdout), key=lambda obj: int(obj["index"]))


def records_times(path: Path, wait_for: int) -> list[str]:
    """Write ``start`` to ``path``, wait (up to 5 s) until ``wait_for`` such files exist in
    its directory, then append ``end``; the times are ``time.monotonic()`` (system-wide)."""
    return py(
        f"""
        import glob, os, time
        path = {str(path)!r}
        with open(path, "w") as f:
            f.write("%r\\n" % time.monotonic())
        end = time.monotonic() + 5
        while len(glob.glob(os.path.join(os.path.dirname(path), "*.times"))) < {wait_for}:
            if time.monotonic() > end:
                break
            time.sleep(0.01)
        time.sleep(0.05)
        with open(path, "a") as f:
            f.write("%r\\n" % time.monotonic())
        """
    )


def hangs_with_grandchild(pid_file: Path, *, ignore_term: bool = False) -> list[str]:
    """Start a grandchild in the same group, write both pids to ``pid_file``, hang."""
    return py(
        f"""
        import os, signal, subprocess, time
        if {ignore_term}:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kid = subprocess.Popen(["sleep", "60"])
        tmp = {str(pid_file)!r} + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d" % (os.getpid(), kid.pid))
        os.rename(tmp, {str(pid_file)!r})
        time.sleep(60)
        """
    )


def pids_from(*files: Path, within: float = 15.0) -> list[int]:
    """The pids written to ``files``, once all exist."""
    end = time.monotonic() + within
    while not all(f.exists() for f in files):
        assert time.monotonic() < end, "the commands did not start"
        time.sleep(0.02)
    return [int(pid) for f in files for pid in f.read_text().split()]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


# -- running -------------------------------------------------------------------------------


def test_runs_at_most_j_commands_at_once(tmp_path: Path) -> None:
    times = tmp_path / "times"
    times.mkdir()
    lines = [line(records_times(times / f"{i}.times", wait_for=3)) for i in range(6)]
    done = cli_many("-j", "3", commands_file(tmp_path, *lines))
    assert done.returncode == 0, done.stderr
    intervals = []
    for f in times.iterdir():
        start, end = map(float, f.read_text().split())
        intervals.append((start, end))
    assert len(intervals) == 6
    # The first three wait for each other: three ran at once, and never a fourth.
    assert max_overlap(intervals) == 3


def test_skips_comments_and_blank_lines_and_splits_like_a_shell(tmp_path: Path) -> None:
    path = commands_file(
        tmp_path,
        "# a comment line",
        "",
        "   ",
        "echo 'two  spaces' \"and quotes\"  # a trailing comment",
        "  # an indented comment",
        "echo second",
    )
    done = cli_many("--json", path)
    assert done.returncode == 0, done.stderr
    results = by_index(done.stdout)
    assert [r["args"] for r in results] == [
        ["echo", "two  spaces", "and quotes"],
        ["echo", "second"],
    ]
    assert [r["stdout"] for r in results] == ["two  spaces and quotes\n", "second\n"]


def test_reads_commands_from_stdin_without_file_or_with_dash() -> None:
    for args in ((), ("-",)):
        done = cli_many("--json", *args, input="echo from stdin\n")
        assert done.returncode == 0, done.stderr
        assert [r["stdout"] for r in json_lines(done.stdout)] == ["from stdin\n"]


def test_commands_do_not_read_the_list_on_stdin() -> None:
    # cat would swallow the rest of the list if commands inherited cmdrun many's stdin.
    done = cli_many("--json", "-j", "1", input="cat\necho after\n")
    assert done.returncode == 0, done.stderr
    assert [r["stdout"] for r in by_index(done.stdout)] == ["", "after\n"]


def test_shell_flag_runs_each_line_with_sh(tmp_path: Path) -> None:
    path = commands_file(tmp_path, "# skipped", "echo one | tr a-z A-Z && echo two")
    done = cli_many("--json", "--shell", path)
    assert done.returncode == 0, done.stderr
    [result] = json_lines(done.stdout)
    assert result["args"] == ["/bin/sh", "-c", "echo one | tr a-z A-Z && echo two"]
    assert result["stdout"] == "ONE\ntwo\n"


def test_without_shell_a_pipe_is_an_argument(tmp_path: Path) -> None:
    done = cli_many("--json", commands_file(tmp_path, "echo a | tr a b"))
    assert [r["stdout"] for r in json_lines(done.stdout)] == ["a | tr a b\n"]


# -- usage errors ----------------------------------------------------------------------------


def test_unsplittable_line_is_a_usage_error_naming_the_line_before_anything_runs(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    path = commands_file(tmp_path, f"touch {marker}", "# fine", "echo 'unclosed")
    done = cli_many(path)
    assert done.returncode == 2
    assert "line 3" in done.stderr
    assert not marker.exists()


def test_zero_or_negative_jobs_is_a_usage_error(tmp_path: Path) -> None:
    for jobs in ("0", "-2", "many"):
        done = cli_many("-j", jobs, commands_file(tmp_path, "true"))
        assert done.returncode == 2, jobs
        assert "usage: cmdrun many" in done.stderr


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    done = cli_many(str(tmp_path / "missing.txt"))
    assert done.returncode == 2
    assert "missing.txt" in done.stderr


def test_bad_timeout_is_a_usage_error(tmp_path: Path) -> None:
    for option in ("--timeout", "--idle-timeout", "--kill-grace"):
        done = cli_many(option, "-1", commands_file(tmp_path, "true"))
        assert done.returncode == 2, option


def test_help_shows_an_example() -> None:
    done = cli_many("--help")
    assert done.returncode == 0
    assert "usage: cmdrun many" in done.stdout
    assert "example" in done.stdout.lower()


# -- results ---------------------------------------------------------------------------------


def test_all_succeeding_exits_0_with_a_table_in_input_order(tmp_path: Path) -> None:
    path = commands_file(tmp_path, line(py("import time; time.sleep(0.5)")), "echo fast", "true")
    done = cli_many(path)
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\n\n")[0].splitlines()
    assert table[0].split() == ["line", "exit", "time", "command"]
    rows = table[1:]
    assert [r.split()[0] for r in rows] == ["1", "2", "3"]
    assert "echo fast" in rows[1]
    assert rows[1].split()[1] == "0"


def test_failing_command_exits_1_with_its_stderr_tail_in_the_summary(tmp_path: Path) -> None:
    noisy = write_both("", "".join(f"problem {i}\n" for i in range(15)), code=3)
    done = cli_many(commands_file(tmp_path, "echo fine", line(noisy)))
    assert done.returncode == 1
    row = next(text for text in done.stdout.splitlines() if text.strip().startswith("2 "))
    assert row.split()[1] == "3"
    assert "last 10 of 15 lines" in done.stdout
    assert "problem 14" in done.stdout
    assert "problem 4\n" not in done.stdout
    assert "problem 5\n" in done.stdout


def test_tail_option_sets_the_number_of_stderr_lines(tmp_path: Path) -> None:
    noisy = write_both("", "".join(f"problem {i}\n" for i in range(15)), code=3)
    done = cli_many("--tail", "2", commands_file(tmp_path, line(noisy)))
    assert "last 2 of 15 lines" in done.stdout
    assert "problem 12\n" not in done.stdout
    assert "problem 13\n" in done.stdout


def test_command_not_found_fails_its_line_and_the_others_still_run(tmp_path: Path) -> None:
    path = commands_file(tmp_path, "no-such-program-cmdrun --flag", "echo still")
    done = cli_many("--json", path)
    assert done.returncode == 1
    missing, other = by_index(done.stdout)
    assert missing["returncode"] == 127
    assert "not found" in missing["stderr"]
    assert other["returncode"] == 0
    assert other["stdout"] == "still\n"
    table = cli_many(path)
    assert "127" in table.stdout
    assert "command not found: 'no-such-program-cmdrun'" in table.stdout


def test_json_lines_carry_every_field(tmp_path: Path) -> None:
    path = commands_file(tmp_path, line(write_both("out", "err", code=4)), "echo hi")
    done = cli_many("--json", path)
    assert done.returncode == 1
    failed, ok = by_index(done.stdout)
    fields = {
        "index",
        "args",
        "returncode",
        "signal",
        "timed_out",
        "timeout_kind",
        "cancelled",
        "started",
        "duration",
        "stdout",
        "stderr",
        "pid",
    }
    assert fields <= failed.keys()
    assert (failed["index"], failed["returncode"], failed["stdout"], failed["stderr"]) == (
        0,
        4,
        "out",
        "err",
    )
    assert (failed["signal"], failed["timed_out"], failed["cancelled"]) == (None, False, False)
    assert ok["index"] == 1
    assert ok["returncode"] == 0
    assert isinstance(ok["pid"], int)
    assert ok["pid"] > 0
    assert isinstance(ok["duration"], float)


def test_json_lines_come_as_commands_finish(tmp_path: Path) -> None:
    slow = line(py("import time; time.sleep(1)"))
    done = cli_many("--json", "-j", "2", commands_file(tmp_path, slow, "echo quick"))
    assert [r["index"] for r in json_lines(done.stdout)] == [1, 0]


def test_empty_list_exits_0_with_an_empty_table(tmp_path: Path) -> None:
    done = cli_many(commands_file(tmp_path, "# nothing", ""))
    assert done.returncode == 0, done.stderr
    assert "0 commands" in done.stdout
    assert cli_many("--json", input="").stdout == ""


def test_killed_by_a_signal_shows_the_signal(tmp_path: Path) -> None:
    done = cli_many(commands_file(tmp_path, line(py("import os; os.kill(os.getpid(), 9)"))))
    assert done.returncode == 1
    assert "SIGKILL" in done.stdout


# -- stopping --------------------------------------------------------------------------------


def test_timeout_stops_a_child_that_ignores_sigterm_and_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    path = commands_file(tmp_path, line(hangs_with_grandchild(pid_file, ignore_term=True)))
    started = time.monotonic()
    done = cli_many("--json", "--timeout", "0.5", "--kill-grace", "0.3", path)
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    [result] = json_lines(done.stdout)
    assert result["timed_out"] is True
    assert result["timeout_kind"] == "total"
    assert result["signal"] == "SIGKILL"
    assert wait_dead(pids_from(pid_file)) == []
    table = cli_many("--timeout", "0.5", "--kill-grace", "0.3", path)
    assert "timeout" in table.stdout


def test_idle_timeout_stops_a_silent_command(tmp_path: Path) -> None:
    path = commands_file(tmp_path, line(ignore_term_and_hang()), "echo fine")
    done = cli_many("--json", "--idle-timeout", "0.5", "--kill-grace", "0.3", path)
    assert done.returncode == 1
    silent, fine = by_index(done.stdout)
    assert silent["timeout_kind"] == "idle"
    assert silent["stdout"] == "partial\n"
    assert fine["returncode"] == 0


def test_fail_fast_stops_running_commands_and_never_starts_pending_ones(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    never = tmp_path / "never-ran"
    hanging = line(hangs_with_grandchild(pid_file))
    failing = line(
        py(
            f"""
            import os, time
            while not os.path.exists({str(pid_file)!r}):
                time.sleep(0.01)
            raise SystemExit(5)
            """
        )
    )
    path = commands_file(tmp_path, hanging, failing, f"touch {never}", f"touch {never}")
    done = cli_many("--json", "-j", "2", "--fail-fast", path)
    assert done.returncode == 1
    results = by_index(done.stdout)
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["cancelled"] is True
    assert results[0]["started"] is True
    assert results[1]["returncode"] == 5
    assert [(r["cancelled"], r["started"], r["returncode"]) for r in results[2:]] == [
        (True, False, None),
        (True, False, None),
    ]
    assert not never.exists()
    assert wait_dead(pids_from(pid_file)) == []
    table = cli_many("-j", "2", "--fail-fast", path)
    assert "cancelled" in table.stdout
    assert "not started" in table.stdout


def _stop_many(sig: int, tmp_path: Path) -> tuple[int, list[int], float, str]:
    """Run one quick command and two hanging ones (one ignoring SIGTERM), send ``sig`` to
    ``cmdrun many``; return its exit status, the hanging commands' pids, how long it took to
    exit, and what it printed."""
    files = [tmp_path / "a.pids", tmp_path / "b.pids"]
    path = commands_file(
        tmp_path,
        "echo quick",
        line(hangs_with_grandchild(files[0])),
        line(hangs_with_grandchild(files[1], ignore_term=True)),
    )
    many = start_many("-j", "3", "--kill-grace", "0.5", path)
    try:
        pids = pids_from(*files)
        sent = time.monotonic()
        many.send_signal(sig)
        out, _ = many.communicate(timeout=15)
        return many.returncode, pids, time.monotonic() - sent, out
    finally:
        if many.poll() is None:
            many.kill()
            many.wait()


def test_sigterm_to_many_stops_every_group_and_exits_143(tmp_path: Path) -> None:
    status, pids, took, out = _stop_many(signal.SIGTERM, tmp_path)
    assert status == 143
    assert took < 10
    assert [p for p in pids if alive(p)] == []
    # The table still tells what had finished, and which commands were stopped.
    assert re.search(r"^\s*1  0 .* echo quick$", out, re.M), out
    assert len(re.findall(r"^\s*[23]  stopped ", out, re.M)) == 2, out


def test_ctrl_c_to_many_stops_every_group_and_exits_130(tmp_path: Path) -> None:
    status, pids, took, _ = _stop_many(signal.SIGINT, tmp_path)
    assert status == 130
    assert took < 10
    assert [p for p in pids if alive(p)] == []


# -- progress --------------------------------------------------------------------------------


def test_no_progress_output_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    done = cli_many(commands_file(tmp_path, "echo a", "echo b"))
    assert done.returncode == 0
    assert done.stderr == ""


def test_progress_line_on_a_terminal(tmp_path: Path) -> None:
    path = commands_file(tmp_path, "echo a", "echo b", "true")
    with cmdrun.spawn(_many_argv(path), tty=True, env=_env(), timeout=30) as s:
        s.expect("3/3")
        result = s.wait()
    assert result.returncode == 0


def test_progress_counter_on_a_terminal_without_tqdm(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    (hide / "tqdm").mkdir(parents=True)
    (hide / "tqdm" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = _env()
    env["PYTHONPATH"] = f"{hide}{os.pathsep}{env['PYTHONPATH']}"
    path = commands_file(tmp_path, "echo a", "false")
    with cmdrun.spawn(_many_argv(path), tty=True, env=env, timeout=30) as s:
        s.expect("[2/2], 1 failed")
        result = s.wait()
    assert result.returncode == 1


# -- the guide -------------------------------------------------------------------------------


def _guide_example() -> tuple[str, list[str], str]:
    """The CLI guide's ``cmdrun many`` example: the file, the arguments, the output shown."""
    guide = Path(__file__).resolve().parent.parent / "docs" / "guides" / "cli.md"
    section = guide.read_text().split("## `cmdrun many`", 1)[1].split("\n## ", 1)[0]
    file_text, output = re.findall(r"```text\n(.*?)```", section, flags=re.DOTALL)
    [command] = re.findall(r"```sh\n(.*?)\n```", section, flags=re.DOTALL)
    assert command.startswith("cmdrun many ")
    return file_text, shlex.split(command)[2:], output


def test_guide_example_prints_the_table_shown(tmp_path: Path) -> None:
    file_text, args, shown = _guide_example()
    (tmp_path / "checks.txt").write_text(file_text)
    done = cli_many(*args, cwd=tmp_path)
    assert done.returncode == 1
    seconds = re.compile(r"\d+\.\d\ds")
    assert seconds.sub("S.SSs", done.stdout) == seconds.sub("S.SSs", shown)


# -- pure parts, in process ------------------------------------------------------------------


def test_parse_lines_keeps_line_numbers_and_drops_comments() -> None:
    from cmdrun._cli_many import parse_lines

    text = "# c\n\necho 'a b'  # trailing\n  ls -l\n"
    assert [(x.number, x.command, x.text) for x in parse_lines(text, shell=False)] == [
        (3, ["echo", "a b"], "echo 'a b'"),
        (4, ["ls", "-l"], "ls -l"),
    ]
    assert [(x.number, x.command) for x in parse_lines(text, shell=True)] == [
        (3, "echo 'a b'  # trailing"),
        (4, "ls -l"),
    ]


def test_parse_lines_names_the_line_it_cannot_split() -> None:
    from cmdrun._cli_many import parse_lines

    with pytest.raises(ValueError, match=r"^line 2: "):
        parse_lines('true\necho "open\n', shell=False)
    assert len(parse_lines('echo "open\n', shell=True)) == 1  # sh will say what is wrong
