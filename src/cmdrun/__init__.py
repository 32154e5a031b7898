"""cmdrun: run external programs from Python, safely.

Timeouts that stop the program and everything it started, input fed without deadlocks,
output as text without encoding crashes, errors that say what went wrong, and dialogues
with interactive programs over pipes or a pseudo-terminal.
"""

from ._errors import (
    CmdrunError,
    CommandFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandTimedOut,
    ExpectTimeout,
    UnexpectedEOF,
)
from ._match import Match, clean
from ._result import Result
from ._run import TTY_REFUSAL_WINDOW, TTY_REFUSALS, call, run
from ._secret import Secret
from ._session import PipeSession, PtySession, Session, spawn

__version__ = "0.1.0"

__all__ = [
    "CmdrunError",
    "CommandFailed",
    "CommandNotExecutable",
    "CommandNotFound",
    "CommandTimedOut",
    "ExpectTimeout",
    "Match",
    "PipeSession",
    "PtySession",
    "Result",
    "Secret",
    "Session",
    "TTY_REFUSALS",
    "TTY_REFUSAL_WINDOW",
    "UnexpectedEOF",
    "__version__",
    "call",
    "clean",
    "run",
    "spawn",
]
