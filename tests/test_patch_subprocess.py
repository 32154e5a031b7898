"""FakeCommands.patch_subprocess(): plain subprocess and asyncio answered like cmdrun calls."""

# Code written for subprocess, as the code under test calls it: run() without check=,
# universal_newlines= beside text=.
# ruff: noqa: PLW1510, UP021

from __future__ import annotations

import asyncio
import math
import os
import pathlib
import signal
import subprocess
import sys
import threading

import pytest

import cmdrun
import cmdrun._platform
from children import py, write_both
from cmdrun.testing import (
    Cassette,
    CassetteMiss,
    Exit,
    FakeCommands,
    FakeHang,
    In,
    Out,
    UnregisteredCommand,
)


@pytest.fixture
def fake() -> FakeCommands:
    with FakeCommands() as commands:
        commands.patch_subprocess()
        yield commands


def test_popen_gets_the_registered_output_and_status(fake: FakeCommands) -> None:
    fake.register(["git", "status"], stdout="clean\n", stderr="warn\n", returncode=3)
    proc = subprocess.Popen(["git", "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.communicate() == (b"clean\n", b"warn\n")
    assert proc.returncode == 3
    assert proc.args == ["git", "status"]
    assert proc.pid >= 1 << 22  # a fake pid, never a real process's
    assert isinstance(proc, subprocess.Popen)


def test_calls_are_recorded_with_kind_subprocess(
    fake: FakeCommands, tmp_path: pathlib.Path
) -> None:
    fake.register(["tool", "x"])
    subprocess.run(["tool", "x"], cwd=tmp_path, env={"A": "1"}, check=True)
    (call,) = fake.calls
    assert call.kind == "subprocess"
    assert call.args == ("tool", "x")
    assert call.cwd == str(tmp_path)
    assert call.env == {"A": "1"}
    assert call.signals == []


def test_run_check_raises_called_process_error_with_output(fake: FakeCommands) -> None:
    fake.register(["make"], stdout="out\n", stderr="err\n", returncode=2)
    with pytest.raises(subprocess.CalledProcessError) as caught:
        subprocess.run(["make"], capture_output=True, check=True)
    assert caught.value.returncode == 2
    assert caught.value.output == b"out\n"
    assert caught.value.stderr == b"err\n"


def test_check_output_call_check_call_and_getoutput(fake: FakeCommands) -> None:
    fake.register(["date"], stdout="today\n")
    fake.register(["false"], returncode=1)
    fake.register("/bin/sh -c 'date -u'", stdout="utc\n")
    assert subprocess.check_output(["date"]) == b"today\n"
    assert subprocess.check_output(["date"], text=True) == "today\n"
    assert subprocess.call(["false"]) == 1
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.check_call(["false"])
    assert subprocess.getoutput("date -u") == "utc"
    assert subprocess.getstatusoutput("date -u") == (0, "utc")


def test_shell_true_string_is_matched_as_sh_dash_c(fake: FakeCommands) -> None:
    fake.register(["/bin/sh", "-c", "ls | wc -l"], stdout="3\n")
    assert subprocess.run("ls | wc -l", shell=True, capture_output=True).stdout == b"3\n"
    assert fake.calls[0].args == ("/bin/sh", "-c", "ls | wc -l")


def test_input_reaches_the_callback_and_call_input(fake: FakeCommands) -> None:
    fake.register(["upper"], callback=lambda call: (call.input or "").upper())
    result = subprocess.run(["upper"], input="abc\n", capture_output=True, text=True)
    assert result.stdout == "ABC\n"
    assert fake.calls[0].input == "abc\n"


def test_stdin_pipe_written_then_closed_is_the_input(fake: FakeCommands) -> None:
    fake.register(["cat"], callback=lambda call: call.input)
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"one\n")
    proc.stdin.write(b"two\n")
    proc.stdin.close()
    assert proc.stdout.read() == b"one\ntwo\n"
    assert proc.wait() == 0


def test_text_mode_translates_newlines_as_popen_does(fake: FakeCommands) -> None:
    fake.register(["win"], stdout=b"a\r\nb\rc\n")
    for option in ({"text": True}, {"universal_newlines": True}, {"encoding": "utf-8"}):
        proc = subprocess.Popen(["win"], stdout=subprocess.PIPE, **option)  # type: ignore[call-overload]
        assert proc.stdout is not None
        assert proc.stdout.read() == "a\nb\nc\n"
        proc.wait()
        assert subprocess.run(["win"], capture_output=True, **option).stdout == "a\nb\nc\n"  # type: ignore[call-overload]


def test_bytes_mode_keeps_bytes_as_they_are(fake: FakeCommands) -> None:
    fake.register(["bin"], stdout=b"\xaa\r\n\x00")
    assert subprocess.run(["bin"], capture_output=True).stdout == b"\xaa\r\n\x00"


def test_encoding_and_errors_apply_to_the_output(fake: FakeCommands) -> None:
    fake.register(["latin"], stdout=b"caf\xe9\n")
    out = subprocess.run(["latin"], capture_output=True, encoding="latin-1").stdout
    assert out == "caf\u00e9\n"
    out = subprocess.run(["latin"], capture_output=True, encoding="utf-8", errors="replace").stdout
    assert out == "caf\ufffd\n"


def test_text_and_universal_newlines_that_disagree_are_refused(fake: FakeCommands) -> None:
    with pytest.raises(subprocess.SubprocessError, match="Cannot disambiguate"):
        subprocess.run(["x"], text=True, universal_newlines=False)


def test_stderr_stdout_merges_and_devnull_discards(fake: FakeCommands) -> None:
    fake.register(["both"], stdout="out\n", stderr="err\n")
    merged = subprocess.run(["both"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert merged.stdout == b"out\nerr\n"
    assert merged.stderr is None
    quiet = subprocess.run(["both"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert quiet.stdout is None
    assert quiet.stderr == b"err\n"


def test_output_goes_to_file_handles_and_fds(fake: FakeCommands, tmp_path: pathlib.Path) -> None:
    fake.register(["both"], stdout="out\n", stderr="err\n")
    path = tmp_path / "log"
    with open(path, "wb") as file:
        file.write(b"first\n")
        subprocess.run(["both"], stdout=file, stderr=file.fileno())
    assert path.read_bytes() == b"first\nout\nerr\n"
    with open(path, "w") as text_file:
        subprocess.run(["both"], stdout=text_file, stderr=subprocess.STDOUT)
    assert path.read_text() == "out\nerr\n"


def test_wait_timeout_raises_repeatably_and_the_fake_keeps_running(fake: FakeCommands) -> None:
    fake.register(["slow"], duration=1.0)
    proc = subprocess.Popen(["slow"])
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        proc.wait(timeout=0.4)
    assert caught.value.timeout == 0.4
    assert proc.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.4)
    assert proc.wait(timeout=0.4) == 0  # 1.2 s have passed on the fake's clock


def test_wait_without_timeout_returns_at_once_however_long_the_duration(fake: FakeCommands) -> None:
    fake.register(["slow"], duration=3600)
    assert subprocess.run(["slow"]).returncode == 0


def test_poll_sees_a_short_fake_end_in_real_time(fake: FakeCommands) -> None:
    fake.register(["short"], duration=0.05)
    proc = subprocess.Popen(["short"])
    assert proc.poll() is None
    deadline = __import__("time").monotonic() + 5
    while proc.poll() is None:
        assert __import__("time").monotonic() < deadline
    assert proc.returncode == 0


def test_communicate_timeout_keeps_the_output_for_the_retry(fake: FakeCommands) -> None:
    fake.register(["slow"], stdout="all of it\n", duration=1.0)
    proc = subprocess.Popen(["slow"], stdout=subprocess.PIPE)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.communicate(timeout=0.5)
    assert proc.communicate() == (b"all of it\n", None)


def test_run_timeout_kills_the_fake_as_a_real_run_would(fake: FakeCommands) -> None:
    fake.register(["hang"], duration=math.inf)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["hang"], timeout=0.1)
    assert fake.calls[0].signals == [signal.SIGKILL]


def test_a_hanging_fake_waited_for_without_timeout_fails_loudly(fake: FakeCommands) -> None:
    fake.register(["hang"], duration=math.inf)
    proc = subprocess.Popen(["hang"])
    with pytest.raises(FakeHang):
        proc.wait()
    proc.kill()


def test_signals_are_recorded_and_end_the_fake(fake: FakeCommands) -> None:
    fake.register(["server"], duration=math.inf)
    proc = subprocess.Popen(["server"])
    proc.send_signal(signal.SIGCONT)  # does not end a process
    assert proc.poll() is None
    proc.terminate()
    assert proc.wait() == -signal.SIGTERM
    proc.kill()  # after the end: recorded, changes nothing
    assert proc.returncode == -signal.SIGTERM
    assert fake.calls[0].signals == [signal.SIGCONT, signal.SIGTERM, signal.SIGKILL]


def test_context_manager_use_waits_and_closes_the_pipes(fake: FakeCommands) -> None:
    fake.register(["ls"], stdout="a\n")
    with subprocess.Popen(["ls"], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"a\n"
    assert proc.returncode == 0
    assert proc.stdout.closed


def test_dialogue_drives_popen_line_by_line(fake: FakeCommands) -> None:
    fake.register(
        ["calc"],
        dialogue=[Out("> "), In("1+1"), Out("2\n> "), In("quit"), Out("bye\n"), Exit(0)],
    )
    proc = subprocess.Popen(
        ["calc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stdout.read(2) == "> "
    proc.stdin.write("1+1\n")
    assert proc.stdout.readline() == "2\n"
    assert proc.poll() is None
    proc.stdin.write("quit\n")
    assert proc.stdout.read() == "> bye\n"
    assert proc.wait() == 0


def test_dialogue_reading_what_never_comes_fails_loudly(fake: FakeCommands) -> None:
    fake.register(["ask"], dialogue=[Out("name? "), In("bob"), Out("hi\n")])
    proc = subprocess.Popen(["ask"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with pytest.raises(FakeHang, match="waits for input"):
        proc.stdout.read()
    proc.kill()


def test_dialogue_through_run_input(fake: FakeCommands) -> None:
    fake.register(["ask"], dialogue=[Out("name? "), In("bob"), Out("hi bob\n"), Exit(4)])
    result = subprocess.run(["ask"], input=b"bob\n", capture_output=True)
    assert (result.stdout, result.returncode) == (b"name? hi bob\n", 4)


def test_unregistered_popen_raises_from_the_constructor(fake: FakeCommands) -> None:
    with pytest.raises(UnregisteredCommand, match="rm -rf"):
        subprocess.Popen(["rm", "-rf", "/tmp/nothing-here"])


def test_registration_raises_comes_from_the_constructor(fake: FakeCommands) -> None:
    fake.register(["gone"], raises=FileNotFoundError(2, "No such file", "gone"))
    with pytest.raises(FileNotFoundError):
        subprocess.run(["gone"])


def test_allow_real_lets_a_subprocess_call_through(fake: FakeCommands) -> None:
    fake.allow_real.append(sys.executable)
    result = subprocess.run(write_both("o", "e", 5), capture_output=True)
    assert (result.stdout, result.stderr, result.returncode) == (b"o", b"e", 5)
    assert type(subprocess.Popen(py("pass"))) is cmdrun._platform.REAL_POPEN
    assert [call.kind for call in fake.calls] == ["subprocess", "subprocess"]


def test_cmdrun_real_runs_work_while_patched(fake: FakeCommands) -> None:
    fake.allow_real.append(sys.executable)
    assert cmdrun.run(py("print('real')")).stdout == "real\n"
    assert cmdrun.run(py("print('pty')"), tty=True).stdout == "pty\r\n"


def test_one_registry_answers_cmdrun_and_subprocess(fake: FakeCommands) -> None:
    fake.register(["git", "rev-parse", "HEAD"], stdout="abc\n")
    assert cmdrun.run(["git", "rev-parse", "HEAD"]).stdout == "abc\n"
    assert subprocess.check_output(["git", "rev-parse", "HEAD"]) == b"abc\n"
    assert [call.kind for call in fake.calls] == ["run", "subprocess"]


def test_threads_are_answered_too(fake: FakeCommands) -> None:
    fake.register(["id"], stdout="me\n")
    outputs: list[bytes] = []
    thread = threading.Thread(target=lambda: outputs.append(subprocess.check_output(["id"])))
    thread.start()
    thread.join()
    assert outputs == [b"me\n"]


def test_aliases_imported_before_the_patch_are_patched_and_restored() -> None:
    namespace: dict[str, object] = {}
    exec("from subprocess import Popen", namespace)
    module = type(sys)("popen_alias_holder")
    module.Popen = subprocess.Popen  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        with FakeCommands() as commands:
            commands.register(["x"], stdout="fake\n")
            commands.patch_subprocess()
            proc = module.Popen(["x"], stdout=subprocess.PIPE)  # type: ignore[attr-defined]
            assert proc.communicate()[0] == b"fake\n"
        assert module.Popen is cmdrun._platform.REAL_POPEN  # type: ignore[attr-defined]
    finally:
        del sys.modules[module.__name__]


def test_patch_is_undone_when_the_fake_exits_even_on_error() -> None:
    def failing_test() -> None:
        with FakeCommands() as commands:
            commands.patch_subprocess()
            assert subprocess.Popen is not cmdrun._platform.REAL_POPEN
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_test()
    assert subprocess.Popen is cmdrun._platform.REAL_POPEN
    assert asyncio.create_subprocess_exec.__module__ == "asyncio.subprocess"


def test_patch_as_a_context_manager_ends_sooner() -> None:
    with FakeCommands() as commands:
        with commands.patch_subprocess():
            assert subprocess.Popen is not cmdrun._platform.REAL_POPEN
        assert subprocess.Popen is cmdrun._platform.REAL_POPEN
        assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0


def test_patch_is_off_by_default(fake_commands: FakeCommands) -> None:
    assert subprocess.Popen is cmdrun._platform.REAL_POPEN
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0


def test_patch_needs_an_active_fake() -> None:
    with pytest.raises(RuntimeError, match="active"):
        FakeCommands().patch_subprocess()


def test_cassette_records_and_replays_subprocess_calls(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "cassette.json"
    with Cassette(path, record=True) as cassette:
        cassette.patch_subprocess()
        recorded = subprocess.run(
            py("import sys; print(sys.stdin.read().upper())"), input=b"hi", capture_output=True
        )
        assert cmdrun.run(py("print('own')")).stdout == "own\n"
    assert recorded.stdout == b"HI\n"
    assert '"kind": "subprocess"' in path.read_text()
    with Cassette(path) as cassette:
        cassette.patch_subprocess()
        replayed = subprocess.run(
            py("import sys; print(sys.stdin.read().upper())"), input=b"hi", capture_output=True
        )
        assert replayed.stdout == b"HI\n"
        assert replayed.returncode == 0
        with pytest.raises(CassetteMiss):
            subprocess.run(py("print('other')"), capture_output=True)
    assert subprocess.Popen is cmdrun._platform.REAL_POPEN


def test_asyncio_exec_and_shell_are_answered(fake: FakeCommands) -> None:
    fake.register(["ls", "-l"], stdout="a\nb\n", stderr="e\n", returncode=1)
    fake.register(["/bin/sh", "-c", "ls | wc"], stdout="2\n")

    async def main() -> None:
        proc = await asyncio.create_subprocess_exec(
            "ls", "-l", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.pid >= 1 << 22
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"a\n"
        assert await proc.stdout.read() == b"b\n"
        assert await proc.wait() == 1
        assert proc.returncode == 1
        shell = await asyncio.create_subprocess_shell("ls | wc", stdout=subprocess.PIPE)
        assert await shell.communicate() == (b"2\n", None)

    asyncio.run(main())
    assert [call.kind for call in fake.calls] == ["subprocess", "subprocess"]


def test_asyncio_stdin_dialogue_and_signals(fake: FakeCommands) -> None:
    fake.register(["ask"], dialogue=[Out("name? "), In("bob"), Out("hi bob\n")])
    fake.register(["server"], duration=math.inf)

    async def main() -> None:
        proc = await asyncio.create_subprocess_exec(
            "ask", stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert await proc.stdout.readexactly(6) == b"name? "
        proc.stdin.write(b"bob\n")
        await proc.stdin.drain()
        assert await proc.stdout.readline() == b"hi bob\n"
        assert await proc.wait() == 0
        server = await asyncio.create_subprocess_exec("server")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait(), 0.05)
        server.terminate()
        assert await server.wait() == -signal.SIGTERM

    asyncio.run(main())
    assert fake.calls[1].signals == [signal.SIGTERM]


def test_asyncio_allow_real_starts_a_real_process_recorded_once(fake: FakeCommands) -> None:
    fake.allow_real.append(sys.executable)

    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(*py("print('real')"), stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        return out

    assert asyncio.run(main()) == b"real\n"
    assert len(fake.calls) == 1
    assert os.path.basename(fake.calls[0].args[0]).startswith("python")
