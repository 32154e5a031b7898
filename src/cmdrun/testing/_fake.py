"""``FakeCommands``: a launcher that answers cmdrun calls from registrations.

It plugs into cmdrun's launcher seam (no ``subprocess`` patching), so every entry point —
``run``, ``call``, ``spawn``, ``run(respond=...)``, ``run_many``, ``as_completed``, ``arun``,
``stream`` and the TTY fallback — reaches it, and everything above the launcher (argument
checks, callbacks, ``max_output``, file targets, ``check``, errors, logging) is the real code.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import re
import select
import shlex
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

from .._engine import AutoAnswer, simulated
from .._errors import (
    CmdrunError,
    CommandNotExecutable,
    CommandNotFound,
    StartFailed,
    in_stage,
    stage_name,
)
from .._launcher import REAL, Launcher, _Adapted, _Stepped, using_launcher
from .._pipeline import Pipeline, pipefail
from .._result import Result, Stage
from .._secret import Redactor, Secret, masked
from .._session import Session
from .._spec import DeliverLine, Spec
from .._start import Started
from .._stdin import FromFd, FromPath
from .._which import path_of
from ._dialogue import Exit, FakeHang, FakePump, Out, Step, check_steps


class _Any:
    """Matches any one argument (``ANY``) or all remaining ones (``ANY_REST``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ANY = _Any("ANY")
ANY_REST = _Any("ANY_REST")

Pattern = Sequence[Any] | str | re.Pattern[str]


class UnregisteredCommand(AssertionError):
    """The code under test ran a command no registration answers."""


class Call:
    """One call the code under test made, as :attr:`FakeCommands.calls` records it.

    Attributes:
        args: the argv (``/bin/sh -c CMD`` with ``shell=True``).
        input: the text fed to stdin (secrets masked), or None.
        env: the child's whole environment, or None when it inherits this process's.
        cwd: the working directory, or None.
        tty: whether it ran (or was to run) on a pseudo-terminal.
        timeout: its timeout, or None.
        kind: ``"run"`` (run, call, stream, run_many, arun, ...) or ``"spawn"``.
    """

    __slots__ = ("args", "cwd", "env", "input", "kind", "timeout", "tty")

    def __init__(self, spec: Spec, kind: str) -> None:
        self.args = spec.args
        self.input = input_text(spec)
        self.env = spec.env
        self.cwd = spec.cwd
        self.tty = spec.tty
        self.timeout = spec.timeout
        self.kind = kind

    @property
    def line(self) -> str:
        """The command line, shell-quoted."""
        return shlex.join(self.args)

    def __repr__(self) -> str:
        return f"Call({self.line!r}, kind={self.kind!r}, tty={self.tty})"


class Answer:
    """What a fake command does: output, exit status, and how long it (pretends to) take.

    ``duration`` is reported in the Result, never slept; a call whose ``timeout`` is shorter
    sees a timeout at once, and so does a call whose ``idle_timeout`` is shorter when the
    fake prints nothing. ``math.inf`` means the program hangs.
    """

    __slots__ = ("duration", "returncode", "stderr", "stdout")

    def __init__(
        self,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        returncode: int = 0,
        duration: float = 0.0,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
        self.duration = duration


def _matches(pattern: Pattern, args: tuple[str, ...]) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(shlex.join(args)) is not None
    parts = shlex.split(pattern) if isinstance(pattern, str) else list(pattern)
    for i, part in enumerate(parts):
        if part is ANY_REST:
            return True
        if i >= len(args):
            return False
        if part is not ANY and os.fsdecode(part) != args[i]:
            return False
    return len(parts) == len(args)


def _describe(pattern: Pattern) -> str:
    if isinstance(pattern, re.Pattern):
        return f"re({pattern.pattern!r})"
    if isinstance(pattern, str):
        return pattern
    return " ".join(repr(p) if isinstance(p, _Any) else shlex.quote(str(p)) for p in pattern)


class Registration:
    """One ``register`` call: which commands it answers, how, and how often."""

    def __init__(
        self,
        pattern: Pattern,
        answer: Answer,
        *,
        times: int | None,
        callback: Callable[[Call], object] | None,
        raises: BaseException | type[BaseException] | None,
        dialogue: list[Step] | None,
        tty: bool | None,
    ) -> None:
        self.pattern = pattern
        self.answer = answer
        self.times = times
        self.callback = callback
        self.raises = raises
        self.dialogue = dialogue
        self.tty = tty
        self.used = 0

    def answers(self, call: Call) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.tty is not None and self.tty != call.tty:
            return False
        return _matches(self.pattern, call.args)

    def describe(self) -> str:
        extra = []
        if self.tty is not None:
            extra.append(f"tty={self.tty}")
        if self.times is not None:
            extra.append(f"used {self.used}/{self.times}")
        return _describe(self.pattern) + (f" ({', '.join(extra)})" if extra else "")


def _answer_from(registration: Registration, call: Call) -> Answer:
    """The registration's answer, or what its callback computes from the call."""
    if registration.callback is None:
        return registration.answer
    computed = registration.callback(call)
    if computed is None:
        return registration.answer
    if isinstance(computed, Answer):
        return computed
    if isinstance(computed, (str, bytes)):
        return Answer(stdout=computed)
    if isinstance(computed, int):
        return Answer(returncode=computed)
    raise TypeError(f"a fake's callback must return Answer, str, int or None, not {computed!r}")


def _is_exception(value: object) -> bool:
    if isinstance(value, type):
        return issubclass(value, BaseException)
    return isinstance(value, BaseException)


def start_error(raises: BaseException | type[BaseException], spec: Spec) -> BaseException:
    """The exception a registration's ``raises`` stands for, for this call.

    A class is built with what a real failure to start ``spec`` would carry, so code that
    reads ``err.program`` or ``err.path`` sees values that make sense.

    Raises:
        TypeError: a class that can be built neither from a message nor without arguments.
    """
    if isinstance(raises, BaseException):
        return raises
    program = spec.args[0]
    if issubclass(raises, CommandNotFound):
        return raises(program, path_of(spec.env))
    if issubclass(raises, CommandNotExecutable):
        return raises(program, "permission denied", errno.EACCES)
    if issubclass(raises, StartFailed):
        return raises(program, "out of processes", errno.EAGAIN)
    try:
        return raises(f"fake `{shlex.join(spec.args)}` raises {raises.__name__}")
    except TypeError:
        pass
    try:
        return raises()
    except TypeError:
        raise TypeError(
            f"raises={raises.__name__}: it takes neither a message nor no arguments; "
            "register an instance instead"
        ) from None


def input_text(spec: Spec) -> str | None:
    """The input of a call as tests may see it: each line of a Secret masked, and any
    secret value inside plain input too."""
    if spec.input is None:
        return None
    if isinstance(spec.input, Secret):
        return masked(spec.input)
    text = spec.input.decode(spec.encoding, "replace")
    return Redactor(spec.secrets, spec.encoding).text(text)


def _bytes(text: str | bytes, encoding: str) -> bytes:
    return text.encode(encoding) if isinstance(text, str) else text


class FakeCommands:
    """Fake programs for code that runs commands with cmdrun.

    Use it as a context manager (or through the pytest fixture ``fake_commands``): while it
    is active, every command cmdrun runs — in any thread or asyncio task — is answered by a
    registration; a command nobody registered fails with :class:`UnregisteredCommand`,
    unless its program is named in ``allow_real``.

    Args:
        allow_real: program names (``argv[0]`` or its basename) that run for real.

    Attributes:
        strict: when the block ends without an exception, fail (AssertionError) if a
            registration with ``times`` answered fewer calls, or a fake dialogue was not
            played to its end. Off by default; the pytest ini option ``cmdrun_strict``
            turns it on for ``fake_commands``.
    """

    def __init__(self, allow_real: Sequence[str] = ()) -> None:
        self.allow_real: list[str] = list(allow_real)
        self.calls: list[Call] = []
        self.strict = False
        self._registrations: list[Registration] = []
        self._lock = threading.Lock()
        self._active: contextlib.ExitStack | None = None
        self._played: list[FakePump] = []  # every dialogue played, for strict checks
        # Where calls no registration answers go (a cassette), instead of failing.
        self._beneath: _Stepped | None = None

    # -- registering ----------------------------------------------------------------------

    def register(
        self,
        pattern: Pattern,
        *,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        returncode: int = 0,
        duration: float = 0,
        times: int | None = None,
        callback: Callable[[Call], object] | None = None,
        raises: BaseException | type[BaseException] | None = None,
        dialogue: Sequence[Step] | None = None,
        tty: bool | None = None,
    ) -> Registration:
        """Make commands matching ``pattern`` answer with the given output and status.

        Args:
            pattern: the argv to match exactly (a list; ``ANY`` matches one argument,
                ``ANY_REST`` all the rest; a string is split with shlex), or a compiled
                regex searched in the shell-quoted command line.
            stdout, stderr, returncode: what the program prints and its exit status
                (``-N``: killed by signal N).
            duration: seconds it takes, reported and never slept; longer than a call's
                timeout means that call times out (``math.inf``: it hangs). A fake with no
                output is silent all along: a duration longer than a call's
                ``idle_timeout`` stops it as idle (one with output is taken to talk
                throughout).
            times: answer at most this many calls (None: every call). Registrations of the
                same command answer in the order they were made.
            callback: ``callback(call)`` computes the answer from the :class:`Call`
                (args, input, env, cwd): return an :class:`Answer`, a str (stdout), an int
                (exit status) or None (use the values above).
            raises: an exception raised instead of starting. An instance is raised as it
                is; a class is built as a real failure to start would build it:
                ``CommandNotFound`` names the program and the PATH searched,
                ``CommandNotExecutable`` says "permission denied", ``StartFailed`` "out of
                processes"; any other class gets a message naming the command (or no
                arguments, if it takes none).
            dialogue: the program as a transcript of :class:`Out`, :class:`In` and
                :class:`Exit` steps, for ``spawn``/``expect`` and ``run(respond=...)``.
            tty: answer only calls on a pseudo-terminal (True) or on pipes (False).

        Returns:
            The :class:`Registration` (its ``used`` counts the calls it answered).

        Raises:
            TypeError: a pattern that is not a list, str or regex, or ``raises`` that is not
                an exception class or instance.
            ValueError: ``times`` that is not a positive int.
        """
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be a positive int or None, not {times!r}")
        if isinstance(pattern, Pipeline):
            raise TypeError(
                "register() fakes one program: register each stage of a pipeline on its own "
                "(a faked pipeline feeds each stage the output of the one before)"
            )
        if not isinstance(pattern, (str, re.Pattern)) and not isinstance(pattern, Sequence):
            raise TypeError(f"pattern must be an argv list, a str or a regex, not {pattern!r}")
        if raises is not None and not _is_exception(raises):
            raise TypeError(f"raises must be an exception (class or instance), not {raises!r}")
        registration = Registration(
            pattern,
            Answer(stdout, stderr, returncode, float(duration)),
            times=times,
            callback=callback,
            raises=raises,
            dialogue=None if dialogue is None else check_steps(dialogue),
            tty=tty,
        )
        with self._lock:
            self._registrations.append(registration)
        return registration

    # -- inspecting -----------------------------------------------------------------------

    def call_count(self, pattern: Pattern) -> int:
        """How many calls matched ``pattern`` (registered or not)."""
        return sum(1 for call in self.calls if _matches(pattern, call.args))

    def assert_called(self, pattern: Pattern, times: int | None = None) -> None:
        """Fail unless ``pattern`` was called (exactly ``times`` times, if given)."""
        count = self.call_count(pattern)
        if (times is None and count == 0) or (times is not None and count != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(
                f"expected {_describe(pattern)} to be called {wanted}, it was called "
                f"{count} time(s); calls were:\n" + self._list_calls()
            )

    def assert_not_called(self, pattern: Pattern) -> None:
        """Fail if ``pattern`` was called."""
        self.assert_called(pattern, times=0)

    def _list_calls(self) -> str:
        return "\n".join(f"  {c.line}" for c in self.calls) or "  (none)"

    # -- the launcher ---------------------------------------------------------------------

    def _find(self, call: Call) -> Registration | None:
        with self._lock:
            self.calls.append(call)
            for registration in self._registrations:
                if registration.answers(call):
                    registration.used += 1
                    return registration
        return None

    def _real(self, call: Call) -> bool:
        program = call.args[0]
        return program in self.allow_real or os.path.basename(program) in self.allow_real

    def _unregistered(self, call: Call) -> UnregisteredCommand:
        registered = "\n".join(f"  {r.describe()}" for r in self._registrations) or "  (none)"
        return UnregisteredCommand(
            f"no fake registered for `{call.line}` ({call.kind}, tty={call.tty}); "
            f"registered patterns:\n{registered}"
        )

    def _lookup(self, spec: Spec, kind: str) -> tuple[Registration | None, Call]:
        """The registration for this call (None: run it for real), and the recorded call."""
        call = Call(spec, kind)
        registration = self._find(call)
        if registration is None:
            if self._real(call) or self._beneath is not None:
                return None, call
            raise self._unregistered(call)
        if registration.raises is not None:
            raise start_error(registration.raises, spec)
        return registration, call

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[None, None, Result]:
        if spec.pipeline is not None:
            return (yield from self._pipeline(spec, deliver))
        registration, call = self._lookup(spec, "run")
        if registration is None:
            return (yield from self._next_layer(call).execution(spec, deliver))
        spec = _stdin_read(spec, call)
        if registration.dialogue is not None:
            return _play(spec, registration, deliver, self._played)
        return _answered(spec, _answer_from(registration, call), deliver)

    def _pipeline(self, spec: Spec, deliver: DeliverLine | None) -> Generator[None, None, Result]:
        """A pipeline: run for real when every stage may run for real; otherwise each stage
        is answered in turn (one allowed to run for real runs on its own), fed the output of
        the one before.

        Every stage is recorded as a :class:`Call` whose ``input`` is what it was fed, and
        every stage is looked up before any answers, so a registration's ``raises`` (or an
        unregistered stage) fails the whole pipeline before any callback runs, as a real
        pipeline checks every program before starting one. As for a real pipeline, a stage
        stopped by a limit stops them all (SIGTERM), the exit status is the pipefail one,
        and the caller sees the last stage's stdout and every stage's stderr.
        """
        assert spec.pipeline is not None
        stages = [_stage_spec(spec, argv, i) for i, argv in enumerate(spec.pipeline.commands)]
        if not any(self._registered(stage) for stage in stages):
            if all(self._real(Call(stage, "run")) for stage in stages):
                return (yield from REAL.execution(spec, deliver))
            if self._beneath is not None:
                return (yield from self._beneath.execution(spec, deliver))
        looked = []
        for index, stage in enumerate(stages):
            with _naming_stage(index, len(stages), stage.args):
                looked.append(self._lookup(stage, "run"))
        results: list[Result] = []
        for index, (registration, call) in enumerate(looked):
            stage = stages[index]
            if results:  # fed what the stage before it printed
                stage = stage.replace(input=results[-1].stdout_bytes)
                call.input = input_text(stage)
            elif registration is not None:
                stage = _stdin_read(stage, call)
            if registration is None:
                with _naming_stage(index, len(stages), stage.args):
                    results.append((yield from self._next_layer(call).execution(stage, None)))
            elif registration.dialogue is not None:
                results.append(_play(stage, registration, None, self._played))
            else:
                results.append(_answered(stage, _answer_from(registration, call), None))
        return _joined(spec, stages, results, deliver)

    def _registered(self, spec: Spec) -> bool:
        call = Call(spec, "run")
        with self._lock:
            return any(registration.answers(call) for registration in self._registrations)

    def spawn(self, spec: Spec) -> Session:
        registration, call = self._lookup(spec, "spawn")
        if registration is None:
            return self._next_layer(call).spawn(spec)
        steps = registration.dialogue
        if steps is None:  # a plain answer is a program that prints it and exits
            answer = _answer_from(registration, call)
            steps = [
                Out(answer.stdout if isinstance(answer.stdout, str) else answer.stdout.decode()),
                Out(
                    answer.stderr if isinstance(answer.stderr, str) else answer.stderr.decode(),
                    "stderr",
                ),
                Exit(answer.returncode),
            ]
        # A dialogue written by hand holds no echo: the fake echoes as a terminal would.
        return fake_session(spec, steps, echo=True, played=self._played)

    def _next_layer(self, call: Call) -> _Stepped:
        """Where a call no registration answers goes: the real program when ``allow_real``
        names it, else the layer beneath (a cassette)."""
        if self._beneath is None or self._real(call):
            return REAL
        return self._beneath

    def _answer_the_rest_with(self, launcher: Launcher) -> None:
        """Send calls no registration answers to ``launcher`` (the test's cassette) instead
        of failing them as unregistered; ``allow_real`` programs still run for real."""
        self._beneath = _Adapted(launcher)

    # -- strict checks --------------------------------------------------------------------

    def _strict_problems(self) -> list[str]:
        with self._lock:
            problems = [
                f"registration {_describe(r.pattern)} (times={r.times}) answered "
                f"{r.used} of {r.times} call(s)"
                for r in self._registrations
                if r.times is not None and r.used < r.times
            ]
            problems += [pump.unfinished() for pump in self._played if not pump.finished]
        return problems

    def _check_strict(self) -> None:
        """Fail when strict and something registered was not used up.

        Raises:
            AssertionError: naming each registration not used up and each dialogue not
                played to its end.
        """
        problems = self._strict_problems() if self.strict else []
        if problems:
            listed = "\n".join(f"  - {problem}" for problem in problems)
            raise AssertionError(
                f"strict fake_commands: {len(problems)} problem(s) at the end:\n{listed}"
            )

    # -- activation -----------------------------------------------------------------------

    def __enter__(self) -> FakeCommands:
        stack = contextlib.ExitStack()
        stack.enter_context(using_launcher(self, process_wide=True))
        self._active = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(check=exc_type is None)

    def _close(self, *, check: bool) -> None:
        """Put the previous launcher back; then, with ``check``, the strict checks."""
        if self._active is not None:
            self._active.close()
            self._active = None
        if check:
            self._check_strict()


@contextlib.contextmanager
def _naming_stage(index: int, count: int, argv: tuple[str, ...]) -> Iterator[None]:
    """Re-raise a failure to start a pipeline's stage with the stage named in its message."""
    try:
        yield
    except CmdrunError as exc:
        raise in_stage(exc, stage_name(index, count, argv)) from None


def _stdin_read(spec: Spec, call: Call) -> Spec:
    """``spec`` with what its ``stdin=`` source holds read into ``input``, as a fake's
    program would read it all; ``call.input`` shows it. Without a source: ``spec``."""
    source = spec.stdin
    if source is None:
        return spec
    if isinstance(source, FromPath):
        with open(source.path, "rb") as file:
            data = file.read()
    elif isinstance(source, FromFd):
        fd = source.fd()
        data = b"".join(iter(lambda: os.read(fd, 1 << 16), b""))
    else:
        feed = source.feed(spec.encoding)
        chunks = []
        try:
            while (chunk := feed.pull()) is not None:
                if chunk:
                    chunks.append(chunk)
                else:  # an async source: its next chunk is on the way
                    select.select([feed.wake_fd], [], [])
        finally:
            feed.close()
        data = b"".join(chunks)
    spec = spec.replace(stdin=None, input=data)
    call.input = input_text(spec)
    return spec


def _stage_spec(spec: Spec, argv: tuple[str, ...], index: int) -> Spec:
    """The spec of one stage of a faked pipeline: output kept in memory, no hooks."""
    return spec.replace(
        args=argv,
        pipeline=None,
        input=spec.input if index == 0 else None,
        stdin=spec.stdin if index == 0 else None,
        respond=(),
        stdout_to=None,
        stderr_to=None,
        max_output=None,
        on_stdout=None,
        on_stderr=None,
        tee=False,
        merge_stderr=False,
        capture=True,
    )


def _joined(
    spec: Spec, stages: list[Spec], results: list[Result], deliver: DeliverLine | None
) -> Result:
    """The Result of a faked pipeline from its stages' own Results."""
    stopped = [r for r in results if r.timed_out]
    first = min(stopped, key=lambda r: r.duration) if stopped else None
    codes = [r.returncode if first is None else -15 for r in results]
    status, failed = pipefail(codes)
    own_stderr = not spec.merge_stderr and spec.stderr_to is None
    chunks = [("stdout", results[-1].stdout_bytes)]
    chunks += [("stderr", r.stderr_bytes) for r in results]
    return simulated(
        spec,
        chunks,
        deliver,
        returncode=status,
        duration=max(r.duration for r in results) if first is None else first.duration,
        timed_out=first is not None,
        timeout_kind=None if first is None else "idle" if first.timeout_kind == "idle" else "total",
        pid=results[0].pid,
        stages=tuple(
            Stage(
                stage.args,
                r.pid,
                code,
                r.stderr_bytes if own_stderr else b"",
                ok=not bad,
                encoding=spec.encoding,
                errors=spec.errors,
            )
            for stage, r, code, bad in zip(stages, results, codes, failed, strict=True)
        ),
    )


def _stop(
    spec: Spec, silent: bool, duration: float
) -> tuple[float, Literal["total", "idle"]] | None:
    """When and why a fake running ``duration`` seconds is stopped (None: it is not).

    A fake that prints nothing is silent from its start, so an ``idle_timeout`` shorter than
    its duration stops it then; one that prints is taken to talk throughout its duration.
    The earlier limit wins, the total one on a tie, as with a real program.
    """
    limits: list[tuple[float, Literal["total", "idle"]]] = []
    if spec.timeout is not None:
        limits.append((spec.timeout, "total"))
    if silent and spec.idle_timeout is not None:
        limits.append((spec.idle_timeout, "idle"))
    due = [limit for limit in limits if duration > limit[0]]
    return min(due, key=lambda limit: limit[0]) if due else None


def _answered(spec: Spec, answer: Answer, deliver: DeliverLine | None) -> Result:
    """The Result a program with this answer would give, timeouts included."""
    enc = spec.encoding
    chunks = [("stdout", _bytes(answer.stdout, enc)), ("stderr", _bytes(answer.stderr, enc))]
    stop = _stop(spec, not any(data for _, data in chunks), answer.duration)
    if math.isinf(answer.duration) and stop is None:
        raise FakeHang(f"fake `{shlex.join(spec.args)}` hangs (duration=inf) and has no timeout")
    return simulated(
        spec,
        chunks,
        deliver,
        returncode=answer.returncode if stop is None else -15,
        duration=answer.duration if stop is None else stop[0],
        timed_out=stop is not None,
        timeout_kind=None if stop is None else stop[1],
    )


def _play(
    spec: Spec,
    registration: Registration,
    deliver: DeliverLine | None,
    played: list[FakePump],
) -> Result:
    """Play a dialogue for a one-shot run: input as typed-ahead lines, respond= answering.
    The pump is added to ``played`` (for strict checks)."""
    assert registration.dialogue is not None
    pump = FakePump(
        registration.dialogue,
        tty=False,  # simulated() below turns the output into a terminal's when spec.tty
        echo=False,
        encoding=spec.encoding,
        describe=f"`{shlex.join(spec.args)}`",
    )
    played.append(pump)
    if spec.respond:
        answer = AutoAnswer(spec.respond, spec.encoding, spec.errors, on_secret=pump.mark_secret)
        answer.typist = pump
        pump.on_data = answer
    data = spec.input_bytes()
    if data is not None:
        if isinstance(spec.input, Secret):
            pump.mark_secret(spec.input)
        pump.write(data)
    if not spec.respond:
        pump.close_input()
    # A dialogue that blocks on input waits forever: the earlier limit stops it.
    stop = _stop(spec, True, math.inf)
    timed_out = pump.run_to_end(math.inf if stop is None else 0.0, 0.0)
    out = pump.sinks["stdout"].value()
    err = pump.sinks["stderr"].value()
    return simulated(
        spec,
        [("stdout", out), ("stderr", err)],
        deliver,
        returncode=pump.child.wait(),
        duration=stop[0] if timed_out and stop is not None else 0.0,
        timed_out=timed_out,
        timeout_kind=stop[1] if timed_out and stop is not None else None,
        pid=pump.child.pid,
    )


class _FakeSession(Session):
    """A Session whose program is a transcript (see :mod:`._dialogue`)."""

    _pump: FakePump

    def _send(self, text: Any, end: str, action: str) -> str:
        if isinstance(text, Secret):
            self._pump.mark_secret(text)
        try:
            return super()._send(text, end, action)
        finally:
            self._pump.mark_secret(None)

    def interrupt(self) -> None:
        self._check_open("interrupt")
        if self.tty:
            self._pump.write(b"\x03")
        else:
            self._pump._finish(-2)

    def _finish(self, deadline: float, drain: float) -> bool:
        return self._pump.run_to_end(deadline, drain)

    def _set_size(self, rows: int, cols: int) -> None:
        if not self.tty:  # a transcript has no window to resize: only refuse as pipes do
            raise io.UnsupportedOperation(
                f"resize(): {self.args[0]!r} runs on pipes, which have no window size"
            )


def fake_session(
    spec: Spec,
    steps: Sequence[Step],
    *,
    echo: bool,
    played: list[FakePump] | None = None,
    where: str = "",
    canon: Callable[[str], str] | None = None,
) -> Session:
    """A :class:`Session` playing ``steps``, indistinguishable from a real one but for speed.

    Args:
        spec: the call.
        steps: the transcript.
        echo: echo typed text on a terminal.
        played: a list the pump is added to (for strict checks).
        where: added to the fake's description in messages (e.g. the cassette entry).
        canon: applied to each typed line before an ``In`` step checks it (a cassette's
            portable form).
    """
    pump = FakePump(
        steps,
        tty=spec.tty,
        echo=echo,
        encoding=spec.encoding,
        describe=f"`{shlex.join(spec.args)}`{where}",
    )
    pump.canon = canon
    if played is not None:
        played.append(pump)
    started = Started(pump.child, [], None, *((b"\x04", b"\x03") if spec.tty else ()))
    session = _FakeSession(spec, started, spec.timeout, pump)
    data = spec.input_bytes()
    if data is not None:
        if isinstance(spec.input, Secret):
            pump.mark_secret(spec.input)
        pump.write(data)
    return session
