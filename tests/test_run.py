"""run(): output, input, environment, exit status and start-up errors, with real children."""

from __future__ import annotations

import logging
import os
import pathlib
import stat
import sys

import pytest

import cmdrun
from children import PY, echo_stdin, interleaved, kill_self, py, write_both, write_bytes
from cmdrun import CommandFailed, CommandNotExecutable, CommandNotFound


def test_captures_stdout_and_stderr_separately() -> None:
    r = cmdrun.run(write_both("to out\n", "to err\n"))
    assert (r.stdout, r.stderr) == ("to out\n", "to err\n")
    assert r.returncode == 0
    assert r.ok
    assert r.pid > 0
    assert r.duration > 0
    assert r.args[0] == PY


def test_merge_stderr_keeps_the_order_of_writes() -> None:
    r = cmdrun.run(interleaved(200), merge_stderr=True)
    expected = "".join(f"out {i}\nerr {i}\n" for i in range(200))
    assert r.stdout == expected
    assert r.stderr == ""


def test_string_command_is_not_given_to_a_shell() -> None:
    r = cmdrun.run("echo $HOME 'a  b' ;ls")
    assert r.stdout == "$HOME a  b ;ls\n"


def test_shell_true_uses_shell_syntax() -> None:
    r = cmdrun.run("echo one | tr a-z A-Z; echo $((1+2))", shell=True)
    assert r.stdout == "ONE\n3\n"


def test_stdin_is_dev_null_without_input() -> None:
    r = cmdrun.run(
        py(
            """
            import os, sys
            st = os.fstat(0)
            print(os.major(st.st_rdev), os.minor(st.st_rdev), repr(sys.stdin.read()))
            """
        )
    )
    assert r.stdout.split() == ["1", "3", "''"]  # /dev/null is char device 1:3 on Linux


@pytest.mark.parametrize("data", ["héllo\n", b"h\xe9llo\n"])
def test_input_as_text_or_bytes(data: str | bytes) -> None:
    r = cmdrun.run(echo_stdin(), input=data)
    expected = data.encode() if isinstance(data, str) else data
    assert r.stdout_bytes == expected


def test_empty_input_gives_immediate_eof() -> None:
    assert cmdrun.run(echo_stdin(), input="").stdout == ""


def test_input_larger_than_pipe_buffer_does_not_deadlock() -> None:
    """100 MB in while 100 MB comes out: stdin writes never block the reading of stdout."""
    data = os.urandom(1 << 16) * 1600  # 100 MiB
    r = cmdrun.run(echo_stdin(), input=data, timeout=60)
    assert len(r.stdout_bytes) == len(data)
    assert r.stdout_bytes == data


@pytest.mark.parametrize(
    "reader",
    [
        "import sys; sys.stdin.close(); print('closed')",
        "import sys; sys.stdin.buffer.read(10); print('closed')",
        "print('closed')",
    ],
)
def test_child_that_stops_reading_input_is_not_an_error(reader: str) -> None:
    r = cmdrun.run(py(reader), input=b"x" * (10 << 20))
    assert r.stdout == "closed\n"
    assert r.ok


def test_invalid_utf8_is_replaced_and_bytes_are_kept() -> None:
    r = cmdrun.run(write_bytes(b"ok\xff\xfe\n"))
    assert r.stdout == "ok\ufffd\ufffd\n"
    assert r.stdout_bytes == b"ok\xff\xfe\n"


def test_multibyte_character_split_across_reads_decodes() -> None:
    data = "é€😀\n".encode()
    r = cmdrun.run(write_bytes(data, pause=0.02))
    assert r.stdout == "é€😀\n"


def test_custom_encoding_applies_to_input_and_output() -> None:
    r = cmdrun.run(echo_stdin(), input="é", encoding="latin-1")
    assert r.stdout_bytes == b"\xe9"
    assert r.stdout == "é"


def test_env_adds_to_the_parent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDRUN_FROM_PARENT", "p")
    code = "import os; print(os.environ['CMDRUN_FROM_PARENT'], os.environ['CMDRUN_ADDED'])"
    assert cmdrun.run(py(code), env={"CMDRUN_ADDED": "a"}).stdout == "p a\n"


def test_env_overrides_the_parent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDRUN_X", "parent")
    code = "import os; print(os.environ['CMDRUN_X'])"
    assert cmdrun.run(py(code), env={"CMDRUN_X": "child"}).stdout == "child\n"


def test_inherit_env_false_gives_exactly_env() -> None:
    code = "import os; print(sorted(k for k in os.environ if k != 'LC_CTYPE'))"
    r = cmdrun.run(py(code), env={"ONLY": "1"}, inherit_env=False)
    assert r.stdout == "['ONLY']\n"


def test_cwd(tmp_path: pathlib.Path) -> None:
    r = cmdrun.run(py("import os; print(os.getcwd())"), cwd=tmp_path)
    assert r.stdout.strip() == str(tmp_path)


def test_missing_cwd_is_reported_as_the_cwd_not_the_program(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="working directory") as info:
        cmdrun.run(["true"], cwd=tmp_path / "missing")
    assert not isinstance(info.value, CommandNotFound)
    assert info.value.filename == str(tmp_path / "missing")
    assert str(info.value).count(str(tmp_path / "missing")) == 1


def test_nonzero_exit_raises_command_failed_with_stderr_tail() -> None:
    with pytest.raises(CommandFailed) as info:
        cmdrun.run(write_both("some output\n", "it broke\n", code=3))
    err = info.value
    assert err.returncode == 3
    assert err.result.stdout == "some output\n"
    assert "exited with status 3" in str(err)
    assert "it broke" in str(err)


def test_check_false_returns_the_failure() -> None:
    r = cmdrun.run(write_both("", "bad\n", code=7), check=False)
    assert (r.returncode, r.ok, r.stderr) == (7, False, "bad\n")


def test_death_by_signal_is_named() -> None:
    with pytest.raises(CommandFailed, match="killed by SIGSEGV") as info:
        cmdrun.run(kill_self(11))
    assert info.value.returncode == -11
    assert info.value.result.signal is not None
    assert info.value.result.signal.name == "SIGSEGV"
    assert "about to die" in str(info.value)


def test_signal_death_with_check_false() -> None:
    r = cmdrun.run(kill_self(9), check=False)
    assert r.returncode == -9
    assert r.signal is not None
    assert r.signal.name == "SIGKILL"
    assert not r.timed_out


def test_command_not_found_names_program_and_path() -> None:
    with pytest.raises(CommandNotFound) as info:
        cmdrun.run(["cmdrun-no-such-program", "x"], env={"PATH": "/usr/bin:/bin"})
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert err.filename == "cmdrun-no-such-program"
    assert "cmdrun-no-such-program" in str(err)
    assert "/usr/bin:/bin" in str(err)


def test_missing_path_is_command_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CommandNotFound, match="no such file"):
        cmdrun.run([str(tmp_path / "nothing")])


def _script(tmp_path: pathlib.Path, text: str, mode: int) -> str:
    path = tmp_path / "script"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_script_without_execute_permission(tmp_path: pathlib.Path) -> None:
    path = _script(tmp_path, "#!/bin/sh\necho hi\n", stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(CommandNotExecutable, match="permission denied") as info:
        cmdrun.run([path])
    assert info.value.reason == "permission denied"
    assert isinstance(info.value, OSError)


def test_directory_is_not_executable(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CommandNotExecutable, match="is a directory"):
        cmdrun.run([str(tmp_path)])


def test_script_with_missing_interpreter(tmp_path: pathlib.Path) -> None:
    path = _script(tmp_path, "#!/no/such/interpreter\n", 0o755)
    with pytest.raises(CommandNotExecutable, match="interpreter not found") as info:
        cmdrun.run([path])
    assert "/no/such/interpreter" in str(info.value)


def test_file_in_unknown_format(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"\x7fELF\x00garbage" + bytes(64))
    path.chmod(0o755)
    with pytest.raises(CommandNotExecutable, match="exec format error"):
        cmdrun.run([str(path)])


def test_large_output_is_captured_exactly() -> None:
    r = cmdrun.run(["head", "-c", str(50 << 20), "/dev/urandom"])
    assert len(r.stdout_bytes) == 50 << 20


def test_logging_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    cmdrun.run(["echo", "a b"])
    cmdrun.run(kill_self(15), check=False)
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "cmdrun"]
    assert messages[0] == "run: echo 'a b'"
    assert messages[1].startswith("done: echo 'a b' (pid ")
    assert "exit 0 in " in messages[1]
    assert "killed by SIGTERM" in messages[3]


def test_logging_reports_timeouts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    cmdrun.run(["sleep", "10"], timeout=0.1, check=False)
    assert "timed out, stopped (SIGTERM)" in caplog.records[-1].getMessage()


def test_works_with_closed_parent_stdin() -> None:
    code = "import cmdrun; print(cmdrun.run(['echo', 'fine']).stdout, end='')"
    r = cmdrun.run([sys.executable, "-c", code])
    assert r.stdout == "fine\n"
