"""What to run: the option set, checked before anything runs, as one :class:`Spec`.

``build_spec`` turns what a caller passed to any door (``run``, ``call``, ``spawn``,
``stream``, the batches and their asyncio twins) into a Spec, raising ``TypeError`` or
``ValueError`` for bad input; the named defaults live in :mod:`cmdrun._defaults`. Nothing
here starts a process: :mod:`cmdrun._start` does that, :mod:`cmdrun._engine` runs it.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

from ._args import (
    Input,
    check_flag,
    check_int,
    encode_input,
    normalize_command,
    normalize_cwd,
    normalize_env,
    normalize_grace,
    normalize_timeout,
)
from ._defaults import (
    DEFAULT_DIMENSIONS,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_ENCODING,
    DEFAULT_ERRORS,
    DEFAULT_KILL_GRACE,
)
from ._frozen import Frozen
from ._match import Pattern, Reply, Responder
from ._pipeline import Pipeline, Runnable
from ._secret import Redactor, Secret, seal
from ._ssh import RemoteCommand
from ._stdin import FromFd, Source, Stdin, check_stdin

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import IO, Literal, TypeAlias, TypedDict

    from typing_extensions import Never

    from ._pump import CancelToken


#: Where ``stdout=``/``stderr=`` may send output: a path, or a binary file.
Target: TypeAlias = "str | os.PathLike[str] | IO[bytes]"


LineCallback: TypeAlias = Callable[[str], object]


DeliverLine: TypeAlias = Callable[[str, str], object]


_set = object.__setattr__  # how the frozen values below set their fields, once


class Spec(Frozen):
    """A fully checked request to run one command (built by :func:`build_spec`).

    ``input`` stays a :class:`Secret` when one was given: it is revealed only by
    :meth:`input_bytes`, as the pump writes it.
    """

    __slots__ = (
        "args",
        "cancel",
        "capture",
        "cwd",
        "die_with_parent",
        "dimensions",
        "drain_timeout",
        "echo",
        "encoding",
        "env",
        "errors",
        "idle_timeout",
        "input",
        "kill_grace",
        "max_output",
        "merge_stderr",
        "on_stderr",
        "on_stdout",
        "pass_fds",
        "pipeline",
        "remote",
        "respond",
        "secrets",
        "stderr_to",
        "stdin",
        "stdout_to",
        "tee",
        "term",
        "terminal",
        "timeout",
        "tty",
    )

    args: tuple[str, ...]
    cancel: CancelToken | None
    capture: bool
    cwd: str | None
    die_with_parent: bool
    dimensions: tuple[int, int]
    drain_timeout: float
    echo: bool | None
    encoding: str
    env: dict[str, str] | None
    errors: str
    #: Seconds without any output after which the program is stopped; None: no limit.
    idle_timeout: float | None
    input: bytes | Secret | None
    kill_grace: float
    max_output: int | None
    merge_stderr: bool
    on_stderr: LineCallback | None
    on_stdout: LineCallback | None
    pass_fds: tuple[int, ...]
    #: The stages of a pipeline (``args`` is then its first stage's argv), or None.
    pipeline: Pipeline | None
    #: The command on another host that ``args`` (an ``ssh`` argv) runs, or None: what
    #: Results and messages name (:meth:`shown`).
    remote: RemoteCommand | None
    respond: tuple[tuple[Pattern, Reply], ...]
    secrets: tuple[Secret, ...]
    #: Where stdin comes from when not /dev/null, ``input`` or a dialogue (``stdin=``).
    stdin: Source | None
    stderr_to: Target | None
    stdout_to: Target | None
    tee: bool
    term: str | None
    #: ``call`` only: an fd on the controlling terminal, whose foreground the child's own
    #: process group takes (in this session) while it runs; None: a new session, as always.
    terminal: int | None
    timeout: float | None
    tty: bool

    def __init__(
        self,
        args: tuple[str, ...],
        *,
        input: bytes | Secret | None = None,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        capture: bool = True,
        merge_stderr: bool = False,
        kill_grace: float = DEFAULT_KILL_GRACE,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        encoding: str = DEFAULT_ENCODING,
        errors: str = DEFAULT_ERRORS,
        tty: bool = False,
        dimensions: tuple[int, int] = DEFAULT_DIMENSIONS,
        echo: bool | None = None,
        respond: tuple[tuple[Pattern, Reply], ...] = (),
        secrets: tuple[Secret, ...] = (),
        term: str | None = None,
        stdout_to: Target | None = None,
        stderr_to: Target | None = None,
        max_output: int | None = None,
        on_stdout: LineCallback | None = None,
        on_stderr: LineCallback | None = None,
        tee: bool = False,
        cancel: CancelToken | None = None,
        die_with_parent: bool = False,
        pass_fds: tuple[int, ...] = (),
        terminal: int | None = None,
        pipeline: Pipeline | None = None,
        stdin: Source | None = None,
        remote: RemoteCommand | None = None,
    ) -> None:
        _set(self, "args", args)
        _set(self, "remote", remote)
        _set(self, "pipeline", pipeline)
        _set(self, "stdin", stdin)
        _set(self, "pass_fds", pass_fds)
        _set(self, "terminal", terminal)
        _set(self, "die_with_parent", die_with_parent)
        _set(self, "term", term)
        _set(self, "stdout_to", stdout_to)
        _set(self, "stderr_to", stderr_to)
        _set(self, "max_output", max_output)
        _set(self, "on_stdout", on_stdout)
        _set(self, "on_stderr", on_stderr)
        _set(self, "tee", tee)
        _set(self, "cancel", cancel)
        _set(self, "tty", tty)
        _set(self, "dimensions", dimensions)
        _set(self, "echo", echo)
        _set(self, "respond", respond)
        _set(self, "secrets", secrets)
        _set(self, "input", input)
        _set(self, "timeout", timeout)
        _set(self, "idle_timeout", idle_timeout)
        _set(self, "cwd", cwd)
        _set(self, "env", env)
        _set(self, "capture", capture)
        _set(self, "merge_stderr", merge_stderr)
        _set(self, "kill_grace", kill_grace)
        _set(self, "drain_timeout", drain_timeout)
        _set(self, "encoding", encoding)
        _set(self, "errors", errors)

    def replace(self, **changes: object) -> Spec:
        """A copy with some fields changed."""
        copy = Spec.__new__(Spec)
        for name in Spec.__slots__:
            _set(copy, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"unknown Spec fields: {sorted(changes)}")
        return copy

    def shown(self) -> tuple[str, ...] | Pipeline:
        """The command as Results and messages name it: the argv, the Pipeline, or the
        remote command (not the ``ssh`` that runs it)."""
        if self.remote is not None:
            return self.remote.shown
        return self.args if self.pipeline is None else self.pipeline

    def seen(self) -> Spec:
        """The spec as the caller asked for it, for test doubles to match and answer: for
        a remote command, its own argv (a pipeline's stages), ``cwd`` and ``env`` on the
        host, and no lifeline (``remote`` stays: results still name the host). Else itself.
        """
        remote = self.remote
        if remote is None:
            return self
        stdin = self.stdin
        if isinstance(stdin, FromFd) and stdin.number == remote.link.lifeline():
            stdin = None
        shown = remote.shown
        if isinstance(shown, Pipeline):
            return self.replace(
                args=shown.commands[0], pipeline=shown, cwd=remote.cwd, env=remote.env, stdin=stdin
            )
        return self.replace(args=shown, pipeline=None, cwd=remote.cwd, env=remote.env, stdin=stdin)

    def input_bytes(self) -> bytes | None:
        """The bytes to write to the program's input (a Secret's as :class:`Sealed` bytes)."""
        if isinstance(self.input, Secret):
            return seal(self.input, self.encoding)
        return self.input

    def watches(self, stream: str) -> bool:
        """Whether cmdrun must see ``stream``'s bytes as they come (not just store them).

        While a secret is in play, output never goes straight from the program to a file:
        it is pumped through cmdrun, which masks the secret. Under ``idle_timeout`` every
        byte must be seen too, or a program writing only to a file would look silent.
        """
        callback = self.on_stdout if stream == "stdout" else self.on_stderr
        return (
            self.tty
            or bool(self.respond)
            or self.tee
            or callback is not None
            or bool(self.secrets)
            or self.idle_timeout is not None
        )

    def redactor(self) -> Redactor | None:
        """A fresh redactor for this run's output, or None when no secret is in play."""
        return Redactor(self.secrets, self.encoding) if self.secrets else None


#: TERM given to programs on a PTY unless ``term=`` or the caller's ``env`` sets one: no
#: colours, no bracketed paste, no cursor tricks, so prompts and lines arrive as plain text.
#: Full-screen programs (``dialog``, ``less``, ``top``) need a real type: ``term=``.
PTY_TERM = "dumb"

#: The longest line a terminal in canonical mode (the mode programs read lines in) holds:
#: the kernel keeps the bytes of the line being typed in a buffer and silently drops what
#: does not fit, so cmdrun refuses to type a longer one. Linux: 4096 bytes with the
#: newline; BSD and macOS: ``MAX_CANON`` (1024) with it.
PTY_LINE_LIMIT = 4095 if sys.platform.startswith("linux") else 1023

# A line end for the terminal: newline, carriage return (ICRNL makes it one) and Ctrl-D
# (pushes the line to the reader); what runs between them is one line.
# Compiled on first use (re's own cache), not at import.
_OVERLONG = rb"[^\n\r\x04]{%d,}" % (PTY_LINE_LIMIT + 1)
_OVERLONG_END = rb"[\n\r\x04]"


def overlong_line(data: bytes, pending: int = 0) -> int | None:
    """The length of the first line in ``data`` a canonical terminal would cut, or None.

    ``pending`` bytes of the first line were typed before ``data``. Only lengths are
    looked at: the bytes of a secret never appear in the answer.
    """
    if pending + len(data) <= PTY_LINE_LIMIT:
        return None
    if pending:
        end = re.search(_OVERLONG_END, data)
        first = len(data) if end is None else end.start()
        if pending + first > PTY_LINE_LIMIT:
            return pending + first
    found = re.search(_OVERLONG, data)
    return None if found is None else found.end() - found.start()


def line_limit_error(length: int, what: str, remedy: str) -> ValueError:
    """The error for a line of ``length`` bytes that a terminal would cut."""
    return ValueError(
        f"{what} has a line of {length} bytes; a terminal holds at most {PTY_LINE_LIMIT} "
        f"bytes of a line being typed and would silently cut the rest: {remedy}"
    )


_TTY_REMEDY = (
    "run it over pipes (tty=False, which takes any length), give the data in a file, or "
    "split the line"
)


def _check_typed_lines(
    input: bytes | Secret | None, replies: Iterable[Reply], encoding: str
) -> None:
    """Refuse input or a reply with a line longer than a terminal holds (before any run)."""
    if input is not None:
        data = seal(input, encoding) if isinstance(input, Secret) else input
        length = overlong_line(data)
        if length is not None:
            raise line_limit_error(length, "input typed on a pseudo-terminal", _TTY_REMEDY)
    for reply in replies:
        data = seal(reply, encoding, "\n") if isinstance(reply, Secret) else reply.encode(encoding)
        length = overlong_line(data)
        if length is not None:
            raise line_limit_error(length, "a respond= reply", _TTY_REMEDY)


def check_typed_lines(spec: Spec) -> None:
    """Raise if ``spec`` would type a line on a PTY that the terminal cuts.

    Raises:
        ValueError: a line of ``input`` or a ``respond`` reply is over :data:`PTY_LINE_LIMIT`.
    """
    _check_typed_lines(spec.input, (reply for _, reply in spec.respond), spec.encoding)


def check_term(term: object) -> str | None:
    """Check ``term=``: None, or a terminal type name for ``TERM``.

    Raises:
        TypeError: not a str.
        ValueError: empty or containing a NUL.
    """
    if term is None:
        return None
    if not isinstance(term, str):
        raise TypeError(f"term must be a terminal type name (str) or None, not {term!r}")
    if not term or "\x00" in term:
        raise ValueError(
            f"term must be a terminal type name such as 'xterm-256color', not {term!r}"
        )
    return term


def refuse_term_on_pipes(term: object, tty: object) -> None:
    """``term=`` names the pseudo-terminal's type: on pipes (``tty=False``) it is a mistake.

    Raises:
        ValueError: ``term`` given with ``tty=False``.
    """
    if term is not None and tty is False:
        raise ValueError(
            "term= is the type of the pseudo-terminal, and tty=False runs on pipes: "
            "use tty=True (or 'auto'), or set TERM in env="
        )


def _respond_pairs(respond: Mapping[Pattern, Reply] | None) -> tuple[tuple[Pattern, Reply], ...]:
    if not respond:
        return ()
    if not isinstance(respond, Mapping):
        raise TypeError(f"respond must be a mapping of prompt to reply, not {respond!r}")
    Responder(respond)  # validates patterns and replies now, before anything runs
    return tuple(respond.items())


if TYPE_CHECKING:  # for type checkers only: a TypedDict costs about 1 ms to build at import,
    # paid by every start of the command-line tool; _RUN_OPTIONS below spells out its keys.

    class BatchOptions(TypedDict, total=False):
        """The keyword options of :func:`run` that ``run_many``/``arun_many`` pass to each
        command."""

        input: Input | Secret | None
        idle_timeout: float | None
        cwd: str | os.PathLike[str] | None
        env: Mapping[str, str] | None
        inherit_env: bool
        shell: bool
        encoding: str
        errors: str
        merge_stderr: bool
        kill_grace: float
        drain_timeout: float
        tty: bool | Literal["auto"]
        term: str | None
        respond: Mapping[Pattern, Reply] | None
        dimensions: tuple[int, int]
        #: Batches take only a path (opened for each command) or ``subprocess.DEVNULL``.
        stdin: Stdin
        stdout: OutputTarget | None
        stderr: OutputTarget | None
        max_output: int | None
        on_stdout: LineCallback | None
        on_stderr: LineCallback | None
        tee: bool
        die_with_parent: bool
        pass_fds: Sequence[int]

    class RunOptions(BatchOptions, total=False):
        """The keyword options of :func:`run`, shared by ``stream`` and ``arun``."""

        timeout: float | None
        check: bool


#: The keywords of ``RunOptions`` (a test checks that the two agree).
_RUN_OPTIONS = frozenset(
    {
        "check",
        "cwd",
        "die_with_parent",
        "dimensions",
        "drain_timeout",
        "encoding",
        "env",
        "errors",
        "idle_timeout",
        "inherit_env",
        "input",
        "kill_grace",
        "max_output",
        "merge_stderr",
        "on_stderr",
        "on_stdout",
        "pass_fds",
        "respond",
        "shell",
        "stderr",
        "stdin",
        "stdout",
        "tee",
        "term",
        "timeout",
        "tty",
    }
)


#: ``subprocess`` keywords that cmdrun does not take, and what to do instead.
_SUBPROCESS_HABITS = {
    "capture_output": "output is captured by default (Result.stdout, Result.stderr)",
    "text": (
        "output is text by default (Result.stdout is a str, Result.stdout_bytes the bytes "
        "beside it; encoding= and errors= choose the codec)"
    ),
    "start_new_session": "every program runs in a new session (its own process group) anyway",
}


def refuse_options(
    names: Iterable[str], door: str, reasons: Mapping[str, str] | None = None
) -> Never:
    """Raise for keyword arguments ``door`` does not take, saying why when it is known:
    ``reasons`` (name to why), else the answer to a ``subprocess`` habit.

    Raises:
        TypeError: always, naming the first of ``names``.
    """
    for name in names:
        reason = None if reasons is None else reasons.get(name)
        if reason is not None:
            raise TypeError(f"{door}() does not take {name}=: {reason}")
        habit = _SUBPROCESS_HABITS.get(name)
        if habit is not None:
            raise TypeError(f"{door}() does not take {name}=: {habit}; leave it out")
        raise TypeError(f"{door}() got an unexpected keyword argument {name!r}")
    raise TypeError(f"{door}() got no option to refuse")


def _check_target(target: object, name: str) -> Target | None:
    if target is None or isinstance(target, (str, os.PathLike)):
        return target
    if isinstance(target, int) and not isinstance(target, bool):
        if target == subprocess.DEVNULL:
            return os.devnull  # a real file: handed to the program, nothing passes through us
        if target == subprocess.PIPE:
            raise TypeError(
                f"{name}=subprocess.PIPE: output is captured by default (Result.{name}); "
                f"leave {name} out"
            )
        if target == subprocess.STDOUT and name == "stderr":
            raise TypeError("stderr=subprocess.STDOUT: use merge_stderr=True")
    if isinstance(target, io.TextIOBase) or not callable(getattr(target, "write", None)):
        raise TypeError(
            f"{name} must be a path, a binary file or subprocess.DEVNULL, not {target!r}"
        )
    return target  # type: ignore[return-value]


def _check_callback(callback: object, name: str) -> LineCallback | None:
    if callback is not None and not callable(callback):
        raise TypeError(f"{name} must be callable, not {callback!r}")
    return callback


def _check_pass_fds(fds: object) -> tuple[int, ...]:
    """``pass_fds`` as a tuple of open fds above the standard three (checked now, so a
    closed fd is named here rather than failing inside the child's start)."""
    if not isinstance(fds, (list, tuple, set, frozenset, range)):
        raise TypeError(f"pass_fds must be a sequence of file descriptors, not {fds!r}")
    checked = []
    for fd in fds:
        if type(fd) is not int:
            raise TypeError(f"pass_fds takes int file descriptors, not {fd!r}")
        if fd in (0, 1, 2):
            raise ValueError(
                f"pass_fds: {fd} is a standard stream, which cmdrun sets up itself; "
                "pass_fds is for other fds (>= 3)"
            )
        if fd < 0:
            raise ValueError(f"pass_fds: file descriptors are >= 3, not {fd}")
        try:
            os.fstat(fd)
        except OSError:
            raise ValueError(f"pass_fds: fd {fd} is not open in this process") from None
        checked.append(fd)
    return tuple(sorted(set(checked)))


def _check_max_output(limit: object) -> int | None:
    return None if limit is None else check_int(limit, "max_output", 0, " number of bytes")


def _command(
    cmd: Runnable | RemoteCommand, shell: object, tty: bool, lifeline: bool, kill_grace: float
) -> tuple[tuple[str, ...], Pipeline | None]:
    """The argv to run (a pipeline's first stage's) and the pipeline, if ``cmd`` is one."""
    if isinstance(cmd, RemoteCommand):
        if tty and isinstance(cmd.command, Pipeline):
            _command(cmd.command, shell, tty, lifeline, kill_grace)  # raises
        return cmd.launch(tty, lifeline, kill_grace)
    if not isinstance(cmd, Pipeline):
        return normalize_command(cmd, check_flag(shell, "shell")), None
    if shell is not False:
        raise TypeError(
            "shell=True takes one command line for /bin/sh, not a pipeline: leave shell out "
            "(a pipeline needs no shell), or give the whole line as one str with shell=True"
        )
    if tty:
        raise ValueError(
            "tty=True: a pipeline runs on pipes (its stages are connected by pipes, and only "
            "one program can own a terminal); leave tty out, or run one command on a PTY"
        )
    return cmd.commands[0], cmd


def build_spec(
    cmd: Runnable | RemoteCommand,
    *,
    input: Input | Secret | None = None,
    timeout: float | None = None,
    idle_timeout: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    shell: bool = False,
    encoding: str = DEFAULT_ENCODING,
    errors: str = DEFAULT_ERRORS,
    merge_stderr: bool = False,
    kill_grace: float = DEFAULT_KILL_GRACE,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    capture: bool = True,
    tty: bool = False,
    term: str | None = None,
    dimensions: tuple[int, int] = DEFAULT_DIMENSIONS,
    echo: bool | None = None,
    respond: Mapping[Pattern, Reply] | None = None,
    stdin: Stdin = None,
    stdout: OutputTarget | None = None,
    stderr: OutputTarget | None = None,
    max_output: int | None = None,
    on_stdout: LineCallback | None = None,
    on_stderr: LineCallback | None = None,
    tee: bool = False,
    die_with_parent: bool = False,
    pass_fds: Sequence[int] = (),
) -> Spec:
    """Check every argument and build the engine's request (raises before anything runs).

    ``term`` is the PTY's ``TERM``; None keeps a ``TERM`` given in ``env``, else
    :data:`PTY_TERM`. With ``tty``, a typed line longer than :data:`PTY_LINE_LIMIT` raises.

    An argument left at its default (the very object of the signature: known good) skips
    its check, which is most of them on most calls: this runs before every command.
    """
    if encoding is not DEFAULT_ENCODING or errors is not DEFAULT_ERRORS:
        "".encode(encoding, errors)  # an unknown codec raises LookupError now, not after the run
    source = None if stdin is None else check_stdin(stdin, input, respond, tty)
    pairs = () if respond is None else _respond_pairs(respond)
    secrets = [reply for _, reply in pairs if isinstance(reply, Secret)]
    if isinstance(input, Secret):
        secrets.append(input)
        seal(input, encoding)  # cannot be encoded: raise now (the plaintext stays sealed)
    if term is not None:
        term = check_term(term)
    data = input if input is None or isinstance(input, Secret) else encode_input(input, encoding)
    if tty:
        _check_typed_lines(data, (reply for _, reply in pairs), encoding)
    if dimensions is not DEFAULT_DIMENSIONS:
        rows, cols = dimensions
        if not (isinstance(rows, int) and isinstance(cols, int) and rows > 0 and cols > 0):
            raise ValueError(f"dimensions must be (rows, columns) > 0, not {dimensions!r}")
        dimensions = (rows, cols)
    grace = kill_grace if kill_grace is DEFAULT_KILL_GRACE else normalize_grace(kill_grace)
    remote = cmd if isinstance(cmd, RemoteCommand) else None
    # A remote command that reads no input gets cmdrun's lifeline as ssh's stdin: its end
    # (this process or its ssh gone) stops the remote process group (see cmdrun._ssh).
    lifeline = (
        remote is not None
        and not remote.interactive
        and not tty
        and source is None
        and data is None
        and not pairs
    )
    if lifeline:
        assert remote is not None
        source = FromFd(remote.link.lifeline())
    args, pipeline = _command(cmd, shell, tty, lifeline, grace)
    # Checked in the order of the fields below; a flag left False is known good, so only a
    # flag given is checked (and then it is True).
    seconds = None if timeout is None else normalize_timeout(timeout)
    idle = None if idle_timeout is None else normalize_timeout(idle_timeout, "idle_timeout")
    directory = None if cwd is None else normalize_cwd(cwd)
    environment = (
        None
        if env is None and inherit_env is True
        else normalize_env(env, check_flag(inherit_env, "inherit_env"))
    )
    merge = merge_stderr is not False and check_flag(merge_stderr, "merge_stderr")
    if drain_timeout is not DEFAULT_DRAIN_TIMEOUT:
        drain_timeout = normalize_grace(drain_timeout, "drain_timeout")
    return Spec(
        args,
        pipeline=pipeline,
        input=data,
        timeout=seconds,
        idle_timeout=idle,
        cwd=directory,
        env=environment,
        capture=capture,
        merge_stderr=merge,
        kill_grace=grace,
        drain_timeout=drain_timeout,
        encoding=encoding,
        errors=errors,
        tty=tty,
        dimensions=dimensions,
        echo=None if echo is None else check_flag(echo, "echo"),
        respond=pairs,
        secrets=tuple(secrets),
        term=term if term is not None else None if env and "TERM" in env else PTY_TERM,
        stdout_to=None if stdout is None else _check_target(stdout, "stdout"),
        stderr_to=None if stderr is None else _check_target(stderr, "stderr"),
        max_output=None if max_output is None else _check_max_output(max_output),
        on_stdout=None if on_stdout is None else _check_callback(on_stdout, "on_stdout"),
        on_stderr=None if on_stderr is None else _check_callback(on_stderr, "on_stderr"),
        tee=tee is not False and check_flag(tee, "tee"),
        die_with_parent=die_with_parent is not False
        and check_flag(die_with_parent, "die_with_parent"),
        pass_fds=() if pass_fds == () else _check_pass_fds(pass_fds),
        stdin=source,
        remote=remote,
    )


#: Where ``stdout=``/``stderr=`` may send output: a path, a binary file, or
#: ``subprocess.DEVNULL`` to discard it (the program gets ``/dev/null``).
OutputTarget: TypeAlias = "Target | int"
