"""``run`` and ``call``: thin doors onto the engine, through the launcher seam."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Generator, Iterable, Mapping, Sequence

from ._args import (
    Command,
    Input,
    check_flag,
)
from ._defaults import (
    DEFAULT_DIMENSIONS,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_ENCODING,
    DEFAULT_ERRORS,
    DEFAULT_KILL_GRACE,
)
from ._frozen import Frozen
from ._launcher import current_launcher, drive
from ._log import debug_enabled, log_debug, log_info, log_warning
from ._match import Pattern, Reply
from ._pipeline import Runnable, refuse_pipeline
from ._platform import follow_stop, foreground_terminal, give_terminal
from ._pump import advance
from ._result import Result
from ._secret import Secret
from ._spec import (
    _RUN_OPTIONS,
    _SUBPROCESS_HABITS,
    DeliverLine,
    LineCallback,
    OutputTarget,
    Spec,
    build_spec,
    check_typed_lines,
    refuse_options,
    refuse_term_on_pipes,
)
from ._stdin import Stdin, refuse_async
from ._which import locate, path_of

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from typing import Any, Literal

    from typing_extensions import Never

    from ._pump import CancelToken, Wait
    from ._spec import RunOptions


# The settings below are the values the package starts with. cmdrun reads them through the
# public module (``cmdrun.TTY_REFUSALS``, ...) each time it decides on a rerun, so that
# ``cmdrun.NAME = value`` takes effect, as the export suggests; assigning to this private
# module's copies does nothing.

#: Output that means "I need a terminal", for ``run(tty="auto")``. Strings match
#: case-insensitively anywhere in stdout or stderr; compiled regexes are searched as given.
#: Append to this list, or rebind ``cmdrun.TTY_REFUSALS`` to any sequence of patterns, to
#: teach cmdrun about another program.
TTY_REFUSALS: list[Pattern] = [
    "not a tty",
    "inappropriate ioctl for device",
    "the input device is not a tty",
    "a terminal is required",
    "must be run from a terminal",
    "failed tty get",
    # A program that opens /dev/tty in a process without a controlling terminal (ENXIO):
    # gpg "cannot open '/dev/tty': No such device or address", dash "cannot create
    # /dev/tty: ...", bash "/dev/tty: ...", and the reverse order of Python's OSError. A
    # Python traceback is not a bare refusal (its other lines are not refusals): a crash
    # report may come after any amount of work, so that program is not run again.
    re.compile(
        r"/dev/tty'?: no such device or address|no such device or address: '/dev/tty'", re.I
    ),
]


#: ``run(tty="auto")`` reruns on a PTY only if the refusal came within this many seconds:
#: a program that refuses a missing terminal does so at start-up, before doing any work.
TTY_REFUSAL_WINDOW = 5.0

#: ``run(tty="auto")`` looks for a refusal only in outputs up to this many bytes.
TTY_REFUSAL_MAX_OUTPUT = 1024

_PACKAGE = __name__.rpartition(".")[0]


def _public(name: str) -> Any:
    """The setting ``cmdrun.NAME`` as it is bound now (see ``TTY_REFUSALS``)."""
    return getattr(sys.modules[_PACKAGE], name)


def _outcome(result: Result) -> str:
    if result.timed_out:
        how = "timed out, stopped"
        how += f" ({result.signal.name})" if result.signal else f" (exit {result.returncode})"
    elif result.signal is not None:
        how = f"killed by {result.signal.name}"
    else:
        how = f"exit {result.returncode}"
    return f"{how} in {result.duration:.3f} s" + (" on a pty" if result.tty else "")


def _execution(spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
    """The current launcher's execution of ``spec``, logged at DEBUG."""
    debug = debug_enabled()
    if debug:
        log_debug("run: %s", command_line(spec))
    result = yield from current_launcher().execution(spec, deliver)
    if debug:
        log_debug("done: %s (pid %d): %s", command_line(spec), result.pid, _outcome(result))
    return result


def remote_execution(spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
    """:func:`_execution` of a command on another host, then, if the local side stopped its
    ``ssh`` (a timeout, a cancellation, Ctrl-C), the stopping of what is left there."""
    remote = spec.remote
    assert remote is not None
    watch = remote.link.watch(remote, spec)
    try:
        try:
            result = yield from _execution(spec, deliver)
        except GeneratorExit:
            raise
        except BaseException:
            yield from remote.link.cleanup(remote, spec.kill_grace)
            raise
        if result.timed_out or result.cancelled:
            yield from remote.link.cleanup(remote, spec.kill_grace)
    finally:
        if watch is not None:
            watch.end()
    return result


def _steps(spec: Spec) -> Generator[Wait, None, Result]:
    """The execution of ``spec`` for ``call``: a remote command's with its clean-up."""
    return _execution(spec, None) if spec.remote is None else remote_execution(spec, None)


def command_line(spec: Spec) -> str:
    """What ``spec`` runs, as a shell line (a pipeline's stages joined by ``|``)."""
    shown = spec.shown()
    line = shlex.join(shown) if isinstance(shown, tuple) else str(shown)
    return line if spec.remote is None else f"{line} (on {spec.remote.host})"


def refused_terminal(result: Result, spec: Spec) -> bool:
    """Whether ``result`` shows a program that did nothing but refuse to run without a terminal.

    ``run(tty="auto")`` reruns a command on a PTY only on that evidence, because a rerun
    repeats whatever the first run did. All of these must hold:

    * the program ended by itself with an exit status > 0, within ``cmdrun.TTY_REFUSAL_WINDOW``
      seconds: not timed out, not killed by a signal, not cancelled (nor its batch);
    * all its output was kept in memory (no ``stdout=``/``stderr=`` file, nothing dropped by
      ``max_output``) and is short, at most ``cmdrun.TTY_REFUSAL_MAX_OUTPUT`` bytes: a refusal
      is a line or two, and the scan stays bounded whatever the program printed;
    * every non-empty line is a refusal (it matches ``cmdrun.TTY_REFUSALS``), and the program's
      own: a line ``NAME: ...`` where ``NAME`` is another program found on ``PATH`` (a script's
      ``stty: 'standard input': Inappropriate ioctl for device``) shows that the program ran
      other programs, so it may have done work that must not be repeated.

    The three settings are read from the public module at each call (``cmdrun.X = ...``
    takes effect); a successful run never gets that far.
    """
    if (
        result.returncode <= 0
        or spec.pipeline is not None  # tty="auto" means pipes for a pipeline
        or spec.remote is not None  # and for a remote command (stdin: its lifeline or input)
        or result.timed_out
        or result.cancelled
        or result.tty
        or (spec.cancel is not None and spec.cancel.cancelled)
        or spec.stdout_to is not None
        or spec.stderr_to is not None
        or result.stdout_dropped
        or result.stderr_dropped
        or result.duration > _public("TTY_REFUSAL_WINDOW")
        or len(result.stdout_bytes) + len(result.stderr_bytes) > _public("TTY_REFUSAL_MAX_OUTPUT")
    ):
        return False
    lines = [line.strip() for line in f"{result.stdout}\n{result.stderr}".splitlines()]
    lines = [line for line in lines if line]
    program = os.path.basename(spec.args[0])
    path = path_of(spec.env)
    refusals: Iterable[Pattern] = _public("TTY_REFUSALS")
    return bool(lines) and all(_own_refusal(line, program, path, refusals) for line in lines)


def _own_refusal(line: str, program: str, path: str | None, refusals: Iterable[Pattern]) -> bool:
    """Whether ``line`` is a refusal (one of ``refusals``) printed by ``program`` itself."""
    lowered = line.lower()
    if not any(
        signature.lower() in lowered if isinstance(signature, str) else signature.search(line)
        for signature in refusals
    ):
        return False
    name, colon, _ = line.partition(":")
    if not colon or name == program or not name or " " in name or "/" in name:
        return True
    return locate(name, path) is None


_SUBPROCESS_HABITS["universal_newlines"] = _SUBPROCESS_HABITS["text"]

_set = object.__setattr__  # how Prepared sets its fields, once


class Prepared(Frozen):
    """A checked command with the run-level choices that sit above the engine."""

    __slots__ = ("auto_tty", "check", "spec")

    spec: Spec
    check: bool
    auto_tty: bool

    def __init__(self, spec: Spec, check: bool, auto_tty: bool) -> None:
        _set(self, "spec", spec)
        _set(self, "check", check)
        _set(self, "auto_tty", auto_tty)

    def watching(self, cancel: CancelToken) -> Prepared:
        """The same command, stopped when ``cancel`` is cancelled (batches, asyncio)."""
        return Prepared(self.spec.replace(cancel=cancel), self.check, self.auto_tty)

    def execution(self, deliver: DeliverLine | None = None) -> Generator[Wait, None, Result]:
        """Run the command step by step, with the TTY fallback; the generator returns the
        Result and never raises for what the program did. The one place the fallback is
        decided, for ``run``, the batches and ``stream`` alike."""
        if self.spec.remote is not None:
            return (yield from remote_execution(self.spec, deliver))
        result = yield from _execution(self.spec, deliver)
        if self.auto_tty and refused_terminal(result, self.spec) and self._typeable():
            log_info(
                "%s refused to run without a terminal (exit %d); running it again on a pty",
                shlex.join(self.spec.args),
                result.returncode,
            )
            result = yield from _execution(self.spec.replace(tty=True), deliver)
        return result

    def _typeable(self) -> bool:
        """Whether the input fits a terminal's lines; if not, the refusal stands (logged):
        a rerun would cut a line, and the run has happened, too late for a ValueError."""
        try:
            check_typed_lines(self.spec)
        except ValueError as exc:
            log_warning(
                "%s refused to run without a terminal; not rerun on a pty: %s",
                shlex.join(self.spec.args),
                exc,
            )
            return False
        return True

    def run(self) -> Result:
        """:meth:`execution` driven to the end."""
        return drive(self.execution())

    def finish(self, result: Result) -> Result:
        """Apply ``check``."""
        if self.check:
            result.check_returncode()
        return result


def auto_tty(tty: object) -> bool:
    """Whether ``run``'s ``tty`` is ``"auto"``.

    Raises:
        ValueError: ``tty`` is not True, False or ``"auto"``.
    """
    if tty is True or tty is False:
        return False
    if isinstance(tty, str) and tty == "auto":
        return True
    raise ValueError(f"tty must be True, False or 'auto', not {tty!r}")


def prepare(cmd: Runnable, options: RunOptions, door: str) -> Prepared:
    """Check ``cmd`` and the keyword options given to ``door`` (its name, for errors).

    For the doors that take ``run``'s options as ``**options``; nothing runs yet.

    Raises:
        TypeError, ValueError, LookupError, FileNotFoundError, NotADirectoryError: bad input.
    """
    if not options.keys() <= _RUN_OPTIONS:
        refuse_options(sorted(options.keys() - _RUN_OPTIONS), door)
    opts = dict(options)
    check = check_flag(opts.pop("check", True), "check")
    tty = opts.pop("tty", "auto")
    auto = auto_tty(tty)
    refuse_term_on_pipes(opts.get("term"), tty)
    spec = build_spec(cmd, tty=tty is True, **opts)  # type: ignore[arg-type]
    if door not in ("arun", "astream"):
        refuse_async(spec.stdin, door)
    return Prepared(spec, check, auto_tty=auto and spec.stdin is None)


def run(
    cmd: Runnable,
    *,
    input: Input | Secret | None = None,
    timeout: float | None = None,
    idle_timeout: float | None = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    shell: bool = False,
    encoding: str = DEFAULT_ENCODING,
    errors: str = DEFAULT_ERRORS,
    merge_stderr: bool = False,
    kill_grace: float = DEFAULT_KILL_GRACE,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    tty: bool | Literal["auto"] = "auto",
    term: str | None = None,
    respond: Mapping[Pattern, Reply] | None = None,
    dimensions: tuple[int, int] = DEFAULT_DIMENSIONS,
    stdin: Stdin = None,
    stdout: OutputTarget | None = None,
    stderr: OutputTarget | None = None,
    max_output: int | None = None,
    on_stdout: LineCallback | None = None,
    on_stderr: LineCallback | None = None,
    tee: bool = False,
    die_with_parent: bool = False,
    pass_fds: Sequence[int] = (),
    **subprocess_options: Never,
) -> Result:
    """Run a command to completion and capture its output.

    The child runs in its own process group with stdin from ``/dev/null`` (unless ``input``
    or ``stdin`` is given), so it can neither hang waiting for a terminal nor outlive a
    timeout.

    Args:
        cmd: a sequence of arguments, or a string split with :func:`shlex.split` (never given
            to a shell unless ``shell=True``, which runs it with ``/bin/sh -c``), or a
            :class:`Pipeline` made by :func:`pipe` (see there: stages, pipefail status).
        input: text, bytes or a :class:`Secret` fed to stdin, without deadlock however large.
        timeout: seconds before the process group is stopped (None or ``inf``: no limit).
        idle_timeout: stop the process group, as ``timeout`` does, once the program has
            written nothing to stdout or stderr for this many seconds (counted from its
            start; any byte on either stream starts the count again): the "no output for
            10 minutes" rule of CI systems. ``Result.timeout_kind`` then says ``"idle"``.
            None or ``inf``: no limit.
        check: raise for a non-zero exit, a death by signal or a timeout.
        cwd: the child's working directory.
        env: variables added to (or, with ``inherit_env=False``, replacing) the parent's.
        inherit_env: start from the parent's environment.
        shell: run ``cmd`` (a string) with ``/bin/sh -c``.
        encoding: codec for ``input`` given as text and for ``Result.stdout``/``stderr``.
        errors: codec error handler; the default ``"replace"`` never raises.
        merge_stderr: send stderr into the stdout pipe (like ``2>&1``), keeping write order.
        kill_grace: seconds between SIGTERM and SIGKILL when stopping the group.
        drain_timeout: once the child has exited, how long to wait for descendants that
            still hold its stdout/stderr open before returning without their output.
        tty: ``"auto"`` runs on pipes and reruns once on a pseudo-terminal if the program
            refused to run without one (see :data:`TTY_REFUSALS`; a pipeline is never
            rerun); True always uses a PTY (not for a pipeline: ValueError); False never
            does. Input typed on a PTY may not have a line longer than the terminal holds
            (4095 bytes on Linux): ``tty=True`` raises ``ValueError`` before starting,
            ``"auto"`` does not rerun (and logs why).
        term: ``TERM`` for the program when it runs on a PTY. None (the default) gives
            ``"dumb"`` (unless ``env`` sets ``TERM``): programs then print plain lines and
            prompts, without colours or cursor codes. Full-screen programs (``dialog``,
            ``less``, ``top``) need a real type such as ``"xterm-256color"``; what they
            print is then full of escape codes, which :func:`clean` and ``Match.lines``
            remove. Not taken with ``tty=False``.
        respond: ``{prompt: reply}``: every time the output shows ``prompt`` (a string or a
            compiled regex), ``reply`` (str or :class:`Secret`) is typed followed by Enter.
            The input stays open for the answers, so a program waiting for a line that no
            prompt leads to (a prompt that never comes, or one not in ``respond``) waits
            forever unless a timeout stops it: give ``idle_timeout`` (it stops the program
            once it has printed nothing for that long) or ``timeout``.
        dimensions: ``(rows, columns)`` of the pseudo-terminal, when one is used.
        stdin: where stdin comes from instead of ``input``, for data too big to hold: a
            path (``str``/``os.PathLike``), opened read-only at the start and handed to the
            program, so its bytes never pass through Python; a binary file object with a
            real fd, or an open fd, handed over as it is: the program reads from the file's
            current position (for a seekable file cmdrun first moves the fd's offset to
            ``f.tell()``, since a buffered reader may have read ahead) and shares the offset,
            so seek before reading the file again; an iterable of ``bytes``/``str`` chunks
            (``str`` encoded with ``encoding``), or a binary file without an fd
            (``io.BytesIO``, ``gzip.open(...)``), written as the program reads it, one chunk
            in memory at a time, then closed (EOF). A chunk source that raises stops the
            program (kill policy) and the exception propagates unchanged; a program that
            exits before reading it all is no error, and a generator is closed either way.
            ``subprocess.DEVNULL`` (or None) is the default: ``/dev/null``. Not with
            ``input``, ``respond`` or ``tty=True``; ``tty="auto"`` then stays on pipes.
        stdout: a path or binary file to write stdout to instead of memory
            (``Result.stdout`` is then empty), or ``subprocess.DEVNULL`` to discard it.
        stderr: the same for stderr.
        max_output: keep only the last N bytes of each stream in memory; the number dropped
            is in ``Result.stdout_dropped``/``stderr_dropped``.
        on_stdout: called with each line of stdout (``str``, with its line ending) as it
            arrives; output is still captured.
        on_stderr: the same for stderr.
        tee: also copy the output to this process's stdout/stderr as it arrives.
        die_with_parent: stop the program's process group (kill policy) if this process
            dies first, even by SIGKILL (a watchdog process sees it go). By default, as with
            ``subprocess``, a program outlives a parent killed by a signal; Ctrl-C,
            exceptions and timeouts stop it either way.
        pass_fds: file descriptors (>= 3, open here) the program inherits at the same
            numbers, as with :class:`subprocess.Popen`; every other fd stays closed in it.
            Works on pipes and on a PTY.
        subprocess_options: none is taken; ``subprocess.run`` habits (``capture_output``,
            ``text``, ``universal_newlines``) get a ``TypeError`` that says cmdrun's way.

    Returns:
        The :class:`Result`; with ``check=False`` whatever the child did.

    Raises:
        CommandFailed: ``check`` and the child exited non-zero or was killed by a signal.
        CommandTimedOut: ``check`` and the timeout or idle timeout expired; ``.result`` has
            the output so far.
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed (the message says why).
        StartFailed: the OS refused to start it (out of fds, argument list too long).
        TypeError, ValueError: a bad argument, raised before anything runs.
        FileNotFoundError, NotADirectoryError: ``cwd`` is missing or not a directory.
        FileNotFoundError, PermissionError, IsADirectoryError: the ``stdin`` path cannot
            be read (raised before anything runs).
        Exception: whatever a ``stdin`` iterable raised, after the program was stopped.
    """
    if subprocess_options:
        refuse_options(subprocess_options, "run")
    auto = auto_tty(tty)
    refuse_term_on_pipes(term, tty)
    spec = build_spec(
        cmd,
        input=input,
        timeout=timeout,
        idle_timeout=idle_timeout,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        shell=shell,
        encoding=encoding,
        errors=errors,
        merge_stderr=merge_stderr,
        kill_grace=kill_grace,
        drain_timeout=drain_timeout,
        tty=tty is True,
        term=term,
        dimensions=dimensions,
        respond=respond,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        max_output=max_output,
        on_stdout=on_stdout,
        on_stderr=on_stderr,
        tee=tee,
        die_with_parent=die_with_parent,
        pass_fds=pass_fds,
    )
    if spec.stdin is not None:
        refuse_async(spec.stdin, "run")
    # stdin= is read by the first run: a rerun on a PTY would not get it again.
    prepared = Prepared(
        spec, check is True or check_flag(check, "check"), auto and spec.stdin is None
    )
    return prepared.finish(prepared.run())


def call(
    cmd: Command,
    *,
    timeout: float | None = None,
    input: Input | Secret | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    shell: bool = False,
    kill_grace: float = DEFAULT_KILL_GRACE,
    die_with_parent: bool = False,
    **unsupported: Never,
) -> int:
    """Run a command with the parent's stdin, stdout and stderr; return its exit code.

    Like :func:`subprocess.call`, but a timeout stops the whole process group.

    When this process has a controlling terminal and is in its foreground, the program runs
    as a shell's foreground job: in its own process group of this session, made the
    terminal's foreground group until it ends, so it can open ``/dev/tty`` (``sudo``, ``ssh``
    asking a password, an editor) and a typed Ctrl-C or Ctrl-Z reaches it rather than this
    process. Otherwise (no terminal, a background job, Python 3.10) it runs in a new session
    as :func:`run`'s programs do.

    Args:
        cmd: as for :func:`run`, but not a pipeline.
        timeout: seconds before the process group is stopped, as for :func:`run`.
        input: text, bytes or a :class:`Secret` fed to stdin, as for :func:`run`; without
            it the program reads this process's stdin.
        cwd: as for :func:`run`.
        env: as for :func:`run`.
        inherit_env: as for :func:`run`.
        shell: as for :func:`run`.
        kill_grace: as for :func:`run`.
        die_with_parent: as for :func:`run`.
        unsupported: none is taken. ``idle_timeout`` gets a ``TypeError`` that says why:
            the program writes straight to this process's stdout and stderr, so cmdrun
            never sees its output; ``run(cmd, tee=True, idle_timeout=S)`` shows the output
            as it comes and watches it.

    Returns:
        The exit status; ``-N`` when killed by signal ``N``. A non-zero exit never raises.

    Raises:
        TypeError: ``cmd`` is a pipeline (run it with :func:`run`, ``tee=True`` to see its
            output as it comes).
        CommandTimedOut: the timeout expired and the group was stopped.
        CommandNotFound, CommandNotExecutable, StartFailed, TypeError, ValueError: as for
            :func:`run`.
    """
    refuse_pipeline(cmd, "call", "run it with run(), and tee=True to see its output as it comes")
    if unsupported:
        refuse_options(unsupported, "call", _NOT_FOR_CALL)
    spec = build_spec(
        cmd,
        input=input,
        timeout=timeout,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        shell=shell,
        kill_grace=kill_grace,
        drain_timeout=0.0,
        capture=False,
        die_with_parent=die_with_parent,
    )
    terminal = foreground_terminal()
    if terminal is None:
        result = drive(_steps(spec))
    else:
        result = _as_foreground_job(spec.replace(terminal=terminal), terminal)
    if result.timed_out:
        result.check_returncode()
    return result.returncode


#: ``run`` options that ``call`` cannot honour, and why.
_NOT_FOR_CALL = {
    "idle_timeout": (
        "the program writes straight to this process's stdout and stderr, so cmdrun never "
        "sees its output and cannot tell when it goes quiet; use "
        "run(cmd, tee=True, idle_timeout=...), which shows the output as it comes and "
        "watches it"
    ),
}


def _as_foreground_job(spec: Spec, terminal: int) -> Result:
    """Run ``spec`` as the foreground job of ``terminal`` (see ``call``), following a Ctrl-Z
    of the job; the terminal goes back to this process's group however the run ends."""
    try:
        steps = _steps(spec)
        wait: Wait = None
        while True:
            try:
                wait = advance(steps, wait)
            except StopIteration as done:
                result: Result = done.value
                return result
            job = os.tcgetpgrp(terminal)
            if job != os.getpgrp():
                follow_stop(terminal, job)
    finally:
        give_terminal(terminal, os.getpgrp())
        os.close(terminal)
