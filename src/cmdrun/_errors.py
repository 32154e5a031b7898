"""The cmdrun exception tree, rooted in the stdlib so existing ``except`` clauses keep working.

::

    subprocess.SubprocessError
    └── CmdrunError
        ├── CommandNotFound        (also FileNotFoundError)  program not on PATH / no such file
        ├── CommandNotExecutable   (also OSError)            exists but cannot be executed
        ├── CommandFailed          (also CalledProcessError) non-zero exit or killed by a signal
        └── CommandTimedOut        (also TimeoutExpired)     the timeout stopped it

``CommandFailed`` and ``CommandTimedOut`` carry the (partial) :class:`~cmdrun.Result` as
``.result`` and set the stdlib attributes (``returncode``, ``cmd``, ``output``, ``stderr``,
``timeout``). Every exception pickles, so it survives a trip through ``multiprocessing``.
"""

from __future__ import annotations

import errno
import shlex
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._result import Result

#: How many lines of stderr a ``CommandFailed`` message quotes.
TAIL_LINES = 10
_TAIL_CHARS = 2000


class CmdrunError(subprocess.SubprocessError):
    """Base class of every error cmdrun raises about a command."""


class CommandNotFound(CmdrunError, FileNotFoundError):
    """The program does not exist: not found on ``PATH``, or no file at the given path."""

    def __init__(self, program: str, path: str | None) -> None:
        self.program = program
        self.path = path
        if "/" in program:
            message = f"command not found: {program!r} (no such file)"
        else:
            message = f"command not found: {program!r} (searched PATH={path or ''!r})"
        FileNotFoundError.__init__(self, errno.ENOENT, message, program)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.program, self.path))


class CommandNotExecutable(CmdrunError, OSError):
    """The program exists but cannot be executed; ``reason`` says why.

    ``reason`` is one of ``"permission denied"``, ``"is a directory"``,
    ``"interpreter not found"`` (a script whose ``#!`` line names a missing program) or
    ``"exec format error"``; ``errno`` is the error ``exec`` reported.
    """

    def __init__(self, program: str, reason: str, err: int, detail: str = "") -> None:
        self.program = program
        self.reason = reason
        self.detail = detail
        message = f"cannot execute {program!r}: {reason}" + (f" ({detail})" if detail else "")
        OSError.__init__(self, err, message, program)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.program, self.reason, self.errno, self.detail))


def _describe_exit(result: Result) -> str:
    sig = result.signal
    if sig is not None:
        return f"killed by {sig.name}"
    return f"exited with status {result.returncode}"


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip("\n").splitlines()[-lines:]
    out = "\n".join(kept)
    return out if len(out) <= _TAIL_CHARS else "..." + out[-_TAIL_CHARS:]


def _quote(args: Sequence[str]) -> str:
    return shlex.join(args)


def _with_tail(head: str, result: Result) -> str:
    # With merged output, stderr went to stdout: quote that instead.
    name, text = ("stderr", result.stderr) if result.stderr else ("output", result.stdout)
    tail = _tail(text)
    if not tail:
        return head
    indented = "\n".join("  " + line for line in tail.splitlines())
    return f"{head}\n{name} (last lines):\n{indented}"


class CommandFailed(CmdrunError, subprocess.CalledProcessError):
    """The command exited with a non-zero status or was killed by a signal."""

    def __init__(self, result: Result) -> None:
        subprocess.CalledProcessError.__init__(
            self, result.returncode, list(result.args), result.stdout, result.stderr
        )
        self.result = result

    def __str__(self) -> str:
        head = f"command `{_quote(self.result.args)}` {_describe_exit(self.result)}"
        return _with_tail(head, self.result)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result,))


class CommandTimedOut(CmdrunError, subprocess.TimeoutExpired):
    """The command ran past its timeout and was stopped (with its process group)."""

    def __init__(self, result: Result, timeout: float) -> None:
        subprocess.TimeoutExpired.__init__(
            self, list(result.args), timeout, result.stdout, result.stderr
        )
        self.result = result

    def __str__(self) -> str:
        head = (
            f"command `{_quote(self.result.args)}` timed out after {self.timeout:g} s "
            f"and was stopped ({_describe_exit(self.result)})"
        )
        return _with_tail(head, self.result)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result, self.timeout))
