"""``FakeCommands``: a launcher that answers cmdrun calls from registrations.

It plugs into cmdrun's launcher seam (no ``subprocess`` patching), so every entry point —
``run``, ``call``, ``spawn``, ``run(respond=...)``, ``run_many``, ``as_completed``, ``arun``,
``stream`` and the TTY fallback — reaches it, and everything above the launcher (argument
checks, callbacks, ``max_output``, file targets, ``check``, errors, logging) is the real code.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import numbers
import os
import re
import shlex
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .._args import SHELL
from .._engine import AutoAnswer, simulated
from .._errors import (
    CmdrunError,
    CommandNotExecutable,
    CommandNotFound,
    ConnectionFailed,
    StartFailed,
    in_stage,
    stage_name,
)
from .._launcher import REAL, Launcher, _Adapted, _Stepped, current_launcher, using_launcher
from .._parallel import pass_batch_time
from .._pipeline import Pipeline, pipefail
from .._pump import FdWait
from .._result import Result, Stage
from .._secret import Redactor, Secret, masked
from .._session import Session
from .._spec import DeliverLine, Spec
from .._start import Started
from .._stdin import FromFd, FromPath
from .._which import path_of
from ._dialogue import Exit, FakeChild, FakeHang, FakePump, Out, Step, check_steps

if TYPE_CHECKING:
    from .._pump import Wait
    from .._session import Steps
    from ._popen import SubprocessPatch


class _Any:
    """A wildcard: ``ANY`` matches one argument; called, ``ANY(min=, max=)`` matches from
    ``min`` to ``max`` arguments (by default any number, as pytest-subprocess's
    ``fp.any()``); ``ANY_REST``, only last, matches all the remaining ones."""

    __slots__ = ("_name", "max", "min")

    def __init__(self, least: int, most: int | None, name: str = "") -> None:
        self.min = least
        self.max = most
        self._name = name

    def __call__(self, *, min: int = 0, max: int | None = None) -> _Any:
        """A wildcard for ``min`` to ``max`` arguments (``max=None``: no upper bound).

        Raises:
            TypeError: ``min`` or ``max`` is not an int.
            ValueError: a negative count, or ``max`` below ``min``.
        """
        _count(min, "min")
        if max is not None:
            _count(max, "max")
            if max < min:
                raise ValueError(f"ANY(min={min}, max={max}): max is below min")
        return _Any(min, max)

    def __repr__(self) -> str:
        return self._name or f"ANY(min={self.min}, max={self.max})"


def _count(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ANY(): {name} must be an int, not {value!r}")
    if value < 0:
        raise ValueError(f"ANY(): {name} must be 0 or more, not {value}")


ANY = _Any(1, 1, "ANY")
"""In a pattern, matches exactly one argument, whatever it is; ``ANY(min=0, max=None)`` matches
from ``min`` to ``max`` arguments (``max=None``: any number; a negative count or ``max`` below
``min`` is a ValueError, a count that is not an int a TypeError)."""
ANY_REST = _Any(0, None, "ANY_REST")
"""Last in a pattern, matches all the remaining arguments, however many (none included)."""


class PROGRAM:
    """In a pattern, matches an argument that names a program, by itself or by any path:
    ``PROGRAM("ls")`` matches ``ls`` and ``/usr/bin/ls`` (pytest-subprocess's
    ``fp.program()``).

    Args:
        name: the program's name, without a directory.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is empty or holds a ``/`` (to match one path, give the path).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"PROGRAM() takes the program's name as a str, not {name!r}")
        if not name or "/" in name:
            raise ValueError(
                f"PROGRAM({name!r}) matches a program by its basename: give a name such as "
                "'ls' (to match one path only, put the path itself in the pattern)"
            )
        self.name = name

    def __repr__(self) -> str:
        return f"PROGRAM({self.name!r})"


Pattern = Sequence[Any] | str | re.Pattern[str]
_Part = str | _Any | PROGRAM | re.Pattern[str]


class _Compiled:
    """A pattern, checked once, that matches the argv of calls.

    A list (or a str, split as shlex splits it) matches an argv argument by argument: a str
    equals the argument, a regex matches all of it (``re.fullmatch``), ``PROGRAM`` matches
    its basename, the wildcards a number of arguments. A regex given for the whole pattern
    is searched in the shell-quoted command line. A call made with ``shell=True`` (its argv
    is ``/bin/sh -c LINE``) is matched as that argv and as LINE itself: LINE split as shlex
    splits it for a list or str, LINE as it is for a whole-line regex.
    """

    __slots__ = ("line", "parts", "text")

    def __init__(self, pattern: object, what: str = "pattern") -> None:
        self.line: re.Pattern[str] | None = None
        self.parts: tuple[_Part, ...] = ()
        if isinstance(pattern, re.Pattern):
            if not isinstance(pattern.pattern, str):
                raise TypeError(f"{what} must be a str regex, not a bytes one: {pattern!r}")
            self.line = pattern
            self.text = f"re({pattern.pattern!r})"
            return
        parts = _split(pattern, what)
        if not parts:
            raise ValueError(f"{what} is empty: it would match no command")
        last = len(parts) - 1
        self.parts = tuple(_part(part, i, what, i == last) for i, part in enumerate(parts))
        self.text = pattern if isinstance(pattern, str) else " ".join(map(_shown, self.parts))

    def matches(self, args: tuple[str, ...]) -> bool:
        shell_line = args[2] if len(args) == 3 and args[:2] == (SHELL, "-c") else None
        if self.line is not None:
            if self.line.search(shlex.join(args)) is not None:
                return True
            return shell_line is not None and self.line.search(shell_line) is not None
        if _fits(self.parts, args):
            return True
        if shell_line is None:
            return False
        try:
            return _fits(self.parts, tuple(shlex.split(shell_line)))
        except ValueError:  # a line shlex cannot split is matched as its argv only
            return False


def _split(pattern: object, what: str) -> Sequence[object]:
    if isinstance(pattern, Pipeline):
        raise TypeError(
            "register() fakes one program: register each stage of a pipeline on its own "
            "(a faked pipeline feeds each stage the output of the one before)"
        )
    if isinstance(pattern, str):
        try:
            return shlex.split(pattern)
        except ValueError as exc:
            raise ValueError(f"{what} {pattern!r} cannot be split: {exc}") from None
    if isinstance(pattern, (bytes, bytearray)):
        raise TypeError(
            f"{what} must be an argv list, a str or a regex, not bytes ({pattern!r}): "
            "decode it, or give a list of arguments"
        )
    if not isinstance(pattern, Sequence):
        raise TypeError(f"{what} must be an argv list, a str or a regex, not {pattern!r}")
    return pattern


def _part(part: object, index: int, what: str, last: bool) -> _Part:
    if part is ANY_REST and not last:
        raise ValueError(
            f"{what}: ANY_REST (argument {index}) stands for all the remaining arguments, so "
            "it must come last; ANY(min=0) matches any number of arguments in between"
        )
    if isinstance(part, (_Any, PROGRAM)):
        return part
    if isinstance(part, re.Pattern):
        if isinstance(part.pattern, str):
            return part
        raise TypeError(f"{what}, argument {index}: arguments are str, use a str regex")
    if isinstance(part, (str, bytes, os.PathLike)):
        return os.fsdecode(part)
    raise TypeError(
        f"{what}, argument {index} must be a str, bytes, a path, ANY, PROGRAM or a regex, "
        f"not {part!r}"
    )


def _shown(part: _Part) -> str:
    if isinstance(part, str):
        return shlex.quote(part)
    if isinstance(part, re.Pattern):
        return f"re({part.pattern!r})"
    return repr(part)


def _fits(parts: tuple[_Part, ...], args: tuple[str, ...]) -> bool:
    """Whether ``args`` match ``parts``, trying every count a wildcard allows."""
    if not parts:
        return not args
    head, rest = parts[0], parts[1:]
    if isinstance(head, _Any):
        most = len(args) if head.max is None else min(head.max, len(args))
        return any(_fits(rest, args[n:]) for n in range(head.min, most + 1))
    return bool(args) and _fits_one(head, args[0]) and _fits(rest, args[1:])


def _fits_one(part: str | PROGRAM | re.Pattern[str], arg: str) -> bool:
    if isinstance(part, str):
        return part == arg
    if isinstance(part, PROGRAM):
        return os.path.basename(arg) == part.name
    return part.fullmatch(arg) is not None


class UnregisteredCommand(AssertionError):
    """The code under test ran a command no registration answers."""


class Call:
    """One call the code under test made, as :attr:`FakeCommands.calls` records it.

    Recorded by :class:`FakeCommands` and passed to a registration's ``callback``; not built
    by hand.

    Attributes:
        args: the argv (``/bin/sh -c CMD`` with ``shell=True``).
        input: the text fed to stdin (secrets masked), or None.
        env: the child's whole environment, or None when it inherits this process's.
        cwd: the working directory, or None.
        tty: whether it ran (or was to run) on a pseudo-terminal.
        timeout: its timeout, or None.
        kind: ``"run"`` (run, call, stream, run_many, arun, ...), ``"spawn"``, or
            ``"subprocess"`` (plain ``subprocess``/asyncio, see
            :meth:`FakeCommands.patch_subprocess`).
        signals: the signals the code sent it (``send_signal``, ``terminate``, ``kill`` of a
            faked ``subprocess.Popen``), in order; empty for cmdrun's own calls.
        host: the host a :class:`cmdrun.Remote` ran it on, or None (here). ``args``,
            ``env`` and ``cwd`` are then the remote command's own, not its ``ssh``'s.
    """

    __slots__ = ("args", "cwd", "env", "host", "input", "kind", "signals", "timeout", "tty")

    def __init__(self, spec: Spec, kind: str) -> None:
        # (A remote call's spec comes as its caller wrote it: see Spec.seen.)
        self.args = spec.args
        self.host = None if spec.remote is None else spec.remote.host
        self.input = input_text(spec)
        self.env = spec.env
        self.cwd = spec.cwd
        self.tty = spec.tty
        self.timeout = spec.timeout
        self.kind = kind
        self.signals: list[int] = []

    @property
    def line(self) -> str:
        """The command line, shell-quoted."""
        return shlex.join(self.args)

    def __repr__(self) -> str:
        where = "" if self.host is None else f", host={self.host!r}"
        return f"Call({self.line!r}, kind={self.kind!r}, tty={self.tty}{where})"


Output = str | bytes | Sequence[str | bytes] | None


class Answer:
    """What a fake command does: output, exit status, and how long it (pretends to) take.

    Returned by a registration's ``callback`` (see :meth:`FakeCommands.register`) to answer
    a call.

    Args:
        stdout: what the program prints: a str, bytes, None (nothing) or a list of lines,
            joined as pytest-subprocess joins them: with ``\\n`` between the lines and after
            the last one (no newline at all when that makes nothing); str lines among bytes
            ones are UTF-8.
        stderr: what it prints on stderr, in the same forms.
        returncode: its exit status (``-N``: killed by signal N).
        duration: seconds it takes, reported in the Result and never slept: a call whose
            ``timeout`` is shorter sees a timeout at once, and so does a call whose
            ``idle_timeout`` is shorter when the fake prints nothing. ``math.inf`` means the
            program hangs.

    Raises:
        TypeError: an argument of the wrong type, named in the message.
        ValueError: a ``returncode`` no program can have, or a negative ``duration``.
    """

    __slots__ = ("duration", "returncode", "stderr", "stdout")

    def __init__(
        self,
        stdout: Output = "",
        stderr: Output = "",
        returncode: int = 0,
        duration: float = 0.0,
    ) -> None:
        self.stdout = _output(stdout, "stdout")
        self.stderr = _output(stderr, "stderr")
        self.returncode = _status(returncode)
        self.duration = _seconds(duration)


def _output(value: object, name: str) -> str | bytes:
    if value is None:
        return ""
    if isinstance(value, (str, bytes)):
        return value
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a str, bytes, a list of lines or None, not {value!r}")
    for line in value:
        if not isinstance(line, (str, bytes)):
            raise TypeError(f"{name}: each line must be a str or bytes, not {line!r}")
    if all(isinstance(line, str) for line in value):
        text = "\n".join(value)
        return text + "\n" if text else text
    data = b"\n".join(line if isinstance(line, bytes) else line.encode() for line in value)
    return data + b"\n" if data else data


def _status(value: object) -> int:
    """Any int: a fake may stand for what no POSIX program returns (pytest-subprocess's
    own examples register 500), and code under test must cope with it as it is."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"returncode must be an int, not {value!r}")
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"duration must be a number of seconds, not {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"duration must be 0 or more seconds (math.inf: hangs), not {value!r}")
    return seconds


def _times(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"times must be a positive int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"times must be a positive int or None, not {value!r}")
    return value


def _refuse_renamed(wait: object, occurrences: object) -> None:
    """pytest-subprocess's names, answered with cmdrun's."""
    if wait is not None:
        raise TypeError(
            "wait= is pytest-subprocess's name: use `duration=` (a fake's duration is "
            "reported in the Result and never slept, so tests stay fast; a shorter "
            "timeout= times out at once)"
        )
    if occurrences is not None:
        raise TypeError(
            "occurrences= is pytest-subprocess's name: use `times=` (None, the default, "
            "answers every call)"
        )


class Registration:
    """One ``register`` (or ``pass_command``) call: which commands it answers, how, and how
    often.

    Returned by :meth:`FakeCommands.register` and :meth:`FakeCommands.pass_command`, which
    check the arguments; not built by hand.

    Attributes:
        pattern: the pattern, as given.
        answer: the :class:`Answer` given by ``stdout``, ``stderr``, ``returncode`` and
            ``duration``.
        times: how many calls it answers at most (None: every call).
        used: how many calls it has answered so far.
        callback: computes each answer from the call, or None.
        raises: the exception raised instead of starting, or None.
        dialogue: the transcript it plays, or None.
        tty: answers only calls on a pseudo-terminal (True) or on pipes (False); None: both.
        host: answers only calls on this host (``ANY``: on any); None: on this machine.
        real: the commands it answers run for real (``pass_command``).
    """

    def __init__(
        self,
        pattern: Pattern,
        answer: Answer,
        *,
        times: int | None,
        callback: Callable[[Call], object] | None,
        raises: BaseException | type[BaseException] | None,
        dialogue: list[Step] | None,
        tty: bool | None,
        real: bool = False,
        host: str | _Any | None = None,
    ) -> None:
        self._compiled = _Compiled(pattern)
        self.host = host
        self.pattern = pattern
        self.answer = answer
        self.times = times
        self.callback = callback
        self.raises = raises
        self.dialogue = dialogue
        self.tty = tty
        self.real = real
        self.used = 0

    def answers(self, call: Call) -> bool:
        """Whether it answers ``call`` now (the fake's hook: tests never call it)."""
        if self.times is not None and self.used >= self.times:
            return False
        if self.tty is not None and self.tty != call.tty:
            return False
        if isinstance(self.host, _Any):
            if call.host is None:
                return False
        elif self.host != call.host:
            return False
        return self._compiled.matches(call.args)

    def describe(self) -> str:
        """How messages show it: the pattern, then what limits it (the fake's hook)."""
        extra = ["runs for real"] if self.real else []
        if self.host is not None:
            extra.append("on any host" if isinstance(self.host, _Any) else f"on {self.host}")
        if self.tty is not None:
            extra.append(f"tty={self.tty}")
        if self.times is not None:
            extra.append(f"used {self.used}/{self.times}")
        return self._compiled.text + (f" ({', '.join(extra)})" if extra else "")


def _answer_from(registration: Registration, call: Call) -> Answer:
    """The registration's answer, or what its callback computes from the call."""
    if registration.callback is None:
        return registration.answer
    computed = registration.callback(call)
    if computed is None:
        return registration.answer
    if isinstance(computed, Answer):
        return computed
    if isinstance(computed, (str, bytes)):
        return Answer(stdout=computed)
    if isinstance(computed, int):
        return Answer(returncode=computed)
    raise TypeError(f"a fake's callback must return Answer, str, int or None, not {computed!r}")


def _is_exception(value: object) -> bool:
    if isinstance(value, type):
        return issubclass(value, BaseException)
    return isinstance(value, BaseException)


def start_error(raises: BaseException | type[BaseException], spec: Spec) -> BaseException:
    """The exception a registration's ``raises`` stands for, for this call.

    A class is built with what a real failure to start ``spec`` would carry, so code that
    reads ``err.program`` or ``err.path`` sees values that make sense.

    Raises:
        TypeError: a class that can be built neither from a message nor without arguments.
    """
    if isinstance(raises, BaseException):
        return raises
    if issubclass(raises, ConnectionFailed):
        host = "localhost" if spec.remote is None else spec.remote.host
        return raises(
            host, "connection refused", f"ssh: connect to host {host}: Connection refused"
        )
    program = spec.args[0]
    if issubclass(raises, CommandNotFound):
        return raises(program, path_of(spec.env))
    if issubclass(raises, CommandNotExecutable):
        return raises(program, "permission denied", errno.EACCES)
    if issubclass(raises, StartFailed):
        return raises(program, "out of processes", errno.EAGAIN)
    try:
        return raises(f"fake `{shlex.join(spec.args)}` raises {raises.__name__}")
    except TypeError:
        pass
    try:
        return raises()
    except TypeError:
        raise TypeError(
            f"raises={raises.__name__}: it takes neither a message nor no arguments; "
            "register an instance instead"
        ) from None


def input_text(spec: Spec) -> str | None:
    """The input of a call as tests may see it: each line of a Secret masked, and any
    secret value inside plain input too."""
    if spec.input is None:
        return None
    if isinstance(spec.input, Secret):
        return masked(spec.input)
    text = spec.input.decode(spec.encoding, "replace")
    return Redactor(spec.secrets, spec.encoding).text(text)


def _bytes(text: str | bytes, encoding: str) -> bytes:
    return text.encode(encoding) if isinstance(text, str) else text


class FakeCommands:
    """Fake programs for code that runs commands with cmdrun.

    Use it as a context manager (or through the pytest fixture ``fake_commands``): while it
    is active, every command cmdrun runs — in any thread or asyncio task — is answered by a
    registration. A command no registration answers runs for real if ``allow_real`` or
    :meth:`allow_unregistered` lets it; otherwise, in a ``FakeCommands`` entered while
    another one is active, it goes to that outer one as if the inner were not there; and
    failing all that, it fails with :class:`UnregisteredCommand`, which lists the patterns
    of both.

    Args:
        allow_real: commands that run for real, any number of times: a str is a program
            name (``argv[0]`` or its basename), anything else an argv pattern as
            :meth:`register` takes it (``["git", "status"]``). The list stays open:
            ``fake.allow_real.append(...)``. :meth:`pass_command` also counts.

    Attributes:
        strict: when the block ends without an exception, fail (AssertionError) if a
            registration with ``times`` answered fewer calls, or a fake dialogue was not
            played to its end. Off by default; the pytest ini option ``cmdrun_strict``
            turns it on for ``fake_commands``.
    """

    #: Remote commands are answered here: a :class:`cmdrun.Remote` makes no connection.
    offline = True

    def __init__(self, allow_real: Sequence[str | Pattern] = ()) -> None:
        self.allow_real: list[str | Pattern] = list(allow_real)
        self.calls: list[Call] = []
        self.strict = False
        self._registrations: list[Registration] = []
        self._lock = threading.Lock()
        self._active: contextlib.ExitStack | None = None
        self._allow_all = False
        self._outer: FakeCommands | None = None
        self._played: list[FakePump] = []  # every dialogue played, for strict checks
        # Where calls no registration answers go (a cassette), instead of failing.
        self._beneath: _Stepped | None = None

    # -- registering ----------------------------------------------------------------------

    def register(
        self,
        pattern: Pattern,
        *,
        stdout: Output = "",
        stderr: Output = "",
        returncode: int = 0,
        duration: float = 0,
        times: int | None = None,
        callback: Callable[[Call], object] | None = None,
        raises: BaseException | type[BaseException] | None = None,
        dialogue: Sequence[Step] | None = None,
        tty: bool | None = None,
        host: str | _Any | None = None,
        wait: None = None,
        occurrences: None = None,
    ) -> Registration:
        """Make commands matching ``pattern`` answer with the given output and status.

        Every argument is checked here, before anything is registered.

        Args:
            pattern: which commands: an argv list (or tuple) whose elements are str, bytes
                or paths (equal to the argument), compiled regexes (matching the whole
                argument), ``PROGRAM("ls")`` (``ls`` by any path), ``ANY`` (one argument),
                ``ANY(min=, max=)`` (that many) or ``ANY_REST`` (last: all the rest); a str,
                split with shlex into such a list; or a compiled regex searched in the
                shell-quoted command line. A ``shell=True`` call (argv ``/bin/sh -c LINE``)
                is also matched as LINE: ``register("ls -l | wc")`` answers
                ``run("ls -l | wc", shell=True)``, as ``register("git log")`` answers both
                ``run(["git", "log"])`` and ``run("git log", shell=True)``.
            stdout: what the program prints: a str, bytes, None (nothing) or a list of
                lines (joined with newlines, one after the last line too).
            stderr: what it prints on stderr, in the same forms.
            returncode: its exit status (``-N``: killed by signal N).
            duration: seconds it takes (a real number, 0 or more), reported and never
                slept; longer than a call's timeout means that call times out
                (``math.inf``: it hangs). A fake with no output is silent all along: a
                duration longer than a call's ``idle_timeout`` stops it as idle (one with
                output is taken to talk throughout). ``as_completed`` yields fakes in the
                order their durations make them end.
            times: answer at most this many calls (None: every call). Registrations of the
                same command answer in the order they were made.
            callback: ``callback(call)`` computes the answer from the :class:`Call`
                (args, input, env, cwd): return an :class:`Answer`, a str (stdout), an int
                (exit status) or None (use the values above).
            raises: an exception raised instead of starting. An instance is raised as it
                is; a class is built as a real failure to start would build it:
                ``CommandNotFound`` names the program and the PATH searched,
                ``CommandNotExecutable`` says "permission denied", ``StartFailed`` "out of
                processes"; any other class gets a message naming the command (or no
                arguments, if it takes none).
            dialogue: the program as a transcript of :class:`Out`, :class:`In` and
                :class:`Exit` steps, for ``spawn``/``expect`` and ``run(respond=...)``.
            tty: answer only calls on a pseudo-terminal (True) or on pipes (False).
            host: answer only calls a :class:`cmdrun.Remote` makes on this host (its
                destination as given, such as ``"web1"`` or ``"deploy@web1"``), or on any
                host with ``ANY``; None (the default): only calls on this machine. A remote
                call is matched by its own argv, not by the ``ssh`` that runs it, and no
                connection is made.
            wait: pytest-subprocess's name, refused (TypeError): use ``duration=``.
            occurrences: pytest-subprocess's name, refused (TypeError): use ``times=``.

        Returns:
            The :class:`Registration` (its ``used`` counts the calls it answered).

        Raises:
            TypeError: an argument of the wrong type (the message names it): a pattern
                that is not an argv list, a str or a str regex (bytes are refused), an
                element of an unknown kind, ``raises`` that is not an exception class or
                instance, ``callback`` not callable, ``tty`` not a bool or None; or
                ``wait=``/``occurrences=``.
            ValueError: an empty pattern, a str that shlex cannot split, ``ANY_REST``
                not last, ``times`` below 1, a negative ``duration``, an impossible
                ``returncode``.
        """
        _refuse_renamed(wait, occurrences)
        if raises is not None and not _is_exception(raises):
            raise TypeError(f"raises must be an exception (class or instance), not {raises!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if tty is not None and not isinstance(tty, bool):
            raise TypeError(f"tty must be True, False or None, not {tty!r}")
        if host is not None and not isinstance(host, (str, _Any)):
            raise TypeError(f"host must be a host name (str), ANY or None, not {host!r}")
        registration = Registration(
            pattern,
            Answer(stdout, stderr, returncode, duration),
            times=_times(times),
            callback=callback,
            raises=raises,
            dialogue=None if dialogue is None else check_steps(dialogue),
            tty=tty,
            host=host,
        )
        with self._lock:
            self._registrations.append(registration)
        return registration

    def pass_command(
        self, pattern: Pattern, *, times: int | None = None, occurrences: None = None
    ) -> Registration:
        """Let commands matching ``pattern`` run for real (pytest-subprocess's name).

        It takes its turn among the registrations, in the order they were made.

        Args:
            pattern: as :meth:`register` takes it.
            times: let at most this many calls through (None, the default, as for
                :meth:`register`: every call; pytest-subprocess's default is one).
            occurrences: pytest-subprocess's name, refused (TypeError): use ``times=``.

        Returns:
            The :class:`Registration` (its ``used`` counts the calls it let through).

        Raises:
            TypeError, ValueError: as :meth:`register` raises them.
        """
        _refuse_renamed(None, occurrences)
        registration = Registration(
            pattern,
            Answer(),
            times=_times(times),
            callback=None,
            raises=None,
            dialogue=None,
            tty=None,
            real=True,
        )
        with self._lock:
            self._registrations.append(registration)
        return registration

    def allow_unregistered(self, allow: bool) -> None:
        """Run every command no registration answers for real (True), or fail it (False,
        the default), as pytest-subprocess's switch of that name does.

        Args:
            allow: True to let unregistered commands run for real.

        Raises:
            TypeError: ``allow`` is not a bool.
        """
        if not isinstance(allow, bool):
            raise TypeError(f"allow_unregistered() takes True or False, not {allow!r}")
        self._allow_all = allow

    # pytest-subprocess's fixture helpers, so that ported tests need only the fixture renamed.

    def any(self, *, min: int = 0, max: int | None = None) -> _Any:
        """``ANY(min=, max=)``: from ``min`` to ``max`` arguments (``fp.any()``).

        Args:
            min: the fewest arguments matched.
            max: the most arguments matched (None: no upper bound).

        Returns:
            The wildcard, for a pattern.

        Raises:
            TypeError: ``min`` or ``max`` is not an int.
            ValueError: a negative count, or ``max`` below ``min``.
        """
        return ANY(min=min, max=max)

    def program(self, name: str) -> PROGRAM:
        """``PROGRAM(name)``: the program by any path (``fp.program()``).

        Args:
            name: the program's name, without a directory.

        Returns:
            The :class:`PROGRAM` matcher, for a pattern.

        Raises:
            TypeError: ``name`` is not a str.
            ValueError: ``name`` is empty or holds a ``/``.
        """
        return PROGRAM(name)

    def regex(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """A regex matching one whole argument (``fp.regex()``).

        Args:
            pattern: the regular expression.
            flags: ``re`` flags.

        Returns:
            The compiled regex, for a pattern.

        Raises:
            re.error: ``pattern`` is not a valid regular expression.
        """
        return re.compile(pattern, flags)

    # -- inspecting -----------------------------------------------------------------------

    def call_count(self, pattern: Pattern) -> int:
        """How many calls matched ``pattern`` (registered or not).

        Args:
            pattern: as :meth:`register` takes it.

        Returns:
            The number of calls made so far whose command matches.

        Raises:
            TypeError: ``pattern`` is of a kind :meth:`register` does not take.
            ValueError: ``pattern`` is empty, a str that shlex cannot split, or has
                ``ANY_REST`` before its end.
        """
        compiled = _Compiled(pattern)
        return sum(1 for call in self.calls if compiled.matches(call.args))

    def assert_called(self, pattern: Pattern, times: int | None = None) -> None:
        """Fail unless ``pattern`` was called (exactly ``times`` times, if given).

        Args:
            pattern: as :meth:`register` takes it.
            times: the exact number of calls expected (None: at least one).

        Raises:
            AssertionError: the count is not as expected (the message lists every call).
        """
        count = self.call_count(pattern)
        if (times is None and count == 0) or (times is not None and count != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(
                f"expected {_Compiled(pattern).text} to be called {wanted}, it was called "
                f"{count} time(s); calls were:\n" + self._list_calls()
            )

    def assert_not_called(self, pattern: Pattern) -> None:
        """Fail if ``pattern`` was called.

        Args:
            pattern: as :meth:`register` takes it.

        Raises:
            AssertionError: it was called (the message lists every call).
        """
        self.assert_called(pattern, times=0)

    def _list_calls(self) -> str:
        return "\n".join(f"  {c.line}" for c in self.calls) or "  (none)"

    # -- the launcher ---------------------------------------------------------------------

    def _resolve(self, call: Call, *, commit: bool) -> Registration | Literal["real"] | None:
        """Who answers ``call``: a registration, "real", or None (nobody). With ``commit``,
        the call is recorded and the registration's use counted, here and in the outer
        fakes it reaches."""
        with self._lock:
            if commit:
                self.calls.append(call)
            for registration in self._registrations:
                if registration.answers(call):
                    if commit:
                        registration.used += 1
                    return "real" if registration.real else registration
        if self._real(call):
            return "real"
        if self._outer is not None:
            return self._outer._resolve(call, commit=commit)
        return None

    def _real(self, call: Call) -> bool:
        if self._allow_all:
            return True
        program = call.args[0]
        for allowed in self.allow_real:
            if isinstance(allowed, str):
                if allowed in (program, os.path.basename(program)):
                    return True
            elif _Compiled(allowed, "an allow_real pattern").matches(call.args):
                return True
        return False

    def _patterns(self) -> str:
        text = "\n".join(f"  {r.describe()}" for r in self._registrations) or "  (none)"
        if self._outer is not None:
            text += "\nregistered in the FakeCommands this one is nested in:\n"
            text += self._outer._patterns()
        return text

    def _unregistered(self, call: Call) -> UnregisteredCommand:
        return UnregisteredCommand(
            f"no fake registered for `{call.line}` ({call.kind}, tty={call.tty}); "
            f"registered patterns:\n{self._patterns()}"
        )

    def _lookup(self, spec: Spec, kind: str) -> tuple[Registration | None, Call]:
        """The registration for this call (None: run it for real), and the recorded call."""
        call = Call(spec, kind)
        found = self._resolve(call, commit=True)
        if found is None:
            if self._beneath is not None:  # a cassette answers what no fake does
                return None, call
            raise self._unregistered(call)
        if found == "real":
            return None, call
        if found.raises is not None:
            raise start_error(found.raises, spec)
        return found, call

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
        """Carry out ``spec`` (the launcher hook cmdrun calls for run and friends; tests do not)."""
        # A remote command is matched and answered as its caller wrote it (``seen``); what
        # runs for real is the spec as it is (its ssh).
        real, spec = spec, spec.seen()
        if spec.pipeline is not None:
            return (yield from self._pipeline(spec, deliver, real))
        registration, call = self._lookup(spec, "run")
        if registration is None:
            return (yield from self._next_layer(call).execution(real, deliver))
        spec = yield from _stdin_read(spec, call)
        if registration.dialogue is not None:
            return _ended(_play(spec, registration, deliver, self._played))
        return _ended(_answered(spec, _answer_from(registration, call), deliver))

    def _pipeline(
        self, spec: Spec, deliver: DeliverLine | None, real: Spec
    ) -> Generator[Wait, None, Result]:
        """A pipeline: run for real when every stage may run for real; otherwise each stage
        is answered in turn (one allowed to run for real runs on its own), fed the output of
        the one before.

        Every stage is recorded as a :class:`Call` whose ``input`` is what it was fed, and
        every stage is looked up before any answers, so a registration's ``raises`` (or an
        unregistered stage) fails the whole pipeline before any callback runs, as a real
        pipeline checks every program before starting one. As for a real pipeline, a stage
        stopped by a limit stops them all (SIGTERM), the exit status is the pipefail one,
        and the caller sees the last stage's stdout and every stage's stderr.
        """
        assert spec.pipeline is not None
        stages = [_stage_spec(spec, argv, i) for i, argv in enumerate(spec.pipeline.commands)]
        looked = []
        for index, stage in enumerate(stages):
            with _naming_stage(index, len(stages), stage.args):
                looked.append(self._lookup(stage, "run"))
        if all(registration is None for registration, _ in looked):
            # No stage is faked: the whole pipeline runs for real, or comes from the layer
            # beneath (a cassette records and replays it as one entry).
            if all(self._real(call) for _, call in looked):
                return (yield from REAL.execution(real, deliver))
            if self._beneath is not None:
                return (yield from self._beneath.execution(real, deliver))
        if spec.remote is not None and any(registration is None for registration, _ in looked):
            raise TypeError(
                f"a pipeline on {spec.remote.host} is faked whole or runs whole: register "
                "every stage (with host=), or none"
            )
        results: list[Result] = []
        for index, (registration, call) in enumerate(looked):
            stage = stages[index]
            if results:  # fed what the stage before it printed
                stage = stage.replace(input=results[-1].stdout_bytes)
                call.input = input_text(stage)
            elif registration is not None:
                stage = yield from _stdin_read(stage, call)
            if registration is None:
                with _naming_stage(index, len(stages), stage.args):
                    results.append((yield from self._next_layer(call).execution(stage, None)))
            elif registration.dialogue is not None:
                results.append(_play(stage, registration, None, self._played))
            else:
                results.append(_answered(stage, _answer_from(registration, call), None))
        return _ended(_joined(spec, stages, results, deliver))

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue (the launcher hook cmdrun calls; tests do not)."""
        real, spec = spec, spec.seen()
        registration, call = self._lookup(spec, "spawn")
        if registration is None:
            return self._next_layer(call).spawn(real)
        steps = registration.dialogue
        if steps is None:  # a plain answer is a program that prints it and exits
            answer = _answer_from(registration, call)
            steps = [
                Out(answer.stdout if isinstance(answer.stdout, str) else answer.stdout.decode()),
                Out(
                    answer.stderr if isinstance(answer.stderr, str) else answer.stderr.decode(),
                    "stderr",
                ),
                Exit(answer.returncode),
            ]
        # A dialogue written by hand holds no echo: the fake echoes as a terminal would.
        return fake_session(spec, steps, echo=True, played=self._played)

    def _next_layer(self, call: Call) -> _Stepped:
        """Where a call no registration answers goes: the real program when ``allow_real``
        names it, else the layer beneath (a cassette)."""
        if self._beneath is None or self._real(call):
            return REAL
        return self._beneath

    def _answer_the_rest_with(self, launcher: Launcher) -> None:
        """Send calls no registration answers to ``launcher`` (the test's cassette) instead
        of failing them as unregistered; ``allow_real`` programs still run for real."""
        self._beneath = _Adapted(launcher)

    # -- strict checks --------------------------------------------------------------------

    def _strict_problems(self) -> list[str]:
        with self._lock:
            problems = [
                f"registration {_Compiled(r.pattern).text} (times={r.times}) answered "
                f"{r.used} of {r.times} call(s)"
                for r in self._registrations
                if r.times is not None and r.used < r.times
            ]
            problems += [pump.unfinished() for pump in self._played if not pump.finished]
        return problems

    def _check_strict(self) -> None:
        """Fail when strict and something registered was not used up.

        Raises:
            AssertionError: naming each registration not used up and each dialogue not
                played to its end.
        """
        problems = self._strict_problems() if self.strict else []
        if problems:
            listed = "\n".join(f"  - {problem}" for problem in problems)
            raise AssertionError(
                f"strict fake_commands: {len(problems)} problem(s) at the end:\n{listed}"
            )

    def subprocess_program(self, spec: Spec, piped_input: bool) -> tuple[Any, Call]:
        """The fake program answering a plain ``subprocess`` call, or (None, call): run it
        for real (see :meth:`patch_subprocess`)."""
        from ._popen import fake_program

        program, call = fake_program(self, spec, piped_input)
        return program, call

    # -- activation -----------------------------------------------------------------------

    def patch_subprocess(self) -> SubprocessPatch:
        """Answer plain ``subprocess`` and asyncio subprocess calls too, until this fake exits.

        While it is on, ``subprocess.Popen`` — and so ``run``, ``call``, ``check_call``,
        ``check_output``, ``getoutput`` — and ``asyncio.create_subprocess_exec``/``_shell``
        are answered by the same registrations, dialogues and ``allow_real`` as cmdrun's own
        calls, process-wide (every thread), and recorded in :attr:`calls` with
        ``kind="subprocess"``. A ``shell=True`` string is matched as cmdrun runs it,
        ``/bin/sh -c CMD``. cmdrun's own children are never affected.

        The patch replaces ``subprocess.Popen`` and module-level aliases of it made before
        (``from subprocess import Popen``); a reference kept elsewhere (a class attribute, a
        default argument, a local) still reaches the real ``Popen``.

        Returns:
            The patch: it is on already, and comes off when this fake exits; use it as a
            context manager (``with fake.patch_subprocess():``) to end it sooner.

        Raises:
            RuntimeError: this fake is not active (use it in a ``with`` block or the
                ``fake_commands`` fixture first).
        """
        from ._popen import SubprocessPatch

        if self._active is None:
            raise RuntimeError(
                "patch_subprocess() needs an active FakeCommands: call it inside its "
                "`with` block (or on the fake_commands fixture)"
            )
        patch = SubprocessPatch()
        self._active.callback(patch.undo)
        return patch

    def __enter__(self) -> FakeCommands:
        outer = getattr(current_launcher(), "launcher", None)
        self._outer = outer if isinstance(outer, FakeCommands) and outer is not self else None
        stack = contextlib.ExitStack()
        stack.enter_context(using_launcher(self, process_wide=True))
        self._active = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(check=exc_type is None)

    def _close(self, *, check: bool) -> None:
        """Put the previous launcher back; then, with ``check``, the strict checks."""
        if self._active is not None:
            self._active.close()
            self._active = None
        self._outer = None
        if check:
            self._check_strict()


@contextlib.contextmanager
def _naming_stage(index: int, count: int, argv: tuple[str, ...]) -> Iterator[None]:
    """Re-raise a failure to start a pipeline's stage with the stage named in its message."""
    try:
        yield
    except CmdrunError as exc:
        raise in_stage(exc, stage_name(index, count, argv)) from None


def _stdin_read(spec: Spec, call: Call) -> Generator[Wait, None, Spec]:
    """``spec`` with what its ``stdin=`` source holds read into ``input``, as a fake's
    program would read it all; ``call.input`` shows it. Without a source: ``spec``. The
    chunks of an async source come from tasks of the event loop: the generator yields a
    wait for each, so that the loop runs them."""
    source = spec.stdin
    if source is None:
        return spec
    if isinstance(source, FromPath):
        with open(source.path, "rb") as file:
            data = file.read()
    elif isinstance(source, FromFd):
        fd = source.fd()
        data = b"".join(iter(lambda: os.read(fd, 1 << 16), b""))
    else:
        feed = source.feed(spec.encoding)
        chunks = []
        try:
            while (chunk := feed.pull()) is not None:
                if chunk:
                    chunks.append(chunk)
                else:  # an async source: its next chunk is on the way
                    yield FdWait(feed.wake_fd), math.inf
        finally:
            feed.close()
        data = b"".join(chunks)
    spec = spec.replace(stdin=None, input=data)
    call.input = input_text(spec)
    return spec


def _stage_spec(spec: Spec, argv: tuple[str, ...], index: int) -> Spec:
    """The spec of one stage of a faked pipeline: output kept in memory, no hooks."""
    return spec.replace(
        args=argv,
        pipeline=None,
        input=spec.input if index == 0 else None,
        stdin=spec.stdin if index == 0 else None,
        respond=(),
        stdout_to=None,
        stderr_to=None,
        max_output=None,
        on_stdout=None,
        on_stderr=None,
        tee=False,
        merge_stderr=False,
        capture=True,
    )


def _joined(
    spec: Spec, stages: list[Spec], results: list[Result], deliver: DeliverLine | None
) -> Result:
    """The Result of a faked pipeline from its stages' own Results."""
    stopped = [r for r in results if r.timed_out]
    first = min(stopped, key=lambda r: r.duration) if stopped else None
    codes = [r.returncode if first is None else -15 for r in results]
    status, failed = pipefail(codes)
    own_stderr = not spec.merge_stderr and spec.stderr_to is None
    chunks = [("stdout", results[-1].stdout_bytes)]
    chunks += [("stderr", r.stderr_bytes) for r in results]
    return simulated(
        spec,
        chunks,
        deliver,
        returncode=status,
        duration=max(r.duration for r in results) if first is None else first.duration,
        timed_out=first is not None,
        timeout_kind=None if first is None else "idle" if first.timeout_kind == "idle" else "total",
        pid=results[0].pid,
        stages=tuple(
            Stage(
                stage.args,
                r.pid,
                code,
                r.stderr_bytes if own_stderr else b"",
                ok=not bad,
                encoding=spec.encoding,
                errors=spec.errors,
            )
            for stage, r, code, bad in zip(stages, results, codes, failed, strict=True)
        ),
    )


def _stop(
    spec: Spec, silent: bool, duration: float
) -> tuple[float, Literal["total", "idle"]] | None:
    """When and why a fake running ``duration`` seconds is stopped (None: it is not).

    A fake that prints nothing is silent from its start, so an ``idle_timeout`` shorter than
    its duration stops it then; one that prints is taken to talk throughout its duration.
    The earlier limit wins, the total one on a tie, as with a real program.
    """
    limits: list[tuple[float, Literal["total", "idle"]]] = []
    if spec.timeout is not None:
        limits.append((spec.timeout, "total"))
    if silent and spec.idle_timeout is not None:
        limits.append((spec.idle_timeout, "idle"))
    due = [limit for limit in limits if duration > limit[0]]
    return min(due, key=lambda limit: limit[0]) if due else None


def _answered(spec: Spec, answer: Answer, deliver: DeliverLine | None) -> Result:
    """The Result a program with this answer would give, timeouts included."""
    enc = spec.encoding
    chunks = [("stdout", _bytes(answer.stdout, enc)), ("stderr", _bytes(answer.stderr, enc))]
    stop = _stop(spec, not any(data for _, data in chunks), answer.duration)
    if math.isinf(answer.duration) and stop is None:
        raise FakeHang(f"fake `{shlex.join(spec.args)}` hangs (duration=inf) and has no timeout")
    return simulated(
        spec,
        chunks,
        deliver,
        returncode=answer.returncode if stop is None else -15,
        duration=answer.duration if stop is None else stop[0],
        timed_out=stop is not None,
        timeout_kind=None if stop is None else stop[1],
        pid=FakeChild().pid,  # as a session's fake gets: unique, and no real process's
    )


def _ended(result: Result) -> Result:
    """``result``, once the fake it comes from has ended on the clock of its batch (a
    batch orders its fakes by duration; outside one this returns at once)."""
    pass_batch_time(result.duration)
    return result


def _play(
    spec: Spec,
    registration: Registration,
    deliver: DeliverLine | None,
    played: list[FakePump],
) -> Result:
    """Play a dialogue for a one-shot run: input as typed-ahead lines, respond= answering.
    The pump is added to ``played`` (for strict checks)."""
    assert registration.dialogue is not None
    pump = FakePump(
        registration.dialogue,
        tty=False,  # simulated() below turns the output into a terminal's when spec.tty
        echo=False,
        encoding=spec.encoding,
        describe=f"`{shlex.join(spec.args)}`",
    )
    played.append(pump)
    if spec.respond:
        answer = AutoAnswer(spec.respond, spec.encoding, spec.errors, on_secret=pump.mark_secret)
        answer.typist = pump
        pump.on_data = answer
    data = spec.input_bytes()
    if data is not None:
        if isinstance(spec.input, Secret):
            pump.mark_secret(spec.input)
        pump.write(data)
    if not spec.respond:
        pump.close_input()
    # A dialogue that blocks on input waits forever: the earlier limit stops it.
    stop = _stop(spec, True, math.inf)
    timed_out = pump.run_to_end(math.inf if stop is None else 0.0, 0.0)
    out = pump.sinks["stdout"].value()
    err = pump.sinks["stderr"].value()
    return simulated(
        spec,
        [("stdout", out), ("stderr", err)],
        deliver,
        returncode=pump.child.wait(),
        duration=stop[0] if timed_out and stop is not None else 0.0,
        timed_out=timed_out,
        timeout_kind=stop[1] if timed_out and stop is not None else None,
        pid=pump.child.pid,
    )


class _FakeSession(Session):
    """A Session whose program is a transcript (see :mod:`._dialogue`)."""

    _pump: FakePump

    def _send(self, text: Any, end: str, action: str) -> Steps[str]:
        if isinstance(text, Secret):
            self._pump.mark_secret(text)
        try:
            return (yield from super()._send(text, end, action))
        finally:
            self._pump.mark_secret(None)

    def interrupt(self) -> None:
        self._check_open("interrupt")
        if self.tty:
            self._pump.write(b"\x03")
        else:
            self._pump._finish(-2)

    def _finish(self, deadline: float, drain: float) -> Steps[bool]:
        return self._pump.run_to_end(deadline, drain)
        yield  # a generator, as the real one (never reached: a fake does not wait)

    def _set_size(self, rows: int, cols: int) -> None:
        if not self.tty:  # a transcript has no window to resize: only refuse as pipes do
            raise io.UnsupportedOperation(
                f"resize(): {self.args[0]!r} runs on pipes, which have no window size"
            )


def fake_session(
    spec: Spec,
    steps: Sequence[Step],
    *,
    echo: bool,
    played: list[FakePump] | None = None,
    where: str = "",
    canon: Callable[[str], str] | None = None,
) -> Session:
    """A :class:`Session` playing ``steps``, indistinguishable from a real one but for speed.

    Args:
        spec: the call.
        steps: the transcript.
        echo: echo typed text on a terminal.
        played: a list the pump is added to (for strict checks).
        where: added to the fake's description in messages (e.g. the cassette entry).
        canon: applied to each typed line before an ``In`` step checks it (a cassette's
            portable form).
    """
    pump = FakePump(
        steps,
        tty=spec.tty,
        echo=echo,
        encoding=spec.encoding,
        describe=f"`{shlex.join(spec.args)}`{where}",
    )
    pump.canon = canon
    if played is not None:
        played.append(pump)
    started = Started(pump.child, [], None, *((b"\x04", b"\x03") if spec.tty else ()))
    session = _FakeSession(spec, started, spec.timeout, pump)
    data = spec.input_bytes()
    if data is not None:
        if isinstance(spec.input, Secret):
            pump.mark_secret(spec.input)
        pump.write(data)
    return session
