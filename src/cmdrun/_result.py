"""The immutable record of one finished command."""

from __future__ import annotations

import signal as _signal

from ._defaults import DEFAULT_ENCODING, DEFAULT_ERRORS
from ._errors import CommandFailed, CommandTimedOut
from ._frozen import Frozen, build

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any, Literal

    from ._pipeline import Pipeline

_REPR_CHARS = 60

_set = object.__setattr__  # how the frozen values below set their fields, once


def _short(data: bytes, encoding: str, errors: str) -> str:
    # Decode only a prefix: repr() of a 1 GiB result must stay cheap.
    if len(data) <= _REPR_CHARS:
        return repr(data.decode(encoding, errors))
    head = data[: _REPR_CHARS * 4].decode(encoding, errors)[:_REPR_CHARS]
    return f"{head!r}... ({len(data)} bytes)"


def _signal_of(returncode: int) -> _signal.Signals | None:
    if returncode >= 0:
        return None
    try:
        return _signal.Signals(-returncode)
    except ValueError:  # a real-time signal with no name
        return None


class Stage(Frozen):
    """What one stage of a pipeline did (``Result.stages``). Immutable.

    A command that is not a pipeline has one stage: itself. Made by cmdrun with the
    :class:`Result`; not built by hand.

    Attributes:
        args: the stage's argv.
        pid: the process id it ran as.
        returncode: its exit status; ``-N`` when killed by signal ``N``.
        stderr_bytes: what it wrote to stderr (empty when stderr went to a file or was
            merged into stdout).
        ok: True unless this stage failed by the pipefail rule (see :func:`cmdrun.pipe`):
            a stage before the last killed by SIGPIPE (or exiting 141) did not fail.
    """

    __slots__ = ("_text", "args", "encoding", "errors", "ok", "pid", "returncode", "stderr_bytes")

    args: tuple[str, ...]
    pid: int
    returncode: int
    stderr_bytes: bytes
    ok: bool
    encoding: str
    errors: str
    _text: list[str]

    def __init__(
        self,
        args: tuple[str, ...],
        pid: int,
        returncode: int,
        stderr_bytes: bytes = b"",
        *,
        ok: bool,
        encoding: str = DEFAULT_ENCODING,
        errors: str = DEFAULT_ERRORS,
    ) -> None:
        build(
            self,
            args=args,
            pid=pid,
            returncode=returncode,
            stderr_bytes=stderr_bytes,
            ok=ok,
            encoding=encoding,
            errors=errors,
            _text=[],
        )

    @property
    def stderr(self) -> str:
        """The stage's stderr as text (decoded as the Result's)."""
        if not self._text:
            self._text.append(self.stderr_bytes.decode(self.encoding, self.errors))
        return self._text[0]

    @property
    def signal(self) -> _signal.Signals | None:
        """The signal that killed the stage, or None if it exited."""
        return _signal_of(self.returncode)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stage):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (self.args, self.pid, self.returncode, self.stderr_bytes, self.ok)

    def __repr__(self) -> str:
        parts = [f"args={self.args!r}", f"pid={self.pid}", f"returncode={self.returncode}"]
        if self.signal is not None:
            parts.append(f"signal={self.signal.name}")
        if not self.ok:
            parts.append("ok=False")
        if self.stderr_bytes:
            parts.append(f"stderr={_short(self.stderr_bytes, self.encoding, self.errors)}")
        return f"Stage({', '.join(parts)})"

    def __reduce__(self) -> tuple[object, ...]:
        fields = (self.args, self.pid, self.returncode, self.stderr_bytes)
        return (_restore_stage, (fields, self.ok, self.encoding, self.errors))


def _restore_stage(
    fields: tuple[tuple[str, ...], int, int, bytes], ok: bool, encoding: str, errors: str
) -> Stage:
    return Stage(*fields, ok=ok, encoding=encoding, errors=errors)


_FIELDS = (
    "args",
    "returncode",
    "stdout_bytes",
    "stderr_bytes",
    "pid",
    "duration",
    "timed_out",
    "timeout",
    "encoding",
    "errors",
    "tty",
    "stdout_dropped",
    "stderr_dropped",
    "cancelled",
    "timeout_kind",
    "idle_timeout",
    "host",
)


class Result:
    """What a command did: exit status, output, timing. Immutable.

    Returned by :func:`run` and the other doors, and carried by :class:`CommandFailed` and
    :class:`CommandTimedOut` as ``result``; not built by hand.

    Field names follow :class:`subprocess.CompletedProcess`, so ported code reads the same.
    ``stdout``/``stderr`` are text, decoded on first access from the exact bytes kept in
    ``stdout_bytes``/``stderr_bytes`` (so a 1 GiB capture is not held twice unless asked).
    (A slotted class that refuses ``setattr``, as :mod:`cmdrun._frozen` explains: a frozen
    dataclass would cost ``import dataclasses``, about 4.5 ms, 15% of ``import cmdrun``.)

    Attributes:
        args: the argv that was executed (with ``shell=True``: ``/bin/sh -c CMD``); for a
            pipeline the :class:`Pipeline` (``str()`` of it reads as the shell line).
        returncode: the exit status; ``-N`` when killed by signal ``N``, as in subprocess;
            for a pipeline, the rightmost failed stage's (see :func:`cmdrun.pipe`).
        stdout_bytes: everything the program wrote to stdout (with merged stderr: both).
        stderr_bytes: everything the program wrote to stderr (empty when merged); for a
            pipeline, every stage's, in the order it arrived.
        pid: the process id the program ran as (a pipeline's first stage, which leads its
            process group).
        duration: wall-clock seconds from start until it was reaped.
        timed_out: True when cmdrun stopped it because a timeout expired (either kind).
        timeout: the timeout it ran with, in seconds (None: no limit).
        timeout_kind: which limit stopped it: ``"total"`` (``timeout``), ``"idle"``
            (``idle_timeout``: no output for that long), or None when none did.
        idle_timeout: the idle timeout it ran with, in seconds (None: no limit).
        encoding: the codec ``stdout``/``stderr`` are decoded with.
        errors: the codec error handler (``"replace"`` by default: decoding never raises).
        tty: True when the program ran on a pseudo-terminal (then ``stdout`` holds both
            streams, with ``\\r\\n`` line endings).
        stdout_dropped: bytes of stdout not kept because of ``max_output`` (the start of
            the output; ``stdout_bytes`` holds the last ``max_output`` bytes).
        stderr_dropped: the same for stderr.
        cancelled: True when cmdrun stopped it because the run was cancelled (another
            command failed under ``fail_fast``, or an async call was cancelled).
        stages: what each stage of a pipeline did (:class:`Stage`); for a single command,
            one Stage for the command itself.
        host: the host it ran on, as the :class:`~cmdrun.Remote` names it; None: here.
            ``pid`` is then the local ``ssh`` client's.
    """

    __slots__ = (*_FIELDS, "_stages", "_text")

    args: tuple[str, ...] | Pipeline
    returncode: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    pid: int
    duration: float
    timed_out: bool
    timeout: float | None
    encoding: str
    errors: str
    tty: bool
    stdout_dropped: int
    stderr_dropped: int
    cancelled: bool
    #: ``"total"``, ``"idle"`` or None (spelled ``str`` here: the hints of exported classes
    #: must resolve in the ``cmdrun`` namespace, which has no ``Literal``).
    timeout_kind: str | None
    idle_timeout: float | None
    host: str | None
    _stages: tuple[Stage, ...] | None
    _text: dict[str, str]

    def __init__(
        self,
        args: tuple[str, ...] | Pipeline,
        returncode: int,
        *,
        stdout_bytes: bytes = b"",
        stderr_bytes: bytes = b"",
        pid: int = 0,
        duration: float = 0.0,
        timed_out: bool = False,
        timeout: float | None = None,
        encoding: str = DEFAULT_ENCODING,
        errors: str = DEFAULT_ERRORS,
        tty: bool = False,
        stdout_dropped: int = 0,
        stderr_dropped: int = 0,
        cancelled: bool = False,
        timeout_kind: Literal["total", "idle"] | None = None,
        idle_timeout: float | None = None,
        stages: tuple[Stage, ...] | None = None,
        host: str | None = None,
    ) -> None:
        if timeout_kind is None:
            timeout_kind = "total" if timed_out else None
        else:
            timed_out = True
        # One call per field, spelled out: a Result is made after every run (see _FIELDS).
        _set(self, "args", args)
        _set(self, "returncode", returncode)
        _set(self, "stdout_bytes", stdout_bytes)
        _set(self, "stderr_bytes", stderr_bytes)
        _set(self, "pid", pid)
        _set(self, "duration", duration)
        _set(self, "timed_out", timed_out)
        _set(self, "timeout", timeout)
        _set(self, "encoding", encoding)
        _set(self, "errors", errors)
        _set(self, "tty", tty)
        _set(self, "stdout_dropped", stdout_dropped)
        _set(self, "stderr_dropped", stderr_dropped)
        _set(self, "cancelled", cancelled)
        _set(self, "timeout_kind", timeout_kind)
        _set(self, "idle_timeout", idle_timeout)
        _set(self, "host", host)
        _set(self, "_stages", stages)
        _set(self, "_text", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Result is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Result is immutable: cannot delete {name!r}")

    def _decode(self, name: str, data: bytes) -> str:
        text = self._text.get(name)
        if text is None:
            text = self._text[name] = data.decode(self.encoding, self.errors)
        return text

    @property
    def stdout(self) -> str:
        """The program's stdout as text."""
        return self._decode("stdout", self.stdout_bytes)

    @property
    def stderr(self) -> str:
        """The program's stderr as text."""
        return self._decode("stderr", self.stderr_bytes)

    @property
    def signal(self) -> _signal.Signals | None:
        """The signal that killed the program, or None if it exited."""
        return _signal_of(self.returncode)

    @property
    def stages(self) -> tuple[Stage, ...]:
        """One :class:`Stage` per stage of a pipeline, in order; for a single command, one
        describing the command itself (made on first access)."""
        stages = self._stages
        if stages is None:
            stages = self._guess_stages()
            object.__setattr__(self, "_stages", stages)
        return stages

    def _guess_stages(self) -> tuple[Stage, ...]:
        """The stages of a single command: the command itself. A pipeline's Result made
        without its stages (one that never started) gets each stage with the whole's status."""
        if isinstance(self.args, tuple):
            commands: tuple[tuple[str, ...], ...] = (self.args,)
            pid, stderr = self.pid, self.stderr_bytes
        else:
            commands, pid, stderr = self.args.commands, 0, b""
        return tuple(
            Stage(
                argv,
                pid,
                self.returncode,
                stderr,
                ok=self.returncode == 0,
                encoding=self.encoding,
                errors=self.errors,
            )
            for argv in commands
        )

    @property
    def ok(self) -> bool:
        """True when the program exited with status 0 on its own."""
        return self.returncode == 0 and not self.timed_out

    def check_returncode(self) -> None:
        """Raise unless :attr:`ok`.

        Raises:
            CommandTimedOut: the timeout stopped the program.
            CommandFailed: it exited non-zero or was killed by a signal.
        """
        if self.timed_out:
            raise CommandTimedOut(self, applied_limit(self))
        if self.returncode != 0:
            raise CommandFailed(self)

    def __repr__(self) -> str:
        parts = [f"args={self.args!r}", f"returncode={self.returncode}"]
        if self.host is not None:
            parts.insert(1, f"host={self.host!r}")
        if self.signal is not None:
            parts.append(f"signal={self.signal.name}")
        if self.timed_out:
            parts.append(f"timed_out=True, timeout_kind={self.timeout_kind!r}")
        if self.tty:
            parts.append("tty=True")
        if self.cancelled:
            parts.append("cancelled=True")
        if self._stages is not None and len(self._stages) > 1:
            codes = ", ".join(str(stage.returncode) for stage in self._stages)
            parts.append(f"stages=[{codes}]")
        parts += [
            f"stdout={_short(self.stdout_bytes, self.encoding, self.errors)}",
            f"stderr={_short(self.stderr_bytes, self.encoding, self.errors)}",
            f"duration={self.duration:.3f}",
        ]
        return f"Result({', '.join(parts)})"

    def __reduce__(self) -> tuple[object, ...]:
        fields = {name: getattr(self, name) for name in _FIELDS}
        if self._stages is not None and len(self._stages) > 1:
            fields["stages"] = self._stages
        return (_restore, (fields,))


def applied_limit(result: Result) -> float:
    """The seconds of the limit that stopped ``result``'s program (``timeout`` or
    ``idle_timeout``, as ``timeout_kind`` says), for :class:`CommandTimedOut`; 0.0 if none."""
    seconds = result.idle_timeout if result.timeout_kind == "idle" else result.timeout
    return 0.0 if seconds is None else seconds


def _restore(fields: dict[str, Any]) -> Result:
    """Unpickle a :class:`Result` (its constructor takes most fields by keyword)."""
    return Result(**fields)
