"""cmdrun: run external programs from Python, safely.

Timeouts that stop the program and everything it started, input fed without deadlocks,
output as text without encoding crashes, errors that say what went wrong, and dialogues
with interactive programs over pipes or a pseudo-terminal.
"""

import os as _os
import sys as _sys

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from types import ModuleType

    from ._aio import arun, arun_many
    from ._asession import AsyncSession, Spawning, aspawn
    from ._astream import AsyncStream, astream
    from ._errors import (
        CmdrunError,
        CommandFailed,
        CommandNotExecutable,
        CommandNotFound,
        CommandTimedOut,
        ConnectionFailed,
        ExpectTimeout,
        SessionClosed,
        StartFailed,
        UnexpectedEOF,
    )
    from ._match import Match, clean
    from ._output import Line
    from ._parallel import as_completed, run_many
    from ._pipeline import Pipeline, pipe
    from ._remote import Remote, arun_on, run_on
    from ._result import Result, Stage
    from ._run import TTY_REFUSAL_MAX_OUTPUT, TTY_REFUSAL_WINDOW, TTY_REFUSALS, call, run
    from ._secret import Secret
    from ._session import PipeSession, PtySession, Session, spawn
    from ._stream import Stream, stream
del TYPE_CHECKING  # not a public name

__version__ = "0.1.0"
"""The version of cmdrun (of the ``cmdrun-py`` distribution that installs it)."""

#: Where each public name lives (the same as the imports above, for the type checkers).
#: ``import cmdrun`` imports none of these modules: cmdrun's pytest plugin is loaded into
#: every pytest run, including the many that never run a command, and must cost them nothing.
_API = {
    "._errors": (
        "CmdrunError",
        "CommandFailed",
        "CommandNotExecutable",
        "CommandNotFound",
        "CommandTimedOut",
        "ConnectionFailed",
        "ExpectTimeout",
        "SessionClosed",
        "StartFailed",
        "UnexpectedEOF",
    ),
    "._match": ("Match", "clean"),
    "._output": ("Line",),
    "._parallel": ("as_completed", "run_many"),
    "._pipeline": ("Pipeline", "pipe"),
    "._remote": ("Remote", "run_on"),
    "._result": ("Result", "Stage"),
    "._run": ("TTY_REFUSAL_MAX_OUTPUT", "TTY_REFUSAL_WINDOW", "TTY_REFUSALS", "call", "run"),
    "._secret": ("Secret",),
    "._session": ("PipeSession", "PtySession", "Session", "spawn"),
    "._stream": ("Stream", "stream"),
}


#: Modules of ``_API`` that the first use of a name of the others leaves out: ``run`` and the
#: errors it raises need none of them (each costs a few tenths of a millisecond to import,
#: ``typing`` and ``weakref`` with them). The first use of one of their own names imports
#: them, as does a fork (see ``register_at_fork`` below).
_LATER = frozenset({"._parallel", "._remote", "._session", "._stream"})

#: The async API, imported apart (only when used): see ``__getattr__``.
_ASYNC_API = {
    "._aio": ("arun", "arun_many"),
    "._asession": ("AsyncSession", "Spawning", "aspawn"),
    "._astream": ("AsyncStream", "astream"),
    "._remote": ("arun_on",),
}


def _import_api(later: bool = True) -> None:
    """Import every public name (but the asyncio API) into this module.

    All at once, on the first use of any (without ``later``, all but those of the ``_LATER``
    modules, which none of the others imports): from then on each public class and function
    says it lives here, whichever door the program came in by (tracebacks and reprs show
    cmdrun.CommandFailed, and pickles name a path that stays valid when the internals move:
    pickle finds classes by ``__module__`` and ``__qualname__``).
    """
    global _api_imported
    if _api_imported:
        return
    for module_name, names in _API.items():
        if not later and module_name in _LATER:
            continue
        module = _submodule(module_name)
        for name in names:
            value = getattr(module, name)
            if callable(value):
                value.__module__ = __name__
            # A setting assigned before the first use (``cmdrun.TTY_REFUSALS = [...]``
            # right after ``import cmdrun``) is the caller's: it stays.
            globals().setdefault(name, value)
    _api_imported = later


def _submodule(relative_name: str) -> "ModuleType":
    """``importlib.import_module(relative_name, "cmdrun")`` without importing ``importlib``
    (which Python's own start-up leaves out: about 0.5 ms)."""
    name = __name__ + relative_name
    __import__(name)
    return _sys.modules[name]


_api_imported = False
# A fork child must not import: a thread of the parent may have held an import lock when it
# forked, and the child would wait for it forever. So a process that imported cmdrun imports
# the rest before it forks, in the parent (once: later forks find it done).
_os.register_at_fork(before=_import_api)


def __getattr__(name: str) -> object:
    """Import the public API on first use; the async API (``arun``, ``aspawn``, ...) apart.

    ``import cmdrun`` alone imports nothing else, so loading the pytest plugin costs nothing
    to tests that do not use it; the first public name used imports the rest (but for the
    ``_LATER`` modules, which wait for one of their own names, or a fork). An async
    name imports its own module too, which imports neither asyncio nor trio: the loop that
    runs the call is found when it is awaited (see ``cmdrun._aloop``). It imports the rest
    all the same: an async program's first ``except cmdrun.StartFailed`` may run when no fd
    is left, where an import (which opens the module's file) would fail with EMFILE.
    """
    for module_name, names in _ASYNC_API.items():
        if name in names:
            _import_api()
            value = getattr(_submodule(module_name), name)
            value.__module__ = __name__
            globals()[name] = value
            return value
    for module_name, names in _API.items():
        if name in names:
            _import_api(later=module_name in _LATER)
            return globals()[name]
    raise AttributeError(f"module 'cmdrun' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for ``dir()`` and ``help()``)."""
    return list(__all__)


__all__ = [
    "AsyncSession",
    "AsyncStream",
    "CmdrunError",
    "CommandFailed",
    "CommandNotExecutable",
    "CommandNotFound",
    "CommandTimedOut",
    "ConnectionFailed",
    "ExpectTimeout",
    "Line",
    "Match",
    "PipeSession",
    "Pipeline",
    "PtySession",
    "Remote",
    "Result",
    "Secret",
    "Session",
    "SessionClosed",
    "Spawning",
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
    "arun_on",
    "as_completed",
    "aspawn",
    "astream",
    "call",
    "clean",
    "pipe",
    "run",
    "run_many",
    "run_on",
    "spawn",
    "stream",
]
