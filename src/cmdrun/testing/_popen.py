"""Answering plain ``subprocess`` and asyncio's subprocess functions from the test doubles.

:meth:`FakeCommands.patch_subprocess` replaces ``subprocess.Popen`` (and so ``run``,
``call``, ``check_call``, ``check_output``, ``getoutput``, which look it up in their module),
module-level aliases of it (``from subprocess import Popen`` done earlier, outside cmdrun),
and ``asyncio.create_subprocess_exec``/``_shell``, process-wide, until the fake exits. Each
call is turned into a :class:`~cmdrun._spec.Spec` by cmdrun's own rules (``shell=True``:
``/bin/sh -c CMD``) and asked of the layer that answers cmdrun's calls (the current
launcher): a :class:`FakeCommands` answers it from its registrations, a
:class:`~cmdrun.testing.Cassette` from its recording (or records it through the real
program); a call nobody answers and ``allow_real`` lets through gets the real ``Popen``.

What the code gets is a :class:`FakePopen`, a ``subprocess.Popen`` that runs no process: its
program is a :class:`_Program`, either an answer computed once its input is in (``_Batch``)
or a dialogue played line by line (``_Played``). Time is virtual, as for cmdrun's fakes: a
``duration`` is never slept by ``wait``/``communicate``; a ``timeout`` shorter than what is
left of it raises ``TimeoutExpired`` and moves the fake's clock on, so it keeps "running"
and a later wait may see it end. ``poll`` sees it end once that much real time has passed.

cmdrun's own children never go through the patch: cmdrun starts them with
:data:`cmdrun._platform.REAL_POPEN`, the real class taken when cmdrun was imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import locale
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from types import ModuleType, TracebackType
from typing import IO, Any, Protocol, cast

from .._args import SHELL, normalize_command
from .._engine import _tee
from .._launcher import REAL, current_launcher, drive
from .._platform import REAL_POPEN
from .._spec import Spec, build_spec
from ._dialogue import FakeChild, FakeHang, FakePump, Step

#: Signals whose default action does not end a process.
_HARMLESS = frozenset(
    {0, signal.SIGCHLD, signal.SIGCONT, signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN}
    | {signal.SIGTTOU, signal.SIGURG, signal.SIGWINCH}
)
# Set while a call let through to the real asyncio functions starts its process: asyncio
# then calls subprocess.Popen itself, which must neither be answered nor recorded again.
_PASSING: ContextVar[bool] = ContextVar("cmdrun_popen_passing", default=False)
_POPEN_SIGNATURE = inspect.signature(REAL_POPEN.__init__)
_AMBIGUOUS = (
    "Cannot disambiguate when both text and universal_newlines are supplied but different. "
    "Pass one or the other."
)


class _Program(Protocol):
    """What a fake Popen runs: output grows as the program plays; ``done`` once it exited."""

    pid: int

    def write(self, data: bytes) -> None: ...
    def close_input(self) -> None: ...
    def play(self) -> None: ...
    def output(self, stream: str) -> bytes: ...
    def merge(self) -> None: ...
    def end(self, code: int) -> None: ...
    @property
    def done(self) -> bool: ...
    @property
    def returncode(self) -> int: ...
    @property
    def duration(self) -> float: ...


Outcome = tuple[bytes, bytes, int, float]


class _Batch:
    """A program that reads all its input, then prints its answer and exits after
    ``duration``: ``answer(input)`` computes it (None: its stdin was never a pipe)."""

    def __init__(self, answer: Callable[[bytes | None], Outcome], piped_input: bool) -> None:
        self.pid = FakeChild().pid
        self._answer = answer
        self._input: bytearray | None = bytearray() if piped_input else None
        self._outcome: Outcome | None = None
        self._merged = False

    def write(self, data: bytes) -> None:
        if self._input is not None and self._outcome is None:
            self._input += data

    def close_input(self) -> None:
        self.play()

    def play(self) -> None:
        if self._outcome is None:
            self._outcome = self._answer(None if self._input is None else bytes(self._input))

    def output(self, stream: str) -> bytes:
        out, err = (b"", b"") if self._outcome is None else self._outcome[:2]
        if self._merged:
            return out + err if stream == "stdout" else b""
        return out if stream == "stdout" else err

    def merge(self) -> None:
        self._merged = True

    def end(self, code: int) -> None:
        if self._outcome is None:  # stopped before it printed anything
            self._outcome = (b"", b"", code, 0.0)

    @property
    def done(self) -> bool:
        return self._outcome is not None

    @property
    def returncode(self) -> int:
        return 0 if self._outcome is None else self._outcome[2]

    @property
    def duration(self) -> float:
        return 0.0 if self._outcome is None else self._outcome[3]


class _Played:
    """A registration's ``dialogue``, played line by line as the code writes to stdin."""

    def __init__(self, pump: FakePump) -> None:
        self._pump = pump
        self.pid = pump.child.pid

    def write(self, data: bytes) -> None:
        self._pump.write(data)

    def close_input(self) -> None:
        self._pump.close_input()

    def play(self) -> None:
        self._pump.write(b"")

    def output(self, stream: str) -> bytes:
        if stream == "stderr" and self._pump.sinks["stderr"] is self._pump.sinks["stdout"]:
            return b""
        return self._pump.sinks[stream].value()

    def merge(self) -> None:
        self._pump.sinks["stderr"] = self._pump.sinks["stdout"]

    def end(self, code: int) -> None:
        self._pump._finish(code)

    @property
    def done(self) -> bool:
        return self._pump.exited

    @property
    def returncode(self) -> int:
        return self._pump.child.wait()

    @property
    def duration(self) -> float:
        return 0.0 if self._pump.exited else math.inf

    def blocked(self) -> str:
        return self._pump._blocked_message("and nothing more will be written to it")


def played(steps: Sequence[Step], spec: Spec) -> _Played:
    """A dialogue as a Popen's program: no terminal, no echo (pipes)."""
    pump = FakePump(
        steps, tty=False, echo=False, encoding=spec.encoding, describe=f"`{shlex.join(spec.args)}`"
    )
    return _Played(pump)


def _text(data: str | bytes, encoding: str) -> bytes:
    return data.encode(encoding) if isinstance(data, str) else data


# -- asking the layer ----------------------------------------------------------------------


def _program_for(spec: Spec, piped_input: bool) -> tuple[_Program | None, Any]:
    """The program answering ``spec`` and the recorded :class:`Call` (or None), or
    (None, call) when the call is to run for real."""
    launcher: Any = current_launcher()
    layer = getattr(launcher, "launcher", launcher)
    maker = getattr(layer, "subprocess_program", None)
    if maker is None:
        return None, None
    program, call = maker(spec, piped_input)
    return program, call


def fake_program(fake: Any, spec: Spec, piped_input: bool) -> tuple[_Program | None, Any]:
    """How a :class:`FakeCommands` answers a plain subprocess call (raising as its
    ``_lookup`` does: unregistered, or a registration's ``raises``)."""
    from ._fake import _answer_from, input_text

    registration, call = fake._lookup(spec, "subprocess")
    if registration is None:
        beneath = fake._beneath  # the test's cassette answers what no fake does
        if beneath is not None and not fake._real(call):
            return getattr(beneath, "launcher", beneath).subprocess_program(spec, piped_input)[
                0
            ], call
        return None, call
    if registration.dialogue is not None:
        program = played(registration.dialogue, spec)
        fake._played.append(program._pump)  # for strict checks
        return program, call

    def answer(data: bytes | None) -> Outcome:
        if data is not None:
            call.input = input_text(spec.replace(input=data))
        got = _answer_from(registration, call)
        enc = spec.encoding
        return _text(got.stdout, enc), _text(got.stderr, enc), got.returncode, got.duration

    return _Batch(answer, piped_input), call


def cassette_program(cassette: Any, spec: Spec, piped_input: bool) -> tuple[_Program, None]:
    """How a :class:`Cassette` answers a plain subprocess call: recording, it runs the real
    program (with all the input once it is in); replaying, it answers from the entry of
    kind ``"subprocess"`` with these arguments and this input."""
    from ._cassette import _data, _text_fields

    def answer(data: bytes | None) -> Outcome:
        run = spec.replace(input=data)
        if not cassette.record:
            _, entry = cassette._take(run, "subprocess")
            out, err = _data(entry, "stdout"), _data(entry, "stderr")
            return out, err, entry["returncode"], entry["duration"]
        result = drive(REAL.execution(run, None))
        entry = cassette._identity(run, "subprocess")  # portable: placeholders, normalize
        entry.update(
            {
                "timeout": None,
                "returncode": result.returncode,
                **_text_fields("stdout", result.stdout_bytes),
                **_text_fields("stderr", result.stderr_bytes),
                "duration": round(result.duration, 6),
                "timed_out": False,
                "timeout_kind": None,
            }
        )
        cassette._add(entry)
        return result.stdout_bytes, result.stderr_bytes, result.returncode, result.duration

    return _Batch(answer, piped_input), None


def popen_spec(
    args: Any, shell: bool, cwd: Any, env: Any, *, encoding: str | None, errors: str | None
) -> Spec:
    """The Spec cmdrun would build for this Popen call, for matching and recording.

    A str without a shell is split as cmdrun splits it (as pytest-subprocess does; a real
    Popen would look for a program named by the whole string).
    """
    if isinstance(args, (bytes, os.PathLike)):
        args = os.fsdecode(args)
        argv: Sequence[object] = [args] if not shell else args
    if shell:
        argv = (SHELL, "-c", args) if isinstance(args, str) else (SHELL, "-c", *args)
        argv = normalize_command(list(argv), False)
    else:
        argv = normalize_command(args, False)
    if env is not None:
        env = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
    return build_spec(
        list(argv),
        cwd=cwd,
        env=env,
        inherit_env=env is None,
        encoding=encoding or locale.getpreferredencoding(False),
        errors=errors or "strict",
    )


# -- the fake process ----------------------------------------------------------------------


class _Fake:
    """The state a fake Popen and a fake asyncio Process share: the program, its virtual
    clock, what the code has read of each pipe, and where the other output goes."""

    def __init__(self, program: _Program, args: Any, call: Any, targets: dict[str, Any]) -> None:
        self.program = program
        self.args = args
        self.call = call
        self.returncode: int | None = None
        self._targets = targets  # stream -> None (pipe), or a function taking bytes
        self._read = {"stdout": 0, "stderr": 0}
        self._sent = {"stdout": 0, "stderr": 0}
        self._started = time.monotonic()
        self._skipped = 0.0
        self._lock = threading.RLock()

    def observe(self) -> None:
        """Let the program run as far as it can, and send new output to its files."""
        with self._lock:
            self.program.play()
            self.forward()

    def forward(self) -> None:
        for stream, target in self._targets.items():
            if target is None:
                continue
            data = self.program.output(stream)[self._sent[stream] :]
            if data:
                self._sent[stream] += len(data)
                target(data)

    def remaining(self) -> float:
        if not self.program.done:
            return math.inf
        elapsed = time.monotonic() - self._started + self._skipped
        return max(0.0, self.program.duration - elapsed)

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                self.observe()
                if self.program.done and self.remaining() <= 0:
                    self.returncode = self.program.returncode
            return self.returncode

    def wait(self, timeout: float | None) -> int:
        """Skip the fake's clock to its end; a ``timeout`` shorter than what is left raises
        TimeoutExpired and moves the clock on by ``timeout``."""
        with self._lock:
            if self.poll() is not None:
                assert self.returncode is not None
                return self.returncode
            left = self.remaining()
            if timeout is not None and left > timeout:
                self._skipped += max(timeout, 0.0)
                raise subprocess.TimeoutExpired(self.args, timeout)
            if math.isinf(left):
                raise FakeHang(self._hang_message())
            self._skipped += left
            self.returncode = self.program.returncode
            return self.returncode

    def _hang_message(self) -> str:
        blocked = getattr(self.program, "blocked", None)
        if blocked is not None:
            return str(blocked())
        return f"fake `{self._line()}` runs forever (duration=inf) and the wait has no timeout"

    def _line(self) -> str:
        return self.args if isinstance(self.args, str) else shlex.join(map(str, self.args))

    def signal(self, sig: int) -> None:
        """Record ``sig``; one that kills ends a running fake with ``-sig``."""
        with self._lock:
            if self.call is not None:
                self.call.signals.append(int(sig))
            if self.poll() is None and sig not in _HARMLESS:
                self.program.end(-sig)
                self.returncode = -sig
                self.forward()

    def read(self, stream: str, size: int) -> bytes:
        """Up to ``size`` bytes of a pipe (b"" at its end)."""
        with self._lock:
            self.observe()
            data = self.program.output(stream)[self._read[stream] :][:size]
            if not data and not self.program.done and self.returncode is None:
                raise FakeHang(f"reading {stream}: {self._hang_message()}")
            self._read[stream] += len(data)
            return data

    def rest(self, stream: str) -> bytes:
        with self._lock:
            data = self.program.output(stream)[self._read[stream] :]
            self._read[stream] += len(data)
            return data


class _Reader(io.RawIOBase):
    """The read end of a fake pipe."""

    def __init__(self, fake: _Fake, stream: str) -> None:
        self._fake = fake
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fake.read(self._stream, len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Writer(io.RawIOBase):
    """The write end of a fake's stdin pipe; closing it is end of input."""

    def __init__(self, fake: _Fake) -> None:
        self._fake = fake

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        with self._fake._lock:
            self._fake.program.write(bytes(data))
            self._fake.forward()
        return len(data)

    def close(self) -> None:
        if not self.closed:
            super().close()
            with self._fake._lock:
                self._fake.program.close_input()
                self._fake.forward()


def _to_target(target: Any, stream: str) -> Callable[[bytes], None] | bool | None:
    """Where output to a non-pipe target goes: a function, None for a pipe, False: nowhere."""
    if target == subprocess.PIPE:
        return None
    if target == subprocess.DEVNULL:
        return False
    if target is None:
        return lambda data: _tee(stream, data)
    if isinstance(target, int):
        return lambda data: _write_fd(target, data)
    try:
        fd = target.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO and friends: write to it
        binary = "b" in getattr(target, "mode", "b")
        return lambda data: target.write(data if binary else data.decode())

    def to_file(data: bytes) -> None:
        target.flush()  # what the code wrote before the program's output comes first
        _write_fd(fd, data)

    return to_file


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _translate(data: bytes, encoding: str, errors: str) -> str:
    """Decode as Popen's text mode does: universal newlines."""
    return data.decode(encoding, errors).replace("\r\n", "\n").replace("\r", "\n")


class FakePopen(subprocess.Popen[Any]):
    """``subprocess.Popen`` while :meth:`FakeCommands.patch_subprocess` is on: a call the
    test doubles answer gets a fake; any other (``allow_real``) a real ``Popen``.

    Raises (from the constructor, as a real Popen raises ``FileNotFoundError``):
        UnregisteredCommand: nobody registered the command and it may not run for real.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if _PASSING.get():
            return REAL_POPEN(*args, **kwargs)
        bound = _POPEN_SIGNATURE.bind(None, *args, **kwargs)
        bound.apply_defaults()
        options = dict(bound.arguments)
        options.pop("self")
        options.update(options.pop("kwargs", {}))
        text, newlines = options["text"], options["universal_newlines"]
        if text is not None and newlines is not None and bool(text) != bool(newlines):
            raise subprocess.SubprocessError(_AMBIGUOUS)
        spec = popen_spec(
            options["args"],
            bool(options["shell"]),
            options["cwd"],
            options["env"],
            encoding=options["encoding"],
            errors=options["errors"],
        )
        program, call = _program_for(spec, options["stdin"] == subprocess.PIPE)
        if program is None:
            return REAL_POPEN(*args, **kwargs)
        self: FakePopen = object.__new__(cls)
        self._set_up(program, call, spec, options)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # set up by __new__

    def _set_up(self, program: _Program, call: Any, spec: Spec, options: dict[str, Any]) -> None:
        self.args = options["args"]
        self.text_mode = bool(
            options["text"] or options["universal_newlines"] or options["encoding"]
        ) or bool(options["errors"])
        self.encoding = options["encoding"]
        self.errors = options["errors"]
        self._encoding = spec.encoding
        self._errors = spec.errors
        self.pid = program.pid
        self.stdin: IO[Any] | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        if options["stderr"] == subprocess.STDOUT:
            program.merge()
        targets: dict[str, Any] = {}
        for stream in ("stdout", "stderr"):
            where = _to_target(options[stream], stream)
            if where is not False and not (
                stream == "stderr" and options["stderr"] == subprocess.STDOUT
            ):
                targets[stream] = where
        self._fake = _Fake(program, self.args, call, targets)
        bufsize = options["bufsize"]
        size = io.DEFAULT_BUFFER_SIZE if bufsize in (-1, 1) or bufsize < 0 else bufsize
        if options["stdin"] == subprocess.PIPE:
            self.stdin = self._stdin_file(bufsize, size)
        for stream in ("stdout", "stderr"):
            if stream in targets and targets[stream] is None:
                setattr(self, stream, self._reader_file(stream, bufsize, size))
        if options["stdin"] != subprocess.PIPE:
            self._fake.observe()  # nothing to wait for: the program runs now

    def _stdin_file(self, bufsize: int, size: int) -> IO[Any]:
        raw = _Writer(self._fake)
        if bufsize == 0 and not self.text_mode:
            return cast(IO[Any], raw)
        buffered = io.BufferedWriter(raw, size)
        if not self.text_mode:
            return buffered
        return io.TextIOWrapper(
            buffered,
            encoding=self._encoding,
            errors=self._errors,
            write_through=True,
            line_buffering=bufsize == 1,
        )

    def _reader_file(self, stream: str, bufsize: int, size: int) -> IO[Any]:
        raw = _Reader(self._fake, stream)
        if bufsize == 0 and not self.text_mode:
            return cast(IO[Any], raw)
        buffered = io.BufferedReader(raw, size)
        if not self.text_mode:
            return buffered
        return io.TextIOWrapper(buffered, encoding=self._encoding, errors=self._errors)

    @property
    def returncode(self) -> int | None:
        return self._fake.returncode

    @returncode.setter
    def returncode(self, value: int | None) -> None:
        self._fake.returncode = value

    def poll(self) -> int | None:
        return self._fake.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self._fake.wait(timeout)

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """As Popen's: write ``input``, close stdin, read every pipe to its end, wait.

        On a timeout the output is kept: the next ``communicate`` returns all of it.
        """
        if self.stdin is not None and not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                if input:
                    self.stdin.write(input)
            self.stdin.close()
        self._fake.observe()
        left = self._fake.remaining()
        if timeout is not None and left > timeout:
            self._fake.wait(timeout)  # raises TimeoutExpired, and the clock moves on
        results: list[Any] = []
        for stream in ("stdout", "stderr"):
            file = getattr(self, stream)
            if file is None:
                results.append(None)
                continue
            data = self._fake.rest(stream)
            file.close()
            results.append(
                _translate(data, self._encoding, self._errors) if self.text_mode else data
            )
        self.wait()
        return results[0], results[1]

    def send_signal(self, sig: int) -> None:
        self._fake.signal(sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for file in (self.stdout, self.stderr, self.stdin):
            if file is not None:
                with contextlib.suppress(BrokenPipeError):
                    file.close()
        if exc_type is not KeyboardInterrupt:
            self.wait()

    def __del__(self) -> None:
        pass


# -- asyncio ---------------------------------------------------------------------------------


class FakeStreamReader:
    """An ``asyncio.StreamReader`` over a fake's pipe (what the fake printed so far)."""

    def __init__(self, fake: _Fake, stream: str) -> None:
        self._fake = fake
        self._stream = stream
        self._buffer = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        """Read more from the fake; False at its end."""
        data = self._fake.read(self._stream, 1 << 20)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(0)
        if n < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        if not self._buffer:
            self._fill()
        return self._take(min(n, len(self._buffer)))

    async def readline(self) -> bytes:
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        await asyncio.sleep(0)
        while separator not in self._buffer:
            if not self._fill():
                partial = self._take(len(self._buffer))
                raise asyncio.IncompleteReadError(partial, None)
        end = self._buffer.index(separator) + len(separator)
        return self._take(end)

    async def readexactly(self, n: int) -> bytes:
        await asyncio.sleep(0)
        while len(self._buffer) < n:
            if not self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self._buffer)), n)
        return self._take(n)

    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def __aiter__(self) -> FakeStreamReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line


class FakeStreamWriter:
    """An ``asyncio.StreamWriter`` into a fake's stdin."""

    def __init__(self, fake: _Fake) -> None:
        self._raw = _Writer(fake)

    def write(self, data: bytes) -> None:
        self._raw.write(data)

    def writelines(self, data: Sequence[bytes]) -> None:
        for chunk in data:
            self.write(chunk)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._raw.close()

    def close(self) -> None:
        self._raw.close()

    def is_closing(self) -> bool:
        return bool(self._raw.closed)

    async def wait_closed(self) -> None:
        await asyncio.sleep(0)


class FakeProcess:
    """What the patched ``asyncio.create_subprocess_exec``/``_shell`` return for a fake: an
    ``asyncio.subprocess.Process`` look-alike. ``wait`` sleeps (in the event loop) what is
    left of the fake's ``duration``, so ``asyncio.wait_for`` timeouts behave as for a real
    program (and a fake with ``duration=math.inf`` is waited for until it is signalled)."""

    def __init__(self, fake: _Fake, stdin: Any, stdout: Any, stderr: Any) -> None:
        self._fake = fake
        self.pid = fake.program.pid
        self.stdin = FakeStreamWriter(fake) if stdin == subprocess.PIPE else None
        self.stdout = FakeStreamReader(fake, "stdout") if stdout == subprocess.PIPE else None
        self.stderr = FakeStreamReader(fake, "stderr") if stderr == subprocess.PIPE else None

    @property
    def returncode(self) -> int | None:
        return self._fake.poll()

    async def wait(self) -> int:
        # Sleeps in short steps, so that a signal sent meanwhile ends the wait; a fake that
        # runs forever is waited for forever, as a real one (``asyncio.wait_for`` limits it).
        self._fake.observe()
        while self._fake.poll() is None:
            await asyncio.sleep(min(self._fake.remaining(), _ASYNC_STEP))
        return self._fake.wait(None)

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        if self.stdin is not None:
            if input:
                self.stdin.write(input)
            self.stdin.close()
        out = None if self.stdout is None else await self.stdout.read()
        err = None if self.stderr is None else await self.stderr.read()
        await self.wait()
        return out, err

    def send_signal(self, sig: int) -> None:
        self._fake.signal(sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<FakeProcess {self.pid}>"


#: How often an asyncio wait for a fake looks at it again, in seconds.
_ASYNC_STEP = 0.02
_REAL_EXEC = asyncio.create_subprocess_exec
_REAL_SHELL = asyncio.create_subprocess_shell


async def _start_async(
    real: Callable[..., Any], command: Any, shell: bool, real_args: tuple[Any, ...], kwds: Any
) -> Any:
    stdin, stdout, stderr = (kwds.get(k) for k in ("stdin", "stdout", "stderr"))
    spec = popen_spec(command, shell, kwds.get("cwd"), kwds.get("env"), encoding=None, errors=None)
    program, call = _program_for(spec, stdin == subprocess.PIPE)
    if program is None:
        token = _PASSING.set(True)
        try:
            return await real(*real_args, **kwds)
        finally:
            _PASSING.reset(token)
    if stderr == subprocess.STDOUT:
        program.merge()
    targets = {}
    for stream, target in (("stdout", stdout), ("stderr", stderr)):
        where = _to_target(target, stream)
        if where is not False and target != subprocess.STDOUT:
            targets[stream] = where
    fake = _Fake(program, command, call, targets)
    if stdin != subprocess.PIPE:
        fake.observe()
    await asyncio.sleep(0)
    return FakeProcess(fake, stdin, stdout, stderr)


async def fake_exec(program: Any, *args: Any, **kwds: Any) -> Any:
    """``asyncio.create_subprocess_exec`` while the patch is on."""
    return await _start_async(_REAL_EXEC, [program, *args], False, (program, *args), kwds)


async def fake_shell(cmd: Any, **kwds: Any) -> Any:
    """``asyncio.create_subprocess_shell`` while the patch is on."""
    return await _start_async(_REAL_SHELL, cmd, True, (cmd,), kwds)


# -- patching --------------------------------------------------------------------------------

_patch_lock = threading.Lock()
_patch_depth = 0
_aliases: list[tuple[ModuleType, str]] = []


def _set(module: ModuleType, name: str, value: object) -> None:
    # setattr: mypy rightly refuses assigning a class or another function to these names.
    setattr(module, name, value)


def _apply() -> None:
    """Patch subprocess and asyncio (and module-level aliases of Popen outside cmdrun)."""
    _set(subprocess, "Popen", FakePopen)
    for module in (asyncio, asyncio.subprocess):
        _set(module, "create_subprocess_exec", fake_exec)
        _set(module, "create_subprocess_shell", fake_shell)
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not isinstance(name, str) or name == "cmdrun" or name.startswith("cmdrun."):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if value is REAL_POPEN and module is not subprocess:
                namespace[attr] = FakePopen
                _aliases.append((module, attr))


def _undo() -> None:
    _set(subprocess, "Popen", REAL_POPEN)
    for module in (asyncio, asyncio.subprocess):
        _set(module, "create_subprocess_exec", _REAL_EXEC)
        _set(module, "create_subprocess_shell", _REAL_SHELL)
    for module, attr in _aliases:
        if getattr(module, attr, None) is FakePopen:
            setattr(module, attr, REAL_POPEN)
    _aliases.clear()


class SubprocessPatch:
    """The patch of ``subprocess`` and asyncio's subprocess functions, on from its
    creation; :meth:`undo` (or leaving it as a context manager) takes it off. Patches nest:
    the modules are restored when the last one is undone."""

    def __init__(self) -> None:
        global _patch_depth
        with _patch_lock:
            if _patch_depth == 0:
                _apply()
            _patch_depth += 1
        self._on = True

    def undo(self) -> None:
        """Take this patch off (again: nothing)."""
        global _patch_depth
        with _patch_lock:
            if not self._on:
                return
            self._on = False
            _patch_depth -= 1
            if _patch_depth == 0:
                _undo()

    def __enter__(self) -> SubprocessPatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.undo()
