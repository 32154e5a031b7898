"""pytest-subprocess 1.6.0's scenarios (tests/test_subprocess.py, tests/test_asyncio.py,
README usage) ported to ``fake_commands`` with ``patch_subprocess()`` on.

Only the fixture is renamed (``fp`` -> ``fake_commands``) where the API is the same. Where
pytest-subprocess's name differs, the cmdrun one is used and the difference is noted:
``wait=`` -> ``duration=``, ``occurrences=`` -> ``times=``, ``callback=``/``stdin_callable=``
-> ``callback=`` (which gets the :class:`Call`), ``received_signals()`` ->
``call.signals``, ``ProcessNotRegisteredError`` -> ``UnregisteredCommand``; the rest
(stdout as a list of lines, ``any()``, ``program()``, ``allow_unregistered``) is the same.
"""

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

import pytest

from cmdrun.testing import FakeCommands, UnregisteredCommand

PYTHON = sys.executable


@pytest.fixture(autouse=True)
def _patched(fake_commands: FakeCommands) -> None:
    fake_commands.patch_subprocess()


# -- tests/test_subprocess.py --------------------------------------------------------------


@pytest.mark.parametrize("cmd", [("cmd",), ["cmd"]])
def test_completedprocess_args(fake_commands: FakeCommands, cmd: list[str]) -> None:
    fake_commands.register(cmd)
    proc = subprocess.run(cmd, check=True)
    assert proc.args == cmd
    assert isinstance(proc.args, type(cmd))


@pytest.mark.parametrize("cmd", ["cmd", ["cmd"]])
def test_called_process_error(fake_commands: FakeCommands, cmd: str | list[str]) -> None:
    fake_commands.register(cmd, returncode=1)
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(cmd, check=True)


def test_basic_process(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py"], stdout=["Stdout line 1", "Stdout line 2"], stderr=None
    )
    process = subprocess.Popen(
        [PYTHON, "example_script.py"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = process.communicate()
    assert process.poll() == 0
    assert process.returncode == 0
    assert process.pid > 0
    assert out.splitlines() == [b"Stdout line 1", b"Stdout line 2"]
    assert err == b""


def test_basic_process_merge_streams(fake_commands: FakeCommands) -> None:
    # stdout=/stderr= as strings: the list form needs the register part (see above)
    fake_commands.register(
        [PYTHON, "-u", "example_script.py", "stderr"],
        stdout="Stdout line 1\nStdout line 2\n",
        stderr="Stderr line 1\n",
    )
    process = subprocess.Popen(
        [PYTHON, "-u", "example_script.py", "stderr"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, err = process.communicate()
    assert out.splitlines() == [b"Stdout line 1", b"Stdout line 2", b"Stderr line 1"]
    assert err is None


def test_wait(fake_commands: FakeCommands) -> None:
    fake_commands.register(  # wait=0.5 in pytest-subprocess
        [PYTHON, "example_script.py", "wait", "stderr"],
        stdout="Stdout line 1\nStdout line 2",
        stderr="Stderr line 1",
        duration=0.5,
    )
    process = subprocess.Popen(
        (PYTHON, "example_script.py", "wait", "stderr"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.returncode is None
    with pytest.raises(subprocess.TimeoutExpired) as exc:
        process.wait(timeout=0.1)
    assert str(exc.value) == (
        f"Command '('{PYTHON}', 'example_script.py', 'wait', 'stderr')' timed out after 0.1 seconds"
    )
    assert process.wait() == 0


def test_check_output(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py"], stdout="Stdout line 1\nStdout line 2")
    process = subprocess.check_output((PYTHON, "example_script.py"))
    assert process.splitlines() == [b"Stdout line 1", b"Stdout line 2"]


def test_check_call(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py"], stdout="Stdout line 1\nStdout line 2\n")
    fake_commands.register([PYTHON, "example_script.py", "non-zero"], returncode=1)
    assert subprocess.check_call((PYTHON, "example_script.py")) == 0
    with pytest.raises(subprocess.CalledProcessError) as exc:
        subprocess.check_call((PYTHON, "example_script.py", "non-zero"))
    assert str(exc.value) == (
        f"Command '('{PYTHON}', 'example_script.py', 'non-zero')' returned non-zero exit status 1."
    )


def test_call(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py"], stdout="Stdout line 1\nStdout line 2\n")
    assert subprocess.call((PYTHON, "example_script.py")) == 0


def test_run(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py"], stdout=["Stdout line 1", "Stdout line 2"])
    process = subprocess.run((PYTHON, "example_script.py"), stdout=subprocess.PIPE)
    assert process.returncode == 0
    assert process.stdout == b"Stdout line 1\nStdout line 2\n"
    assert process.stderr is None


def test_universal_newlines(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py"], stdout=b"Stdout line 1\r\nStdout line 2\r\n"
    )
    process = subprocess.Popen(
        (PYTHON, "example_script.py"), universal_newlines=True, stdout=subprocess.PIPE
    )
    process.wait()
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    assert output == "Stdout line 1\nStdout line 2\n"


def test_text(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py"], stdout=[b"Stdout line 1", b"Stdout line 2"]
    )
    process = subprocess.Popen((PYTHON, "example_script.py"), stdout=subprocess.PIPE, text=True)
    process.wait()
    assert process.stdout is not None
    assert process.stdout.read().splitlines() == ["Stdout line 1", "Stdout line 2"]


def test_binary(fake_commands: FakeCommands) -> None:
    fake_commands.register(["some-cmd"], stdout=bytes.fromhex("aabbcc"))
    process = subprocess.Popen(["some-cmd"], stdout=subprocess.PIPE)
    process.wait()
    assert process.stdout is not None
    assert process.stdout.read() == b"\xaa\xbb\xcc"


def test_empty_stdout(fake_commands: FakeCommands) -> None:
    fake_commands.register(["some-cmd"], stdout=b"")
    process = subprocess.Popen(["some-cmd"], stdout=subprocess.PIPE)
    process.wait()
    assert process.stdout is not None
    assert process.stdout.read() == b""


def test_empty_stdout_list(fake_commands: FakeCommands) -> None:
    fake_commands.register(["some-cmd"], stdout=[])
    process = subprocess.Popen(["some-cmd"], stdout=subprocess.PIPE)
    process.wait()
    assert process.stdout is not None
    assert process.stdout.read() == b""


def test_input(fake_commands: FakeCommands) -> None:
    # stdin_callable= in pytest-subprocess: here the callback reads call.input
    fake_commands.register(
        [PYTHON, "example_script.py", "input"],
        callback=lambda call: (
            f"Stdout line 1\nStdout line 2\nProvide an input: Provided: {call.input}"
        ),
    )
    process = subprocess.Popen(
        (PYTHON, "example_script.py", "input"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    out, err = process.communicate(input=b"test")
    assert out.splitlines() == [
        b"Stdout line 1",
        b"Stdout line 2",
        b"Provide an input: Provided: test",
    ]
    assert err is None


def test_ambiguous_input(fake_commands: FakeCommands) -> None:
    fake_commands.register("test", times=2)  # occurrences=2
    for text, newlines in ((True, False), (False, True)):
        with pytest.raises(subprocess.SubprocessError) as exc:
            subprocess.run("test", universal_newlines=newlines, text=text)
        assert str(exc.value) == (
            "Cannot disambiguate when both text and universal_newlines are supplied but "
            "different. Pass one or the other."
        )


def test_multiple_wait(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py", "wait"], duration=1)  # wait=1
    process = subprocess.Popen((PYTHON, "example_script.py", "wait"))
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    process.wait(0.9)
    assert process.returncode == 0
    process.wait(0.2)  # one more wait shall do no harm


def test_callback(fake_commands: FakeCommands, capsys: pytest.CaptureFixture[str]) -> None:
    def callback(call: object) -> None:
        print("from callback")

    fake_commands.register("test", callback=callback)
    subprocess.run("test")
    assert capsys.readouterr().out == "from callback\n"


def test_different_output(fake_commands: FakeCommands) -> None:
    fake_commands.register("test", stdout="first execution", times=1)
    fake_commands.register("test", stdout="second execution", times=1)
    fake_commands.register("test", stdout="third execution", returncode=1, times=1)
    assert subprocess.check_output("test") == b"first execution"
    assert subprocess.check_output("test") == b"second execution"
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.check_output("test")
    with pytest.raises(UnregisteredCommand):  # ProcessNotRegisteredError
        subprocess.check_call("test")


def test_git(fake_commands: FakeCommands) -> None:
    fake_commands.register(["git", "branch"], stdout=["* fake_branch", "  master"])
    process = subprocess.Popen(["git", "branch"], stdout=subprocess.PIPE, universal_newlines=True)
    out, _ = process.communicate()
    assert process.returncode == 0
    assert out == "* fake_branch\n  master\n"


def test_use_real(fake_commands: FakeCommands, tmp_path: pathlib.Path) -> None:
    script = tmp_path / "example_script.py"
    script.write_text("print('Stdout line 1')\nprint('Stdout line 2')\n")
    fake_commands.register([PYTHON, "fake_script.py"], stdout="Fake line 1\nFake line 2\n")
    fake_commands.allow_real.append(PYTHON)
    real = subprocess.check_output([PYTHON, str(script)], text=True)
    fake = subprocess.check_output([PYTHON, "fake_script.py"], text=True)
    assert real.splitlines() == ["Stdout line 1", "Stdout line 2"]
    assert fake.splitlines() == ["Fake line 1", "Fake line 2"]


def test_context_manager(fake_commands: FakeCommands) -> None:
    fake_commands.register([PYTHON, "example_script.py"], stdout="Stdout line 1\nStdout line 2\n")
    with subprocess.Popen([PYTHON, "example_script.py"], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.read().splitlines() == [b"Stdout line 1", b"Stdout line 2"]


def test_raise_exception(fake_commands: FakeCommands) -> None:
    def callback_function(call: object) -> None:
        raise PermissionError("cannot execute")

    fake_commands.register("test-no-callback", raises=PermissionError("cannot execute"))
    fake_commands.register("test-callback", callback=callback_function)
    with pytest.raises(PermissionError, match="cannot execute"):
        subprocess.check_call("test-no-callback")
    with pytest.raises(PermissionError, match="cannot execute"):
        subprocess.check_call("test-callback")


@pytest.mark.parametrize("command", [("test",), "test"])
def test_different_command_type(fake_commands: FakeCommands, command: object) -> None:
    fake_commands.register(command)  # type: ignore[arg-type]
    assert subprocess.check_call(command) == 0  # type: ignore[call-overload]


@pytest.mark.parametrize("command", ["ls -lah", ["ls", "-lah"]])
def test_string_or_tuple(fake_commands: FakeCommands, command: object) -> None:
    fake_commands.register(command, stdout="Fake line")  # type: ignore[arg-type]
    assert subprocess.check_output("ls -lah") == b"Fake line"
    assert subprocess.check_output(["ls", "-lah"]) == b"Fake line"


def test_with_wildcards(fake_commands: FakeCommands) -> None:
    fake_commands.register(["cp", fake_commands.any(min=2)])  # type: ignore[attr-defined]
    with pytest.raises(UnregisteredCommand):
        subprocess.check_call("cp /source/dir")
    assert subprocess.check_call("cp /source/dir /tmp/random-dir") == 0


def test_with_program(fake_commands: FakeCommands) -> None:
    fake_commands.register([fake_commands.program("ls"), fake_commands.any()])  # type: ignore[attr-defined]
    assert subprocess.check_call(["/usr/bin/ls", "-lah"]) == 0


def test_call_count(fake_commands: FakeCommands) -> None:
    fake_commands.register(["cp", "/tmp/source", "/source"])
    fake_commands.register(["cp", "/source", "/destination"])
    fake_commands.register(["cp", "/source", "/other/destination"])
    fake_commands.register("ls -lah")
    assert subprocess.check_call("ls -lah") == 0
    assert subprocess.check_call(["cp", "/tmp/source", "/source"]) == 0
    assert subprocess.check_call(["cp", "/source", "/destination"]) == 0
    assert subprocess.check_call(["cp", "/source", "/other/destination"]) == 0
    assert fake_commands.call_count("cp /tmp/source /source") == 1
    assert fake_commands.call_count(["ls", "-lah"]) == 1


def test_allow_unregistered(fake_commands: FakeCommands) -> None:
    fake_commands.allow_unregistered(True)  # type: ignore[attr-defined]
    assert subprocess.run([PYTHON, "-c", "pass"]).returncode == 0


def test_signals(fake_commands: FakeCommands) -> None:
    fake_commands.register("test", duration=math.inf)
    process = subprocess.Popen("test")
    process.kill()
    process.terminate()
    process.send_signal(signal.SIGSEGV)
    # process.received_signals() in pytest-subprocess
    assert fake_commands.calls[0].signals == [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV]


@pytest.mark.parametrize("binary", [True, False])
def test_non_piped_streams(
    fake_commands: FakeCommands, tmp_path: pathlib.Path, binary: bool
) -> None:
    fake_commands.register("stdout_stderr", stdout="Stdout line 1", stderr="Stderr line 1")
    mode = "wb" if binary else "w"
    with open(tmp_path / "stdout", mode) as out, open(tmp_path / "stderr", mode) as err:
        process = subprocess.Popen("stdout_stderr", stdout=out, stderr=err)
        process.wait()
    assert (tmp_path / "stdout").read_text() == "Stdout line 1"
    assert (tmp_path / "stderr").read_text() == "Stderr line 1"


@pytest.mark.parametrize("binary", [True, False])
def test_non_piped_same_file(
    fake_commands: FakeCommands, tmp_path: pathlib.Path, binary: bool
) -> None:
    fake_commands.register("stdout_stderr", stdout="Stdout line 1\n", stderr="Stderr line 1\n")
    with open(tmp_path / "both", "wb" if binary else "w") as file:
        subprocess.Popen("stdout_stderr", stdout=file, stderr=file).wait()
    assert (tmp_path / "both").read_text() == "Stdout line 1\nStderr line 1\n"


def test_stdout_stderr_as_file_bug(fake_commands: FakeCommands, tmp_path: pathlib.Path) -> None:
    fake_commands.register(["test-no-stderr"], stdout="test")
    fake_commands.register(["test-no-stdout"], stderr="test")
    fake_commands.register(["test-no-streams"])
    with open(tmp_path / "file", "wb") as temp_file:
        for command in ("test-no-stderr", "test-no-stdout", "test-no-streams"):
            subprocess.Popen(command, stdout=temp_file, stderr=temp_file).wait()
    assert (tmp_path / "file").read_bytes() == b"testtest"


def test_imported_popen_is_patched(fake_commands: FakeCommands) -> None:
    from subprocess import Popen as imported_popen

    fake_commands.register(["echo", "-ne", "\\x00"], stdout=bytes.fromhex("00"))
    process = imported_popen(["echo", "-ne", "\\x00"], stdout=subprocess.PIPE)
    out, _ = process.communicate()
    assert process.returncode == 0
    assert out == b"\x00"


def test_not_registered(fake_commands: FakeCommands) -> None:
    with pytest.raises(UnregisteredCommand) as exc:  # ProcessNotRegisteredError
        subprocess.check_call("test")
    assert "no fake registered for `test`" in str(exc.value)


# -- tests/test_asyncio.py -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["shell", "exec"])
def test_async_basic_usage(fake_commands: FakeCommands, mode: str) -> None:
    command = "some-command-that-is-definitely-unavailable"
    fake_commands.register(
        ["/bin/sh", "-c", command] if mode == "shell" else [command], returncode=500
    )

    async def main() -> None:
        method = (
            asyncio.create_subprocess_shell if mode == "shell" else asyncio.create_subprocess_exec
        )
        process = await method(command)
        returncode = await process.wait()
        assert process.returncode == returncode
        assert process.returncode == 500

    asyncio.run(main())


def test_async_wait(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py", "wait", "stderr"],
        stdout="Stdout line 1\nStdout line 2",
        stderr="Stderr line 1",
        duration=0.5,  # wait=0.5
    )

    async def main() -> None:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "example_script.py",
            "wait",
            "stderr",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.returncode is None
        start = asyncio.get_running_loop().time()
        assert await process.wait() == 0
        assert asyncio.get_running_loop().time() - start >= 0.45

    asyncio.run(main())


def test_async_devnull_stdout(fake_commands: FakeCommands) -> None:
    fake_commands.register("cat")

    async def main() -> None:
        await asyncio.create_subprocess_exec(
            "cat",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.STDOUT,
            stderr=asyncio.subprocess.PIPE,
        )

    asyncio.run(main())


async def _read_stream(stream: asyncio.StreamReader, output: list[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            break
        output.append(line.decode())


def test_async_stdout_and_stderr(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py", "stderr"],
        stdout="Stdout line 1\nStdout line 2\n",
        stderr="Stderr line 1\n",
    )

    async def main() -> tuple[list[str], list[str]]:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "example_script.py",
            "stderr",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout_list: list[str] = []
        stderr_list: list[str] = []
        assert process.stdout is not None
        assert process.stderr is not None
        await asyncio.gather(
            _read_stream(process.stdout, stdout_list),
            _read_stream(process.stderr, stderr_list),
            process.wait(),
        )
        return stdout_list, stderr_list

    assert asyncio.run(main()) == (["Stdout line 1\n", "Stdout line 2\n"], ["Stderr line 1\n"])


def test_async_combined_stdout_and_stderr(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py", "stderr"],
        stdout="Stdout line 1\nStdout line 2\n",
        stderr="Stderr line 1\n",
    )

    async def main() -> bytes:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "example_script.py",
            "stderr",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, err = await process.communicate()
        assert err is None
        return out

    assert asyncio.run(main()).splitlines() == [
        b"Stdout line 1",
        b"Stdout line 2",
        b"Stderr line 1",
    ]


def test_async_input(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        [PYTHON, "example_script.py", "input"],
        callback=lambda call: (
            f"Stdout line 1\nStdout line 2\nProvide an input: Provided: {call.input}"
        ),
    )

    async def main() -> tuple[bytes, bytes | None]:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "example_script.py",
            "input",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return await process.communicate(input=b"test")

    out, err = asyncio.run(main())
    assert out.splitlines() == [
        b"Stdout line 1",
        b"Stdout line 2",
        b"Provide an input: Provided: test",
    ]
    assert err is None


def test_async_popen_recorder(fake_commands: FakeCommands) -> None:
    recorder = fake_commands.register(["test_script"], times=2)  # occurrences=2
    assert recorder.used == 0  # recorder.call_count()

    async def main() -> None:
        await asyncio.create_subprocess_exec("test_script")
        await asyncio.create_subprocess_exec("test_script")

    asyncio.run(main())
    assert recorder.used == 2
    assert os.path.basename(fake_commands.calls[0].args[0]) == "test_script"
