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

from ._kill import stop_now
from ._platform import NEW_SESSION, explain_exec_error, path_of
from ._pump import Pump
from ._result import Result


class Spec:
    """A fully checked request to run one command (built by ``_run._spec``)."""

    __slots__ = (
        "args",
        "capture",
        "cwd",
        "drain_timeout",
        "encoding",
        "env",
        "errors",
        "input",
        "kill_grace",
        "merge_stderr",
        "timeout",
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
    ) -> None:
        self.args = args
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


class _Pipes:
    """The pipes of one child: our ends, and the child's ends to close after the start."""

    def __init__(self, spec: Spec) -> None:
        self.ours: list[int] = []
        self.theirs: list[int] = []
        self.readers: list[tuple[int, str]] = []
        self.writer: int | None = None
        self.stdin: int | None = None
        self.stdout: int | None = None
        self.stderr: int | None = None
        if spec.input is not None:
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


def execute(spec: Spec) -> Result:
    """Run ``spec`` to completion and return what happened; never raises for exit status.

    Raises:
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed.
    """
    started = time.monotonic()
    pipes = _Pipes(spec)
    proc = _start(spec, pipes)
    pump = Pump(proc, pipes.readers, pipes.writer, spec.kill_grace)
    try:
        if spec.input is not None:
            pump.write(spec.input)
            pump.close_input()
        deadline = math.inf if spec.timeout is None else started + spec.timeout
        timed_out = pump.run_to_end(deadline, spec.drain_timeout)
    except BaseException as exc:
        if proc.returncode is None:
            first = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            stop_now(proc, spec.kill_grace, first)
        raise
    finally:
        pump.close()
    return Result(
        spec.args,
        proc.returncode if proc.returncode is not None else -signal.SIGKILL,
        stdout_bytes=pump.captured["stdout"].getvalue(),
        stderr_bytes=pump.captured["stderr"].getvalue(),
        pid=proc.pid,
        duration=time.monotonic() - started,
        timed_out=timed_out,
        timeout=spec.timeout,
        encoding=spec.encoding,
        errors=spec.errors,
    )
