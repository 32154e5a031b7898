"""The same API on another machine: :class:`Remote`, through the system's OpenSSH client.

A Remote turns each command into a :class:`~cmdrun._ssh.RemoteCommand`, which the ordinary
doors (``run``, ``spawn``, ``stream``, the batches, their async twins) run as an ``ssh``
process over one shared connection (OpenSSH multiplexing: a ControlMaster whose socket
lives in a private directory), so every option, Result, error and kill policy is the local
engine's. What only a remote run needs is here: the master connection, the lifeline pipe,
stopping what a timeout or Ctrl-C left on the host (the remote script's stopper, run
through the master before the call returns), and telling SSH's own failures (exit 255)
apart from the command's. :func:`run_on` fans one command out to many hosts.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
import weakref
from collections.abc import Generator, Iterable, Mapping, Sequence

from ._args import check_flag, normalize_command, normalize_grace
from ._errors import CmdrunError, CommandNotExecutable, CommandNotFound, ConnectionFailed
from ._pipeline import Pipeline, Runnable
from ._result import Result
from ._ssh import (
    NO_CWD,
    NOT_EXECUTABLE,
    NOT_FOUND,
    STATUS_NOT_EXECUTABLE,
    STATUS_NOT_FOUND,
    RemoteCommand,
    classify,
    remote_command,
)
from ._stdin import FromFd

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Unpack

    from ._asession import Spawning
    from ._astream import AsyncStream
    from ._pump import Wait
    from ._session import Session, SpawnOptions
    from ._spec import BatchOptions, RunOptions, Spec
    from ._stream import Stream

#: Seconds a master connection stays up with no command running: it outlives a Python
#: process killed before it could close its Remotes, but not by long.
PERSIST = 60

#: What ``ssh`` is told unless ``options`` says otherwise (the first value given wins).
_DEFAULT_OPTIONS = {
    "BatchMode": "yes",  # never prompt (no terminal to prompt on): fail with a message
    "LogLevel": "ERROR",  # no "Connection to ... closed." on a command's stderr
    "ServerAliveInterval": "15",  # a host that vanishes is noticed within about 45 s
    "ServerAliveCountMax": "3",
}

#: Options a Remote sets itself: a caller's would break the connection sharing.
_OWN_OPTIONS = frozenset({"controlmaster", "controlpath", "controlpersist"})

#: Options that are the remote side's business (checked, not passed to the local ssh).
_REMOTE_OPTIONS = ("cwd", "env", "inherit_env", "shell")

_REFUSED = {
    "pass_fds": "fds of this process cannot reach another host",
}


def _as_command(command: RemoteCommand | list[RemoteCommand]) -> Any:
    """A remote command (or a batch of them) as the doors take it: in place of an argv
    (``build_spec`` knows it); typed as anything, for the doors' signatures are public."""
    return command


def _check_destination(destination: object) -> str:
    if not isinstance(destination, str):
        raise TypeError(f"Remote() takes the destination as a str, not {destination!r}")
    if (
        not destination
        or destination.startswith("-")
        or any(ch.isspace() or ord(ch) < 32 for ch in destination)
    ):
        raise ValueError(
            f"Remote(): {destination!r} is not a destination ([user@]host or an ssh_config "
            "Host name, without spaces, not starting with '-')"
        )
    return destination


def _check_options(options: object) -> dict[str, str]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options must be a mapping of ssh -o options, such as "
            f"{{'StrictHostKeyChecking': 'accept-new'}}, not {options!r}"
        )
    checked = {}
    for name, value in options.items():
        if not isinstance(name, str) or not name.isalnum():
            raise ValueError(f"options: {name!r} is not an ssh option name")
        if name.lower() in _OWN_OPTIONS:
            raise ValueError(
                f"options: {name} is set by cmdrun, which shares one connection per Remote "
                "(its socket in a private directory); leave it out"
            )
        text = str(value)
        if "\n" in text or "\x00" in text:
            raise ValueError(f"options: the value of {name} holds a line break or NUL")
        checked[name] = text
    return checked


def _check_env(env: object) -> dict[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping of str to str, not {env!r}")
    checked = {}
    for name, value in env.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"env takes str names and values, not {name!r}: {value!r}")
        if "\x00" in value:
            raise ValueError(f"env: the value of {name} holds a NUL")
        checked[name] = value
    return checked


def _check_cwd(cwd: object) -> str | None:
    if cwd is None:
        return None
    path = os.fsdecode(cwd) if isinstance(cwd, (str, bytes, os.PathLike)) else None
    if not path or "\x00" in path:
        raise TypeError(f"cwd must be a path on the remote host (str), not {cwd!r}")
    return path


class Remote:
    """Another machine, reached with the system's OpenSSH client: ``run``, ``call``,
    ``spawn``, ``stream``, ``run_many`` and their async twins, as locally.

    ``Remote("deploy@web1")`` connects on first use and keeps one connection (an OpenSSH
    ControlMaster whose socket is in a private directory) for every command until
    :meth:`close` (or the end of a ``with`` block, or of the program). Each command runs in
    its own process group on the host, under a small ``/bin/sh`` script that stops that
    group (TERM, ``kill_grace``, KILL) when the call times out, is cancelled or
    interrupted, or loses its connection: no remote process outlives the call.

    Arguments are quoted for the remote shell, so each arrives byte for byte;
    ``shell=True`` gives one line to the remote ``/bin/sh`` on purpose. ``cwd`` and ``env``
    apply on the host (the script ``cd``s and ``export``s; ``inherit_env=False`` starts
    from an empty environment with ``env -i``). ``tty=True`` runs on a remote terminal
    (``ssh -tt``). SSH's own failures (refused, authentication, host key, lost connection)
    raise :class:`ConnectionFailed`, never confused with the command's exit status 255.

    Args:
        destination: ``[user@]host``, or a ``Host`` of the ssh config.
        port: the port, if not the config's (``-p``).
        identity: a private key file (``-i``).
        options: ``ssh -o`` options, such as ``{"StrictHostKeyChecking": "accept-new"}``;
            they win over cmdrun's defaults (``BatchMode=yes``, ``LogLevel=ERROR``).
        connect_timeout: seconds to wait for the connection (``ConnectTimeout``).
        ssh_config: an ssh config file to read instead of ``~/.ssh/config`` (``-F``).
        ssh: the ssh client to run.
    """

    def __init__(
        self,
        destination: str,
        *,
        port: int | None = None,
        identity: str | os.PathLike[str] | None = None,
        options: Mapping[str, str | int] | None = None,
        connect_timeout: float = 10,
        ssh_config: str | os.PathLike[str] | None = None,
        ssh: str = "ssh",
    ) -> None:
        self.host = _check_destination(destination)
        if port is not None and (
            not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
        ):
            raise ValueError(f"port must be an int from 1 to 65535, not {port!r}")
        self.port = port
        self.identity = None if identity is None else os.fspath(identity)
        self.options = _check_options(options)
        self.connect_timeout = normalize_grace(connect_timeout, "connect_timeout")
        self.ssh_config = None if ssh_config is None else os.fspath(ssh_config)
        self.ssh = ssh
        self._lock = threading.Lock()
        self._dir: str | None = None
        self._lifeline: tuple[int, int] | None = None
        self._connected = False
        self._closed = False
        #: Each command opens a connection of its own, no master: set by a fan-out for the
        #: Remotes it makes to run one command each (see :func:`run_on`).
        self._direct = False
        _REMOTES.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._connected else "idle"
        return f"<Remote {self.host!r} {state}>"

    # -- the connection ---------------------------------------------------------------

    def _control_path(self) -> str:
        if self._dir is None:
            import tempfile  # here: it costs ``import cmdrun`` about 2 ms (random, shutil)

            # Private: the socket gives a shell on the host to whoever can connect to it.
            self._dir = tempfile.mkdtemp(prefix="cmdrun-ssh-")
        return os.path.join(self._dir, "master")

    def _base(self) -> list[str]:
        # ControlPath=none: no multiplexing at all, whatever the user's ssh config says.
        control = "none" if self._direct else self._control_path()
        argv = [self.ssh, "-o", f"ControlPath={control}"]
        if self.ssh_config is not None:
            argv += ["-F", self.ssh_config]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        if self.identity is not None:
            argv += ["-i", self.identity]
        options = {**self.options}
        for name, value in _DEFAULT_OPTIONS.items():
            if name.lower() not in {key.lower() for key in options}:
                options[name] = value
        if "connecttimeout" not in {key.lower() for key in options}:
            options["ConnectTimeout"] = str(max(1, round(self.connect_timeout)))
        for name, value in options.items():
            argv += ["-o", f"{name}={value}"]
        return argv

    def ssh_argv(self, tty: bool) -> tuple[str, ...]:
        """``ssh`` up to the destination for one command over the shared connection."""
        self._check_open()
        return (*self._base(), "-o", "ControlMaster=no", "-tt" if tty else "-T", "--", self.host)

    def lifeline(self) -> int:
        """The read end of the lifeline: ``ssh``'s stdin for commands that take no input.

        This process holds the write end until :meth:`close`: when it closes (or this
        process dies), every such command still running on the host is stopped.
        """
        with self._lock:
            self._check_open()
            if self._lifeline is None:
                self._lifeline = os.pipe()
            return self._lifeline[0]

    def _master_argv(self) -> list[str]:
        return [
            *self._base(),
            "-o",
            "ControlMaster=yes",
            "-o",
            f"ControlPersist={PERSIST}",
            "-N",
            "-f",
            "--",
            self.host,
        ]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r}: it was closed; make a new Remote")

    def connect(self) -> None:
        """Open the shared connection now (the first command does it otherwise).

        Raises:
            ConnectionFailed: the host cannot be reached, refuses the login or its key.
        """
        if _faking() or self._direct:
            return  # a test double answers, or each command connects: no master
        with self._lock:
            self._check_open()
            # The master removes its socket when it exits (ControlPersist ran out, ssh -O
            # exit, the host went away): then connect again. A stat, not an ``ssh -O
            # check`` process for every command.
            if self._connected and os.path.exists(self._control_path()):
                return
            self._connected = False
            result = _run(self._master_argv())
            failure = _connect_failure(self.host, result)
            if failure is not None:
                raise failure
            self._connected = True

    async def aconnect(self) -> None:
        """:meth:`connect` for asyncio and trio (the event loop is not blocked).

        Raises:
            ConnectionFailed: the host cannot be reached, refuses the login or its key.
        """
        self._check_open()
        if _faking() or self._direct:
            return
        if self._connected and os.path.exists(self._control_path()):
            return
        from ._aio import arun
        from ._launcher import REAL, using_launcher

        with using_launcher(REAL):  # never faked, never recorded
            result = await arun(self._master_argv(), **_quiet())
        failure = _connect_failure(self.host, result)
        if failure is not None:
            raise failure
        self._connected = True

    def alive(self) -> bool:
        """Whether the shared connection is up (``ssh -O check``).

        Returns:
            True if the connection is up (always, under a test double); False before the
            first connection and after :meth:`close`.
        """
        if _faking():
            return True
        if self._closed or self._dir is None:
            return False
        return _run([*self._base(), "-O", "check", "--", self.host]).returncode == 0

    def close(self) -> None:
        """Close the shared connection and stop what still runs on the host from here.

        Commands that take no input are stopped by their lifeline; the master connection
        is told to exit (as ``ssh -O exit`` does). Idempotent; a closed Remote cannot run
        more.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            os.close(lifeline[1])
            os.close(lifeline[0])
        if self._dir is not None:
            if self._connected and not self._told_master_to_exit():
                _run(self._exit_argv())
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)
        _REMOTES.discard(self)

    def _exit_argv(self) -> list[str]:
        return [*self._base(), "-O", "exit", "--", self.host]

    def _told_master_to_exit(self) -> bool:
        """Tell the master to exit over its socket, as ``ssh -O exit`` does, without
        starting an ``ssh`` (about 6 ms of CPU each here); False if it could not be told
        (then ``ssh -O exit`` is run: it knows more protocol versions than this)."""
        told = _tell_master_to_exit(self._control_path(), self.connect_timeout)
        if told:
            self._connected = False
        return told

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Remote:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- commands ---------------------------------------------------------------------

    def command(
        self, cmd: Runnable, options: dict[str, Any], door: str, interactive: bool = False
    ) -> RemoteCommand:
        """``cmd`` for this host; the remote-side options are taken out of ``options``."""
        for name, reason in _REFUSED.items():
            if name in options:
                raise TypeError(f"Remote.{door}() does not take {name}=: {reason}")
        shell = check_flag(options.pop("shell", False), "shell")
        cwd = _check_cwd(options.pop("cwd", None))
        env = _check_env(options.pop("env", None))
        inherit_env = check_flag(options.pop("inherit_env", True), "inherit_env")
        command: tuple[str, ...] | str | Pipeline
        if isinstance(cmd, Pipeline):
            if shell:
                raise TypeError(
                    "shell=True takes one command line for /bin/sh, not a pipeline: leave "
                    "shell out, or give the whole line as one str with shell=True"
                )
            command = cmd
        elif shell:
            command = normalize_command(cmd, True)[2]
        else:
            command = normalize_command(cmd, False)
        return RemoteCommand(
            self, command, cwd=cwd, env=env, inherit_env=inherit_env, interactive=interactive
        )

    def run(self, cmd: Runnable, **options: Unpack[RunOptions]) -> Result:
        """:func:`cmdrun.run` on this host: the same options, Result and errors.

        Args:
            cmd: as for :func:`cmdrun.run`, run on the host.
            **options: the keyword options of :func:`cmdrun.run`; ``cwd``, ``env``,
                ``inherit_env`` and ``shell`` apply on the host.

        Returns:
            The command's :class:`Result` (``Result.host`` names this host).

        Raises:
            ConnectionFailed: SSH could not connect, or lost the connection mid-run (the
                partial Result is on the exception).
            CommandNotFound, CommandNotExecutable: the program is missing or cannot run
                there.
            CommandFailed, CommandTimedOut: as :func:`cmdrun.run`.
        """
        from ._run import run

        opts: dict[str, Any] = dict(options)
        check = check_flag(opts.pop("check", True), "check")
        remote = self.command(cmd, opts, "run")
        self.connect()
        result = run(_as_command(remote), check=False, **opts)
        return self.finish(remote, result, check)

    def call(self, cmd: Runnable, **options: Any) -> int:
        """:func:`cmdrun.call` on this host: this process's stdin, stdout and stderr are the
        command's (over ``ssh``, as ``ssh host cmd`` does); returns the exit status.

        Args:
            cmd: as for :func:`cmdrun.call`, run on the host.
            **options: the keyword options of :func:`cmdrun.call`.

        Returns:
            The command's exit status, as :func:`cmdrun.call` returns it.

        Raises:
            ConnectionFailed: SSH could not connect, or lost the connection.
            CommandTimedOut: as :func:`cmdrun.call`.
        """
        from ._run import call

        opts: dict[str, Any] = dict(options)
        remote = self.command(cmd, opts, "call", interactive=True)  # stdin: this process's
        self.connect()
        status = call(_as_command(remote), **opts)
        if status == 255:
            self._check_connection(None, "")
        return status

    def stream(self, cmd: Runnable, **options: Unpack[RunOptions]) -> Stream:
        """:func:`cmdrun.stream` on this host.

        Args:
            cmd: as for :func:`cmdrun.stream`, run on the host.
            **options: the keyword options of :func:`cmdrun.stream`.

        Returns:
            A :class:`Stream` of the command's lines.

        Raises:
            ConnectionFailed: SSH could not connect, or lost the connection (while iterating).
            TypeError, ValueError: a bad argument, as for :func:`cmdrun.stream`.
        """
        from ._stream import stream

        opts: dict[str, Any] = dict(options)
        remote = self.command(cmd, opts, "stream")
        self.connect()
        return stream(_as_command(remote), **opts)

    def spawn(self, cmd: str | Sequence[str], **options: Unpack[SpawnOptions]) -> Session:
        """:func:`cmdrun.spawn` on this host: with ``tty=True`` (the default) on a remote
        terminal (``ssh -tt``), where ``interrupt()`` and control keys reach the program
        through the terminal as typed keys.

        Args:
            cmd: as for :func:`cmdrun.spawn`, run on the host.
            **options: the keyword options of :func:`cmdrun.spawn`.

        Returns:
            The :class:`Session`.

        Raises:
            ConnectionFailed: SSH could not connect.
            TypeError, ValueError: a bad argument, as :func:`cmdrun.spawn` raises them.
        """
        from ._session import spawn

        opts: dict[str, Any] = dict(options)
        remote = self.command(cmd, opts, "spawn", interactive=True)
        self.connect()
        return spawn(_as_command(remote), **opts)

    def run_many(self, cmds: Iterable[Runnable], **options: Unpack[BatchOptions]) -> list[Result]:
        """:func:`cmdrun.run_many` on this host (``jobs``, ``timeout``, ``fail_fast`` as
        there); one Result per command, each naming this host. A lost connection shows as
        the command's Result (exit 255, ssh's message on stderr), never as an exception.

        Args:
            cmds: the commands, each as :func:`cmdrun.run` takes it, run on the host.
            **options: the keyword options of :func:`cmdrun.run_many`.

        Returns:
            One :class:`Result` per command, in the order of ``cmds``.

        Raises:
            CommandFailed, CommandTimedOut: with ``fail_fast``, the first failure.
            TypeError, ValueError: bad arguments, as for :func:`cmdrun.run_many`.
        """
        from ._parallel import run_many

        opts: dict[str, Any] = dict(options)
        batch = [self.command(cmd, dict(opts), "run_many") for cmd in cmds]
        for name in _REMOTE_OPTIONS:
            opts.pop(name, None)
        self.connect()
        return run_many(_as_command(batch), **opts)

    async def arun(self, cmd: Runnable, **options: Unpack[RunOptions]) -> Result:
        """:func:`cmdrun.arun` on this host: no thread waits for it.

        Args:
            cmd: as for :func:`cmdrun.arun`, run on the host.
            **options: the keyword options of :func:`cmdrun.arun`.

        Returns:
            The command's :class:`Result`.

        Raises:
            ConnectionFailed: SSH could not connect, or lost the connection mid-run.
            CommandFailed, CommandTimedOut, TypeError, ValueError: as :func:`cmdrun.arun`.
        """
        from ._aio import arun

        opts: dict[str, Any] = dict(options)
        check = check_flag(opts.pop("check", True), "check")
        remote = self.command(cmd, opts, "arun")
        await self.aconnect()
        result = await arun(_as_command(remote), check=False, **opts)
        return self.finish(remote, result, check)

    async def arun_many(
        self, cmds: Iterable[Runnable], **options: Unpack[BatchOptions]
    ) -> list[Result]:
        """:func:`cmdrun.arun_many` on this host.

        Args:
            cmds: the commands, each as :func:`cmdrun.run` takes it, run on the host.
            **options: the keyword options of :func:`cmdrun.arun_many`.

        Returns:
            One :class:`Result` per command, in the order of ``cmds``.

        Raises:
            CommandFailed, CommandTimedOut: with ``fail_fast``, the first failure.
            TypeError, ValueError: bad arguments, as for :func:`cmdrun.arun_many`.
        """
        from ._aio import arun_many

        opts: dict[str, Any] = dict(options)
        batch = [self.command(cmd, dict(opts), "arun_many") for cmd in cmds]
        for name in _REMOTE_OPTIONS:
            opts.pop(name, None)
        await self.aconnect()
        return await arun_many(_as_command(batch), **opts)

    def astream(self, cmd: Runnable, **options: Unpack[RunOptions]) -> AsyncStream:
        """:func:`cmdrun.astream` on this host (connects when the first line is asked for,
        if not connected yet: blocking the loop for that once; ``await aconnect()`` first
        to avoid it).

        Args:
            cmd: as for :func:`cmdrun.astream`, run on the host.
            **options: the keyword options of :func:`cmdrun.astream`.

        Returns:
            An :class:`AsyncStream` of the command's lines.

        Raises:
            ConnectionFailed: SSH could not connect, or lost the connection (while iterating).
            TypeError, ValueError: a bad argument, as for :func:`cmdrun.astream`.
        """
        from ._astream import astream

        opts: dict[str, Any] = dict(options)
        remote = self.command(cmd, opts, "astream")
        if not self._connected:
            self.connect()
        return astream(_as_command(remote), **opts)

    def aspawn(self, cmd: str | Sequence[str], **options: Unpack[SpawnOptions]) -> Spawning:
        """:func:`cmdrun.aspawn` on this host (see :meth:`astream` about connecting).

        Args:
            cmd: as for :func:`cmdrun.aspawn`, run on the host.
            **options: the keyword options of :func:`cmdrun.aspawn`.

        Returns:
            A :class:`Spawning`: awaited or entered, it gives the :class:`AsyncSession`.

        Raises:
            ConnectionFailed: SSH could not connect (when awaited or entered).
            TypeError, ValueError: as :func:`cmdrun.aspawn` raises them.
        """
        from ._asession import aspawn

        opts: dict[str, Any] = dict(options)
        remote = self.command(cmd, opts, "aspawn", interactive=True)
        if not self._connected:
            self.connect()
        return aspawn(_as_command(remote), **opts)

    # -- after a command --------------------------------------------------------------

    def finish(self, remote: RemoteCommand, result: Result, check: bool) -> Result:
        """Raise what ``result`` says went wrong on the way (SSH, a missing program), then
        apply ``check``."""
        error = self.error(remote, result)
        if error is not None:
            raise error
        if check:
            result.check_returncode()
        return result

    def error(self, remote: RemoteCommand, result: Result) -> Exception | None:
        """The exception for a run that failed short of running the command: SSH's own
        failure, a missing program or working directory; None if it ran."""
        stderr = result.stderr
        if result.returncode == STATUS_NOT_FOUND and stderr.startswith(NO_CWD):
            return FileNotFoundError(
                2, f"working directory does not exist on {self.host}", remote.cwd
            )
        if result.returncode == STATUS_NOT_FOUND and stderr == f"{NOT_FOUND}{remote.program()}\n":
            return CommandNotFound(remote.program(), None, f"on {self.host}")
        if (
            result.returncode == STATUS_NOT_EXECUTABLE
            and stderr == f"{NOT_EXECUTABLE}{remote.program()}\n"
        ):
            return CommandNotExecutable(
                remote.program(), "permission denied", 13, "", f"on {self.host}"
            )
        if result.returncode == 255:
            return self._connection_error(result)
        return None

    def _connection_error(self, result: Result | None) -> ConnectionFailed | None:
        """A ConnectionFailed if an exit status of 255 was SSH's, else None (the
        command's own 255): the connection is gone, or ssh said it could not open one."""
        stderr = "" if result is None else result.stderr
        if "Session open refused" in stderr or "mux_client_request_session" in stderr:
            return ConnectionFailed(self.host, "session refused", stderr, result)
        if self.alive():
            return None
        self._connected = False
        kind = classify(stderr)
        return ConnectionFailed(
            self.host, "connection lost" if kind == "ssh failed" else kind, stderr, result
        )

    def _check_connection(self, result: Result | None, stderr: str) -> None:
        error = self._connection_error(result)
        if error is not None:
            raise error

    def watch(self, remote: RemoteCommand, spec: Spec) -> _Watch | None:
        """Start the watch session of ``remote`` if its stdin is not the lifeline (it takes
        the caller's input, or a terminal's): a second ``ssh`` over the connection whose
        stdin is, so that the command is stopped even if this process dies (SIGKILL).

        None without a master: a command's own connection ends with its ``ssh``, and so
        does the sshd process that serves it, which the script's watcher looks at."""
        if self._closed or not self._connected or _faking():
            return None
        lifeline = isinstance(spec.stdin, FromFd) and spec.stdin.number == self.lifeline()
        if lifeline and len(remote.tokens) == 1:
            return None  # the lifeline is the command's own stdin (a pipeline's later
            # stages read the stage before: the watch session covers them)
        argv = [*self.ssh_argv(False), remote_command(remote.watcher(spec.kill_grace))]
        process = subprocess.Popen(
            argv,
            stdin=self.lifeline(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C for this process must not end it
        )
        return _Watch(process)

    def cleanup(self, remote: RemoteCommand, kill_grace: float) -> Generator[Wait, None, None]:
        """Stop what is left of ``remote`` on the host and wait until it is gone (at most
        ``kill_grace`` and a few seconds more): the local side stopped its ``ssh`` (a
        timeout, a cancellation, Ctrl-C, a session closed while it ran). Without a master
        (:attr:`_direct`) the stopper opens a connection of its own: a second login, paid
        only on this path."""
        from ._launcher import REAL
        from ._spec import build_spec

        if self._closed or not (self._connected or self._direct) or _faking():
            return  # no connection: each command's own watcher stops it
        script = remote.stopper(kill_grace, kill_grace + 2)
        spec = build_spec(
            (*self.ssh_argv(False), remote_command(script)),
            timeout=kill_grace + 5 + self.connect_timeout,
            stdin=subprocess.DEVNULL,
        )
        yield from REAL.execution(spec, None)  # never faked, never recorded


class _Watch:
    """A running watch session (see :func:`cmdrun._ssh.watch_script`): its local ``ssh``."""

    __slots__ = ("process",)

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def end(self) -> None:
        """End it: its remote script then finds the command over, and does nothing."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait()


def _quiet() -> dict[str, Any]:
    return {"check": False, "stdin": subprocess.DEVNULL, "timeout": None}


def _faking() -> bool:
    """Whether commands go to a test double (cmdrun.testing): then no connection is made."""
    from ._launcher import current_launcher

    launcher = current_launcher()
    inner = getattr(launcher, "launcher", launcher)  # an adapted test double: its own
    return bool(getattr(inner, "offline", False))


def _run(argv: Sequence[str]) -> Result:
    """Run a local ssh helper command (master start, check, exit) to its end: for real,
    whatever test double is installed (it is cmdrun's business, not the caller's)."""
    from ._launcher import REAL, using_launcher
    from ._run import run

    with using_launcher(REAL):
        return run(list(argv), **_quiet())


#: OpenSSH's multiplexing protocol (``PROTOCOL.mux`` in its sources): the message types
#: and the version that :func:`_tell_master_to_exit` speaks.
_MUX_HELLO = 0x00000001
_MUX_VERSION = 4
_MUX_TERMINATE = 0x10000005
_MUX_OK = 0x80000001


def _tell_master_to_exit(path: str, timeout: float) -> bool:
    """``ssh -O exit`` without the ``ssh``: over the master's socket, a hello each way,
    then a request to terminate; whether the master said yes (or hung up at once, which
    ``ssh -O exit`` takes as a yes too). False if it could not be told: no socket, another
    protocol version, a refusal, no answer within ``timeout`` seconds."""
    import socket
    import struct

    def packet(*words: int) -> bytes:
        return struct.pack(f">{len(words) + 1}I", 4 * len(words), *words)

    def receive(conn: socket.socket) -> bytes:
        (length,) = struct.unpack(">I", _receive_exactly(conn, 4))
        return _receive_exactly(conn, length)

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(packet(_MUX_HELLO, _MUX_VERSION))
            if receive(conn)[:8] != struct.pack(">II", _MUX_HELLO, _MUX_VERSION):
                return False
            conn.sendall(packet(_MUX_TERMINATE, 1))
            try:
                reply = receive(conn)
            except (EOFError, ConnectionResetError, BrokenPipeError):
                return True  # it exited before it answered
            return reply[:8] == struct.pack(">II", _MUX_OK, 1)
    except (OSError, EOFError):
        return False


def _receive_exactly(conn: Any, size: int) -> bytes:
    """``size`` bytes from socket ``conn``. Raises EOFError if it closes first."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _connect_failure(host: str, result: Result) -> ConnectionFailed | None:
    if result.returncode == 0:
        return None
    return ConnectionFailed(host, classify(result.stderr), result.stderr)


#: Every open Remote, closed at interpreter exit (their masters would linger otherwise).
_REMOTES: weakref.WeakSet[Remote] = weakref.WeakSet()


@atexit.register
def _close_remotes() -> None:
    for remote in list(_REMOTES):
        try:
            remote.close()
        except (CmdrunError, OSError):
            pass


def _resolve(hosts: Iterable[str | Remote], remote_options: Mapping[str, Any]) -> list[Remote]:
    resolved = []
    for host in hosts:
        resolved.append(host if isinstance(host, Remote) else Remote(host, **remote_options))
    return resolved


def _one_shot(remotes: Iterable[Remote], timeout: float | None, idle_timeout: float | None) -> None:
    """Make ``remotes``, which will run one command each and then be closed, open no master
    when no time limit applies: each host's command is then one ``ssh`` that logs in, runs
    and disconnects (a master would cost a process to start it, a session through it and a
    process to stop it, for no second command). With ``timeout`` or ``idle_timeout`` they
    connect first, so that the limit applies to the command, not to the login
    (``connect_timeout`` bounds that)."""
    if timeout is None and idle_timeout is None:
        for remote in remotes:
            remote._direct = True


class _FanOut:
    """One command for many hosts: their Remotes (the ones made here, which run this one
    command, see :func:`_one_shot`, are closed by :meth:`close`), each host's command, and
    the run options left for the batch."""

    def __init__(
        self,
        hosts: Iterable[str | Remote],
        cmd: Runnable,
        remote_options: Mapping[str, Any] | None,
        options: Mapping[str, Any],
        door: str,
        *,
        timeout: float | None,
    ) -> None:
        given = list(hosts)
        self.remotes = _resolve(given, remote_options or {})
        self.owned = [
            r for r, h in zip(self.remotes, given, strict=True) if not isinstance(h, Remote)
        ]
        _one_shot(self.owned, timeout, options.get("idle_timeout"))
        try:
            self.commands = [r.command(cmd, dict(options), door) for r in self.remotes]
        except BaseException:
            self.close()
            raise
        self.options = {k: v for k, v in options.items() if k not in _REMOTE_OPTIONS}

    def results(self, failures: list[ConnectionFailed | None], ran: list[Result]) -> list[Result]:
        """One Result per host, in order: what ran, and 255 for each unreachable host."""
        done = iter(ran)
        return [
            next(done) if failure is None else _unreachable(command, failure)
            for command, failure in zip(self.commands, failures, strict=True)
        ]

    def close(self) -> None:
        """Close the Remotes made here, their masters told to exit all at once."""
        from ._launcher import REAL, using_launcher
        from ._parallel import run_many

        ending = [
            r for r in self.owned if r._connected and not r._closed and not r._told_master_to_exit()
        ]
        if len(ending) > 1:
            with using_launcher(REAL):  # never faked, never recorded
                run_many([r._exit_argv() for r in ending], jobs=len(ending), **_quiet_batch())
            for remote in ending:
                remote._connected = False  # told already: close() need not again
        for remote in self.owned:
            remote.close()


def run_on(
    hosts: Iterable[str | Remote],
    cmd: Runnable,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    remote_options: Mapping[str, Any] | None = None,
    **options: Unpack[BatchOptions],
) -> list[Result]:
    """Run ``cmd`` on every host, at most ``jobs`` at a time; one Result per host, in order.

    A host that cannot be reached gets a Result with exit status 255 and ssh's message on
    stderr (``Result.host`` names it); no host's failure hides another's result. Hosts
    given as names get a :class:`Remote` each (made with ``remote_options``), closed at
    the end; without ``timeout`` or ``idle_timeout`` these open no master connection (the
    command's ``ssh`` logs in itself), with one they connect first, so that the limit
    times the command alone. Remotes given are left open.

    Args:
        hosts: host names (``[user@]host`` or ssh config names) or :class:`Remote` objects.
        cmd: as for :func:`cmdrun.run`.
        jobs: how many hosts at once (None: all of them).
        timeout: each host's own timeout, in seconds (the remote command is stopped too).
        remote_options: keyword arguments of :class:`Remote` for the named hosts.
        **options: the options of :func:`cmdrun.run_many`; ``cwd``, ``env``,
            ``inherit_env`` and ``shell`` apply on the host.

    Returns:
        One :class:`Result` per host, in the order of ``hosts``; a failure is never raised.

    Raises:
        TypeError, ValueError: a bad host, option or command, before anything runs.
    """
    from ._parallel import run_many

    fan = _FanOut(hosts, cmd, remote_options, options, "run_on", timeout=timeout)
    try:
        failures = _connect_all(fan.remotes, jobs)
        todo = [
            command
            for command, failure in zip(fan.commands, failures, strict=True)
            if failure is None
        ]
        ran = run_many(
            _as_command(todo),
            jobs=jobs or max(1, len(todo)),
            timeout=timeout,
            **fan.options,
        )
        return fan.results(failures, ran)
    finally:
        fan.close()


async def arun_on(
    hosts: Iterable[str | Remote],
    cmd: Runnable,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    remote_options: Mapping[str, Any] | None = None,
    **options: Unpack[BatchOptions],
) -> list[Result]:
    """:func:`run_on` for asyncio and trio: every host from one task, no thread per host.

    Args:
        hosts: host names (``[user@]host`` or ssh config names) or :class:`Remote` objects.
        cmd: as for :func:`cmdrun.run`.
        jobs: how many hosts at once (None: all of them).
        timeout: each host's own timeout, in seconds (the remote command is stopped too).
        remote_options: keyword arguments of :class:`Remote` for the named hosts.
        **options: the options of :func:`cmdrun.arun_many`, as :func:`run_on` takes them.

    Returns:
        One :class:`Result` per host, in the order of ``hosts``; a failure is never raised.

    Raises:
        TypeError, ValueError: a bad host, option or command, before anything runs.
    """
    from ._aio import arun_many
    from ._launcher import REAL, using_launcher

    fan = _FanOut(hosts, cmd, remote_options, options, "arun_on", timeout=timeout)
    try:
        tried = _to_connect(fan.remotes)
        with using_launcher(REAL):  # never faked, never recorded
            attempts = await arun_many(
                [r._master_argv() for r in tried], jobs=jobs or max(1, len(tried)), **_quiet_batch()
            )
        failures = _verdicts(fan.remotes, tried, attempts)
        todo = [
            command
            for command, failure in zip(fan.commands, failures, strict=True)
            if failure is None
        ]
        ran = await arun_many(
            _as_command(todo),
            jobs=jobs or max(1, len(todo)),
            timeout=timeout,
            **fan.options,
        )
        return fan.results(failures, ran)
    finally:
        fan.close()


def _to_connect(remotes: list[Remote]) -> list[Remote]:
    """The Remotes whose master is to be opened (none when a test double answers, nor for
    Remotes whose commands connect on their own)."""
    return [] if _faking() else [r for r in remotes if not (r._connected or r._direct)]


def _verdicts(
    remotes: list[Remote], tried: list[Remote], attempts: list[Result]
) -> list[ConnectionFailed | None]:
    """Each Remote's connection failure (None: connected), from the master starts tried."""
    verdict = dict(zip(map(id, tried), attempts, strict=True))
    failures: list[ConnectionFailed | None] = []
    for remote in remotes:
        attempt = verdict.get(id(remote))
        failure = None if attempt is None else _connect_failure(remote.host, attempt)
        if attempt is not None and failure is None:
            remote._connected = True
        failures.append(failure)
    return failures


def _connect_all(remotes: list[Remote], jobs: int | None) -> list[ConnectionFailed | None]:
    """Open every Remote's connection, ``jobs`` at a time (all by default); each one's
    failure, or None."""
    from ._launcher import REAL, using_launcher
    from ._parallel import run_many

    tried = _to_connect(remotes)
    with using_launcher(REAL):  # never faked, never recorded
        attempts = run_many(
            [r._master_argv() for r in tried], jobs=jobs or max(1, len(tried)), **_quiet_batch()
        )
    return _verdicts(remotes, tried, attempts)


def _quiet_batch() -> dict[str, Any]:
    return {"stdin": subprocess.DEVNULL}


def _unreachable(remote: RemoteCommand, failure: ConnectionFailed) -> Result:
    """The Result of a host that could not be reached: exit 255, ssh's message."""
    return Result(remote.shown, 255, stderr_bytes=failure.detail.encode(), host=remote.host)
