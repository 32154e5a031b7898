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

from ._engine import execution
from ._result import Result
from ._spec import DeliverLine, Spec

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    from ._pump import Wait
    from ._session import Session
else:
    Protocol = object  # a plain base at run time; type checkers see typing's


class Launcher(Protocol):
    """Something that can carry out a checked :class:`Spec` (install it with
    :func:`using_launcher`).

    ``execution`` either returns the Result (a fake that answers at once), or is a
    generator that yields while the command runs and returns the Result (so that callers
    such as ``stream`` get lines as they arrive). What it yields is what its driver waits
    for before resuming it: ``(waiter, until)`` (see :class:`cmdrun._pump.Waiter`), or
    None for nothing. ``deliver(stream, line)`` must get each output line; it raises only
    for start-up errors (CommandNotFound, CommandNotExecutable, StartFailed), never for
    exit status.
    """

    def execution(
        self, spec: Spec, deliver: DeliverLine | None
    ) -> Generator[Wait, None, Result] | Result:
        """Run ``spec``, or start a generator that runs it."""
        ...

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue."""
        ...


class _Stepped(Protocol):
    """A launcher as callers drive it: ``execution`` always a generator."""

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
        """Run ``spec``: a generator that yields while it runs and returns the Result."""
        ...

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue."""
        ...


class _Adapted:
    """Any :class:`Launcher` as a :class:`_Stepped` one: a returned Result is wrapped in a
    generator that does not yield, and anything else is refused with a clear TypeError."""

    __slots__ = ("launcher",)

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
        outcome = self.launcher.execution(spec, deliver)
        if isinstance(outcome, Result):
            return outcome
        if not isinstance(outcome, Generator):
            raise TypeError(
                f"{type(self.launcher).__name__}.execution() returned {outcome!r}: a launcher "
                "must return a Result, or be a generator that returns one"
            )
        return (yield from outcome)

    def spawn(self, spec: Spec) -> Session:
        return self.launcher.spawn(spec)


class ProcessLauncher:
    """The real thing: runs the program as a child process."""

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
        return execution(spec, deliver)

    def spawn(self, spec: Spec) -> Session:
        from ._session import start_session

        return start_session(spec)


REAL = ProcessLauncher()
_launcher: ContextVar[_Stepped | None] = ContextVar("cmdrun_launcher", default=None)
#: The launcher used where no context chose one; test doubles replace it process-wide.
default_launcher: _Stepped = REAL


def current_launcher() -> _Stepped:
    """The launcher commands in this context go through."""
    return _launcher.get() or default_launcher


@contextlib.contextmanager
def using_launcher(launcher: Launcher, *, process_wide: bool = False) -> Iterator[Launcher]:
    """Route every command run in this context through ``launcher`` until the block ends.

    With ``process_wide``, threads that do not inherit this context (``threading.Thread``
    starts with an empty one) use it too.
    """
    global default_launcher
    stepped = REAL if launcher is REAL else _Adapted(launcher)
    token = _launcher.set(stepped)
    previous = default_launcher
    if process_wide:
        default_launcher = stepped
    try:
        yield launcher
    finally:
        if process_wide:
            default_launcher = previous
        _launcher.reset(token)


if TYPE_CHECKING:
    R = TypeVar("R")


def drive(steps: Generator[Wait, None, R]) -> R:
    """Drive a stepwise execution to its end, waiting here for what it yields, and return
    what it returns (the synchronous driver; :func:`cmdrun._aio.adrive` is the loop's)."""
    try:
        wait = next(steps)
        while True:  # advance(), inline: one call less per wait
            if wait is not None:
                try:
                    wait[0].step(wait[1])
                except BaseException as exc:
                    wait = steps.throw(exc)
                    continue
            wait = next(steps)
    except StopIteration as done:
        result: R = done.value
        return result
