"""The launcher seam: every command cmdrun runs goes through the current launcher.

The default launcher starts real processes with the engine. Test doubles (the pytest
plugin) install another launcher for the current context instead of patching
``subprocess`` globally; a ``ContextVar`` keeps that per thread and per asyncio task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from ._engine import Spec, execute
from ._result import Result

if TYPE_CHECKING:
    from ._session import Session


class Launcher(Protocol):
    """Something that can carry out a checked :class:`Spec`."""

    def execute(self, spec: Spec) -> Result:
        """Run ``spec`` to completion; raise only for start-up errors."""
        ...

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue."""
        ...


class ProcessLauncher:
    """The real thing: runs the program as a child process."""

    def execute(self, spec: Spec) -> Result:
        return execute(spec)

    def spawn(self, spec: Spec) -> Session:
        from ._session import start_session

        return start_session(spec)


_REAL = ProcessLauncher()
_launcher: ContextVar[Launcher | None] = ContextVar("cmdrun_launcher", default=None)


def current_launcher() -> Launcher:
    """The launcher commands in this context go through."""
    return _launcher.get() or _REAL


@contextlib.contextmanager
def using_launcher(launcher: Launcher) -> Iterator[Launcher]:
    """Route every command run in this context through ``launcher`` until the block ends."""
    token = _launcher.set(launcher)
    try:
        yield launcher
    finally:
        _launcher.reset(token)
