"""Sessions: prompt-by-prompt dialogues with a running program (``spawn``).

One :class:`Session` interface, two transports: :class:`PtySession` (a pseudo-terminal,
for programs that only prompt on a terminal or insist on one) and :class:`PipeSession`
(plain pipes; ``expect`` watches stdout and stderr together, in the order they are read —
when both have output at the same instant, stdout's comes first — while the ``Result`` keeps
them apart). They differ only in how end of input and Ctrl-C are
delivered; reading, matching, timeouts and the kill policy are shared.
"""

from __future__ import annotations

import abc
import atexit
import io
import math
import os
import shlex
import time
import warnings
from _weakrefset import WeakSet
from collections.abc import Generator, Mapping, Sequence
from types import TracebackType

from ._args import Command, Input, check_int, normalize_timeout
from ._defaults import (
    DEFAULT_DIMENSIONS,
    DEFAULT_ENCODING,
    DEFAULT_ERRORS,
    DEFAULT_KILL_GRACE,
    DEFAULT_SESSION_TIMEOUT,
    SECRET_ECHO_WAIT,
)
from ._engine import ECHO_POLL, result_of
from ._errors import CommandTimedOut, ExpectTimeout, SessionClosed, UnexpectedEOF
from ._kill import interrupt as interrupt_group
from ._kill import stop_now
from ._launcher import current_launcher, drive
from ._log import debug_enabled, log_debug
from ._match import Buffer, Match, Pattern, check_patterns, describe
from ._output import Chunks, StreamDecoder
from ._pipeline import refuse_pipeline
from ._platform import echo_is_off, terminal_has_group
from ._pump import AFTER_KILL, Pump, SessionPump
from ._result import Result
from ._secret import Redactor, Secret, masked, seal
from ._shield import SigintShield
from ._spec import (
    PTY_LINE_LIMIT,
    Spec,
    build_spec,
    line_limit_error,
    overlong_line,
    refuse_options,
    refuse_term_on_pipes,
)
from ._start import Started, end_of_input, start
from ._watchdog import WATCHDOG

#: How long ``expect`` waits for the exit status once the output has ended, to say in
#: ``UnexpectedEOF`` how the program ended.
_EXIT_AFTER_EOF = 0.5

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Protocol, TextIO, TypeVar

    from ._pump import Wait
    from ._ssh import Watch

    T = TypeVar("T")

    #: A session's wait, as a generator: it yields each wait on the pump to its driver (here
    #: :func:`~cmdrun._launcher.drive`; the event loop's in :mod:`cmdrun._asession`) and
    #: returns what the call returns. The sync and the async session are two drivers of these.
    Steps = Generator["Wait", None, T]
else:
    Protocol = object  # a plain base at run time; type checkers see typing's


class SessionObserver(Protocol):
    """Watches a session's dialogue as it happens (see :meth:`Session.observe`)."""

    def output(self, stream: str, data: bytes) -> None:
        """The program printed ``data`` on ``stream`` (secrets already masked)."""

    def typed(self, text: str, secret: bool) -> None:
        """``text`` was sent; ``secret``: it is the mask of a :class:`Secret`."""

    def finished(self, result: Result) -> None:
        """The session ended with ``result`` (called once)."""


class _Inbox:
    """Where the pump puts a session's output: raw chunks, decoded only when someone looks
    (see ``Session._decode``), and shown to observers as they come.

    A separate object, not a bound method of the session: the pump holding the session would
    make a reference cycle, and a dropped session would then wait for the cyclic garbage
    collector before its program is stopped.
    """

    __slots__ = ("observers", "raw")

    def __init__(self) -> None:
        self.raw: list[tuple[str, bytes]] = []
        self.observers: list[SessionObserver] = []

    def __call__(self, stream: str, data: bytes) -> None:
        self.raw.append((stream, data))
        for observer in self.observers:
            observer.output(stream, data)


#: The control keys that are not letters (pexpect's table): Ctrl-<key> gives this byte.
_CONTROL_KEYS = {
    **{"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31, "?": 127},
    **{"`": 0, "{": 27, "|": 28, "}": 29, "~": 30},  # the same keys with Shift
}


def control_byte(char: str) -> bytes:
    """The byte Ctrl-``char`` types on a terminal (``"c"`` → ``b"\\x03"``).

    Raises:
        TypeError: ``char`` is not a str.
        ValueError: ``char`` has no control key.
    """
    if not isinstance(char, str):
        raise TypeError(f"sendcontrol() takes a one-character str, not {char!r}")
    if len(char) == 1:
        if "a" <= char.lower() <= "z":
            return bytes([ord(char.lower()) - ord("a") + 1])
        if char in _CONTROL_KEYS:
            return bytes([_CONTROL_KEYS[char]])
    raise ValueError(
        f"sendcontrol() takes a letter or one of @ [ \\ ] ^ _ ? ` {{ | }} ~, not {char!r}"
    )


def _deadline(seconds: float | None) -> float:
    return math.inf if seconds is None else time.monotonic() + seconds


class Session(abc.ABC):
    """A running program you talk to: ``expect`` what it prints, ``send`` what to type.

    Made by :func:`cmdrun.spawn` (a :class:`PipeSession` or a :class:`PtySession`); not built
    by hand. A context manager that stops the program's process group (if it is still
    running) and reaps it on exit. Not thread-safe: one thread drives it.

    Each call that waits is written once, as a generator of waits (``_expect``, ``_read``,
    ...): the methods here drive them by blocking, :class:`cmdrun.AsyncSession` on an event
    loop.
    """

    def __init__(
        self,
        spec: Spec,
        started: Started,
        timeout: float | None,
        pump: SessionPump | None = None,
    ) -> None:
        self._spec = spec
        self._started = started
        self._timeout = timeout
        self._started_at = time.monotonic()
        self._buffer = Buffer()
        inbox = _Inbox()
        self._raw = inbox.raw
        self._decoder = StreamDecoder(spec.encoding, spec.errors)
        # The pump masks secrets before anything sees the output; sendline(Secret) teaches it.
        self._redact = Redactor(spec.secrets, spec.encoding)
        if pump is None:
            sinks = {"stdout": Chunks(), "stderr": Chunks()}
            pump = Pump(
                started.child, started.readers, started.writer, spec.kill_grace, sinks=sinks
            )
        pump.redact = self._redact
        pump.on_data = inbox
        self._pump: SessionPump = pump
        self._observers = inbox.observers
        self._last_line: str | None = None
        self._line_typed = 0  # bytes of the line being typed, for the terminal's line limit
        self._result: Result | None = None
        self._closed = False
        self._owner = os.getpid()
        #: A remote command's watch session (see cmdrun._remote), ended with the session.
        self._watch: Watch | None = None
        _open_sessions.add(self)

    def _decode(self) -> None:
        """Move what arrived into the text buffer, decoding each stream incrementally
        (consecutive chunks of one stream are joined and decoded in one go)."""
        raw = self._raw
        if len(raw) <= 1:  # a dialogue's usual case: nothing new, or one chunk
            if raw:
                stream, data = raw.pop()
                self._buffer.add(self._decoder.decode(stream, data))
            return
        decode = self._decoder.decode
        start = 0
        for i in range(1, len(raw) + 1):
            if i == len(raw) or raw[i][0] != raw[start][0]:
                run = raw[start][1] if i - start == 1 else b"".join(d for _, d in raw[start:i])
                self._buffer.add(decode(raw[start][0], run))
                start = i
        raw.clear()

    # -- facts ----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The program's process id (also its process group id)."""
        return self._started.child.pid

    @property
    def alive(self) -> bool:
        """Whether the program is still running."""
        return self._started.child.poll() is None

    @property
    def tty(self) -> bool:
        """Whether the program runs on a pseudo-terminal."""
        return self._started.tty

    @property
    def args(self) -> tuple[str, ...]:
        """The command's argv, as results and messages name it (a remote command's own, not
        its ``ssh``'s)."""
        shown = self._spec.shown()
        assert isinstance(shown, tuple)  # a session runs one command, never a pipeline
        return shown

    def observe(self, observer: SessionObserver) -> None:
        """Show ``observer`` the rest of the dialogue, for recorders and tracers.

        From now on ``observer.output(stream, data)`` gets every chunk the program prints,
        with secrets masked as in the Result; ``observer.typed(text, secret)`` gets what is
        sent (the text of a :class:`Secret` as its mask, with ``secret=True``; bytes decoded,
        errors replaced; a line's end separately); and ``observer.finished(result)`` is
        called once, when the session ends. An observer must not raise: it runs inside the
        session's own calls. The cassettes of :mod:`cmdrun.testing` record sessions this way.

        Args:
            observer: any object with the three methods ``output``, ``typed`` and
                ``finished`` (the ``SessionObserver`` protocol).
        """
        self._observers.append(observer)

    # -- reading --------------------------------------------------------------------------

    def _seconds(self, timeout: float | None) -> float | None:
        """The timeout that applies to one call: ``timeout``, or the session's default."""
        return self._timeout if timeout is None else normalize_timeout(timeout)

    def expect(self, *patterns: Pattern, timeout: float | None = None) -> Match:
        """Wait until the output contains one of ``patterns``; consume up to its end.

        Args:
            patterns: literal strings or compiled regexes; the match that starts earliest
                wins (ties: the first pattern given).
            timeout: seconds to wait; None means the session's default.

        Returns:
            A :class:`Match` with ``index``, ``before``, ``text`` and ``match``.

        Raises:
            ExpectTimeout: nothing matched in time (the message shows what arrived).
            UnexpectedEOF: the output ended first (the message says how the program ended).
        """
        return drive(self._expect(patterns, timeout))

    def _expect(self, patterns: tuple[Pattern, ...], timeout: float | None) -> Steps[Match]:
        checked = check_patterns(patterns)
        seconds = self._timeout if timeout is None else normalize_timeout(timeout)
        deadline = _deadline(seconds)
        pump = self._pump
        while True:
            if self._raw:
                self._decode()
            found = self._buffer.search(checked, self._last_line)
            if found is not None:
                return self._matched(found)
            if pump.eof:
                raise (yield from self._eof_error(describe(checked)))
            if time.monotonic() >= deadline:
                raise self._timeout_error(describe(checked), seconds)
            yield pump, deadline

    def _type_input(self) -> Steps[None]:
        """Type ``spawn``'s ``input``: a Secret once the program turned echo off (bounded)."""
        data = self._spec.input_bytes()
        if data is not None:
            if isinstance(self, PtySession):
                self._typing(data)
            if isinstance(self._spec.input, Secret):
                yield from self._noecho(_deadline(SECRET_ECHO_WAIT))
            self._pump.write(data)

    def _matched(self, found: Match) -> Match:
        if debug_enabled():
            log_debug(
                "expect: %s matched %r (pid %d)", describe([found.pattern]), found.text, self.pid
            )
        return found

    def _received(self) -> str:
        self._decode()
        return self._buffer.text

    def _timeout_error(self, patterns: str, seconds: float | None) -> ExpectTimeout:
        return ExpectTimeout(self.args, patterns, self._received(), seconds)

    def _eof_error(self, patterns: str) -> Steps[UnexpectedEOF]:
        until = time.monotonic() + _EXIT_AFTER_EOF
        while not self._pump.exited and time.monotonic() < until:
            yield self._pump, until
        self._decode()
        self._buffer.add(self._decoder.flush())
        return UnexpectedEOF(self.args, patterns, self._received(), self._started.child.returncode)

    def read(self, timeout: float | None = None) -> str:
        """Everything the program prints from here until its output ends.

        Args:
            timeout: seconds to wait for the end of the output; None means the session's
                default.

        Returns:
            The text received and not consumed by an earlier ``expect`` or ``read``.

        Raises:
            ExpectTimeout: the output did not end within ``timeout`` (default: the session's).
        """
        return drive(self._read(timeout))

    def _read(self, timeout: float | None) -> Steps[str]:
        seconds = self._seconds(timeout)
        deadline = _deadline(seconds)
        while not self._pump.eof:
            if time.monotonic() >= deadline:
                raise self._timeout_error("EOF", seconds)
            yield self._pump, deadline
        self._decode()
        self._buffer.add(self._decoder.flush())
        return self._buffer.take_all()

    # -- writing --------------------------------------------------------------------------

    def send(self, text: str | bytes | bytearray | Secret) -> None:
        """Type ``text`` (no newline added): a str in the session's encoding, bytes exactly
        as they are. A :class:`Secret` is masked everywhere else.

        Args:
            text: what to type.

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
            BrokenPipeError: the program's input is closed (``sendeof`` on pipes).
            TypeError: ``text`` is not str, bytes, bytearray or Secret.
        """
        drive(self._send(text, "", "send"))

    def sendline(self, text: str | bytes | bytearray | Secret = "") -> None:
        """Type ``text`` and press Enter (one write, so the line arrives whole).

        Args:
            text: what to type before Enter (nothing: Enter alone).

        Raises:
            SessionClosed, BrokenPipeError, TypeError: as :meth:`send` does.
        """
        self._last_line = drive(self._send(text, "\n", "sendline"))

    def _sendline(self, text: str | bytes | bytearray | Secret) -> Steps[None]:
        self._last_line = yield from self._send(text, "\n", "sendline")

    def _send(self, text: str | bytes | bytearray | Secret, end: str, action: str) -> Steps[str]:
        """Type ``text`` then ``end``; return ``text`` as logs and recordings show it."""
        encoding = self._spec.encoding
        if isinstance(text, Secret):
            self._redact.add(text)  # before writing: a terminal echoes it at once
            shown = masked(text)
        elif isinstance(text, str):
            shown = self._redact.text(text)
        elif isinstance(text, (bytes, bytearray)):
            text = bytes(text)
            shown = self._redact.text(text.decode(encoding, "replace"))
        else:
            raise TypeError(f"{action}() takes str, bytes or Secret, not {type(text).__name__}")
        if self._result is not None:
            self._check_open(action)  # raises
        if not self._pump.writable:
            raise BrokenPipeError(f"cannot send to {self.args[0]!r}: its input is closed")
        if isinstance(text, Secret):
            # A program that prints its prompt, then turns echo off with TCSAFLUSH, throws
            # away what was typed in between: on a terminal, wait until it reads (bounded).
            yield from self._noecho(_deadline(SECRET_ECHO_WAIT))
            data: bytes = seal(text, encoding, end)
        elif isinstance(text, bytes):
            data = text + end.encode(encoding)
        else:
            data = (text + end).encode(encoding)
        if isinstance(self, PtySession):  # a terminal holds lines of limited length
            self._typing(data)
        if debug_enabled():
            log_debug("send: %r (pid %d)", shown + end, self.pid)
        for observer in self._observers:
            observer.typed(shown, isinstance(text, Secret))
            if end:
                observer.typed(end, False)
        self._pump.write(data)
        return shown

    def wait_noecho(self, timeout: float | None = None) -> bool:
        """Wait until the program turns the terminal's echo off, as a password reader does
        just before it reads (pexpect's ``waitnoecho``). Output keeps being read meanwhile.

        ``sendline``/``send`` of a :class:`Secret`, and a Secret ``input``, already wait so,
        for at most ``SECRET_ECHO_WAIT`` seconds: call this for a longer wait, or before
        typing plain text that must not be echoed.

        Args:
            timeout: seconds to wait; None means the session's default.

        Returns:
            True once echo is off; False if it was still on after ``timeout``, or the
            terminal is gone. Always True at once over pipes, which never echo.
        """
        return drive(self._noecho_until(timeout))

    def _noecho_until(self, timeout: float | None) -> Steps[bool]:
        return (yield from self._noecho(_deadline(self._seconds(timeout))))

    def _noecho(self, deadline: float) -> Steps[bool]:
        """Wait until echo is off, or ``deadline``: pipes never echo."""
        return True
        yield  # a generator, like the terminal's

    def sendeof(self) -> None:
        """Signal end of input (Ctrl-D on a terminal; closing stdin on pipes).

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._check_open("sendeof")
        end_of_input(self._pump, self._started)
        self._line_typed = 0  # Ctrl-D hands the partial line to the program

    @abc.abstractmethod
    def interrupt(self) -> None:
        """Ctrl-C: the terminal's interrupt character, or SIGINT to the group on pipes.

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """

    # -- controls (resize, control keys, the closed state) --------------------------------

    def sendcontrol(self, char: str) -> None:
        """Type Ctrl-``char``, as pexpect's ``sendcontrol``: ``"c"`` is ``\\x03``, ``"d"``
        ``\\x04``, ``"z"`` ``\\x1a``, ``"["`` ESC, ``"?"`` DEL, ``"@"`` NUL (letters in either
        case). On a terminal the line discipline acts on it (Ctrl-C interrupts, Ctrl-D ends
        a line or the input); on pipes the byte is just written to stdin.

        Args:
            char: the key pressed with Ctrl, one character.

        Raises:
            ValueError: ``char`` has no control key (a letter, or one of
                ``@ [ \\ ] ^ _ ?`` and their shifted twins).
            TypeError: ``char`` is not a str.
            SessionClosed, BrokenPipeError: as :meth:`send` does.
        """
        drive(self._send(control_byte(char), "", "sendcontrol"))

    def resize(self, rows: int, cols: int) -> None:
        """Give the terminal a new size; the program gets ``SIGWINCH`` (on a PTY only).

        Args:
            rows: the new number of rows.
            cols: the new number of columns.

        Raises:
            io.UnsupportedOperation: the session runs on pipes, which have no size.
            TypeError, ValueError: ``rows`` or ``cols`` is not an int from 1 to 65535.
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        for value, name in ((rows, "rows"), (cols, "cols")):
            if check_int(value, name, 1) > 0xFFFF:
                raise ValueError(f"{name} must be <= 65535, not {value}")
        self._check_open("resize")
        self._set_size(rows, cols)

    @abc.abstractmethod
    def _set_size(self, rows: int, cols: int) -> None: ...

    def _check_open(self, action: str) -> None:
        """Raise :class:`SessionClosed` once ``close`` or ``wait`` has ended the session.

        What was received and not consumed stays readable: ``read()`` after ``close()``
        returns it (once), ``expect`` still searches it.
        """
        if self._result is not None:
            raise SessionClosed(self.args, action, self._result.returncode, self._closed)

    # -- ending ---------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Result:
        """Wait for the program to exit by itself and return its :class:`Result`.

        Args:
            timeout: seconds to wait; None means the session's default.

        Returns:
            The program's :class:`Result` (a non-zero exit is no error here: look at
            ``returncode``, or call ``check_returncode()``).

        Raises:
            CommandTimedOut: it was still running after ``timeout`` (default: the
                session's), so its process group was stopped.
        """
        return drive(self._wait(timeout))

    def _wait(self, timeout: float | None) -> Steps[Result]:
        if self._result is None:
            seconds = self._seconds(timeout)
            timed_out = yield from self._finish(_deadline(seconds), self._spec.drain_timeout)
            self._result = self._make_result(seconds if timed_out else None, timed_out)
            self._notify_finished()
        if self._result.timed_out:
            raise CommandTimedOut(self._result, self._result.timeout or 0.0)
        return self._result

    def close(self) -> Result:
        """Stop the program if it is still running (kill policy), reap it, return its Result.

        Afterwards every sending method raises :class:`SessionClosed`; :meth:`read` still
        returns what was received and not consumed. Closing again returns the same Result.

        Returns:
            The program's :class:`Result`; never raises for how the program ended.
        """
        return drive(self._close())

    def _close(self) -> Steps[Result]:
        self._closed = True
        if self._result is None:
            yield from self._finish(time.monotonic(), AFTER_KILL)
            self._result = self._make_result(None, False)
            self._notify_finished()
        return self._result

    def _notify_finished(self) -> None:
        assert self._result is not None
        for observer in self._observers:
            observer.finished(self._result)

    def _finish(self, deadline: float, drain: float) -> Steps[bool]:
        """Run to the end, stopping the program at ``deadline``; True if it was stopped
        there (not because an async call was cancelled: that is no timeout). A command on
        another host that was stopped here is stopped there too (its ``ssh`` only was)."""
        stopped = yield from self._run_out(deadline, drain)
        remote = self._spec.remote
        if remote is not None:
            try:
                if self._pump.stopped:
                    yield from remote.link.cleanup(remote, self._spec.kill_grace)
            finally:
                watch, self._watch = self._watch, None
                if watch is not None:
                    watch.end()
        return stopped

    def _run_out(self, deadline: float, drain: float) -> Steps[bool]:
        pump = self._pump
        try:
            for until in pump.drive(deadline, drain):
                yield pump, until
            return pump.stopped and not pump.cancelled
        except BaseException:
            if self._started.child.returncode is None:
                stop_now(self._started.child, self._spec.kill_grace)
            raise
        finally:
            with SigintShield():
                self._pump.close()
            _open_sessions.discard(self)
            child = self._started.child
            if self._spec.die_with_parent and child.returncode is not None:
                WATCHDOG.forget(child.pid)

    def __del__(self) -> None:
        # A session dropped while its program runs would leak the program, a zombie and fds.
        # Only the process that started it may stop it (not a fork child holding a copy).
        if getattr(self, "_result", True) is None and self._owner == os.getpid():
            warnings.warn(
                f"{self!r} was never closed: stopping it now",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )
            self.close()

    def _make_result(self, timeout: float | None, timed_out: bool) -> Result:
        child = self._started.child
        return result_of(
            self._spec,
            self._pump.sinks,
            child.wait(),
            pid=child.pid,
            duration=time.monotonic() - self._started_at,
            timed_out=timed_out,
            tty=self.tty,
            timeout=timeout,
            ssh_status=not getattr(child, "fake", False),
        )

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._result is None and self.alive else "finished"
        kind = "pty" if self.tty else "pipes"
        return f"<{type(self).__name__} pid={self.pid} {kind} {state}: {shlex.join(self.args)}>"


class PipeSession(Session):
    """A session over pipes: stdin, and stdout/stderr watched together.

    Made by :func:`cmdrun.spawn` (``tty=False``, or the fallback of ``tty="auto"``); not
    built by hand.
    """

    def interrupt(self) -> None:
        """Send SIGINT to the program's process group (pipes have no Ctrl-C to type).

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._check_open("interrupt")
        interrupt_group(self.pid)

    def _set_size(self, rows: int, cols: int) -> None:
        raise io.UnsupportedOperation(
            f"resize(): {self.args[0]!r} runs on pipes, which have no window size; "
            "spawn it with tty=True (a pseudo-terminal) to resize it"
        )


class PtySession(Session):
    """A session on a pseudo-terminal: the program sees a real terminal.

    Made by :func:`cmdrun.spawn` (``tty=True``, or ``tty="auto"`` when it can); not built by
    hand.

    A terminal in canonical mode (where programs read whole lines) holds at most 4095
    bytes of the line being typed (Linux) and drops the rest without a word, so ``send``
    and ``sendline`` raise ``ValueError`` instead of typing a line that would not fit,
    counting what earlier sends typed of the same line. A program that turned canonical
    mode off (``stty raw``, full-screen programs) takes any length.
    """

    def _typing(self, data: bytes) -> None:
        """Refuse ``data`` if it makes a line the terminal would cut; count the line."""
        if self._line_typed + len(data) > PTY_LINE_LIMIT:
            length = overlong_line(data, self._line_typed)
            if length is not None and self._canonical():
                raise line_limit_error(
                    length,
                    f"the text sent to {self.args[0]!r}",
                    "send it over pipes (spawn(tty=False)), give it in a file, or split the line",
                )
        if data.endswith(b"\n"):  # sendline's: the line is handed over whole
            self._line_typed = 0
            return
        ends = max(data.rfind(b"\n"), data.rfind(b"\r"), data.rfind(b"\x04"))
        self._line_typed = self._line_typed + len(data) if ends < 0 else len(data) - ends - 1

    def _canonical(self) -> bool:
        from ._pty import canonical

        assert self._started.writer is not None
        return canonical(self._started.writer)

    def interrupt(self) -> None:
        """Type the terminal's interrupt character (Ctrl-C), which signals the foreground
        group; SIGINT to the program's group if it has not made the terminal its own yet.

        Raises:
            SessionClosed: the session was closed, or its program ended and was waited for.
        """
        self._check_open("interrupt")
        assert self._started.intr is not None
        assert self._started.writer is not None
        if not terminal_has_group(self._started.writer):
            # Just started: the child has not made the PTY its terminal yet (see _pty).
            interrupt_group(self.pid)
            return
        self._pump.write(self._started.intr)
        self._line_typed = 0  # Ctrl-C throws the line away

    def _noecho(self, deadline: float) -> Steps[bool]:
        pump = self._pump
        master = self._started.writer
        while True:
            if master is None or not pump.writable:
                return False
            if echo_is_off(master):
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            yield pump, min(deadline, now + ECHO_POLL)

    def _set_size(self, rows: int, cols: int) -> None:
        from ._pty import set_window_size

        assert self._started.writer is not None
        set_window_size(self._started.writer, rows, cols)


class _Transcript:
    """A ``logfile=``: the dialogue as text, what was printed and what was typed, in order."""

    __slots__ = ("_decoder", "_file")

    def __init__(self, file: TextIO, encoding: str, errors: str) -> None:
        if isinstance(file, (io.RawIOBase, io.BufferedIOBase)) or not callable(
            getattr(file, "write", None)
        ):
            raise TypeError(f"logfile must be a text file (opened with 'w' or 'a'), not {file!r}")
        self._file = file
        self._decoder = StreamDecoder(encoding, errors)

    def output(self, stream: str, data: bytes) -> None:
        self._write(self._decoder.decode(stream, data))

    def typed(self, text: str, secret: bool) -> None:
        self._write(text)

    def finished(self, result: Result) -> None:
        self._write(self._decoder.flush())

    def _write(self, text: str) -> None:
        if text:
            self._file.write(text)
            self._file.flush()


def spawn(
    cmd: Command,
    *,
    tty: bool = True,
    term: str | None = None,
    timeout: float | None = DEFAULT_SESSION_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    encoding: str = DEFAULT_ENCODING,
    errors: str = DEFAULT_ERRORS,
    dimensions: tuple[int, int] = DEFAULT_DIMENSIONS,
    kill_grace: float = DEFAULT_KILL_GRACE,
    input: Input | Secret | None = None,
    die_with_parent: bool = False,
    echo: bool = True,
    pass_fds: Sequence[int] = (),
    logfile: TextIO | None = None,
) -> Session:
    """Start a program for a dialogue.

    Args:
        cmd: as for :func:`cmdrun.run` (a string is split with shlex, no shell).
        tty: run it on a pseudo-terminal (echo on, ``\\r\\n`` line endings, stdout and
            stderr merged); False: over pipes.
        term: ``TERM`` on the pseudo-terminal, as for :func:`cmdrun.run`: None gives
            ``"dumb"`` (plain prompts and lines) unless ``env`` sets ``TERM``; give a real
            type such as ``"xterm-256color"`` to drive a full-screen program.
        timeout: the default for ``expect``/``read``/``wait``, in seconds (None: no limit).
        cwd: as for :func:`cmdrun.run`.
        env: as for :func:`cmdrun.run`.
        inherit_env: as for :func:`cmdrun.run`.
        encoding: as for :func:`cmdrun.run`.
        errors: as for :func:`cmdrun.run`.
        kill_grace: as for :func:`cmdrun.run`.
        dimensions: the terminal's ``(rows, columns)``.
        input: text typed right away (before any prompt); a :class:`Secret` is typed once
            the program turns echo off (at most ``SECRET_ECHO_WAIT`` seconds later).
        die_with_parent: as for :func:`cmdrun.run`.
        pass_fds: as for :func:`cmdrun.run`.
        echo: False turns the terminal's echo off before the program starts (pexpect's
            ``echo=False``), so nothing typed is echoed, not even a first line typed before
            the program could turn it off itself. cmdrun then cannot see when a password
            reader starts reading: a Secret is typed at once. Ignored over pipes.
        logfile: a text file (``sys.stdout``, ``open(path, "w")``, ``io.StringIO()``) that
            gets the dialogue as it happens, as pexpect's ``logfile``: what the program
            prints (decoded, secrets masked) and what is typed (a :class:`Secret` as its
            mask), in order, flushed after every write and never closed by the session. On
            a PTY what is typed shows twice: as typed, then as the terminal echoes it.

    Returns:
        A :class:`PtySession` or :class:`PipeSession`; use it as a context manager.

    Raises:
        CommandNotFound, CommandNotExecutable, StartFailed, TypeError, ValueError: as for
            ``run``; TypeError also for a pipeline (a dialogue is with one program);
            ValueError also for a ``tty`` that is not True or False (there is no
            ``"auto"``: a dialogue cannot be replayed on a PTY), for ``term`` with
            ``tty=False``, and for ``input`` with a line longer than a terminal holds.
            TypeError also for a ``logfile`` that is not a text file.
    """
    spec, transcript = session_spec(
        cmd,
        {
            "tty": tty,
            "term": term,
            "timeout": timeout,
            "cwd": cwd,
            "env": env,
            "inherit_env": inherit_env,
            "encoding": encoding,
            "errors": errors,
            "dimensions": dimensions,
            "kill_grace": kill_grace,
            "input": input,
            "die_with_parent": die_with_parent,
            "echo": echo,
            "pass_fds": pass_fds,
            "logfile": logfile,
        },
        "spawn",
    )
    session = current_launcher().spawn(spec)
    if transcript is not None:
        session.observe(transcript)  # before the first step: nothing has been read yet
    return session


#: The keyword options of :func:`spawn` (and ``aspawn``), checked by tests against both.
SPAWN_OPTIONS = frozenset(
    {
        "tty",
        "term",
        "timeout",
        "cwd",
        "env",
        "inherit_env",
        "encoding",
        "errors",
        "dimensions",
        "kill_grace",
        "input",
        "die_with_parent",
        "echo",
        "pass_fds",
        "logfile",
    }
)

if TYPE_CHECKING:
    from typing import TypedDict

    class SpawnOptions(TypedDict, total=False):
        """The keyword options of :func:`spawn`, for the doors that take them as
        ``**options`` (``aspawn``)."""

        tty: bool
        term: str | None
        timeout: float | None
        cwd: str | os.PathLike[str] | None
        env: Mapping[str, str] | None
        inherit_env: bool
        encoding: str
        errors: str
        dimensions: tuple[int, int]
        kill_grace: float
        input: Input | Secret | None
        die_with_parent: bool
        echo: bool
        pass_fds: Sequence[int]
        logfile: TextIO | None


def session_spec(
    cmd: Command, options: Mapping[str, Any], door: str
) -> tuple[Spec, _Transcript | None]:
    """Check a session's command and options (``spawn``'s, by name; absent ones take
    spawn's defaults) and build its spec, and the transcript a ``logfile`` asks for.

    Raises:
        TypeError, ValueError: as :func:`spawn` says.
    """
    if not options.keys() <= SPAWN_OPTIONS:
        refuse_options(sorted(options.keys() - SPAWN_OPTIONS), door)
    opts = dict(options)
    refuse_pipeline(
        cmd, door, "run it with run() or stream(), or spawn a shell to hold the dialogue"
    )
    encoding = opts.setdefault("encoding", DEFAULT_ENCODING)
    errors = opts.setdefault("errors", DEFAULT_ERRORS)
    logfile = opts.pop("logfile", None)
    transcript = None if logfile is None else _Transcript(logfile, encoding, errors)
    tty = opts.setdefault("tty", True)
    if tty is not True and tty is not False:
        raise ValueError(
            f"{door}()'s tty must be True (a pseudo-terminal) or False (pipes), not {tty!r}"
            + (": 'auto' is run()'s, which may rerun a refused program" if tty == "auto" else "")
        )
    refuse_term_on_pipes(opts.get("term"), tty)
    opts.setdefault("timeout", DEFAULT_SESSION_TIMEOUT)
    opts.setdefault("echo", True)
    spec = build_spec(cmd, **opts)
    if debug_enabled():
        log_debug("%s: %s (%s)", door, shlex.join(spec.args), "pty" if tty else "pipes")
    return spec, transcript


def start_session(spec: Spec, type_input: bool = True) -> Session:
    """Start the real program for a session (the process launcher's ``spawn``); with
    ``type_input``, type ``spec.input`` too (else the caller drives ``_type_input``)."""
    shield = SigintShield().__enter__()  # held until the session owns the child
    try:
        started = start(spec, interactive=True)
    except BaseException:
        shield.release()
        raise
    try:
        kind = PtySession if started.tty else PipeSession
        session: Session = kind(spec, started, spec.timeout)
        if spec.remote is not None:
            session._watch = spec.remote.link.watch(spec.remote, spec)
    except BaseException:
        stop_now(started.child, spec.kill_grace)
        started.close_fds()
        shield.release()
        raise
    try:
        shield.release()
        if type_input:
            drive(session._type_input())
    except BaseException:
        session.close()
        raise
    return session


#: Sessions still running, stopped at interpreter exit if their owner never closed them.
_open_sessions: WeakSet[Session] = WeakSet()


def _close_open_sessions() -> None:
    for session in list(_open_sessions):
        if session._result is None and session._owner == os.getpid():
            warnings.warn(
                f"{session!r} was still open at exit: stopping it", ResourceWarning, stacklevel=1
            )
            session.close()


def _forget_parents_sessions() -> None:
    _open_sessions.clear()  # a fork child must never stop its parent's programs


atexit.register(_close_open_sessions)
os.register_at_fork(after_in_child=_forget_parents_sessions)
