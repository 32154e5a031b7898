"""The engine: start one child with pipes and pump it to the end (``run``/``call``).

The child is started with :class:`subprocess.Popen` in a new session (its own process
group), on pipes cmdrun creates and owns: Popen gets plain fds, so no file object of its
own can later close an fd number that cmdrun already closed and the OS reused. Everything
after the start is :class:`~cmdrun._pump.Pump`'s job; any exception in the parent while it
runs (Ctrl-C included) stops the group by the kill policy, reaps it and re-raises.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time

from ._kill import Child, stop_now
from ._log import log_debug
from ._match import Pattern, Reply, Responder, StreamDecoder, describe
from ._platform import NEW_SESSION, explain_exec_error, path_of
from ._pump import DataHook, Pump
from ._result import Result
from ._secret import Redactor, Secret, shown, text_of


class Spec:
    """A fully checked request to run one command (built by ``_run._spec``)."""

    __slots__ = (
        "args",
        "capture",
        "cwd",
        "dimensions",
        "drain_timeout",
        "encoding",
        "env",
        "errors",
        "input",
        "kill_grace",
        "merge_stderr",
        "respond",
        "secrets",
        "term",
        "timeout",
        "tty",
    )

    def __init__(
        self,
        args: tuple[str, ...],
        *,
        input: bytes | None = None,
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
    ) -> None:
        self.args = args
        self.term = term
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


class _Pipes:
    """The pipes of one child: our ends, and the child's ends to close after the start."""

    def __init__(self, spec: Spec, interactive: bool) -> None:
        self.ours: list[int] = []
        self.theirs: list[int] = []
        self.readers: list[tuple[int, str]] = []
        self.writer: int | None = None
        self.stdin: int | None = None
        self.stdout: int | None = None
        self.stderr: int | None = None
        if spec.input is not None or spec.respond or interactive:
            self.stdin, self.writer = self._pipe()
        elif spec.capture:
            self.stdin = subprocess.DEVNULL
        if spec.capture:
            read, self.stdout = self._pipe(reader=True)
            self.readers.append((read, "stdout"))
            if spec.merge_stderr:
                self.stderr = subprocess.STDOUT
            else:
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
        if self.writer is not None:
            os.set_blocking(self.writer, False)

    def failed(self) -> None:
        for fd in self.ours + self.theirs:
            os.close(fd)


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
        raise explain_exec_error(exc, spec.args[0], path_of(spec.env)) from None
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


def start(spec: Spec, interactive: bool = False) -> Started:
    """Start ``spec`` on pipes or, with ``spec.tty``, on a PTY.

    ``interactive`` keeps stdin open for a dialogue and, on a PTY, leaves echo on as a
    terminal has it; a one-shot run turns echo off so the output is only the program's.
    """
    if spec.tty:
        from ._pty import control_chars, start_pty

        child, master = start_pty(
            spec.args,
            cwd=spec.cwd,
            env=spec.env,
            term=spec.term,
            dimensions=spec.dimensions,
            echo=interactive,
        )
        return Started(child, [(master, "stdout")], master, *control_chars(master))
    pipes = _Pipes(spec, interactive)
    return Started(_start(spec, pipes), pipes.readers, pipes.writer)


def end_of_input(pump: Pump, started: Started) -> None:
    """Make the program see end of input: close the pipe, or type the PTY's EOF character."""
    if started.eof is None:
        pump.close_input()
    else:
        pump.write(started.eof)


def _answering(spec: Spec, pump_ref: list[Pump]) -> DataHook | None:
    """The pump hook that answers ``spec.respond`` prompts as output arrives."""
    if not spec.respond:
        return None
    responder = Responder(dict(spec.respond))
    decoder = StreamDecoder(spec.encoding, spec.errors)
    newline = "\n"

    def hook(stream: str, data: bytes) -> None:
        for prompt, reply in responder.feed(decoder.decode(stream, data)):
            log_debug("respond: %s -> %r", describe([prompt]), shown(reply))
            pump_ref[0].write((text_of(reply) + newline).encode(spec.encoding))

    return hook


def execute(spec: Spec) -> Result:
    """Run ``spec`` to completion and return what happened; never raises for exit status.

    Raises:
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed.
    """
    started_at = time.monotonic()
    started = start(spec)
    child = started.child
    pump_ref: list[Pump] = []
    pump = Pump(child, started.readers, started.writer, spec.kill_grace, _answering(spec, pump_ref))
    pump_ref.append(pump)
    try:
        if spec.input is not None:
            pump.write(spec.input)
            if started.tty and not spec.input.endswith(b"\n"):
                end_of_input(pump, started)  # the first EOF only ends the partial line
        if not spec.respond:
            end_of_input(pump, started)
        deadline = math.inf if spec.timeout is None else started_at + spec.timeout
        timed_out = pump.run_to_end(deadline, spec.drain_timeout)
    except BaseException as exc:
        if child.returncode is None:
            first = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            stop_now(child, spec.kill_grace, first)
        raise
    finally:
        pump.close()
    redact = Redactor(spec.secrets, spec.encoding)
    return Result(
        spec.args,
        child.wait(),
        stdout_bytes=redact.bytes(pump.captured["stdout"].getvalue()),
        stderr_bytes=redact.bytes(pump.captured["stderr"].getvalue()),
        pid=child.pid,
        duration=time.monotonic() - started_at,
        timed_out=timed_out,
        timeout=spec.timeout,
        encoding=spec.encoding,
        errors=spec.errors,
        tty=started.tty,
    )
