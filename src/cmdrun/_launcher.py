"""The launcher seam: every command cmdrun runs goes through the current launcher.

The default launcher starts real processes with the engine. Test doubles (the pytest
plugin, :mod:`cmdrun.testing`) install another launcher instead of patching ``subprocess``:
for the current context (a ``ContextVar``: per thread and per asyncio task), or for the
whole process, so that threads the code under test starts itself see it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from ._engine import execution
from ._result import Result
from ._spec import DeliverLine, Spec

if TYPE_CHECKING:
    from ._session import Session


class Launcher(Protocol):
    """Something that can carry out a checked :class:`Spec`."""

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[None, None, Result]:
        """Run ``spec``: a generator that yields while it runs and returns the Result.

        ``deliver(stream, line)`` gets each output line as it arrives. It raises only for
        start-up errors (CommandNotFound, CommandNotExecutable, StartFailed), never for
        exit status.
        """
        ...

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue."""
        ...


class ProcessLauncher:
    """The real thing: runs the program as a child process."""

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[None, None, Result]:
        return execution(spec, deliver)

    def spawn(self, spec: Spec) -> Session:
        from ._session import start_session

        return start_session(spec)


REAL = ProcessLauncher()
_launcher: ContextVar[Launcher | None] = ContextVar("cmdrun_launcher", default=None)
#: The launcher used where no context chose one; test doubles replace it process-wide.
default_launcher: Launcher = REAL


def current_launcher() -> Launcher:
    """The launcher commands in this context go through."""
    return _launcher.get() or default_launcher


@contextlib.contextmanager
def using_launcher(launcher: Launcher, *, process_wide: bool = False) -> Iterator[Launcher]:
    """Route every command run in this context through ``launcher`` until the block ends.

    With ``process_wide``, threads that do not inherit this context (``threading.Thread``
    starts with an empty one) use it too.
    """
    global default_launcher
    token = _launcher.set(launcher)
    previous = default_launcher
    if process_wide:
        default_launcher = launcher
    try:
        yield launcher
    finally:
        if process_wide:
            default_launcher = previous
        _launcher.reset(token)


def run_spec(spec: Spec, deliver: DeliverLine | None = None) -> Result:
    """Drive the current launcher's execution of ``spec`` to the end."""
    steps = current_launcher().execution(spec, deliver)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: Result = done.value
            return result
