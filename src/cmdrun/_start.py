"""Starting a child: on pipes cmdrun creates and owns, or on a PTY (:mod:`cmdrun._pty`).

A child on pipes is started with :class:`subprocess.Popen` in a new session (its own process
group). Popen gets plain fds, so no file object of its own can later close an fd number that
cmdrun already closed and the OS reused. Output files (``stdout=``/``stderr=``) are opened
here too, so that one failure leaves nothing open. What a start returns is a
:class:`Started`: the child, the fds the pump works on, and how to end its input.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Sequence

from ._errors import CmdrunError, StartFailed, in_stage, stage_name
from ._frozen import Frozen
from ._kill import Child, stop_now
from ._output import Capture, Tail, ToFile
from ._pipeline import StageGroup
from ._platform import (
    NEW_SESSION,
    REAL_POPEN,
    enlarge_pipe,
    exit_status_discarded,
    give_terminal,
    group_options,
    make_nonblocking,
    open_devnull,
    signal_group,
)
from ._pump import SessionPump, Sink
from ._spec import Spec
from ._stdin import FromFd, FromPath
from ._watchdog import WATCHDOG
from ._which import check_program, path_of, start_error

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO, Any


class _Outputs:
    """Where each output stream goes: a pipe into a sink, or straight into a file.

    A file target the child can write itself (a path, or a file with a real fd) is handed
    to the child directly, unless cmdrun has to watch that stream (callbacks, ``tee``,
    ``respond``, a secret to mask): then its bytes are pumped into the file. ``stdout=`` and
    ``stderr=`` naming the same file (however spelled: ``./f`` and ``f``, a ``str`` and a
    ``Path``, a hard link) open it once, as ``>f 2>&1`` does, so neither stream overwrites the other
    and the file has the program's writes in their order. If either of them is watched,
    both are pumped into the file as they are read from their two pipes: nothing is lost,
    each stream keeps its order, but not the order across streams. Files opened here are
    closed by :meth:`close`, or at once if opening another one fails.
    """

    def __init__(self, spec: Spec) -> None:
        self.direct: dict[str, int] = {}
        self.sinks: dict[str, Sink] = {}
        self._opened: contextlib.ExitStack | None = None
        files: dict[str, IO[bytes]] = {}
        if spec.stdout_to is not None or spec.stderr_to is not None:
            files = self._open(spec)
        shared = len(files) == 2 and files["stdout"] is files["stderr"]
        pump_both = shared and (spec.watches("stdout") or spec.watches("stderr"))
        for stream in ("stdout", "stderr"):
            file = files.get(stream)
            if file is None:
                limit = spec.max_output
                self.sinks[stream] = Capture() if limit is None else Tail(limit)
                continue
            fd = _real_fd(file)
            if fd is not None and not pump_both and not spec.watches(stream):
                file.flush()
                self.direct[stream] = fd
            self.sinks[stream] = ToFile(file)

    def _open(self, spec: Spec) -> dict[str, IO[bytes]]:
        files: dict[str, IO[bytes]] = {}
        with contextlib.ExitStack() as opened:
            for stream, target in (("stdout", spec.stdout_to), ("stderr", spec.stderr_to)):
                if isinstance(target, (str, os.PathLike)):
                    same = _same_file(target, files.get("stdout"))
                    files[stream] = same or opened.enter_context(open(target, "wb"))
                elif target is not None:
                    files[stream] = target
            self._opened = opened.pop_all()
        return files

    def close(self) -> None:
        for sink in self.sinks.values():
            if isinstance(sink, ToFile):
                sink.flush()
        if self._opened is not None:
            self._opened.close()


def _same_file(path: str | os.PathLike[str], file: IO[bytes] | None) -> IO[bytes] | None:
    """``file`` if ``path`` names the file it has open (checked before ``path`` is truncated)."""
    fd = None if file is None else _real_fd(file)
    if fd is None:
        return None
    try:
        named = os.stat(path)
    except OSError:  # not there yet (or unreadable): opening it will say
        return None
    held = os.fstat(fd)
    return file if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino) else None


def _real_fd(file: IO[bytes]) -> int | None:
    try:
        return file.fileno()
    except (AttributeError, OSError, ValueError):  # io.BytesIO and friends have none
        return None


class _Pipes:
    """The pipes of one child: our ends, and the child's ends to close after the start.

    Every fd is recorded the moment it is opened, so a failure half-way (an ``os.pipe``
    refused for want of fds) closes exactly what was opened, in :meth:`failed`.
    """

    def __init__(self, spec: Spec, interactive: bool, outputs: _Outputs) -> None:
        self.ours: list[int] = []
        self.theirs: list[int] = []
        self.readers: list[tuple[int, str]] = []
        self.writer: int | None = None
        self.stdin: int | None = None
        self.stdout: int | None = None
        self.stderr: int | None = None
        self.stderr_reader: int | None = None
        try:
            self._open(spec, interactive, outputs)
        except BaseException:
            self.failed()
            raise

    def _open(self, spec: Spec, interactive: bool, outputs: _Outputs) -> None:
        if spec.stdin is not None:
            self._stdin_from(spec)
        elif spec.input is not None or spec.respond or interactive:
            self.stdin, self.writer = self._pipe()
        elif spec.capture:
            self.stdin = open_devnull()
            self.theirs.append(self.stdin)
        if spec.capture:
            self.stdout = outputs.direct.get("stdout")
            if self.stdout is None:
                read, self.stdout = self._pipe(reader=True)
                self.readers.append((read, "stdout"))
            if spec.merge_stderr:
                self.stderr = subprocess.STDOUT
            else:
                self.stderr = outputs.direct.get("stderr")
                if self.stderr is None:
                    read, self.stderr = self._pipe(reader=True)
                    self.readers.append((read, "stderr"))
                    self.stderr_reader = read

    def stage_errors(self, count: int) -> list[tuple[int | None, int | None]]:
        """For each of ``count`` stages: the fd its stderr goes to, and the fd cmdrun reads
        it from (None when it goes to a file, or into stdout with ``merge_stderr``)."""
        errors: list[tuple[int | None, int | None]]
        if self.stderr == subprocess.STDOUT:  # every stage's stderr joins the final output
            errors = [(self.stdout, None)] * (count - 1)
            return [*errors, (subprocess.STDOUT, None)]
        if self.stderr_reader is None:  # a file, given to them all
            return [(self.stderr, None)] * count
        errors = [(self.stderr, self.stderr_reader)]
        for _ in range(count - 1):
            read, write = self._pipe(reader=True)
            self.readers.append((read, "stderr"))
            errors.append((write, read))
        return errors

    def link(self) -> tuple[int, int]:
        """A pipe between two stages: both ends are theirs, closed once all have started.

        Its buffer is enlarged to 1 MiB up front (the shell leaves 64 KiB): a stage that
        writes fast and one that reads in big gulps then wake each other far less often,
        which makes a 1 GiB ``cat | gzip | wc`` a few percent faster than the shell's.
        """
        read, write = os.pipe()
        self.theirs += (read, write)
        enlarge_pipe(write)
        return read, write

    def _stdin_from(self, spec: Spec) -> None:
        """stdin from ``spec.stdin``: a file opened here (closed after the start), the
        caller's fd as it is, or a pipe the pump feeds with chunks."""
        source = spec.stdin
        if isinstance(source, FromPath):
            self.stdin = source.open()
            self.theirs.append(self.stdin)
        elif isinstance(source, FromFd):
            self.stdin = source.fd()
        else:
            self.stdin, self.writer = self._pipe()

    def _pipe(self, reader: bool = False) -> tuple[int, int]:
        """Return ``(child's end, our end)`` for stdin, ``(our end, child's end)`` for output."""
        read, write = os.pipe()
        ours, theirs = (read, write) if reader else (write, read)
        self.ours.append(ours)
        self.theirs.append(theirs)
        return (read, write)

    def started(self) -> None:
        for fd in self.theirs:
            os.close(fd)
        self.theirs.clear()
        for fd in self.ours:  # the pump never waits in read() or write()
            make_nonblocking(fd)

    def failed(self) -> None:
        for fd in self.ours + self.theirs:
            os.close(fd)
        self.ours.clear()
        self.theirs.clear()


def _start(spec: Spec, pipes: _Pipes) -> subprocess.Popen[bytes]:
    """Start the child in a new process group, or raise the cmdrun error saying why not.

    The group is a new session's, unless ``spec.terminal`` is set (``call`` with a controlling
    terminal): then it is a new group in this session, made the terminal's foreground group
    at once, as a shell starts a foreground job. A child that touched the terminal before
    that was stopped (SIGTTIN/SIGTTOU) and is continued.
    """
    job: dict[str, Any] = {} if spec.terminal is None else {"process_group": 0}
    try:
        proc = REAL_POPEN(
            spec.args,
            stdin=pipes.stdin,
            stdout=pipes.stdout,
            stderr=pipes.stderr,
            cwd=spec.cwd,
            env=spec.env,
            start_new_session=NEW_SESSION and spec.terminal is None,
            pass_fds=spec.pass_fds,
            **job,
        )
    except OSError as exc:
        pipes.failed()
        if spec.cwd is not None and exc.filename == spec.cwd:
            raise  # the cwd vanished after it was checked: the stdlib error names it
        raise start_error(exc, spec.args, spec.env) from None
    except BaseException:
        pipes.failed()
        raise
    pipes.started()
    if spec.terminal is not None and give_terminal(spec.terminal, proc.pid):
        signal_group(proc.pid, signal.SIGCONT)
    return proc


def _start_stages(spec: Spec, pipes: _Pipes) -> StageGroup:
    """Start every stage of ``spec.pipeline``, connected by pipes, in one process group of
    this session that the first stage leads (see :func:`cmdrun.pipe` for why not a new
    session). Nothing is reaped until every stage has started: the leader, even exited,
    keeps the group's id alive for the later stages to join. If a stage cannot start, the
    started ones are stopped (kill policy) and reaped, every pipe is closed, and the error
    names the stage.
    """
    assert spec.pipeline is not None
    commands = spec.pipeline.commands
    group = StageGroup()
    try:
        try:
            errors = pipes.stage_errors(len(commands))
            links = [pipes.link() for _ in commands[1:]]
        except OSError as exc:  # out of fds: nothing started yet
            raise start_error(exc, spec.args, spec.env, in_exec=False) from None
        for index in range(len(commands)):
            stdin = pipes.stdin if index == 0 else links[index - 1][0]
            stdout = pipes.stdout if index == len(commands) - 1 else links[index][1]
            stderr, tap = errors[index]
            group.add(_start_stage(spec, index, group.pid, (stdin, stdout, stderr)))
            group.stderr.append(None if tap is None else group.tap(tap, spec.max_output))
    except BaseException:
        pipes.failed()
        if group.members:
            stop_now(group, spec.kill_grace)
        raise
    pipes.started()
    return group


def _start_stage(
    spec: Spec, index: int, leader: int, stdio: tuple[int | None, int | None, int | None]
) -> subprocess.Popen[bytes]:
    """Start stage ``index`` on ``stdio`` in group ``leader`` (0: a new group it leads), or
    raise the cmdrun error naming the stage."""
    assert spec.pipeline is not None
    argv = spec.pipeline.commands[index]
    try:
        return REAL_POPEN(
            argv,
            stdin=stdio[0],
            stdout=stdio[1],
            stderr=stdio[2],
            cwd=spec.cwd,
            env=spec.env,
            pass_fds=spec.pass_fds,
            **group_options(leader),
        )
    except OSError as exc:
        if spec.cwd is not None and exc.filename == spec.cwd:
            raise
        error = start_error(exc, argv, spec.env)
        raise in_stage(error, stage_name(index, len(spec.pipeline), argv)) from None


class Started(Frozen):
    """A running child, the fds the pump works on, and how to signal end of input.

    ``eof``/``intr`` are the PTY's EOF and interrupt characters; None on pipes, where end
    of input is closing stdin and an interrupt is SIGINT to the group.
    """

    __slots__ = ("child", "eof", "intr", "readers", "writer")

    child: Child
    readers: tuple[tuple[int, str], ...]
    writer: int | None
    eof: bytes | None
    intr: bytes | None

    def __init__(
        self,
        child: Child,
        readers: Sequence[tuple[int, str]],
        writer: int | None,
        eof: bytes | None = None,
        intr: bytes | None = None,
    ) -> None:
        object.__setattr__(self, "child", child)
        object.__setattr__(self, "readers", tuple(readers))
        object.__setattr__(self, "writer", writer)
        object.__setattr__(self, "eof", eof)
        object.__setattr__(self, "intr", intr)

    @property
    def tty(self) -> bool:
        return self.eof is not None

    def close_fds(self) -> None:
        """Close our ends, when no pump took them over."""
        fds = {fd for fd, _ in self.readers} | ({self.writer} if self.writer is not None else set())
        for fd in fds:
            os.close(fd)


def start(spec: Spec, interactive: bool = False, outputs: _Outputs | None = None) -> Started:
    """Start ``spec`` on pipes or, with ``spec.tty``, on a PTY.

    ``interactive`` keeps stdin open for a dialogue and, on a PTY, leaves echo on as a
    terminal has it.

    Raises:
        CommandNotFound, CommandNotExecutable: the program cannot be run.
        StartFailed: the OS refused, or this process ignores SIGCHLD.
    """
    if exit_status_discarded():
        raise StartFailed(
            spec.args[0],
            "SIGCHLD is ignored in this process",
            errno.ECHILD,
            "the kernel then discards every child's exit status; restore the default with "
            "signal.signal(signal.SIGCHLD, signal.SIG_DFL)",
        )
    if spec.die_with_parent:
        # Up before the child: registering is then one write(), so the window in which a
        # parent killed right after the start leaves its child alone stays microseconds,
        # even the first time (starting the watchdog takes a Python start-up).
        WATCHDOG.ensure_running()
    started = _start_child(spec, interactive, outputs)
    if spec.die_with_parent:
        try:
            WATCHDOG.register(started.child.pid, spec.kill_grace)
        except BaseException:
            stop_now(started.child, spec.kill_grace)
            started.close_fds()
            raise
    return started


def _start_child(spec: Spec, interactive: bool, outputs: _Outputs | None) -> Started:
    if spec.tty:
        from ._pty import control_chars, start_pty

        child, master = start_pty(
            spec.args,
            cwd=spec.cwd,
            env=spec.env,
            term=spec.term,
            dimensions=spec.dimensions,
            pass_fds=spec.pass_fds,
            echo=_echo(spec, interactive),
        )
        return Started(child, [(master, "stdout")], master, *control_chars(master))
    try:
        pipes = _Pipes(spec, interactive, outputs or _Outputs(spec))
    except OSError as exc:  # nothing is left open: out of fds is the likely cause
        raise start_error(exc, spec.args, spec.env, in_exec=False) from None
    if spec.pipeline is not None:
        return Started(_start_stages(spec, pipes), pipes.readers, pipes.writer)
    return Started(_start(spec, pipes), pipes.readers, pipes.writer)


def _echo(spec: Spec, interactive: bool) -> bool:
    """Whether the PTY starts with echo on: as ``spawn(echo=)`` asked; on for a dialogue."""
    if spec.echo is not None:
        return spec.echo
    # A one-shot run types its input: echo off, so the output is only the program's. With
    # nothing to type (Ctrl-D is never echoed) echo is left alone: cheaper. With a Secret
    # to type, echo stays on so that cmdrun sees the program turn it off (see SecretGate).
    return interactive or bool(spec.secrets) or (spec.input is None and not spec.respond)


def end_of_input(pump: SessionPump, started: Started) -> None:
    """Make the program see end of input: close the pipe, or type the PTY's EOF character."""
    if started.eof is None:
        pump.close_input()
    else:
        pump.write(started.eof)


def _open_and_start(spec: Spec) -> tuple[_Outputs, Started]:
    """Open the output files and start the child; on failure nothing is left open."""
    if spec.pipeline is not None:
        _check_stages(spec)
    elif isinstance(spec.stdout_to, (str, os.PathLike)) or isinstance(
        spec.stderr_to, (str, os.PathLike)
    ):  # opening a path truncates it: refuse a program that cannot start before that
        check_program(spec.args[0], path_of(spec.env), spec.cwd)
    try:
        outputs = _Outputs(spec)
    except OSError as exc:  # the files opened so far are closed: out of fds, or a bad path
        raise start_error(exc, spec.args, spec.env, in_exec=False) from None
    try:
        return outputs, start(spec, outputs=outputs)
    except BaseException:
        outputs.close()
        raise


def _check_stages(spec: Spec) -> None:
    """Refuse a pipeline with a program that cannot start before starting any stage (a few
    ``stat`` calls per stage), naming the stage."""
    assert spec.pipeline is not None
    path = path_of(spec.env)
    count = len(spec.pipeline)
    for index, argv in enumerate(spec.pipeline.commands):
        try:
            check_program(argv[0], path, spec.cwd)
        except CmdrunError as exc:
            raise in_stage(exc, stage_name(index, count, argv)) from None
