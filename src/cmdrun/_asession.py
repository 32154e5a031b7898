"""Dialogues for async code: ``aspawn`` and :class:`AsyncSession`, on asyncio or trio.

An :class:`AsyncSession` is a :class:`~cmdrun.Session` driven on the event loop: every call
runs the session's own generator of waits (``_expect``, ``_read``, ``_send``, ``_wait``,
``_close``) through :class:`~cmdrun._aio.Driver`, so patterns, matching, errors, ``Secret``
masking, observers and both transports are the synchronous session's, line for line.

A call that is cancelled (``task.cancel()``, ``asyncio.timeout``, a trio cancel scope) ends
the session: its process group is stopped by the kill policy and reaped, shielded, before
the cancellation goes on. To wait for a prompt and carry on when it does not come, give
``expect`` a ``timeout`` instead: :class:`~cmdrun.ExpectTimeout` leaves the session running.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator
from types import TracebackType

from ._aio import Driver
from ._launcher import REAL, current_launcher
from ._match import Match, Pattern
from ._result import Result
from ._secret import Secret
from ._session import Session, SessionObserver, session_spec, start_session

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from typing_extensions import Unpack

    from ._args import Command
    from ._pump import Wait
    from ._session import SpawnOptions, Steps

    T = TypeVar("T")


class AsyncSession:
    """A running program you talk to from async code: ``await s.expect(...)``,
    ``await s.sendline(...)``; made by :func:`cmdrun.aspawn`, not built by hand.

    The same calls, arguments, results and errors as :class:`~cmdrun.Session`, awaited;
    ``async with`` stops the program's process group (if it still runs) and reaps it on
    exit. One task drives a session at a time.
    """

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def _drive(self, steps: Steps[T], ending: bool = False) -> T:
        return await Driver(steps, self._ending if ending else self._ended).run()

    def _ended(self, steps: Steps[Any], wait: Wait) -> tuple[Steps[Any], Wait]:
        """A call cancelled while it waited ends the session (kill policy, reaped)."""
        steps.close()
        return self._session._close(), None

    def _ending(self, steps: Steps[Any], wait: Wait) -> tuple[Steps[Any], Wait]:
        """``wait``/``aclose`` cancelled: stop the program now, then finish as they do."""
        self._session._pump.cancel()
        return steps, None

    # -- facts ----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The program's process id (also its process group id)."""
        return self._session.pid

    @property
    def alive(self) -> bool:
        """Whether the program is still running."""
        return self._session.alive

    @property
    def tty(self) -> bool:
        """Whether the program runs on a pseudo-terminal."""
        return self._session.tty

    @property
    def args(self) -> tuple[str, ...]:
        """The command's argv, as results and messages name it (a remote command's own, not
        its ``ssh``'s)."""
        return self._session.args

    def observe(self, observer: SessionObserver) -> None:
        """Show ``observer`` the rest of the dialogue: see :meth:`Session.observe`.

        Args:
            observer: an object with ``output``, ``typed`` and ``finished`` methods.
        """
        self._session.observe(observer)

    def resize(self, rows: int, cols: int) -> None:
        """Give the terminal a new size: see :meth:`Session.resize` (it never waits).

        Args:
            rows: the new number of rows.
            cols: the new number of columns.

        Raises:
            io.UnsupportedOperation: the session runs on pipes, which have no size.
            TypeError: ``rows`` or ``cols`` is not an int.
            ValueError: ``rows`` or ``cols`` is not from 1 to 65535.
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._session.resize(rows, cols)

    # -- the dialogue ---------------------------------------------------------------------

    async def expect(self, *patterns: Pattern, timeout: float | None = None) -> Match:
        """Wait until the output contains one of ``patterns``: see :meth:`Session.expect`.

        Args:
            *patterns: literal strings or compiled regexes; the match that starts earliest
                wins (ties: the first pattern given).
            timeout: seconds to wait; None means the session's default.

        Returns:
            A :class:`Match` with ``index``, ``before``, ``text`` and ``match``.

        Raises:
            ExpectTimeout: nothing matched in time (the session goes on).
            UnexpectedEOF: the output ended first.
        """
        return await self._drive(self._session._expect(patterns, timeout))

    async def read(self, timeout: float | None = None) -> str:
        """Everything the program prints until its output ends: see :meth:`Session.read`.

        Args:
            timeout: seconds to wait for the end of the output; None means the session's
                default.

        Returns:
            The text received and not consumed by an earlier ``expect`` or ``read``.

        Raises:
            ExpectTimeout: the output did not end within ``timeout``.
        """
        return await self._drive(self._session._read(timeout))

    async def send(self, text: str | bytes | bytearray | Secret) -> None:
        """Type ``text``: see :meth:`Session.send` (a Secret on a terminal waits, at most
        ``SECRET_ECHO_WAIT`` seconds, for the program to turn echo off).

        Args:
            text: what to type.

        Raises:
            SessionClosed, BrokenPipeError, TypeError: as :meth:`Session.send` does.
        """
        await self._drive(self._session._send(text, "", "send"))

    async def sendline(self, text: str | bytes | bytearray | Secret = "") -> None:
        """Type ``text`` and press Enter: see :meth:`Session.sendline`.

        Args:
            text: what to type before Enter (nothing: Enter alone).

        Raises:
            SessionClosed, BrokenPipeError, TypeError: as :meth:`Session.send` does.
        """
        await self._drive(self._session._sendline(text))

    async def sendcontrol(self, char: str) -> None:
        """Type Ctrl-``char``: see :meth:`Session.sendcontrol`.

        Args:
            char: the key pressed with Ctrl, one character.

        Raises:
            ValueError: ``char`` has no control key.
            TypeError: ``char`` is not a str.
            SessionClosed, BrokenPipeError: as :meth:`Session.send` does.
        """
        self._session.sendcontrol(char)

    async def sendeof(self) -> None:
        """Signal end of input: see :meth:`Session.sendeof`.

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._session.sendeof()

    async def interrupt(self) -> None:
        """Ctrl-C: see :meth:`Session.interrupt`.

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._session.interrupt()

    async def wait_noecho(self, timeout: float | None = None) -> bool:
        """Wait until the program turns the terminal's echo off: see
        :meth:`Session.wait_noecho`.

        Args:
            timeout: seconds to wait; None means the session's default.

        Returns:
            True once echo is off; False if it was still on after ``timeout``, or the
            terminal is gone. Always True at once over pipes.
        """
        return await self._drive(self._session._noecho_until(timeout))

    # -- ending ---------------------------------------------------------------------------

    async def wait(self, timeout: float | None = None) -> Result:
        """Wait for the program to exit by itself: see :meth:`Session.wait`.

        Args:
            timeout: seconds to wait; None means the session's default.

        Returns:
            The program's :class:`Result`.

        Raises:
            CommandTimedOut: it was still running after ``timeout`` (it was stopped).
        """
        return await self._drive(self._session._wait(timeout), ending=True)

    async def aclose(self) -> Result:
        """Stop the program if it still runs (kill policy), reap it, return its Result.

        Returns:
            The program's :class:`Result`; never raises for how the program ended.
        """
        return await self._drive(self._session._close(), ending=True)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return "<Async" + repr(self._session)[1:]


class Spawning:
    """What :func:`aspawn` returns: ``await`` it for the :class:`AsyncSession`, or use it in
    ``async with`` (which closes the session at the end of the block). Not built by hand.

    The program starts when it is first awaited or entered; awaited again, it gives the same
    session.
    """

    __slots__ = ("_session", "_spawn")

    def __init__(self, cmd: Command, options: SpawnOptions) -> None:
        self._spawn = (cmd, options)
        self._session: AsyncSession | None = None

    def __await__(self) -> Generator[Any, None, AsyncSession]:
        return self._start().__await__()

    async def _start(self) -> AsyncSession:
        if self._session is not None:  # awaited again: the same session, not a second program
            return self._session
        cmd, options = self._spawn
        spec, transcript = session_spec(cmd, options, "aspawn")
        launcher = current_launcher()
        if launcher is not REAL:  # a test double: it never waits
            session = launcher.spawn(spec)
        else:
            session = start_session(spec, type_input=False)
            try:
                await AsyncSession(session)._drive(session._type_input())
            except BaseException:
                if session._result is None:
                    await AsyncSession(session).aclose()
                raise
        if transcript is not None:
            session.observe(transcript)  # as spawn() does: once the input is typed
        self._session = AsyncSession(session)
        return self._session

    async def __aenter__(self) -> AsyncSession:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.aclose()

    def __repr__(self) -> str:
        cmd = self._spawn[0]
        return f"<aspawn {cmd if isinstance(cmd, str) else shlex.join(map(str, cmd))}>"


def aspawn(cmd: Command, **options: Unpack[SpawnOptions]) -> Spawning:
    """Start a program for a dialogue from async code (asyncio or trio).

    ``async with cmdrun.aspawn(cmd) as s:`` (closed at the end of the block), or
    ``s = await cmdrun.aspawn(cmd)`` (close it with ``await s.aclose()``).

    Args:
        cmd: as for :func:`spawn`.
        **options: the keyword options of :func:`spawn`, with the same meanings and
            defaults: ``tty``, ``term``, ``timeout``, ``cwd``, ``env``, ``inherit_env``,
            ``encoding``, ``errors``, ``dimensions``, ``kill_grace``, ``input``,
            ``die_with_parent``, ``echo``, ``pass_fds``, ``logfile``.

    Returns:
        A :class:`Spawning`: awaited, or entered with ``async with``, it gives the
        :class:`AsyncSession`.

    Raises:
        CommandNotFound, CommandNotExecutable, StartFailed, TypeError, ValueError: as
            :func:`spawn` does (when awaited or entered).
    """
    return Spawning(cmd, options)
