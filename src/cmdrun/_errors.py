"""The cmdrun exception tree, rooted in the stdlib so existing ``except`` clauses keep working.

::

    subprocess.SubprocessError
    └── CmdrunError
        ├── CommandNotFound        (also FileNotFoundError)  program not on PATH / no such file
        ├── CommandNotExecutable   (also OSError)            exists but cannot be executed
        ├── StartFailed            (also OSError)            the OS refused to start it (limits)
        ├── CommandFailed          (also CalledProcessError) non-zero exit or killed by a signal
        ├── CommandTimedOut        (also TimeoutExpired)     a timeout (total or idle) stopped it
        ├── ExpectTimeout          (also TimeoutError)       a session's expect() waited in vain
        ├── UnexpectedEOF          (also EOFError)           the output ended before a match
        ├── SessionClosed          (also BrokenPipeError)    sending to a closed or ended session
        └── ConnectionFailed       (also ConnectionError)    SSH could not reach or keep a host

``CommandFailed`` and ``CommandTimedOut`` carry the (partial) :class:`~cmdrun.Result` as
``.result`` and set the stdlib attributes (``returncode``, ``cmd``, ``output``, ``stderr``,
``timeout``). Every exception pickles, so it survives a trip through ``multiprocessing``.
"""

from __future__ import annotations

import errno
import re
import shlex
import signal
import subprocess
from collections.abc import Sequence

from ._pipeline import Pipeline

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from ._result import Result, Stage

#: How many lines of stderr a ``CommandFailed`` message quotes.
TAIL_LINES = 10
_TAIL_CHARS = 2000


class CmdrunError(subprocess.SubprocessError):
    """Base class of every error cmdrun raises about a command."""


def _located(where: str, message: str) -> str:
    """``message`` prefixed with where it happened (a pipeline's stage), if known."""
    return f"{where}: {message}" if where else message


def stage_name(index: int, count: int, args: Sequence[str]) -> str:
    """``stage 2 of 3 `gzip -9```: how messages name a stage of a pipeline."""
    return f"stage {index + 1} of {count} `{_quote(args)}`"


def in_stage(error: Exception, where: str) -> Exception:
    """``error`` (raised starting a program) again, its message naming the stage ``where``."""
    if isinstance(error, CommandNotFound):
        return CommandNotFound(error.program, error.path, where)
    if isinstance(error, (CommandNotExecutable, StartFailed)):
        return type(error)(error.program, error.reason, error.errno or 0, error.detail, where)
    return error


class CommandNotFound(CmdrunError, FileNotFoundError):
    """The program does not exist: not found on ``PATH``, or no file at the given path.

    Args:
        program: the program, as given (``argv[0]``).
        path: the ``PATH`` searched, or None when ``program`` is a path.
        where: the stage of a pipeline it was, as messages name it (``stage 2 of 3 ...``), or "".

    Attributes:
        program: as given; also the stdlib's ``filename``.
        path: as given.
        where: as given.
    """

    def __init__(self, program: str, path: str | None, where: str = "") -> None:
        self.program = program
        self.path = path
        self.where = where
        if "/" in program:
            message = f"command not found: {program!r} (no such file)"
        else:
            message = f"command not found: {program!r} (searched PATH={path or ''!r})"
        FileNotFoundError.__init__(self, errno.ENOENT, _located(where, message), program)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.program, self.path, self.where))


class _StartRefused(CmdrunError, OSError):
    """What the two errors below share: the program, why it did not start, and where (a
    pipeline's stage); the message starts with the subclass's ``_HEAD``."""

    _HEAD = ""

    def __init__(
        self, program: str, reason: str, err: int, detail: str = "", where: str = ""
    ) -> None:
        self.program = program
        self.reason = reason
        self.detail = detail
        self.where = where
        message = f"{self._HEAD} {program!r}: {reason}" + (f" ({detail})" if detail else "")
        OSError.__init__(self, err, _located(where, message), program)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.program, self.reason, self.errno, self.detail, self.where))


class CommandNotExecutable(_StartRefused):
    """The program exists but cannot be executed; ``reason`` says why. A
    :class:`CmdrunError` and an :class:`OSError`.

    Each argument is kept as the attribute of its name (``err`` as the stdlib's ``errno``).

    Args:
        program: the program, as given (``argv[0]``; also the stdlib's ``filename``).
        reason: ``"permission denied"``, ``"is a directory"``, ``"interpreter not found"``
            (a script whose ``#!`` line names a missing program), ``"exec format error"``,
            or the OS's own words.
        err: the error number ``exec`` reported.
        detail: what else is known (the file found, the missing interpreter), or "".
        where: the stage of a pipeline it was, as messages name it (``stage 2 of 3 ...``), or "".
    """

    _HEAD = "cannot execute"


class StartFailed(_StartRefused):
    """The program could not be started for a reason that is not the program's fault. A
    :class:`CmdrunError` and an :class:`OSError`.

    Nothing was left open or running. Each argument is kept as the attribute of its name
    (``err`` as the stdlib's ``errno``).

    Args:
        program: the program, as given (``argv[0]``; also the stdlib's ``filename``).
        reason: the limit that was hit: ``"argument list too long"`` (E2BIG),
            ``"out of file descriptors"`` (EMFILE/ENFILE), ``"out of processes"`` (EAGAIN
            from fork), ``"out of pseudo-terminals"``, or the OS's own words.
        err: the error number the OS reported.
        detail: by how much the limit was passed, when it is known, or "".
        where: the stage of a pipeline it was, as messages name it (``stage 2 of 3 ...``), or "".
    """

    _HEAD = "could not start"


# Control characters but newline and tab (C0, DEL, C1: a terminal acts on them) and lone
# surrogates (undecodable bytes under errors="surrogateescape", which cannot be printed).
# A pattern, compiled on first use (by re's own cache): not at import, which the CLI pays.
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"


def _escape_char(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (except newline and tab)
    and lone surrogates escaped, as ``\\x1b`` and ``\\udcff``."""
    return re.sub(_UNSAFE, _escape_char, text)


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip("\n").splitlines()[-lines:]
    out = "\n".join(kept)
    return out if len(out) <= _TAIL_CHARS else "..." + out[-_TAIL_CHARS:]


def _quote(args: Sequence[str] | Pipeline) -> str:
    """The command as a shell line, safe to print (arguments may hold escape sequences)."""
    return printable(str(args) if isinstance(args, Pipeline) else shlex.join(args))


def _named(args: Sequence[str] | Pipeline, host: str | None = None) -> str:
    """``command `ls -l``` or ``pipeline `a | b``` (``on web1`` when it ran there)."""
    kind = "pipeline" if isinstance(args, Pipeline) else "command"
    return f"{kind} `{_quote(args)}`" + ("" if host is None else f" on {printable(host)}")


def _cmd(args: Sequence[str] | Pipeline) -> list[str] | Pipeline:
    """The stdlib errors' ``cmd``: the argv as a list; a pipeline as it is."""
    return args if isinstance(args, Pipeline) else list(args)


def _failed_stage(result: Result) -> tuple[int, Stage] | None:
    """The stage of a pipeline that decided its status (the rightmost that failed)."""
    if not isinstance(result.args, Pipeline):
        return None
    stages = result.stages
    for index in range(len(stages) - 1, -1, -1):
        if not stages[index].ok:
            return index, stages[index]
    return None


def _with_tail(head: str, result: Result, stage: Stage | None = None) -> str:
    # With merged output, stderr went to stdout: quote that instead.
    name, text = ("stderr", result.stderr) if result.stderr else ("output", result.stdout)
    if stage is not None and stage.stderr:  # a failed stage: its own stderr
        name, text = "its stderr", stage.stderr
    tail = printable(_tail(text))
    if not tail:
        return head
    indented = "\n".join("  " + line for line in tail.splitlines())
    return f"{head}\n{name} (last lines):\n{indented}"


class CommandFailed(CmdrunError, subprocess.CalledProcessError):
    """The command exited with a non-zero status or was killed by a signal.

    Raised by ``check=True`` and :meth:`Result.check_returncode`; also a ``CalledProcessError``
    with its attributes.

    Args:
        result: what the command did.

    Attributes:
        result: the :class:`~cmdrun.Result`, with all the output kept.
        returncode: the exit status (``-N``: killed by signal N).
        cmd: the argv as a list (a :class:`~cmdrun.Pipeline` as it is).
        output: stdout as text (also ``stdout``).
        stderr: stderr as text.
    """

    def __init__(self, result: Result) -> None:
        subprocess.CalledProcessError.__init__(
            self,
            result.returncode,
            _cmd(result.args),  # type: ignore[arg-type]  # a Pipeline: run(exc.cmd) reruns it
            result.stdout,
            result.stderr,
        )
        self.result = result

    def __str__(self) -> str:
        failed = _failed_stage(self.result)
        if failed is None:
            named = _named(self.result.args, self.result.host)
            head = f"{named} {describe_returncode(self.result.returncode)}"
            return _with_tail(head, self.result)
        index, stage = failed
        where = stage_name(index, len(self.result.stages), stage.args)
        named = _named(self.result.args, self.result.host)
        head = f"{named} failed: {where} {_as_predicate(stage.returncode)}"
        return _with_tail(head, self.result, stage)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result,))


class CommandTimedOut(CmdrunError, subprocess.TimeoutExpired):
    """The command ran past its timeout, or wrote nothing for its ``idle_timeout``, and was
    stopped (with its process group); also a ``TimeoutExpired`` with its attributes.

    Args:
        result: what the command did before it was stopped.
        timeout: the limit that applied, in seconds.

    Attributes:
        result: the :class:`~cmdrun.Result`, with the output received before the stop;
            ``result.timeout_kind`` says which limit applied (``"total"`` or ``"idle"``).
        timeout: as given.
        cmd: the argv as a list (a :class:`~cmdrun.Pipeline` as it is).
        output: stdout as text (also ``stdout``).
        stderr: stderr as text.
    """

    def __init__(self, result: Result, timeout: float) -> None:
        subprocess.TimeoutExpired.__init__(
            self,
            _cmd(result.args),  # type: ignore[arg-type]  # a Pipeline: run(exc.cmd) reruns it
            timeout,
            result.stdout,
            result.stderr,
        )
        self.result = result

    def __str__(self) -> str:
        if self.result.timeout_kind == "idle":
            what = f"produced no output for {self.timeout:g} s"
        else:
            what = f"timed out after {self.timeout:g} s"
        head = (
            f"{_named(self.result.args, self.result.host)} {what} "
            f"and was stopped ({describe_returncode(self.result.returncode)})"
        )
        return _with_tail(head, self.result)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result, self.timeout))


def _session_message(head: str, args: Sequence[str], patterns: str, received: str) -> str:
    return (
        f"{head}\n  command: {_quote(args)}\n  expected: {patterns}\n"
        f'  last output: "{escape_tail(received)}"'
    )


def escape_tail(text: str, chars: int = 200) -> str:
    """The last ``chars`` characters with control characters escaped, for messages."""
    tail = text[-chars:]
    prefix = "..." if len(text) > chars else ""
    return prefix + tail.encode("unicode_escape").decode("ascii")


class _DialogueError(CmdrunError):
    """What the errors of a dialogue share: the command (``cmd``, the stdlib's name for it), the
    patterns waited for, and the output received and not matched (secrets masked)."""

    def __init__(self, cmd: Sequence[str], patterns: str, received: str, head: str) -> None:
        self.cmd = tuple(cmd)
        self.patterns = patterns
        self.received = received
        super().__init__(_session_message(head, self.cmd, patterns, received))

    def _detail(self) -> object:
        raise NotImplementedError

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cmd, self.patterns, self.received, self._detail()))


class ExpectTimeout(_DialogueError, TimeoutError):
    """``expect`` (or ``read``) found nothing matching before its timeout. A
    :class:`CmdrunError` and a :class:`TimeoutError`.

    Attributes:
        cmd: the command's argv.
        patterns: the patterns, as shown in the message.
        received: the output received and not matched (secrets masked).
        timeout: the timeout that applied, in seconds.
    """

    def __init__(
        self, cmd: Sequence[str], patterns: str, received: str, timeout: float | None
    ) -> None:
        self.timeout = timeout
        when = "no timeout" if timeout is None else f"{timeout:g} s"
        super().__init__(cmd, patterns, received, f"timed out after {when} waiting for output")

    def _detail(self) -> object:
        return self.timeout


def describe_returncode(returncode: int | None) -> str:
    """``exited with status N``, ``killed by SIGX`` or ``still running``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _as_predicate(returncode: int | None) -> str:
    """``exited with status N``, ``was killed by SIGX`` or ``is still running``."""
    described = describe_returncode(returncode)
    if returncode is None:
        return f"is {described}"
    return f"was {described}" if returncode < 0 else described


class UnexpectedEOF(_DialogueError, EOFError):
    """The program's output ended (it exited or closed it) before a pattern matched. A
    :class:`CmdrunError` and an :class:`EOFError`.

    Attributes:
        cmd: the command's argv.
        patterns: the patterns, as shown in the message.
        received: the output received and not matched (secrets masked).
        returncode: the exit status (``-N`` for signal N), or None if still running.
    """

    def __init__(
        self, cmd: Sequence[str], patterns: str, received: str, returncode: int | None
    ) -> None:
        self.returncode = returncode
        head = f"output ended before a match: the program {_as_predicate(returncode)}"
        super().__init__(cmd, patterns, received, head)

    def _detail(self) -> object:
        return self.returncode


class SessionClosed(CmdrunError, BrokenPipeError):
    """Something was sent to a session that was closed, or whose program ended and was
    waited for (``close``/``wait`` returned): nothing reads what is typed any more.

    A ``BrokenPipeError`` too, which is what writing to a finished program raised before.

    Attributes:
        cmd: the command's argv.
        action: what was attempted (``"sendline"``, ``"resize"``...).
        returncode: the program's exit status (``-N`` for signal N).
        closed: True after ``close()``; False after ``wait()`` saw it end.
    """

    def __init__(
        self, cmd: Sequence[str], action: str, returncode: int | None, closed: bool
    ) -> None:
        self.cmd = tuple(cmd)
        self.action = action
        self.returncode = returncode
        self.closed = closed
        how = "the session was closed" if closed else "the program ended and was waited for"
        message = (
            f"cannot {action}() to {shlex.join(self.cmd)}: {how} "
            f"(it {describe_returncode(returncode)})"
        )
        BrokenPipeError.__init__(self, errno.EPIPE, message)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cmd, self.action, self.returncode, self.closed))


class ConnectionFailed(CmdrunError, ConnectionError):
    """SSH could not connect to a host, log in, trust its key, or keep the connection.

    Never the remote command's own failure (``ssh`` exits 255 for both: cmdrun tells them
    apart). Each argument is kept as the attribute of its name.

    Args:
        host: the host, as the :class:`~cmdrun.Remote` was given it.
        kind: one of ``"connection refused"``, ``"authentication"``, ``"host key"``,
            ``"unknown host"``, ``"timeout"``, ``"unreachable"``, ``"connection lost"``,
            ``"session refused"``, ``"ssh failed"``.
        detail: what ssh said.
        result: the partial :class:`~cmdrun.Result` when the connection was lost while a
            command ran (its output so far is kept), else None.
    """

    def __init__(self, host: str, kind: str, detail: str, result: Result | None = None) -> None:
        ConnectionError.__init__(self, host, kind, detail)
        self.host = host
        self.kind = kind
        self.detail = detail
        self.result = result

    def __str__(self) -> str:
        if self.kind == "connection lost":
            head = f"ssh lost the connection to {printable(self.host)}"
        elif self.kind == "authentication":
            head = f"ssh could not log in to {printable(self.host)} (authentication)"
        elif self.kind == "host key":
            head = f"ssh does not trust the host key of {printable(self.host)}"
        else:
            head = f"ssh could not reach {printable(self.host)} ({self.kind})"
        if self.result is not None:
            head += f" while running {_named(self.result.args)}"
        detail = printable(_tail(self.detail.strip(), 3))
        return f"{head}: {detail}" if detail else head

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.host, self.kind, self.detail, self.result))
