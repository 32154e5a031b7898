"""cmdrun: run external programs from Python, safely.

Timeouts that stop the program and everything it started, input fed without deadlocks,
output as text without encoding crashes, errors that say what went wrong, and dialogues
with interactive programs over pipes or a pseudo-terminal.
"""

import typing as _typing

from ._errors import (
    CmdrunError,
    CommandFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandTimedOut,
    ExpectTimeout,
    SessionClosed,
    StartFailed,
    UnexpectedEOF,
)
from ._match import Match, clean
from ._output import Line
from ._parallel import as_completed, run_many
from ._pipeline import Pipeline, pipe
from ._result import Result, Stage
from ._run import TTY_REFUSAL_MAX_OUTPUT, TTY_REFUSAL_WINDOW, TTY_REFUSALS, call, run
from ._secret import Secret
from ._session import PipeSession, PtySession, Session, spawn
from ._stream import Stream, stream

if _typing.TYPE_CHECKING:
    from ._aio import arun, arun_many

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Import the asyncio API (``arun``, ``arun_many``) on first use.

    asyncio alone takes longer to import than the rest of cmdrun together, so
    ``import cmdrun`` leaves it out until a program asks for it.
    """
    if name in ("arun", "arun_many"):
        from . import _aio

        function = getattr(_aio, name)
        function.__module__ = __name__
        return function
    raise AttributeError(f"module 'cmdrun' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for ``dir()`` and ``help()``)."""
    return list(__all__)


__all__ = [
    "CmdrunError",
    "CommandFailed",
    "CommandNotExecutable",
    "CommandNotFound",
    "CommandTimedOut",
    "ExpectTimeout",
    "Line",
    "Match",
    "PipeSession",
    "Pipeline",
    "PtySession",
    "Result",
    "Secret",
    "Session",
    "SessionClosed",
    "Stage",
    "StartFailed",
    "Stream",
    "TTY_REFUSALS",
    "TTY_REFUSAL_MAX_OUTPUT",
    "TTY_REFUSAL_WINDOW",
    "UnexpectedEOF",
    "__version__",
    "arun",
    "arun_many",
    "as_completed",
    "call",
    "clean",
    "pipe",
    "run",
    "run_many",
    "spawn",
    "stream",
]

# Public classes and functions say they live here, not in the private module that defines
# them: tracebacks and reprs show cmdrun.CommandFailed, and pickles name a path that stays
# valid when the internals move (pickle finds classes by __module__ and __qualname__).
for _name in __all__:
    _value = globals().get(_name)
    if callable(_value):
        _value.__module__ = __name__
del _name, _value
