"""Fake dialogues: a program written as a transcript of steps, played without a process.

A transcript is a list of :class:`Out` (text the program prints), :class:`In` (a line it
reads, checked against what the caller sends) and :class:`Exit` (its exit status). A
:class:`FakePump` plays it behind the real :class:`~cmdrun.Session` code, so ``spawn``,
``expect``, ``sendline`` and ``run(respond=...)`` drive a fake exactly as they drive a
program: same matching, timeouts, errors and secrets.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Sequence

from .._output import Capture, as_terminal
from .._pump import DataHook
from .._secret import MASK, Redactor, Secret

# How much of a fake's output its error messages show (the end of it).
_SHOWN = 500

# Fake pids start above Linux's largest possible pid (2**22), so a signal sent to one by
# mistake can never reach a real process.
_PIDS = itertools.count(1 << 22)


class DialogueMismatch(AssertionError):
    """The code under test sent something the fake dialogue did not expect."""


class FakeHang(AssertionError):
    """A fake would wait forever: it waits for input (or runs on) and the call has no timeout."""


class Out:
    """A step of a fake dialogue: the program prints ``text``.

    Args:
        text: what it prints, as it prints it (line endings included).
        stream: ``"stdout"`` or ``"stderr"``.

    Raises:
        ValueError: ``stream`` is neither.
    """

    __slots__ = ("stream", "text")

    def __init__(self, text: str, stream: str = "stdout") -> None:
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        self.text = text
        self.stream = stream

    def __repr__(self) -> str:
        extra = "" if self.stream == "stdout" else f", stream={self.stream!r}"
        return f"Out({self.text!r}{extra})"


class In:
    """A step of a fake dialogue: the program reads one line, checked against what the code
    under test sends (a line that does not fit fails with :class:`DialogueMismatch`).

    Args:
        expected: the line, without its ending (a str it must equal), or a compiled regex
            it must match in full.
        secret: accept any line sent as a :class:`~cmdrun.Secret`, whatever ``expected``
            says (recorded cassettes store secrets only as a mask).
    """

    __slots__ = ("expected", "secret")

    def __init__(self, expected: str | re.Pattern[str] = "", *, secret: bool = False) -> None:
        self.expected = expected
        self.secret = secret

    def accepts(self, line: str, was_secret: bool) -> bool:
        """Whether ``line`` is what this step reads (the fake's hook: tests never call it).

        Args:
            line: the line typed, without its ending.
            was_secret: whether a :class:`~cmdrun.Secret` was typed in it.

        Returns:
            True if this step accepts the line.
        """
        if self.secret:
            return was_secret
        if isinstance(self.expected, str):
            return line == self.expected
        return self.expected.fullmatch(line) is not None

    def __repr__(self) -> str:
        if self.secret:
            return "In(secret=True)"
        if isinstance(self.expected, str):
            return f"In({self.expected!r})"
        return f"In(re({self.expected.pattern!r}))"


class Exit:
    """The last step of a fake dialogue: the program exits.

    Args:
        code: its exit status; ``-N``: it was killed by signal N.
    """

    __slots__ = ("code",)

    def __init__(self, code: int = 0) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Exit({self.code})"


Step = Out | In | Exit


def check_steps(steps: Sequence[object]) -> list[Step]:
    """Validate a transcript (messages count steps from 1, as dialogue errors do).

    Raises:
        TypeError: a step that is not Out, In or Exit.
        ValueError: a step after Exit.
    """
    checked: list[Step] = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, (Out, In, Exit)):
            raise TypeError(f"dialogue step {i} must be Out, In or Exit, not {step!r}")
        if checked and isinstance(checked[-1], Exit):
            raise ValueError(f"dialogue step {i} ({step!r}) comes after {checked[-1]!r}")
        checked.append(step)
    return checked


class FakeChild:
    """The process handle of a fake: a pid no real process can have, and its status."""

    #: Its status is the faked program's own (not an ``ssh``'s to be read, see result_of).
    fake = True

    def __init__(self) -> None:
        self.pid = next(_PIDS)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self) -> int:
        return self.returncode if self.returncode is not None else 0


class FakePump:
    """Plays a transcript; a :class:`cmdrun._pump.SessionPump`, as the real pump is.

    Args:
        steps: the transcript.
        tty: behave like a terminal (echo, ``\\r\\n``, Ctrl-C/Ctrl-D characters).
        echo: echo typed text (terminals do; recorded transcripts already contain it).
        encoding: of the text sent and printed.
        describe: the command, for messages.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        tty: bool,
        echo: bool,
        encoding: str,
        describe: str,
    ) -> None:
        self.child = FakeChild()
        self.sinks = {"stdout": Capture(), "stderr": Capture()}
        self.on_data: DataHook | None = None
        self.redact: Redactor | None = None
        #: Applied to each typed line before a step checks it (a cassette's portable form).
        self.canon: Callable[[str], str] | None = None
        self._steps = list(steps)
        self._at = 0
        self._tty = tty
        self._echo = echo and tty
        self._encoding = encoding
        self._describe = describe
        self._input = ""
        # Whether each complete line in _input (and the line being typed) holds a secret.
        self._secret_lines: list[bool] = []
        self._typing_secret = False
        self._next_secret = 0
        self._input_closed = False
        self._eof = False
        self._advancing = False
        self._emitted = 0
        self._printed = ""  # the end of the output so far, as delivered (secrets masked)
        self._played = False  # the transcript ran to its end (or to its Exit)
        self._stopped = False
        self.cancelled = False

    @property
    def finished(self) -> bool:
        """Whether the transcript was played to its end (an Exit step counts as the end)."""
        return self._played

    def unfinished(self) -> str:
        """Where the transcript stopped, for strict checks: ``dialogue of `x` stopped ...``."""
        return (
            f"dialogue of {self._describe} stopped at step {self._at + 1} of "
            f"{len(self._steps)} ({self._step_repr()}): its transcript was not played to the end"
        )

    # -- the Pump interface ---------------------------------------------------------------

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def exited(self) -> bool:
        return self.child.returncode is not None

    @property
    def writable(self) -> bool:
        return not self._input_closed and not self.exited

    def mark_secret(self, secret: Secret | None) -> None:
        """The next write starts with ``secret``: a line it is part of is a secret line
        (for ``In(secret=True)``). None: the next write holds no secret after all."""
        self._next_secret = 0 if secret is None else len(secret.reveal())

    def write(self, data: bytes) -> None:
        secret, self._next_secret = self._next_secret, 0
        if not self.writable:
            return
        text = data.decode(self._encoding, "replace")
        if self._tty:
            text = self._terminal_keys(text)
        self._type(text[:secret], True)
        self._type(text[secret:], False)
        self._advance()

    def _type(self, text: str, secret: bool) -> None:
        for i, part in enumerate(text.split("\n")):
            if i:  # a newline ended the line being typed
                self._secret_lines.append(self._typing_secret)
                self._typing_secret = False
            self._typing_secret |= secret and bool(part)
        self._input += text

    def _terminal_keys(self, text: str) -> str:
        """Echo typed text and act on Ctrl-C / Ctrl-D, as a terminal's line discipline does."""
        if "\x03" in text:
            self._finish(-2)  # SIGINT: a program with no handler dies of it
            return ""
        if "\x04" in text:
            head = text.split("\x04", 1)[0]
            if not (self._input + head).split("\n")[-1]:
                self._input_closed = True
            text = head
        if self._echo and text:
            self._emit("stdout", text)
        return text

    def close_input(self) -> None:
        self._input_closed = True
        self._advance()

    def step(self, until: float) -> None:
        """Play what can be played.

        When nothing more can be played, the fake waits for input while its caller waits
        for output (``expect``, ``read``): nothing can ever arrive, so it fails at once
        instead of sleeping until ``until``.

        Raises:
            FakeHang: the fake waits for input that nothing will send.
        """
        emitted = self._emitted
        self._advance()
        if self._eof or self._emitted != emitted:
            return
        raise FakeHang(
            self._blocked_message(
                "while the code waits for it to print something: nothing will ever arrive"
                + ("" if math.isinf(until) else " (it would sleep out the whole timeout)")
            )
        )

    def arm(self, until: float) -> None:
        """A fake never waits: its driver calls :meth:`step`, on an event loop too."""

    def handle(self) -> None:
        pass

    def cancel(self) -> None:
        """Stopped (by the kill policy's SIGTERM), at once."""
        self._finish(-15)
        self._stopped = self.cancelled = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    def drive(self, deadline: float, drain_timeout: float) -> Iterator[float]:
        """:meth:`run_to_end`, as a generator that never yields (nothing to wait for)."""
        self._stopped = self.run_to_end(deadline, drain_timeout) or self._stopped
        return iter(())

    def run_to_end(self, deadline: float, drain_timeout: float) -> bool:
        """Play to the end; a fake blocked on input is stopped at ``deadline``, at once."""
        self._advance()
        if self._eof:
            return False
        if math.isinf(deadline):
            raise FakeHang(self._blocked_message("and the call has no timeout"))
        self._finish(-15)  # stopped by the kill policy's SIGTERM
        return True

    def close(self) -> None:
        pass

    # -- playing --------------------------------------------------------------------------

    def _emit(self, stream: str, text: str) -> None:
        self._emitted += 1
        data = text.encode(self._encoding)
        if self._tty:
            stream = "stdout"
            data = as_terminal(data)
        if self.redact is not None:
            data = self.redact.feed(stream, data)
        self._deliver(stream, data)

    def _deliver(self, stream: str, data: bytes) -> None:
        if data:
            self._printed = (self._printed + data.decode(self._encoding, "replace"))[-_SHOWN:]
            self.sinks[stream].write(data)
            if self.on_data is not None:
                self.on_data(stream, data)

    def _finish(self, code: int) -> None:
        if self.child.returncode is None:
            self.child.returncode = code
        if self.redact is not None and not self._eof:
            for stream in ("stdout", "stderr"):
                self._deliver(stream, self.redact.flush(stream))
        self._eof = True

    def _advance(self) -> None:
        """Play steps until the program waits for input it has not got, or exits.

        Not re-entrant: input written by an output hook (an automatic answer) while a step
        plays is queued, and the loop that is already running consumes it.
        """
        if self._advancing:
            return
        self._advancing = True
        try:
            self._play()
        finally:
            self._advancing = False

    def _play(self) -> None:
        while not self._eof:
            if self._at >= len(self._steps):
                self._played = True
                self._finish(0)
                return
            step = self._steps[self._at]
            if isinstance(step, Out):
                self._emit(step.stream, step.text)
            elif isinstance(step, Exit):
                self._played = True
                self._finish(step.code)
                return
            elif not self._take_line(step):
                return
            self._at += 1

    def _take_line(self, step: In) -> bool:
        if "\n" not in self._input:
            if self._input_closed:
                # The program ends (as one reading EOF where it needs a line would), so
                # closing the session afterwards does not raise the same mismatch again.
                self._finish(1)
                raise DialogueMismatch(
                    f"fake {self._describe}: input ended (EOF) at step {self._at + 1}, "
                    f"where it expects {step!r}{self._context()}"
                )
            return False
        line, self._input = self._input.split("\n", 1)
        line = line.rstrip("\r")
        was_secret = self._secret_lines.pop(0)
        if self.canon is not None and not was_secret:
            line = self.canon(line)
        if step.accepts(line, was_secret):
            return True
        # A line typed where a secret belongs is probably one, wrapped in Secret or not:
        # neither it nor its terminal echo is ever shown.
        hide = line if (was_secret or step.secret) and line else None
        if was_secret:
            got = MASK
        elif step.secret:
            got = f"a line typed as plain text, not as a Secret ({len(line)} characters, not shown)"
        else:
            got = repr(line)
        raise DialogueMismatch(
            f"fake {self._describe}: at step {self._at + 1} it expects {step!r}, got {got}"
            + self._context(hide)
        )

    def _step_repr(self) -> str:
        return repr(self._steps[self._at]) if self._at < len(self._steps) else "the end"

    def _context(self, hide: str | None = None) -> str:
        """The output so far and the transcript, for messages (``hide`` masked)."""
        printed = self._printed if hide is None else self._printed.replace(hide, MASK)
        return f"\n  output so far: {printed!r}\n  transcript: {self._steps!r}"

    def _blocked_message(self, why: str) -> str:
        return (
            f"fake {self._describe} waits for input at step {self._at + 1} "
            f"({self._step_repr()}) {why}{self._context()}"
        )
