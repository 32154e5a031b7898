"""cmdrun.Remote against real OpenSSH servers on loopback (three of them: three hosts).

Every test talks to real ``sshd`` processes started by ``tests/sshd.py`` (throwaway keys in
a temp directory, 127.0.0.1 only). Survivors are looked for with ``pgrep`` through a second
connection, as an operator would; each remote program gets a unique marker (a sleep of an
odd length) so that tests running side by side never see each other's processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import cmdrun
from cmdrun import Remote

sys.path.insert(0, str(Path(__file__).parent))
import sshd

pytestmark = pytest.mark.skipif(bool(sshd.available()), reason=sshd.available() or "ok")


@pytest.fixture(scope="module")
def hosts() -> Iterator[sshd.Servers]:
    with sshd.servers(3) as servers:
        yield servers


@pytest.fixture
def remote(hosts: sshd.Servers) -> Iterator[Remote]:
    with Remote("host0", ssh_config=hosts.ssh_config) as r:
        yield r


def marker() -> str:
    """A sleep length no other test uses: ``sleep 3000.123456``."""
    return f"3000.{random.randrange(10**6):06d}"


def survivors(hosts: sshd.Servers, mark: str, host: str = "host1") -> list[str]:
    """Remote processes whose command line holds ``mark``, seen through another connection
    (all hosts are this machine)."""
    with Remote(host, ssh_config=hosts.ssh_config) as other:
        found = other.run(["pgrep", "-af", f"sleep {mark}"], check=False)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def wait_gone(hosts: sshd.Servers, mark: str, seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        left = survivors(hosts, mark)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


# -- arguments, input, status -----------------------------------------------------------

AWKWARD = [
    "a b",
    "",
    "'single'",
    '"double"',
    "$HOME",
    "`id`",
    "$(id)",
    "*",
    "semi; touch /tmp/cmdrun-pwned",
    "back\\slash",
    "new\nline",
    "tab\there",
    "-n",
    "--",
    "é ü 日本",
    "~",
]


def test_arguments_arrive_byte_for_byte(remote: Remote) -> None:
    result = remote.run(["printf", "[%s]\\n", *AWKWARD])
    expected = "".join(f"[{arg}]\n" for arg in AWKWARD)
    assert result.stdout == expected
    assert result.host == "host0"
    assert result.args == ("printf", "[%s]\\n", *AWKWARD)
    assert not os.path.exists("/tmp/cmdrun-pwned")


def test_input_arrives_byte_for_byte(remote: Remote) -> None:
    data = bytes(range(256)) * 1000 + b"\r\n\x00end"
    result = remote.run(["cat"], input=data)
    assert result.stdout_bytes == data


def test_exit_status_and_failure_message(remote: Remote) -> None:
    assert remote.run(["sh", "-c", "exit 3"], check=False).returncode == 3
    with pytest.raises(cmdrun.CommandFailed) as caught:
        remote.run(["sh", "-c", "echo oops >&2; exit 4"])
    assert caught.value.returncode == 4
    assert "on host0" in str(caught.value)
    assert "oops" in str(caught.value)


def test_the_commands_own_255_is_no_connection_error(remote: Remote) -> None:
    result = remote.run(["sh", "-c", "exit 255"], check=False)
    assert result.returncode == 255
    with pytest.raises(cmdrun.CommandFailed):
        remote.run(["sh", "-c", "exit 255"])


def test_a_signal_reads_as_locally(remote: Remote) -> None:
    result = remote.run(["sh", "-c", "kill -TERM $$"], check=False)
    assert result.returncode == -signal.SIGTERM
    assert result.signal == signal.SIGTERM
    assert result.stderr == ""  # no "Terminated" from the remote shell


def test_shell_true_passes_one_line_on_purpose(remote: Remote) -> None:
    result = remote.run("echo $((6 * 7)) | tr 4 X", shell=True)
    assert result.stdout == "X2\n"
    assert result.args == ("/bin/sh", "-c", "echo $((6 * 7)) | tr 4 X")


def test_a_string_is_split_not_given_to_a_shell(remote: Remote) -> None:
    assert remote.run("echo '$HOME' ';' x").stdout == "$HOME ; x\n"


def test_cwd_and_env_apply_on_the_host(remote: Remote, tmp_path: Path) -> None:
    result = remote.run(
        ["sh", "-c", 'pwd; echo "$GREETING"; echo "${HOME:+home set}"'],
        cwd=tmp_path,
        env={"GREETING": "hello 'there' $x"},
    )
    assert result.stdout == f"{tmp_path}\nhello 'there' $x\nhome set\n"
    bare = remote.run(
        ["sh", "-c", 'echo "[$GREETING][${HOME-}]"'], env={"GREETING": "g"}, inherit_env=False
    )
    assert bare.stdout == "[g][]\n"


def test_a_missing_program_raises_command_not_found(remote: Remote, tmp_path: Path) -> None:
    with pytest.raises(cmdrun.CommandNotFound) as caught:
        remote.run(["cmdrun-no-such-program"])
    assert "on host0" in str(caught.value)
    with pytest.raises(cmdrun.CommandNotFound):
        remote.run([str(tmp_path / "missing")])
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    plain.chmod(0o644)
    with pytest.raises(cmdrun.CommandNotExecutable) as refused:
        remote.run([str(plain)])
    assert "on host0" in str(refused.value)


def test_a_missing_working_directory_raises(remote: Remote) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist on host0"):
        remote.run(["pwd"], cwd="/nonexistent/dir")


def test_bad_arguments_raise_before_anything_runs(hosts: sshd.Servers) -> None:
    with pytest.raises(ValueError, match="not a destination"):
        Remote("-oProxyCommand=touch /tmp/x")
    with pytest.raises(ValueError, match="set by cmdrun"):
        Remote("host0", options={"ControlPath": "/tmp/x"})
    with pytest.raises(ValueError, match="env name"):
        Remote("host0").run(["true"], env={"A B": "x"})
    with pytest.raises(TypeError, match="pass_fds"):
        Remote("host0").run(["true"], pass_fds=[3])
    closed = Remote("host0", ssh_config=hosts.ssh_config)
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.run(["true"])


# -- stopping: timeouts, Ctrl-C, lost clients -------------------------------------------


def test_a_timeout_leaves_no_remote_process(remote: Remote, hosts: sshd.Servers) -> None:
    mark = marker()
    started = time.monotonic()
    with pytest.raises(cmdrun.CommandTimedOut) as caught:
        remote.run(["sh", "-c", f"echo started; sleep {mark} & sleep {mark}"], timeout=3)
    assert time.monotonic() - started < 15
    assert caught.value.result.stdout == "started\n"  # partial output is kept
    assert "on host0" in str(caught.value)
    assert survivors(hosts, mark) == []  # gone when the call returns


def test_a_program_that_ignores_sigterm_is_killed(remote: Remote, hosts: sshd.Servers) -> None:
    mark = marker()
    with pytest.raises(cmdrun.CommandTimedOut):
        remote.run(["sh", "-c", f"trap '' TERM; sleep {mark}"], timeout=2, kill_grace=0.5)
    assert survivors(hosts, mark) == []


def test_a_timeout_with_input_leaves_no_remote_process(remote: Remote, hosts: sshd.Servers) -> None:
    mark = marker()
    with pytest.raises(cmdrun.CommandTimedOut):
        remote.run(["sh", "-c", f"cat >/dev/null; sleep {mark}"], input="data", timeout=2)
    assert survivors(hosts, mark) == []


def test_idle_timeout_works_remotely(remote: Remote, hosts: sshd.Servers) -> None:
    mark = marker()
    with pytest.raises(cmdrun.CommandTimedOut) as caught:
        remote.run(["sh", "-c", f"echo one; sleep {mark}"], idle_timeout=0.5)
    assert caught.value.result.timeout_kind == "idle"
    assert survivors(hosts, mark) == []


CHILD = """
import sys, time
sys.path[:0] = {path!r}
import cmdrun
remote = cmdrun.Remote("host0", ssh_config={config!r})
print("ready", flush=True)
remote.run(["sleep", {mark!r}], {kwargs})
"""


def _parent(
    hosts: sshd.Servers, mark: str, kwargs: str = "", child: str = CHILD
) -> subprocess.Popen[str]:
    code = child.format(path=sys.path, config=str(hosts.ssh_config), mark=mark, kwargs=kwargs)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 15
    while not survivors(hosts, mark):
        assert time.monotonic() < deadline, "the remote sleep never started"
        time.sleep(0.1)
    return process


def test_ctrl_c_in_the_caller_stops_the_remote_command(hosts: sshd.Servers) -> None:
    mark = marker()
    child = _parent(hosts, mark)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    assert survivors(hosts, mark) == []  # gone before the parent ended


def test_a_killed_caller_leaves_no_remote_process(hosts: sshd.Servers) -> None:
    """SIGKILL: no clean-up code runs here. The lifeline pipe closes with the process, its
    ssh passes the end on, and the remote script stops the group."""
    mark = marker()
    child = _parent(hosts, mark)
    child.kill()
    child.communicate(timeout=30)
    assert wait_gone(hosts, mark) == []


def test_a_killed_caller_with_input_leaves_no_remote_process(hosts: sshd.Servers) -> None:
    mark = marker()
    child = _parent(hosts, mark, kwargs="input='x'")
    child.kill()
    child.communicate(timeout=30)
    assert wait_gone(hosts, mark, 30) == []


def test_a_lost_connection_raises_and_leaves_no_remote_process(
    hosts: sshd.Servers,
) -> None:
    """The host's sshd dies mid-run (every connection with it)."""
    server = hosts.servers[2]
    mark = marker()
    outcome: list[BaseException | cmdrun.Result] = []
    with Remote("host2", ssh_config=hosts.ssh_config) as r:
        r.connect()

        def run() -> None:
            try:
                outcome.append(r.run(["sh", "-c", f"echo begun; sleep {mark}"]))
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 15
        while not survivors(hosts, mark):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.kill()
        worker.join(30)
        try:
            assert len(outcome) == 1
            error = outcome[0]
            assert isinstance(error, cmdrun.ConnectionFailed), error
            assert error.kind == "connection lost"
            assert error.host == "host2"
            assert error.result is not None
            assert error.result.stdout == "begun\n"
            assert wait_gone(hosts, mark) == []
        finally:
            server.start()


# -- SSH's own failures -----------------------------------------------------------------


def test_authentication_failure(hosts: sshd.Servers, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    sshd._keygen(stranger)
    server = hosts.servers[0]
    r = Remote(
        "127.0.0.1",
        port=server.port,
        identity=stranger,
        ssh_config=os.devnull,  # no config: only this key is offered
        options={"UserKnownHostsFile": str(hosts.known_hosts), "IdentitiesOnly": "yes"},
    )
    with pytest.raises(cmdrun.ConnectionFailed) as caught:
        r.run(["true"])
    assert caught.value.kind == "authentication"
    assert "Permission denied" in caught.value.detail
    assert isinstance(caught.value, ConnectionError)
    r.close()


def test_unknown_host_key_is_refused_unless_accepted(hosts: sshd.Servers, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    options = {"UserKnownHostsFile": str(known)}
    with Remote("host0", ssh_config=hosts.ssh_config, options=options) as r:
        with pytest.raises(cmdrun.ConnectionFailed) as caught:
            r.run(["true"])
        assert caught.value.kind == "host key"
    accept = {**options, "StrictHostKeyChecking": "accept-new"}
    with Remote("host0", ssh_config=hosts.ssh_config, options=accept) as r:
        assert r.run(["echo", "in"]).stdout == "in\n"
    assert "ssh-ed25519" in known.read_text()


def test_connection_refused(hosts: sshd.Servers) -> None:
    port = sshd._free_port()
    with (
        Remote("127.0.0.1", port=port, ssh_config=hosts.ssh_config) as r,
        pytest.raises(cmdrun.ConnectionFailed) as caught,
    ):
        r.run(["true"])
    assert caught.value.kind == "connection refused"
    assert "127.0.0.1" in str(caught.value)


# -- the shared connection --------------------------------------------------------------


def test_one_master_connection_in_a_private_directory(hosts: sshd.Servers) -> None:
    r = Remote("host1", ssh_config=hosts.ssh_config)
    r.run(["true"])
    assert r.alive()
    directory = r._dir
    assert directory is not None
    assert os.stat(directory).st_mode & 0o777 == 0o700
    # Every command is served by the same sshd connection process (the parent of the
    # script that runs it).
    serving = {r.run(["sh", "-c", "ps -o ppid= -p $PPID"]).stdout for _ in range(3)}
    assert len(serving) == 1
    r.close()
    assert not os.path.exists(directory)
    assert not r.alive()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie that its parent, here init, has not
    reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_closing_tells_the_master_to_exit_without_an_ssh_process(
    hosts: sshd.Servers, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    wrapper = tmp_path / "ssh"
    wrapper.write_text(LOGGING_SSH.replace("LOG", str(log)))
    wrapper.chmod(0o755)
    r = Remote("host1", ssh_config=hosts.ssh_config, ssh=str(wrapper))
    r.run(["true"])
    check = subprocess.run(
        [*r._base(), "-O", "check", "--", r.host], capture_output=True, text=True, check=True
    )
    master = int(check.stderr.split("pid=")[1].split(")")[0])
    r.close()
    deadline = time.monotonic() + 10
    while not _gone(master):
        assert time.monotonic() < deadline, "the master never exited"
        time.sleep(0.02)
    assert not any(" -O exit" in call for call in log.read_text().splitlines())


# -- the other doors ----------------------------------------------------------------------


def test_pipeline_on_a_remote(remote: Remote) -> None:
    result = remote.run(cmdrun.pipe(["printf", "b\\na\\nb\\n"], ["sort", "-u"], ["wc", "-l"]))
    assert result.stdout.strip() == "2"
    assert result.host == "host0"
    assert [stage.args[0] for stage in result.stages] == ["printf", "sort", "wc"]
    failed = remote.run(cmdrun.pipe(["sh", "-c", "exit 3"], ["cat"]), check=False)
    assert failed.returncode == 3


def test_stdin_from_a_file(remote: Remote, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"abc\x00\xff" * 1000)
    assert remote.run(["wc", "-c"], stdin=source).stdout.strip() == "5000"


def test_stream_gives_lines_as_they_come(remote: Remote) -> None:
    with remote.stream(["sh", "-c", "echo one; echo two >&2; echo three"]) as lines:
        got = [(line.stream, line.text) for line in lines]
    assert ("stdout", "one\n") in got
    assert ("stderr", "two\n") in got
    assert lines.result is not None
    assert lines.result.host == "host0"


def test_call_returns_the_status(remote: Remote, capfd: pytest.CaptureFixture[str]) -> None:
    assert remote.call(["sh", "-c", "echo to-the-terminal; exit 5"]) == 5
    assert "to-the-terminal" in capfd.readouterr().out


def test_run_many_on_a_remote(remote: Remote) -> None:
    results = remote.run_many([["echo", str(i)] for i in range(6)], jobs=3)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    assert {r.host for r in results} == {"host0"}


def test_spawn_on_a_remote_terminal(remote: Remote) -> None:
    with remote.spawn(["python3", "-i", "-q"]) as repl:
        repl.expect(">>> ")
        repl.sendline("import os; os.isatty(0), 6 * 7")
        found = repl.expect(">>> ")
        assert "(True, 42)" in found.before
        # Ctrl-C typed on the remote terminal stops a long statement. (Not at the bare
        # prompt: python's readline can lose a Ctrl-C typed while it sets the terminal up,
        # 1 time in 30 here even on a local PTY.)
        repl.sendline("import time; time.sleep(60)")
        repl.expect("time.sleep")  # the echo: the line reached the host
        repl.interrupt()
        repl.expect("KeyboardInterrupt")
        repl.expect(">>> ")
        repl.sendeof()
        result = repl.wait()
    # CPython's REPL exits by SIGINT once a statement was interrupted (a local run of the
    # same dialogue gives -2 too): the remote signal reads as locally.
    assert result.returncode == -signal.SIGINT
    assert result.host == "host0"


def test_respond_and_secret_over_ssh(remote: Remote) -> None:
    script = 'printf "Password: "; stty -echo; read p; stty echo; echo; echo "got ${#p}"'
    result = remote.run(
        ["sh", "-c", script],
        tty=True,
        respond={"Password: ": cmdrun.Secret("hunter2")},
    )
    assert "got 7" in result.stdout
    assert "hunter2" not in result.stdout


def test_closing_a_session_stops_the_remote_program(remote: Remote, hosts: sshd.Servers) -> None:
    mark = marker()
    session = remote.spawn(["sh", "-c", f"trap '' HUP TERM; sleep {mark}"], kill_grace=0.5)
    deadline = time.monotonic() + 15
    while not survivors(hosts, mark):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    session.close()
    assert survivors(hosts, mark) == []


# -- fan-out ------------------------------------------------------------------------------


def test_run_on_gives_one_result_per_host_with_one_down(hosts: sshd.Servers) -> None:
    down = "127.0.0.1"
    port = sshd._free_port()
    remotes = [
        Remote("host0", ssh_config=hosts.ssh_config),
        Remote("host1", ssh_config=hosts.ssh_config),
        Remote(down, port=port, ssh_config=hosts.ssh_config),
    ]
    try:
        results = cmdrun.run_on(remotes, ["sh", "-c", "echo up"], timeout=20)
    finally:
        for r in remotes:
            r.close()
    assert [r.host for r in results] == ["host0", "host1", down]
    assert [r.stdout for r in results[:2]] == ["up\n", "up\n"]
    assert results[2].returncode == 255
    assert "Connection refused" in results[2].stderr


def test_run_on_with_names_and_a_timeout(hosts: sshd.Servers) -> None:
    mark = marker()
    names = ["host0", "host1", "host2"]
    results = cmdrun.run_on(
        names,
        ["sh", "-c", f"echo hi; sleep {mark}"],
        timeout=3,  # time to start on a loaded machine: the output is checked
        remote_options={"ssh_config": hosts.ssh_config},
    )
    assert [r.timed_out for r in results] == [True, True, True]
    assert [r.stdout for r in results] == ["hi\n"] * 3
    assert survivors(hosts, mark) == []


LOGGING_SSH = """#!/bin/sh
# ssh, but first a line in LOG: this process's pid and the options up to the destination.
line=$$
for arg do [ "$arg" = -- ] && break; line="$line $arg"; done
echo "$line" >> LOG
exec ssh "$@"
"""


def test_run_on_without_a_time_limit_runs_one_ssh_per_host_and_no_master(
    hosts: sshd.Servers, tmp_path: Path
) -> None:
    """No timeout: nothing to measure after the login, so each host's command is one ssh
    that logs in itself (no master to start, share and stop), and none is left behind."""
    log = tmp_path / "log"
    wrapper = tmp_path / "ssh"
    wrapper.write_text(LOGGING_SSH.replace("LOG", str(log)))
    wrapper.chmod(0o755)
    down = f"ssh://127.0.0.1:{sshd._free_port()}"
    results = cmdrun.run_on(
        ["host0", "host1", "host2", down],
        ["sh", "-c", "echo up"],
        remote_options={"ssh_config": hosts.ssh_config, "ssh": str(wrapper)},
    )
    assert [r.stdout for r in results[:3]] == ["up\n"] * 3
    assert results[3].returncode == 255
    assert "Connection refused" in results[3].stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 4  # one per host: no master started, none told to exit
    assert all("ControlPath=none" in call and "ControlMaster=yes" not in call for call in calls)
    for pid in (int(call.split()[0]) for call in calls):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # every ssh ended and was reaped


FAN_OUT_CHILD = """
import sys
sys.path[:0] = {path!r}
import cmdrun
print("ready", flush=True)
cmdrun.run_on(
    ["host0", "host1"],
    ["sh", "-c", "trap '' TERM; sleep {mark}"],
    kill_grace=3,
    remote_options={{"ssh_config": {config!r}}},
)
"""


def test_ctrl_c_stops_a_fan_out_without_a_master(hosts: sshd.Servers) -> None:
    """Without a master, the stopper opens a connection of its own and the call ends once
    the commands are gone (TERM ignored: KILL after kill_grace). Without it, the scripts'
    own watchers would stop them too, but only seconds after the call ended."""
    mark = marker()
    child = _parent(hosts, mark, child=FAN_OUT_CHILD)
    deadline = time.monotonic() + 15
    while len(survivors(hosts, mark)) < 2:
        assert time.monotonic() < deadline, "the remote sleeps never both started"
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    assert survivors(hosts, mark) == []  # gone before the parent ended


# -- async ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_arun_and_aspawn_on_a_remote(hosts: sshd.Servers) -> None:
    async with Remote("host0", ssh_config=hosts.ssh_config) as r:
        await r.aconnect()
        result = await r.arun(["echo", "async"])
        assert result.stdout == "async\n"
        assert result.host == "host0"
        async with r.aspawn(["sqlite3"]) as db:
            await db.expect("sqlite> ")
            await db.sendline("select 40 + 2;")
            found = await db.expect("sqlite> ")
            assert "42" in found.before
            await db.sendeof()
        lines = []
        async with r.astream(["sh", "-c", "echo a; echo b"]) as out:
            async for line in out:
                lines.append(line.text)
        assert lines == ["a\n", "b\n"]


@pytest.mark.anyio
async def test_async_timeout_leaves_no_remote_process(hosts: sshd.Servers) -> None:
    mark = marker()
    async with Remote("host0", ssh_config=hosts.ssh_config) as r:
        with pytest.raises(cmdrun.CommandTimedOut):
            await r.arun(["sh", "-c", f"sleep {mark} & sleep {mark}"], timeout=2)
    assert survivors(hosts, mark) == []


@pytest.mark.anyio
async def test_async_cancellation_stops_the_remote_command(hosts: sshd.Servers) -> None:
    import anyio

    mark = marker()
    async with Remote("host0", ssh_config=hosts.ssh_config) as r:
        await r.aconnect()
        with anyio.move_on_after(2):
            await r.arun(["sleep", mark])
        assert survivors(hosts, mark) == []


@pytest.mark.anyio
async def test_cancelling_arun_on_without_a_master_stops_the_remote_commands(
    hosts: sshd.Servers,
) -> None:
    import anyio

    mark = marker()

    async def fan_out() -> None:
        await cmdrun.arun_on(
            ["host0", "host1"],
            ["sh", "-c", f"trap '' TERM; sleep {mark}"],
            kill_grace=3,
            remote_options={"ssh_config": hosts.ssh_config},
        )

    async with anyio.create_task_group() as group:
        group.start_soon(fan_out)
        deadline = time.monotonic() + 15
        while len(await anyio.to_thread.run_sync(survivors, hosts, mark)) < 2:
            assert time.monotonic() < deadline, "the remote sleeps never both started"
        group.cancel_scope.cancel()
    assert survivors(hosts, mark) == []


@pytest.mark.anyio
async def test_arun_on_many_hosts_without_a_thread_per_host(hosts: sshd.Servers) -> None:
    before = threading.active_count()
    results = await cmdrun.arun_on(
        [f"host{i % 3}" for i in range(9)],
        ["sh", "-c", "echo ok"],
        remote_options={"ssh_config": hosts.ssh_config},
    )
    assert [r.stdout for r in results] == ["ok\n"] * 9
    assert threading.active_count() <= before + 1


def test_ci_installs_the_ssh_server() -> None:
    text = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "openssh-server" in text


# -- the command line -------------------------------------------------------------------------


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cmdrun", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_host_runs_there_and_exits_with_its_status(hosts: sshd.Servers) -> None:
    config = str(hosts.ssh_config)
    done = cli("--host", "host0", "--ssh-config", config, "--", "sh", "-c", "echo $0 'a b'; exit 7")
    assert done.stdout == "sh a b\n"
    assert done.returncode == 7
    missing = cli("--host", "host0", "--ssh-config", config, "--", "cmdrun-missing-program")
    assert missing.returncode == 127
    assert "on host0" in missing.stderr


def test_cli_host_timeout_stops_the_remote_command(hosts: sshd.Servers) -> None:
    mark = marker()
    done = cli(
        "--host",
        "host0",
        "--ssh-config",
        str(hosts.ssh_config),
        "--timeout",
        "1",
        "--",
        "sh",
        "-c",
        f"sleep {mark} & sleep {mark}",
    )
    assert done.returncode == 124
    assert survivors(hosts, mark) == []


def test_cli_host_that_cannot_be_reached_exits_255(hosts: sshd.Servers) -> None:
    port = sshd._free_port()
    done = cli("--host", "127.0.0.1", "--ssh-option", f"Port={port}", "--", "true")
    assert done.returncode == 255
    assert "connection refused" in done.stderr


def test_cli_many_hosts_runs_one_command_on_every_host(hosts: sshd.Servers, tmp_path: Path) -> None:
    listing = tmp_path / "hosts.txt"
    listing.write_text("host0\nhost1  # the second\n\nhost2\nroot@127.0.0.1\n")
    done = cli(
        "many",
        "--hosts",
        str(listing),
        "--ssh-config",
        str(hosts.ssh_config),
        "--json",
        "--",
        "sh",
        "-c",
        "echo on $(hostname)",
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    by_host = {r["host"]: r for r in records}
    assert set(by_host) == {"host0", "host1", "host2", "root@127.0.0.1"}
    assert all(by_host[h]["returncode"] == 0 for h in ("host0", "host1", "host2"))
    assert by_host["host0"]["args"] == ["sh", "-c", "echo on $(hostname)"]
    assert by_host["root@127.0.0.1"]["returncode"] == 255  # no port 22 here
    assert done.returncode == 1


def test_call_shares_this_process_stdin_with_the_remote_command(hosts: sshd.Servers) -> None:
    code = (
        f"import sys; sys.path[:0] = {sys.path!r}; import cmdrun; "
        f"r = cmdrun.Remote('host0', ssh_config={str(hosts.ssh_config)!r}); "
        "sys.exit(r.call(['sh', '-c', 'read line; echo got $line; exit 4']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "got hello\n"
    assert done.returncode == 4


def test_a_remote_pipeline_timeout_leaves_no_stage_behind(
    remote: Remote, hosts: sshd.Servers
) -> None:
    mark = marker()
    with pytest.raises(cmdrun.CommandTimedOut):
        remote.run(
            cmdrun.pipe(["sh", "-c", f"sleep {mark}"], ["sh", "-c", f"cat; sleep {mark}"]),
            timeout=2,
        )
    assert survivors(hosts, mark) == []


def test_the_connection_comes_back_after_the_master_is_gone(remote: Remote) -> None:
    remote.run(["true"])
    assert remote.alive()
    sshd_exit = subprocess.run(
        [*remote._base(), "-O", "exit", "--", remote.host], capture_output=True, check=False
    )
    assert sshd_exit.returncode == 0
    # The master acknowledges, then removes its socket and exits: once it has gone (as when
    # ControlPersist runs out), the next command opens a new one.
    socket_path = remote._control_path()
    deadline = time.monotonic() + 10
    while os.path.exists(socket_path):
        assert time.monotonic() < deadline, "the master never went away"
        time.sleep(0.02)
    assert not remote.alive()
    assert remote.run(["echo", "again"]).stdout == "again\n"
    assert remote.alive()


SLOW_SSH = """#!/bin/sh
# ssh, but a remote command holding SLOWSTART waits 3 s on the host before it starts: what a
# heavy ~/.bashrc or a loaded host does.
last=$(eval echo \\"\\${$#}\\")
case "$last" in
  *SLOWSTART*)
    n=$#; i=0; for arg do i=$((i + 1)); [ "$i" -lt "$n" ] && set -- "$@" "$arg"; done
    shift "$n"; exec ssh "$@" "sleep 3; $last" ;;
esac
exec ssh "$@"
"""


def test_a_command_stopped_before_it_started_never_starts(
    hosts: sshd.Servers, tmp_path: Path
) -> None:
    """The timeout comes before the host has even started the command's script: the
    stopper leaves a mark that the script finds, and it does not run the command."""
    slow = tmp_path / "slowssh"
    slow.write_text(SLOW_SSH)
    slow.chmod(0o755)
    proof = tmp_path / "ran"
    mark = marker()
    with Remote("host0", ssh_config=hosts.ssh_config, ssh=str(slow)) as r:
        r.connect()
        with pytest.raises(cmdrun.CommandTimedOut):
            r.run(["sh", "-c", f"date > {proof}; sleep {mark}", "SLOWSTART"], timeout=0.5)
        time.sleep(5)  # the host gets to the script 3 s after it was started
    assert not proof.exists()
    assert survivors(hosts, mark) == []
