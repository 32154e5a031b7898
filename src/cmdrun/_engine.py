"""The engine: run one started child to the end, with its output routed, and say what it did.

:func:`execution` opens the outputs and starts the child (:mod:`cmdrun._start`), hands its
I/O to a :class:`~cmdrun._pump.Pump` with the hooks the spec asks for (automatic answers,
live lines, ``tee``), and builds the :class:`~cmdrun.Result` (:func:`result_of`, the one
builder, also used by sessions and test doubles). Any exception in the parent while it runs
(Ctrl-C included) stops the group by the kill policy, reaps it and re-raises.
:func:`simulated` routes a test double's output through the same sinks and callbacks.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence

from ._defaults import SECRET_ECHO_WAIT
from ._kill import stop_now
from ._log import log_debug
from ._match import Pattern, Reply, Responder, describe
from ._output import LineFeed, StreamDecoder, as_terminal
from ._pipeline import StageGroup, pipefail
from ._platform import echo_is_off
from ._pump import AFTER_KILL, DataHook, Pump, Sink
from ._result import Result, Stage
from ._secret import Secret, seal, shown
from ._shield import SigintShield
from ._spec import DeliverLine, Spec
from ._ssh import returncode_of
from ._start import Started, _open_and_start, _Outputs, end_of_input
from ._stdin import FromAsync, FromChunks
from ._watchdog import WATCHDOG

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Literal, Protocol

    from ._pump import Wait
else:
    Protocol = object  # a plain base at run time; type checkers see typing's

#: A line left unfinished this long is delivered as it is (see ``LineFeed``).
IDLE_LINE = 0.1
#: How often a held-back Secret looks at the terminal's echo, in seconds.
ECHO_POLL = 0.01


class Typist(Protocol):
    """Where automatic answers are typed (a pump, real or fake)."""

    def write(self, data: bytes) -> None: ...


class SecretGate:
    """Types into a PTY in order, holding each :class:`Secret` back until the program has
    turned the terminal's echo off (it is then reading: a password reader that turns echo
    off with ``TCSAFLUSH`` throws away what was typed before), or ``SECRET_ECHO_WAIT``
    seconds have passed. What follows a held Secret waits behind it.

    Never blocks, so it may type from inside the pump's data hook: the engine's loop calls
    :meth:`flush` after each step of the pump while :attr:`holding`.
    """

    __slots__ = ("_fd", "_queue", "_since", "_typist")

    def __init__(self, typist: Typist, fd: int) -> None:
        self._typist = typist
        self._fd = fd
        self._queue: list[tuple[bytes, bool]] = []
        self._since = 0.0

    @property
    def holding(self) -> bool:
        return bool(self._queue)

    def write(self, data: bytes, secret: bool = False) -> None:
        if not self._queue and not (secret and not echo_is_off(self._fd)):
            self._typist.write(data)
            return
        if not self._queue:
            self._since = time.monotonic()
        self._queue.append((data, secret))

    def flush(self, now: float) -> None:
        """Type what is no longer held back."""
        while self._queue:
            data, secret = self._queue[0]
            if secret and now < self._since + SECRET_ECHO_WAIT and not echo_is_off(self._fd):
                return
            del self._queue[0]
            self._typist.write(data)
            self._since = now


class AutoAnswer:
    """The hook behind ``respond=``: watches the output as it comes and types each reply that
    falls due, followed by Enter. ``typist`` is set once the pump exists (the hook is made
    first), and ``gate`` too on a PTY, where a Secret waits for echo off (:class:`SecretGate`);
    ``on_secret`` hears of a :class:`Secret` just before it is typed.
    """

    __slots__ = ("_decoder", "_encoding", "_on_secret", "_responder", "gate", "typist")

    def __init__(
        self,
        respond: Sequence[tuple[Pattern, Reply]],
        encoding: str,
        errors: str,
        on_secret: Callable[[Secret], object] | None = None,
    ) -> None:
        self._responder = Responder(dict(respond))
        self._decoder = StreamDecoder(encoding, errors)
        self._encoding = encoding
        self._on_secret = on_secret
        self.typist: Typist | None = None
        self.gate: SecretGate | None = None

    def __call__(self, stream: str, data: bytes) -> None:
        assert self.typist is not None, "AutoAnswer.typist is set before output arrives"
        for prompt, reply in self._responder.feed(self._decoder.decode(stream, data)):
            log_debug("respond: %s -> %r", describe([prompt]), shown(reply))
            if isinstance(reply, Secret):
                if self._on_secret is not None:
                    self._on_secret(reply)
                data = seal(reply, self._encoding, "\n")
                if self.gate is not None:
                    self.gate.write(data, secret=True)
                else:
                    self.typist.write(data)
            elif self.gate is not None:
                self.gate.write((reply + "\n").encode(self._encoding))
            else:
                self.typist.write((reply + "\n").encode(self._encoding))


def _hooks(
    spec: Spec, deliver: DeliverLine | None
) -> tuple[DataHook | None, LineFeed | None, AutoAnswer | None]:
    """The pump hook for ``spec`` (automatic answers, live lines, tee), the line feed, and the
    answering hook, whose typist the caller sets once the pump exists."""
    if not (spec.respond or spec.tee or deliver is not None or spec.on_stdout or spec.on_stderr):
        return None, None, None  # the common case: the output is only kept
    hooks: list[DataHook] = []
    answer = None
    if spec.respond:
        answer = AutoAnswer(spec.respond, spec.encoding, spec.errors)
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
        return None, feed, answer
    if len(hooks) == 1:
        return hooks[0], feed, answer

    def all_hooks(stream: str, data: bytes) -> None:
        for hook in hooks:
            hook(stream, data)

    return all_hooks, feed, answer


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


def execution(spec: Spec, deliver: DeliverLine | None = None) -> Generator[Wait, None, Result]:
    """Run ``spec``; the generator yields each wait (``(pump, until)``: see
    :class:`~cmdrun._pump.Waiter`) to its driver and returns the Result.

    ``deliver(stream, line)`` gets every line as it arrives. Closing the generator early (or
    any exception, Ctrl-C included) stops the process group by the kill policy and reaps it;
    an event loop's driver instead cancels the pump and drives the generator to its end, so
    that it never blocks the loop.

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
        pump, feed, gate = _pump_for(spec, started, outputs, deliver)
        shield.release()  # a Ctrl-C held since the start is raised here, and handled below
        _feed_input(spec, pump, started, gate)
        deadline = math.inf if spec.timeout is None else started_at + spec.timeout
        max_wait = pump.max_wait
        for until in pump.drive(deadline, spec.drain_timeout):
            yield pump, until
            if feed is not None:
                feed.flush_idle(time.monotonic())
            if gate is not None:
                gate.flush(time.monotonic())
                pump.max_wait = min(max_wait, ECHO_POLL) if gate.holding else max_wait
        if feed is not None:
            feed.flush()
    except BaseException as exc:
        if child.returncode is None:
            first = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            if pump is not None and pump.on_loop and not isinstance(exc, GeneratorExit):
                yield from _stop_on_loop(pump, first, spec.kill_grace)
            else:
                stop_now(child, spec.kill_grace, first)
        raise
    finally:
        _release(spec, started, pump, outputs)
        shield.release()
    return result_of(
        spec,
        outputs.sinks,
        child.wait(),
        pid=child.pid,
        duration=time.monotonic() - started_at,
        timed_out=pump.timed_out,
        tty=started.tty,
        cancelled=pump.cancelled,
        timeout_kind=pump.timeout_kind,
        stages=_stages(spec, child) if isinstance(child, StageGroup) else None,
        ssh_status=True,
    )


def _stop_on_loop(pump: Pump, first: int, grace: float) -> Generator[Wait, None, None]:
    """Stop the group by the kill policy, yielding the waits: an event loop drives the run
    (a hook or a ``stdin=`` source raised), and must not be blocked for the grace. No hook
    sees the output any more (one of them may be what raised)."""
    try:
        pump.on_data = None
        pump.stopper.begin(first)
        for until in pump.drive(math.inf, AFTER_KILL):
            yield pump, until
    except BaseException:  # closed, or another exception meanwhile: stop it here
        if pump.child.returncode is None:
            stop_now(pump.child, grace, first)
        raise


def _stages(spec: Spec, group: StageGroup) -> tuple[Stage, ...]:
    """What each stage of a finished pipeline did, failures judged by the pipefail rule."""
    assert spec.pipeline is not None
    codes = [proc.wait() for proc in group.members]
    failed = pipefail(codes)[1]
    return tuple(
        Stage(
            argv,
            proc.pid,
            code,
            b"" if tap is None else tap.value(),
            ok=not bad,
            encoding=spec.encoding,
            errors=spec.errors,
        )
        for argv, proc, code, tap, bad in zip(
            spec.pipeline.commands, group.members, codes, group.stderr, failed, strict=True
        )
    )


def _pump_for(
    spec: Spec, started: Started, outputs: _Outputs, deliver: DeliverLine | None
) -> tuple[Pump, LineFeed | None, SecretGate | None]:
    """The pump that moves ``started``'s I/O, with ``spec``'s hooks and line feed, and on a
    PTY where a Secret is to be typed, the gate that holds it back until echo is off."""
    hook, feed, answer = _hooks(spec, deliver)
    pump = Pump(
        started.child,
        started.readers,
        started.writer,
        spec.kill_grace,
        on_data=hook,
        sinks=outputs.sinks,
        cancel=spec.cancel,
        redact=spec.redactor(),
        idle_timeout=spec.idle_timeout,
    )
    gate = None
    if started.tty and started.writer is not None and spec.secrets:
        gate = SecretGate(pump, started.writer)
    if answer is not None:
        answer.typist = pump
        answer.gate = gate
    if feed is not None:
        pump.max_wait = IDLE_LINE
    return pump, feed, gate


def _feed_input(spec: Spec, pump: Pump, started: Started, gate: SecretGate | None) -> None:
    """Queue ``input`` and, unless answers are due later, end the input. On a PTY, a Secret
    input and all that follows wait for the program to turn echo off (see SecretGate). Chunks
    from ``stdin=`` are written as the program reads them (see ``Pump.feed``)."""
    if isinstance(spec.stdin, (FromChunks, FromAsync)):
        pump.feed(spec.stdin.feed(spec.encoding))
        return
    data = spec.input_bytes()
    if gate is not None and data is not None:
        gate.write(data, secret=isinstance(spec.input, Secret))
        if not data.endswith(b"\n"):
            gate.write(started.eof or b"")  # the first EOF only ends the partial line
        if not spec.respond:
            gate.write(started.eof or b"")
        return
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


def result_of(
    spec: Spec,
    sinks: Mapping[str, Sink],
    returncode: int,
    *,
    pid: int,
    duration: float,
    timed_out: bool,
    tty: bool,
    cancelled: bool = False,
    timeout: float | Literal["spec"] | None = "spec",
    timeout_kind: Literal["total", "idle"] | None = None,
    stages: tuple[Stage, ...] | None = None,
    ssh_status: bool = False,
) -> Result:
    """The one Result builder, for runs, sessions and test doubles alike: the output is in
    ``sinks`` (masked by the pump already); ``timeout`` is the one that applied (default: the
    spec's); ``timeout_kind`` says which limit stopped it (None with ``timed_out``:
    ``"total"``); ``stages``, a pipeline's. ``ssh_status``: the statuses are a real
    ``ssh``'s, read as the remote command's (see :func:`cmdrun._ssh.returncode_of`); a
    test double's are the command's already."""
    remote = spec.remote
    if remote is not None and ssh_status:
        returncode = returncode_of(returncode)
        if stages is not None:
            stages = tuple(
                Stage(
                    argv,
                    stage.pid,
                    returncode_of(stage.returncode),
                    stage.stderr_bytes,
                    ok=stage.ok,
                    encoding=stage.encoding,
                    errors=stage.errors,
                )
                for argv, stage in zip(remote.shown.commands, stages, strict=True)  # type: ignore[union-attr]
            )
    return Result(
        spec.shown(),
        returncode,
        stdout_bytes=sinks["stdout"].value(),
        stderr_bytes=sinks["stderr"].value(),
        pid=pid,
        duration=duration,
        timed_out=timed_out,
        timeout=spec.timeout if timeout == "spec" else timeout,
        encoding=spec.encoding,
        errors=spec.errors,
        tty=tty,
        stdout_dropped=sinks["stdout"].dropped,
        stderr_dropped=sinks["stderr"].dropped,
        cancelled=cancelled,
        timeout_kind=timeout_kind,
        idle_timeout=spec.idle_timeout,
        stages=stages,
        host=None if remote is None else remote.host,
    )


def simulated(
    spec: Spec,
    chunks: list[tuple[str, bytes]],
    deliver: DeliverLine | None,
    *,
    returncode: int,
    duration: float,
    timed_out: bool = False,
    timeout_kind: Literal["total", "idle"] | None = None,
    pid: int = 0,
    stages: tuple[Stage, ...] | None = None,
) -> Result:
    """The Result a real run of ``spec`` would give for this output, for test doubles.

    The chunks go through the same sinks, callbacks, ``tee`` and file targets as a real
    program's output, so code under test sees no difference. On a PTY, streams merge and
    ``\\n`` becomes ``\\r\\n``, as the terminal would make them.
    """
    outputs = _Outputs(spec)
    hook, feed, _ = _hooks(spec.replace(respond=()), deliver)
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
    return result_of(
        spec,
        outputs.sinks,
        returncode,
        pid=pid,
        duration=duration,
        timed_out=timed_out,
        tty=spec.tty,
        timeout_kind=timeout_kind,
        stages=stages,
    )
