"""The engine: start one child and pump it to the end, with its output routed.

A child on pipes is started with :class:`subprocess.Popen` in a new session (its own
process group), on pipes cmdrun creates and owns: Popen gets plain fds, so no file object of
its own can later close an fd number that cmdrun already closed and the OS reused. A child
on a PTY is started by :mod:`cmdrun._pty`. Everything after the start is
:class:`~cmdrun._pump.Pump`'s job; any exception in the parent while it runs (Ctrl-C
included) stops the group by the kill policy, reaps it and re-raises. :func:`simulated`
routes a test double's output through the same sinks and callbacks.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from typing import IO, TypeAlias

from ._errors import StartFailed
from ._kill import Child, stop_now
from ._log import log_debug
from ._match import Pattern, Reply, Responder, StreamDecoder, describe
from ._output import Capture, LineFeed, Tail, ToFile, as_terminal
from ._platform import (
    NEW_SESSION,
    check_program,
    exit_status_discarded,
    open_devnull,
    path_of,
    start_error,
)
from ._pump import CancelToken, DataHook, Pump, SessionPump, Sink
from ._result import Result
from ._secret import Redactor, Secret, seal, shown
from ._shield import SigintShield
from ._watchdog import WATCHDOG

#: Where ``stdout=``/``stderr=`` may send output: a path, or a binary file.
Target: TypeAlias = "str | os.PathLike[str] | IO[bytes]"
LineCallback: TypeAlias = Callable[[str], object]
DeliverLine: TypeAlias = Callable[[str, str], object]

#: A line left unfinished this long is delivered as it is (see ``LineFeed``).
IDLE_LINE = 0.1


class Spec:
    """A fully checked request to run one command (built by ``_run.build_spec``).

    ``input`` stays a :class:`Secret` when one was given: it is revealed only by
    :meth:`input_bytes`, as the pump writes it.
    """

    __slots__ = (
        "args",
        "cancel",
        "capture",
        "cwd",
        "die_with_parent",
        "dimensions",
        "drain_timeout",
        "encoding",
        "env",
        "errors",
        "input",
        "kill_grace",
        "max_output",
        "merge_stderr",
        "on_stderr",
        "on_stdout",
        "respond",
        "secrets",
        "stderr_to",
        "stdout_to",
        "tee",
        "term",
        "timeout",
        "tty",
    )

    def __init__(
        self,
        args: tuple[str, ...],
        *,
        input: bytes | Secret | None = None,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        capture: bool = True,
        merge_stderr: bool = False,
        kill_grace: float = 2.0,
        drain_timeout: float = 1.0,
        encoding: str = "utf-8",
        errors: str = "replace",
        tty: bool = False,
        dimensions: tuple[int, int] = (24, 80),
        respond: tuple[tuple[Pattern, Reply], ...] = (),
        secrets: tuple[Secret, ...] = (),
        term: str | None = None,
        stdout_to: Target | None = None,
        stderr_to: Target | None = None,
        max_output: int | None = None,
        on_stdout: LineCallback | None = None,
        on_stderr: LineCallback | None = None,
        tee: bool = False,
        cancel: CancelToken | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.args = args
        self.die_with_parent = die_with_parent
        self.term = term
        self.stdout_to = stdout_to
        self.stderr_to = stderr_to
        self.max_output = max_output
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr
        self.tee = tee
        self.cancel = cancel
        self.tty = tty
        self.dimensions = dimensions
        self.respond = respond
        self.secrets = secrets
        self.input = input
        self.timeout = timeout
        self.cwd = cwd
        self.env = env
        self.capture = capture
        self.merge_stderr = merge_stderr
        self.kill_grace = kill_grace
        self.drain_timeout = drain_timeout
        self.encoding = encoding
        self.errors = errors

    def replace(self, **changes: object) -> Spec:
        """A copy with some fields changed."""
        copy = Spec.__new__(Spec)
        for name in Spec.__slots__:
            setattr(copy, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"unknown Spec fields: {sorted(changes)}")
        return copy

    def input_bytes(self) -> bytes | None:
        """The bytes to write to the program's input (a Secret's as :class:`Sealed` bytes)."""
        if isinstance(self.input, Secret):
            return seal(self.input, self.encoding)
        return self.input

    def watches(self, stream: str) -> bool:
        """Whether cmdrun must see ``stream``'s bytes as they come (not just store them).

        While a secret is in play, output never goes straight from the program to a file:
        it is pumped through cmdrun, which masks the secret.
        """
        callback = self.on_stdout if stream == "stdout" else self.on_stderr
        return (
            self.tty or bool(self.respond) or self.tee or callback is not None or bool(self.secrets)
        )

    def redactor(self) -> Redactor | None:
        """A fresh redactor for this run's output, or None when no secret is in play."""
        return Redactor(self.secrets, self.encoding) if self.secrets else None


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
        try:
            self._open(spec, interactive, outputs)
        except BaseException:
            self.failed()
            raise

    def _open(self, spec: Spec, interactive: bool, outputs: _Outputs) -> None:
        if spec.input is not None or spec.respond or interactive:
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
            os.set_blocking(fd, False)

    def failed(self) -> None:
        for fd in self.ours + self.theirs:
            os.close(fd)
        self.ours.clear()
        self.theirs.clear()


def _start(spec: Spec, pipes: _Pipes) -> subprocess.Popen[bytes]:
    """Start the child in a new process group, or raise the cmdrun error saying why not."""
    try:
        proc = subprocess.Popen(
            spec.args,
            stdin=pipes.stdin,
            stdout=pipes.stdout,
            stderr=pipes.stderr,
            cwd=spec.cwd,
            env=spec.env,
            start_new_session=NEW_SESSION,
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
    return proc


class Started:
    """A running child, the fds the pump works on, and how to signal end of input.

    ``eof``/``intr`` are the PTY's EOF and interrupt characters; None on pipes, where end
    of input is closing stdin and an interrupt is SIGINT to the group.
    """

    __slots__ = ("child", "eof", "intr", "readers", "writer")

    def __init__(
        self,
        child: Child,
        readers: list[tuple[int, str]],
        writer: int | None,
        eof: bytes | None = None,
        intr: bytes | None = None,
    ) -> None:
        self.child = child
        self.readers = readers
        self.writer = writer
        self.eof = eof
        self.intr = intr

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
            # A one-shot run types its input: echo off, so the output is only the program's.
            # With nothing to type (Ctrl-D is never echoed) echo is left alone: cheaper.
            echo=interactive or (spec.input is None and not spec.respond),
        )
        return Started(child, [(master, "stdout")], master, *control_chars(master))
    try:
        pipes = _Pipes(spec, interactive, outputs or _Outputs(spec))
    except OSError as exc:  # nothing is left open: out of fds is the likely cause
        raise start_error(exc, spec.args, spec.env, in_exec=False) from None
    return Started(_start(spec, pipes), pipes.readers, pipes.writer)


def end_of_input(pump: SessionPump, started: Started) -> None:
    """Make the program see end of input: close the pipe, or type the PTY's EOF character."""
    if started.eof is None:
        pump.close_input()
    else:
        pump.write(started.eof)


def _hooks(
    spec: Spec, pump_ref: list[Pump], deliver: DeliverLine | None
) -> tuple[DataHook | None, LineFeed | None]:
    """The pump hook for ``spec``: automatic answers, live lines, tee; and the line feed."""
    hooks: list[DataHook] = []
    if spec.respond:
        responder = Responder(dict(spec.respond))
        decoder = StreamDecoder(spec.encoding, spec.errors)

        def answer(stream: str, data: bytes) -> None:
            for prompt, reply in responder.feed(decoder.decode(stream, data)):
                log_debug("respond: %s -> %r", describe([prompt]), shown(reply))
                if isinstance(reply, Secret):
                    pump_ref[0].write(seal(reply, spec.encoding, "\n"))
                else:
                    pump_ref[0].write((reply + "\n").encode(spec.encoding))

        hooks.append(answer)
    if spec.tee:
        hooks.append(_tee)
    feed = None
    callbacks = {"stdout": spec.on_stdout, "stderr": spec.on_stderr}
    if deliver is not None or any(callbacks.values()):

        def to_callbacks(stream: str, line: str) -> None:
            callback = callbacks[stream]
            if callback is not None:
                callback(line)
            if deliver is not None:
                deliver(stream, line)

        feed = LineFeed(spec.encoding, spec.errors, to_callbacks)
        hooks.append(feed.feed)
    if not hooks:
        return None, feed
    if len(hooks) == 1:
        return hooks[0], feed

    def all_hooks(stream: str, data: bytes) -> None:
        for hook in hooks:
            hook(stream, data)

    return all_hooks, feed


def _tee(stream: str, data: bytes) -> None:
    """Copy a chunk to the parent's own stdout/stderr, as it arrives."""
    target = sys.stdout if stream == "stdout" else sys.stderr
    binary = getattr(target, "buffer", None)
    if binary is not None:
        target.flush()
        binary.write(data)
        binary.flush()
    else:
        target.write(data.decode(target.encoding or "utf-8", "replace"))
        target.flush()


def execution(spec: Spec, deliver: DeliverLine | None = None) -> Generator[None, None, Result]:
    """Run ``spec``, yielding after each step of the pump; the generator returns the Result.

    ``deliver(stream, line)`` gets every line as it arrives. Closing the generator early (or
    any exception, Ctrl-C included) stops the process group by the kill policy and reaps it.

    Raises:
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed.
        StartFailed: the OS refused to start it (out of fds, argument list too long).
    """
    started_at = time.monotonic()
    # Ctrl-C is held from before the first fd is opened until the try below owns the child.
    shield = SigintShield().__enter__()
    try:
        outputs, started = _open_and_start(spec)
    except BaseException:
        shield.release()
        raise
    child = started.child
    pump: Pump | None = None
    try:
        pump, feed = _pump_for(spec, started, outputs, deliver)
        shield.release()  # a Ctrl-C held since the start is raised here, and handled below
        _feed_input(spec, pump, started)
        deadline = math.inf if spec.timeout is None else started_at + spec.timeout
        for _ in pump.drive(deadline, spec.drain_timeout):
            if feed is not None:
                feed.flush_idle(time.monotonic())
            yield
        if feed is not None:
            feed.flush()
    except BaseException as exc:
        if child.returncode is None:
            first = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            stop_now(child, spec.kill_grace, first)
        raise
    finally:
        _release(spec, started, pump, outputs)
        shield.release()
    return _result(
        spec,
        outputs.sinks,
        child.wait(),
        pid=child.pid,
        duration=time.monotonic() - started_at,
        timed_out=pump.timed_out,
        tty=started.tty,
        cancelled=pump.cancelled,
    )


def _open_and_start(spec: Spec) -> tuple[_Outputs, Started]:
    """Open the output files and start the child; on failure nothing is left open."""
    if isinstance(spec.stdout_to, (str, os.PathLike)) or isinstance(
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


def _pump_for(
    spec: Spec, started: Started, outputs: _Outputs, deliver: DeliverLine | None
) -> tuple[Pump, LineFeed | None]:
    """The pump that moves ``started``'s I/O, with ``spec``'s hooks and line feed."""
    pump_ref: list[Pump] = []
    hook, feed = _hooks(spec, pump_ref, deliver)
    pump = Pump(
        started.child,
        started.readers,
        started.writer,
        spec.kill_grace,
        on_data=hook,
        sinks=outputs.sinks,
        cancel=spec.cancel,
        redact=spec.redactor(),
    )
    pump_ref.append(pump)
    if feed is not None:
        pump.max_wait = IDLE_LINE
    return pump, feed


def _feed_input(spec: Spec, pump: Pump, started: Started) -> None:
    """Queue ``input`` and, unless answers are due later, end the input."""
    data = spec.input_bytes()
    if data is not None:
        pump.write(data)
        if started.tty and not data.endswith(b"\n"):
            end_of_input(pump, started)  # the first EOF only ends the partial line
    if not spec.respond:
        end_of_input(pump, started)


def _release(spec: Spec, started: Started, pump: Pump | None, outputs: _Outputs) -> None:
    """Close every fd of a finished run and tell the watchdog its group is gone."""
    with SigintShield():  # no Ctrl-C may leave an fd open half-way through closing
        if pump is not None:
            pump.close()
        else:
            started.close_fds()
        outputs.close()
        child = started.child
        if spec.die_with_parent and child.returncode is not None:
            WATCHDOG.forget(child.pid)


def _result(
    spec: Spec,
    sinks: dict[str, Sink],
    returncode: int,
    *,
    pid: int,
    duration: float,
    timed_out: bool,
    tty: bool,
    cancelled: bool = False,
) -> Result:
    """The Result of a run whose output is in ``sinks`` (already masked by the pump)."""
    return Result(
        spec.args,
        returncode,
        stdout_bytes=sinks["stdout"].value(),
        stderr_bytes=sinks["stderr"].value(),
        pid=pid,
        duration=duration,
        timed_out=timed_out,
        timeout=spec.timeout,
        encoding=spec.encoding,
        errors=spec.errors,
        tty=tty,
        stdout_dropped=sinks["stdout"].dropped,
        stderr_dropped=sinks["stderr"].dropped,
        cancelled=cancelled,
    )


def simulated(
    spec: Spec,
    chunks: list[tuple[str, bytes]],
    deliver: DeliverLine | None,
    *,
    returncode: int,
    duration: float,
    timed_out: bool = False,
    pid: int = 0,
) -> Result:
    """The Result a real run of ``spec`` would give for this output, for test doubles.

    The chunks go through the same sinks, callbacks, ``tee`` and file targets as a real
    program's output, so code under test sees no difference. On a PTY, streams merge and
    ``\\n`` becomes ``\\r\\n``, as the terminal would make them.
    """
    outputs = _Outputs(spec)
    hook, feed = _hooks(spec.replace(respond=()), [], deliver)
    redact = spec.redactor()

    def emit(name: str, data: bytes) -> None:
        if not spec.capture:  # call(): the program writes to our own stdout/stderr
            _tee(name, data)
        elif data:
            outputs.sinks[name].write(data)
            if hook is not None:
                hook(name, data)

    try:
        for stream, raw in chunks:
            name = "stdout" if spec.tty or spec.merge_stderr else stream
            data = as_terminal(raw) if spec.tty else raw
            emit(name, data if redact is None else redact.feed(name, data))
        if redact is not None:
            for name in ("stdout", "stderr"):
                emit(name, redact.flush(name))
        if feed is not None:
            feed.flush()
    finally:
        outputs.close()
    return _result(
        spec,
        outputs.sinks,
        returncode,
        pid=pid,
        duration=duration,
        timed_out=timed_out,
        tty=spec.tty,
    )
