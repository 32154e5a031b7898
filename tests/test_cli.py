"""The ``cmdrun`` command, run as a user runs it: the console script in a subprocess.

Every exit status, ``--json``, the options, live output, and what Ctrl-C or SIGTERM sent
to the command does to the program it runs (its whole process group stops, nothing
survives). The script is the one installed next to this interpreter (``pip install``),
else the one on PATH; with neither, ``python -m cmdrun`` stands in for it.
"""

from __future__ import annotations

import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from children import (
    alive,
    cli_script,
    die_by,
    echo_stdin,
    ignore_term_and_hang,
    interleaved,
    isatty_report,
    pids_in,
    py,
    reap_leftovers,
    wait_dead,
    wait_for_file_between,
    without_site,
    write_both,
)
from cmdrun import _cli

SCRIPT = cli_script()
#: How the tests start the command: the console script, or ``python -m cmdrun`` without it.
CMDRUN = SCRIPT or [sys.executable, "-m", "cmdrun"]

#: A program that prints its own pid and its child's (a grandchild of cmdrun), then hangs.
PARENT_AND_CHILD = py(
    """
    import os, subprocess, time
    kid = subprocess.Popen(["sleep", "60"])
    print("pids", os.getpid(), kid.pid, flush=True)
    time.sleep(60)
    """
)


def cmdrun(
    *args: str, input: bytes | None = None, timeout: float = 60, merge: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """Run the command with ``args`` to the end; its output as bytes."""
    return subprocess.run(
        [*CMDRUN, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=not merge,
        stdout=subprocess.PIPE if merge else None,
        stderr=subprocess.STDOUT if merge else None,
        timeout=timeout,
        check=False,
    )


def start(*args: str) -> subprocess.Popen[bytes]:
    """Start the command with ``args``, its stdout readable line by line."""
    return subprocess.Popen(
        [*CMDRUN, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def read_line(proc: subprocess.Popen[bytes], within: float = 15.0) -> bytes:
    """The next line ``proc`` prints, waiting at most ``within`` seconds for it."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], within)
    assert ready, f"no line within {within} s"
    return proc.stdout.readline()


def as_json(proc: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    value = json.loads(proc.stdout)
    assert isinstance(value, dict)
    return value


# -- exit statuses ------------------------------------------------------------------------


def test_exit_status_is_the_programs() -> None:
    proc = cmdrun("--", *write_both("out\n", "err\n", code=3))
    assert proc.returncode == 3
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err\n"


def test_success_exits_zero() -> None:
    assert cmdrun("--", "true").returncode == 0


def test_timeout_exits_124_and_stops_the_whole_group() -> None:
    started = time.monotonic()
    proc = cmdrun("--timeout", "0.5", "--", *PARENT_AND_CHILD)
    assert proc.returncode == 124
    assert time.monotonic() - started < 20
    pids = pids_in(proc.stdout.decode())
    try:
        assert wait_dead(pids) == []
    finally:
        reap_leftovers(pids)


def test_idle_timeout_exits_124_after_silence() -> None:
    program = py("import time; print('working', flush=True); time.sleep(60)")
    started = time.monotonic()
    proc = cmdrun("--idle-timeout", "0.5", "--", *program)
    assert proc.returncode == 124
    assert proc.stdout == b"working\n"
    assert time.monotonic() - started < 20


def test_death_by_signal_exits_128_plus_its_number() -> None:
    proc = cmdrun("--", *die_by(signal.SIGUSR1))
    assert proc.returncode == 128 + signal.SIGUSR1
    assert proc.stderr == b"about to die\n"


def test_missing_program_exits_127_with_a_message() -> None:
    proc = cmdrun("--", "no-such-program-cmdrun-test")
    assert proc.returncode == 127
    assert proc.stdout == b""
    assert proc.stderr.startswith(b"cmdrun: command not found: 'no-such-program-cmdrun-test'")


def test_file_that_cannot_be_executed_exits_126(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    proc = cmdrun("--", str(script))
    assert proc.returncode == 126
    assert proc.stderr.startswith(b"cmdrun: cannot execute ")
    assert b"permission denied" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--"],
        ["--timeout", "10"],
        ["--no-such-option", "--", "true"],
        ["--timeout", "soon", "--", "true"],
        ["--timeout", "-1", "--", "true"],
        ["--kill-grace", "nan", "--", "true"],
        ["--env", "NO_EQUALS_SIGN", "--", "true"],
        ["--respond", "no equals sign", "--", "true"],
        ["--tty", "--no-tty", "--", "true"],
    ],
    ids=lambda args: " ".join(args) or "nothing",
)
def test_bad_arguments_exit_2_with_usage(args: list[str]) -> None:
    proc = cmdrun(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b""
    assert proc.stderr.startswith(b"usage: cmdrun "), proc.stderr
    assert b"cmdrun: error: " in proc.stderr


def test_option_the_library_refuses_exits_2_with_its_reason() -> None:
    proc = cmdrun("--tty", "--input", "-", "--", "cat")
    assert proc.returncode == 2
    assert proc.stderr.startswith(b"usage: cmdrun ")
    assert b"stdin= needs pipes" in proc.stderr


def test_missing_working_directory_exits_125(tmp_path: pathlib.Path) -> None:
    proc = cmdrun("--cwd", str(tmp_path / "gone"), "--", "true")
    assert proc.returncode == 125
    assert proc.stderr.startswith(b"cmdrun: ")
    assert b"gone" in proc.stderr


# -- --json ---------------------------------------------------------------------------------


def test_json_prints_one_object_with_the_result_fields() -> None:
    proc = cmdrun("--json", "--", *write_both("out\n", "err\n", code=3))
    assert proc.returncode == 3
    assert proc.stderr == b""
    result = as_json(proc)
    assert set(result) == {
        "args",
        "returncode",
        "signal",
        "timed_out",
        "timeout_kind",
        "duration",
        "stdout",
        "stderr",
        "tty",
        "pid",
        "error",
    }
    assert result["args"] == write_both("out\n", "err\n", code=3)
    assert result["returncode"] == 3
    assert result["signal"] is None
    assert result["timed_out"] is False
    assert result["timeout_kind"] is None
    assert isinstance(result["duration"], float)
    assert result["stdout"] == "out\n"
    assert result["stderr"] == "err\n"
    assert result["tty"] is False
    assert isinstance(result["pid"], int)
    assert result["error"] is None


def test_json_after_a_timeout_names_the_signal_and_exits_124() -> None:
    program = py("import time; print('partial', flush=True); time.sleep(60)")
    proc = cmdrun("--json", "--timeout", "0.5", "--", *program)
    assert proc.returncode == 124
    result = as_json(proc)
    assert result["timed_out"] is True
    assert result["timeout_kind"] == "total"
    assert result["signal"] == "SIGTERM"
    assert result["returncode"] == -signal.SIGTERM
    assert result["stdout"] == "partial\n"


def test_json_idle_timeout_says_idle() -> None:
    program = py("import time; time.sleep(60)")
    proc = cmdrun("--json", "--idle-timeout", "0.3", "--", *program)
    assert proc.returncode == 124
    assert as_json(proc)["timeout_kind"] == "idle"


def test_json_death_by_signal_exits_128_plus_n() -> None:
    proc = cmdrun("--json", "--", *die_by(signal.SIGUSR1))
    assert proc.returncode == 128 + signal.SIGUSR1
    assert as_json(proc)["signal"] == "SIGUSR1"


def test_json_start_failure_has_an_error_field_and_exits_127() -> None:
    proc = cmdrun("--json", "--", "no-such-program-cmdrun-test")
    assert proc.returncode == 127
    result = as_json(proc)
    assert result["args"] == ["no-such-program-cmdrun-test"]
    assert result["returncode"] is None
    assert "command not found" in str(result["error"])
    assert proc.stderr.startswith(b"cmdrun: command not found")


def test_json_replaces_undecodable_bytes() -> None:
    program = py("import os; os.write(1, b'ok \\xff end')")
    result = as_json(cmdrun("--json", "--", *program))
    assert result["stdout"] == "ok \ufffd end"


def test_kill_grace_limits_the_wait_for_a_program_that_ignores_sigterm() -> None:
    started = time.monotonic()
    proc = cmdrun(
        "--json", "--timeout", "0.3", "--kill-grace", "0.2", "--", *ignore_term_and_hang()
    )
    assert proc.returncode == 124
    assert as_json(proc)["signal"] == "SIGKILL"
    assert time.monotonic() - started < 20


# -- options --------------------------------------------------------------------------------


def test_input_dash_gives_the_program_cmdruns_stdin_byte_exact() -> None:
    data = bytes(range(256)) * 1000 + b"\r\n\x00no newline at the end"
    proc = cmdrun("--input", "-", "--", *echo_stdin(), input=data)
    assert proc.returncode == 0
    assert proc.stdout == data


def test_input_file_is_the_programs_stdin(tmp_path: pathlib.Path) -> None:
    data = b"line one\nline two\n\xff\n"
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    proc = cmdrun("--input", str(path), "--", *echo_stdin())
    assert proc.stdout == data


def test_stdin_is_empty_without_input() -> None:
    proc = cmdrun("--", *echo_stdin(), input=b"not for the program")
    assert proc.returncode == 0
    assert proc.stdout == b""


def test_env_sets_and_empties_variables() -> None:
    program = py("import os; print(repr(os.environ.get('A')), repr(os.environ.get('B')))")
    proc = cmdrun("--env", "A=x=1", "--env", "B=", "--", *program)
    assert proc.stdout == b"'x=1' ''\n"


def test_cwd_is_the_programs_working_directory(tmp_path: pathlib.Path) -> None:
    proc = cmdrun("--cwd", str(tmp_path), "--", *py("import os; print(os.getcwd())"))
    assert proc.stdout.decode().strip() == str(tmp_path)


def test_respond_answers_a_prompt_with_a_line() -> None:
    program = py("name = input('Name? '); print('hello', name)")
    proc = cmdrun("--respond", "Name? =Ada=Lovelace", "--timeout", "20", "--", *program)
    assert proc.returncode == 0
    assert proc.stdout == b"Name? hello Ada=Lovelace\n"


def test_respond_answers_each_time_the_prompt_comes() -> None:
    program = py("for _ in range(3): print('got', input('> '))")
    proc = cmdrun("--respond", "> =yes", "--idle-timeout", "10", "--", *program)
    assert proc.stdout.count(b"got yes") == 3


def test_quiet_prints_nothing_and_keeps_the_exit_status() -> None:
    proc = cmdrun("--quiet", "--", *write_both("out\n", "err\n", code=4))
    assert proc.returncode == 4
    assert proc.stdout == b""
    assert proc.stderr == b""


def test_quiet_with_json_prints_only_the_json() -> None:
    proc = cmdrun("--quiet", "--json", "--", *write_both("out\n", "err\n"))
    assert as_json(proc)["stdout"] == "out\n"


# -- live output ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--no-tty"], ["--tty"], ["--idle-timeout", "30"]])
def test_a_line_appears_before_the_program_exits(mode: list[str], tmp_path: pathlib.Path) -> None:
    flag = tmp_path / "flag"
    proc = start(*mode, "--", *wait_for_file_between("first\n", "second\n", str(flag)))
    try:
        assert read_line(proc).rstrip() == b"first"
        assert proc.poll() is None
        flag.touch()
        assert read_line(proc).rstrip() == b"second"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_output_keeps_each_streams_order() -> None:
    proc = cmdrun("--", *interleaved(200))
    assert proc.stdout.decode().splitlines() == [f"out {i}" for i in range(200)]
    assert proc.stderr.decode().splitlines() == [f"err {i}" for i in range(200)]


def test_no_tty_writes_straight_to_cmdruns_stdout_and_stderr_in_order() -> None:
    proc = cmdrun("--no-tty", "--", *interleaved(200), merge=True)
    expected = [line for i in range(200) for line in (f"out {i}", f"err {i}")]
    assert proc.stdout.decode().splitlines() == expected


# -- signals to cmdrun ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
@pytest.mark.parametrize("mode", [[], ["--json"], ["--no-tty"]], ids=["tee", "json", "direct"])
def test_signal_to_cmdrun_stops_the_programs_group_and_exits_128_plus_n(
    sig: signal.Signals, status: int, mode: list[str], tmp_path: pathlib.Path
) -> None:
    pidfile = tmp_path / "pids"
    program = py(
        f"""
        import os, subprocess, time
        kid = subprocess.Popen(["sleep", "60"])
        with open({str(pidfile)!r} + ".tmp", "w") as f:
            f.write(f"{{os.getpid()}} {{kid.pid}}")
        os.rename({str(pidfile)!r} + ".tmp", {str(pidfile)!r})
        time.sleep(60)
        """
    )
    proc = start(*mode, "--", *program)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 15
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = [int(pid) for pid in pidfile.read_text().split()]
        assert all(alive(pid) for pid in pids)
        started = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == status, err
        assert time.monotonic() - started < 20
        assert wait_dead(pids) == []
        assert err.endswith(f"cmdrun: stopped by {sig.name}\n".encode()), err
        assert b"_cli.py" not in err  # no traceback of cmdrun's (the program may print one)
    finally:
        proc.kill()
        reap_leftovers(pids)


def test_sigterm_reaches_the_program_first(tmp_path: pathlib.Path) -> None:
    """A CI system cancelling the job: the program gets SIGTERM (it may clean up)."""
    program = py(
        """
        import signal, sys, time
        def bye(signum, frame):
            print("cleaning up after", signal.Signals(signum).name, flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = start("--", *program)
    try:
        assert read_line(proc) == b"ready\n"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 143
        assert out == b"cleaning up after SIGTERM\n"
    finally:
        proc.kill()


# -- terminals ------------------------------------------------------------------------------


def test_tty_gives_the_program_a_terminal() -> None:
    proc = cmdrun("--tty", "--", "tty")
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"/dev/pts/")


def test_default_reruns_a_program_that_refuses_without_a_terminal() -> None:
    proc = cmdrun("--", *isatty_report())
    assert proc.returncode == 0, proc.stderr
    assert b"rows 24 cols 80" in proc.stdout


def test_no_tty_keeps_the_refusal() -> None:
    proc = cmdrun("--no-tty", "--", "tty")
    assert proc.returncode == 1
    assert proc.stdout == b"not a tty\n"


# -- help, version, doors -------------------------------------------------------------------


def test_help_shows_options_and_examples() -> None:
    proc = cmdrun("--help")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    assert text.startswith("usage: cmdrun ")
    for option in ("--timeout", "--idle-timeout", "--json", "--input", "--respond", "--quiet"):
        assert option in text
    assert "cmdrun --timeout 10 -- make test" in text
    assert "cmdrun -- many" in text
    assert "124" in text


def test_version_prints_the_package_version() -> None:
    import cmdrun as package

    proc = cmdrun("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode() == f"cmdrun {package.__version__}\n"


def test_command_without_double_dash_runs_with_its_options() -> None:
    proc = cmdrun(*py("import sys; print(sys.argv[1:])"), "--timeout", "3")
    assert proc.stdout == b"['--timeout', '3']\n"


def test_python_m_cmdrun_is_the_same_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cmdrun", "--json", "--", "true"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["returncode"] == 0


def test_console_script_is_installed() -> None:
    if SCRIPT is None:
        pytest.skip(
            "no cmdrun console script beside this Python or on PATH: install the package "
            "(pip install -e .); the other tests ran `python -m cmdrun` instead"
        )
    proc = subprocess.run([*SCRIPT, "--", "true"], check=False, timeout=60)
    assert proc.returncode == 0


def test_double_dash_runs_a_program_named_many(tmp_path: pathlib.Path) -> None:
    many = tmp_path / "many"
    many.write_text("#!/bin/sh\necho the program called many\n")
    many.chmod(0o755)
    proc = cmdrun("--", str(many))
    assert proc.stdout == b"the program called many\n"
    env_path = f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = cmdrun("--env", f"PATH={env_path}", "--", "many")
    assert proc.stdout == b"the program called many\n"


def test_many_as_first_argument_runs_cmdrun_many() -> None:
    proc = cmdrun("many", "--help")
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("usage: cmdrun many")


def test_closed_stdout_stops_the_program_quietly() -> None:
    """``cmdrun -- yes | head -n 1``: cmdrun exits as a program killed by SIGPIPE."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [*CMDRUN, "--", "yes"], stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE
    )
    os.close(write_end)
    try:
        assert os.read(read_end, 2) == b"y\n"
        os.close(read_end)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGPIPE
        assert err == b""
    finally:
        proc.kill()


def test_running_a_command_imports_no_typing() -> None:
    """``typing`` costs about 1.5 ms to import, 10% of a ``cmdrun -- true``: cmdrun keeps it
    for type checkers (``TYPE_CHECKING`` blocks). Run without ``site`` (which may import it
    for its own reasons), with only this cmdrun on the path."""
    code = (
        "from cmdrun._cli import main\n"
        "status = main(['--', 'true'])\n"
        "print(status, sorted(m for m in ('typing', 'dataclasses', 'json') if m in sys.modules))\n"
    )
    out = subprocess.run(without_site(code), check=False, capture_output=True, text=True)
    assert out.stdout.split("\n")[0] == "0 []", out.stderr


# -- the plain command lines read without argparse ------------------------------------------

#: Words a command line is made of in the property test: every option, values good and bad,
#: and what argparse reads its own way (abbreviations, ``--opt=value``, ``-qj``, ``-5``).
_WORDS = [
    *_cli._FLAGS,
    *_cli._VALUED,
    *_cli._APPENDED,
    "--",
    "-",
    "true",
    "5",
    "0",
    "-5",
    "inf",
    "nan",
    "x",
    "",
    "A=1",
    "=1",
    "a b",
    "-a b",
    "--time",
    "--timeout=5",
    "-qj",
    "-h",
    "--help",
    "--version",
    "many",
]


def _argparse_reads(args: list[str]) -> dict[str, object] | None:
    try:
        return vars(_cli.build_parser().parse_args(args))
    except SystemExit:
        return None


@pytest.mark.parametrize(
    "args",
    [
        ["--", "true"],
        ["true", "x"],
        ["true", "--timeout", "5"],
        ["--quiet", "--", "--", "x"],
        ["-q", "--json", "--tty", "--tty", "--", "sh", "-c", "exit 3"],
        ["--no-tty", "--timeout", "10", "--idle-timeout", "inf", "--kill-grace", "0", "--", "x"],
        ["--env", "A=1", "--env", "B=", "--respond", "ok? =y", "--", "t"],
        ["--input", "-", "--cwd", "/tmp", "--", "cat"],
        ["--host", "me@there", "--ssh-config", "f", "--ssh-option", "A=b", "--", "uptime"],
        ["--timeout", "5", "--timeout", "7", "--", "x"],
        ["--"],
    ],
)
def test_plain_command_lines_are_read_as_argparse_reads_them(args: list[str]) -> None:
    plain = _cli._plain_options(args)
    assert plain is not None
    assert vars(plain) == _argparse_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["--version"],
        ["--time", "5", "--", "x"],
        ["--timeout=5", "--", "x"],
        ["-qj", "--", "x"],
        ["--timeout", "-5", "--", "x"],
        ["--timeout", "soon", "--", "x"],
        ["--env", "novalue", "--", "x"],
        ["--tty", "--no-tty", "--", "x"],
        ["--timeout"],
        ["--quiet"],
        ["-", "x"],
    ],
)
def test_other_command_lines_are_left_to_argparse(args: list[str]) -> None:
    assert _cli._plain_options(args) is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=8))
def test_plain_reading_never_disagrees_with_argparse(args: list[str]) -> None:
    plain = _cli._plain_options(args)
    if plain is not None:
        assert vars(plain) == _argparse_reads(args)


def test_a_plain_run_does_not_import_argparse() -> None:
    """argparse (with gettext) and building the parser cost about 2 ms of every run."""
    code = (
        "from cmdrun._cli import main\n"
        "status = main(['--timeout', '10', '--', 'true'])\n"
        "print(status, 'argparse' in sys.modules)\n"
    )
    out = subprocess.run(without_site(code), check=False, capture_output=True, text=True)
    assert out.stdout.split() == ["0", "False"], out.stderr
