"""cmdrun: run external programs from Python, safely.

Timeouts that stop the program and everything it started, input fed without deadlocks,
output as text without encoding crashes, and errors that say what went wrong.
"""

from ._errors import (
    CmdrunError,
    CommandFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandTimedOut,
)
from ._result import Result
from ._run import call, run

__version__ = "0.1.0"

__all__ = [
    "CmdrunError",
    "CommandFailed",
    "CommandNotExecutable",
    "CommandNotFound",
    "CommandTimedOut",
    "Result",
    "__version__",
    "call",
    "run",
]
