"""The engine: start one child, feed its stdin, drain its pipes, enforce the timeout.

One ``poll`` loop (like CPython's ``Popen._communicate``) watches stdout, stderr, stdin and,
on Linux, a pidfd that becomes readable when the child exits. Decisions made here:

* Output is read with ``os.read`` in chunks that grow from 64 KiB to 1 MiB while the child
  keeps the pipe full, and the pipe buffer is then enlarged to 1 MiB: fewer system calls and
  context switches for big outputs, no cost for small ones. Chunks go into an
  ``io.BytesIO``, whose ``getvalue()`` hands over its buffer without a copy, so capturing N
  bytes costs about N bytes of memory (``subprocess.run`` briefly needs 2N).
* Input is written without blocking, interleaved with reading, so no amount of input or
  output can deadlock. A child that exits or closes stdin early is not an error: EPIPE only
  ends the feeding.
* When the child exits while a descendant still holds the pipes (a daemon it started), the
  loop waits at most ``drain_timeout`` seconds for the rest of the output, then stops
  reading. That is not a timeout and the descendant is left alone.
* On timeout the kill policy (:mod:`cmdrun._kill`) runs inside the same loop, so output
  written while the program shuts down is still captured. Once the group is gone (or was
  killed), pipes still held by a process that left the group are read for at most
  ``_AFTER_KILL`` seconds more, never waited on.
* Any exception in the parent (Ctrl-C included) stops the group, reaps it and re-raises.
"""

from __future__ import annotations

import io
import math
import os
import select
import signal
import subprocess
import time
from typing import Any

from ._kill import GroupStopper, stop_now
from ._platform import NEW_SESSION, enlarge_pipe, exit_fd, explain_exec_error, path_of
from ._result import Result

_FIRST_READ = 1 << 16
_MAX_READ = 1 << 20
_WRITE_CHUNK = 1 << 20
_AFTER_KILL = 0.1
_READ_EVENTS = select.POLLIN | select.POLLHUP | select.POLLERR
_WRITE_EVENTS = select.POLLOUT | select.POLLERR


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


def _start(spec: Spec) -> subprocess.Popen[bytes]:
    """Start the child in a new process group, or raise the cmdrun error saying why not."""
    stdin: int | None
    stdout: int | None
    stderr: int | None
    if spec.capture:
        stdin = subprocess.DEVNULL if spec.input is None else subprocess.PIPE
        stdout = subprocess.PIPE
        stderr = subprocess.STDOUT if spec.merge_stderr else subprocess.PIPE
    else:  # like subprocess.call: the child shares the parent's stdio
        stdin = None if spec.input is None else subprocess.PIPE
        stdout = stderr = None
    try:
        return subprocess.Popen(
            spec.args,
            bufsize=0,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=spec.cwd,
            env=spec.env,
            start_new_session=NEW_SESSION,
        )
    except OSError as exc:
        if spec.cwd is not None and exc.filename == spec.cwd:
            raise  # the cwd vanished after it was checked: the stdlib error names it
        raise explain_exec_error(exc, spec.args[0], path_of(spec.env)) from None


class _Supervisor:
    """Runs the poll loop for one started child; see the module docstring."""

    def __init__(self, proc: subprocess.Popen[bytes], spec: Spec, started: float) -> None:
        self.proc = proc
        self.spec = spec
        self.started = started
        self.deadline = math.inf if spec.timeout is None else started + spec.timeout
        self.poller = select.poll()
        self.sinks: dict[int, io.BytesIO] = {}
        self.read_size: dict[int, int] = {}
        self.files: dict[int, Any] = {}
        self.stdout = io.BytesIO()
        self.stderr = io.BytesIO()
        self.stdin_fd = -1
        self.pending = memoryview(spec.input or b"")
        self.exit_fd = exit_fd(proc.pid)
        self.stopper = GroupStopper(proc.pid, spec.kill_grace)
        self.drain_until = math.inf
        self._register()

    def _register(self) -> None:
        proc = self.proc
        for f, sink in ((proc.stdout, self.stdout), (proc.stderr, self.stderr)):
            if f is not None:
                fd = f.fileno()
                self.files[fd] = f
                self.sinks[fd] = sink
                self.read_size[fd] = _FIRST_READ
                self.poller.register(fd, _READ_EVENTS)
        if proc.stdin is not None:
            self.stdin_fd = proc.stdin.fileno()
            self.files[self.stdin_fd] = proc.stdin
            if self.pending:
                os.set_blocking(self.stdin_fd, False)
                if len(self.pending) > _FIRST_READ:
                    enlarge_pipe(self.stdin_fd)
                self.poller.register(self.stdin_fd, _WRITE_EVENTS)
            else:
                self._close(self.stdin_fd)
        if self.exit_fd is not None:
            self.poller.register(self.exit_fd, select.POLLIN)

    def _close(self, fd: int) -> None:
        if fd in self.sinks or fd == self.stdin_fd:
            try:
                self.poller.unregister(fd)
            except KeyError:
                pass
        self.sinks.pop(fd, None)
        if fd == self.stdin_fd:
            self.stdin_fd = -1
        f = self.files.pop(fd, None)
        if f is not None:
            try:
                f.close()
            except OSError:  # EPIPE while flushing stdin: the child stopped reading
                pass

    def _read(self, fd: int) -> None:
        size = self.read_size[fd]
        try:
            data = os.read(fd, size)
        except BlockingIOError:
            return
        except OSError:  # EIO and friends: treat as end of stream
            data = b""
        if not data:
            self._close(fd)
            return
        self.sinks[fd].write(data)
        if len(data) == size and size < _MAX_READ:
            self.read_size[fd] = size * 4
            if size == _FIRST_READ:
                enlarge_pipe(fd)

    def _write(self) -> None:
        try:
            written = os.write(self.stdin_fd, self.pending[:_WRITE_CHUNK])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            written = len(self.pending)  # the child stopped reading: not an error
        self.pending = self.pending[written:]
        if not self.pending:
            self._close(self.stdin_fd)

    def _reap_if_exited(self) -> None:
        if self.proc.returncode is not None:
            return
        if self.exit_fd is None:
            self.proc.poll()
            return
        self.proc.wait()
        self.poller.unregister(self.exit_fd)
        os.close(self.exit_fd)
        self.exit_fd = None

    def _finished(self, now: float) -> bool:
        """Decide whether the loop is over; start or escalate the kill policy on the way."""
        reaped = self.proc.returncode is not None
        if not reaped and now >= self.deadline:
            self.stopper.begin()
        if self.stopper.started:
            if not self.stopper.finished(reaped):
                return False
            self.drain_until = min(self.drain_until, now + _AFTER_KILL)
        elif not reaped:
            return False
        else:
            self.drain_until = min(self.drain_until, now + self.spec.drain_timeout)
        return not self.sinks or now >= self.drain_until

    def _wait_time(self, now: float) -> int:
        if self.proc.returncode is None:
            until = self.stopper.deadline if self.stopper.started else self.deadline
            if self.exit_fd is None:  # no pidfd: poll waitpid every 10 ms
                until = min(until, now + 0.01)
        elif self.stopper.started and not self.stopper.killed:
            until = min(self.stopper.deadline, now + 0.01)  # watching the group empty
        else:
            until = self.drain_until
        if math.isinf(until):
            return -1
        return max(0, math.ceil((until - now) * 1000))

    def loop(self) -> None:
        while not self._finished(time.monotonic()):
            for fd, _event in self.poller.poll(self._wait_time(time.monotonic())):
                if fd == self.exit_fd:
                    self._reap_if_exited()
                elif fd == self.stdin_fd:
                    self._write()
                elif fd in self.sinks:
                    self._read(fd)
            if self.exit_fd is None:
                self._reap_if_exited()

    def close(self) -> None:
        """Release every fd; the pipes of a lingering descendant are simply dropped."""
        for fd in list(self.files):
            self._close(fd)
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None

    def result(self) -> Result:
        spec = self.spec
        return Result(
            args=spec.args,
            returncode=self.proc.returncode if self.proc.returncode is not None else -9,
            stdout_bytes=self.stdout.getvalue(),
            stderr_bytes=self.stderr.getvalue(),
            pid=self.proc.pid,
            duration=time.monotonic() - self.started,
            timed_out=self.stopper.started,
            timeout=spec.timeout,
            encoding=spec.encoding,
            errors=spec.errors,
        )


def execute(spec: Spec) -> Result:
    """Run ``spec`` to completion and return what happened; never raises for exit status.

    Raises:
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed.
    """
    started = time.monotonic()
    proc = _start(spec)
    supervisor = _Supervisor(proc, spec, started)
    try:
        supervisor.loop()
    except BaseException as exc:
        if proc.returncode is None:
            first = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            stop_now(proc, spec.kill_grace, first)
        raise
    finally:
        supervisor.close()
    return supervisor.result()
