"""Starting a program on a pseudo-terminal, with no Python code between ``fork`` and ``exec``.

How a PTY child is started (:func:`start_pty`):

1. ``os.openpty()`` gives the master and slave ends. The parent sets the slave up before
   the child exists: echo off when asked (``ECHO`` cleared with ``tcsetattr``) and the
   window size (``TIOCSWINSZ``).
2. :class:`subprocess.Popen` runs util-linux ``setsid --ctty -- PROGRAM ARGS...`` with the
   slave as stdin, stdout and stderr. Popen forks and execs in C (``vfork`` on Linux), so
   no Python code runs in the child: a parent with threads (``run_many``'s workers, the
   asyncio executor, a web server) cannot deadlock it on a lock held at fork time, and
   Python 3.12+ has no reason to warn. The child is not a process group leader, so
   ``setsid`` calls ``setsid()`` without forking, makes the PTY its controlling terminal
   (``TIOCSCTTY`` on stdin) and ``execvp``\\ s the program with the argv exactly as given,
   searching the child's ``PATH`` as Popen does. The pid Popen returns is therefore the
   program's pid, leader of its own session and process group, as the kill policy
   (:mod:`cmdrun._kill`) expects; ``/dev/tty``, job control, Ctrl-C typed on the terminal
   and ``isatty()`` all work even when the parent has no terminal at all.
3. Where no util-linux ``setsid`` with ``--ctty`` exists (macOS, BSDs, busybox images), the
   child is started by ptyprocess (pexpect's layer below), which forks in Python: safe in a
   single-threaded parent only (with threads it is what remains; 3.12+ then warns). The
   argv is handed over as a list, never re-split; ptyprocess replaces ``argv[0]`` of a
   program found on ``PATH`` by its full path.

The ``setsid`` path is used even in a single-threaded parent: measured side by side, it
costs about 1.5 ms per ``run(["true"], tty=True)`` against about 2.5 ms through ptyprocess
(which copies the parent's memory map and runs Python in the child), and a short session
1.7 ms against 2.8 ms. The first PTY start looks for ``setsid`` once (``setsid --help``).
:data:`START_PATH` selects the path (tests force each one with it).

Limits of the ``setsid`` path: ``exec`` happens out of cmdrun's sight, so the errors it
would give are predicted before the start (:func:`_check_executable`): a missing or
non-executable program, a directory, a script whose interpreter is missing, a file in no
format the kernel runs. A program that changes between that check and its start is
reported by ``setsid`` on the terminal, with exit status 126 or 127. Between the start
and the child's ``setsid()`` call (about a millisecond) its process group does not exist
yet: :func:`cmdrun._platform.signal_group` then signals the child alone, and a Ctrl-C
typed in that window reaches no one.

All reading and writing is done by :class:`~cmdrun._pump.Pump` on the master fd, with
large reads and no sleeps. What a PTY does to the text: what is typed is echoed back
(unless echo is off), line endings come out as ``\\r\\n``, and stdout and stderr are one
stream.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import struct
import subprocess
import termios
from collections.abc import Callable

from ._errors import CmdrunError, CommandNotExecutable, CommandNotFound, StartFailed
from ._kill import Child, stop_now
from ._platform import REAL_POPEN
from ._which import exec_refusal, explain_exec_error, locate, path_of, start_error

#: How PTY children are started: ``"setsid"`` (util-linux ``setsid --ctty``, no Python in
#: the child), ``"ptyprocess"`` (fork in Python), or None: ``"setsid"`` where available.
START_PATH: str | None = None


class PtyChild:
    """The process handle of a ptyprocess child, with Popen's ``poll``/``wait``/``returncode``."""

    __slots__ = ("pid", "returncode")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


_located: dict[tuple[str, str | None], str] = {}


def _check_executable(program: str, env: dict[str, str] | None, cwd: str | None) -> str:
    """Find the program as exec would and refuse early what exec would refuse.

    Neither start path can report every exec failure as Popen does (``setsid`` execs out of
    sight, ptyprocess only after forking); checking first gives the same errors as a pipe
    run. A program found before is checked again with one ``access`` call instead of a PATH
    search and a look at its first bytes.
    """
    path = path_of(env)
    known = _located.get((program, path))
    if known is not None and os.access(known, os.X_OK):
        return known
    found = locate(program, path)
    if found is None:
        raise CommandNotFound(program, path)
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        raise explain_exec_error(PermissionError(errno.EACCES, "denied"), program, path)
    refusal = exec_refusal(found, cwd)
    if refusal is not None:
        raise explain_exec_error(refusal, program, path)
    if len(_located) > 256:
        _located.clear()
    _located[(program, path)] = found
    return found


_setsid: str | bool | None = False  # False: not looked for yet


def find_setsid() -> str | None:
    """The util-linux ``setsid`` that supports ``--ctty``, looked for once; None if absent."""
    global _setsid
    if _setsid is False:
        _setsid = _look_for_setsid()
    return _setsid if isinstance(_setsid, str) else None


def _look_for_setsid() -> str | None:
    # Relative PATH entries are skipped: cmdrun must not run a "setsid" from the cwd.
    directories = [d for d in os.get_exec_path() if os.path.isabs(d)] + ["/usr/bin", "/bin"]
    for directory in dict.fromkeys(directories):
        candidate = os.path.join(directory, "setsid")
        if not os.access(candidate, os.X_OK):
            continue
        try:
            usage = _output_of([candidate, "--help"])
        except (OSError, subprocess.SubprocessError):
            continue
        if b"--ctty" in usage:
            return candidate
    return None


def _output_of(argv: list[str]) -> bytes:
    """``subprocess.run(argv, capture_output=True, timeout=10).stdout`` on the real Popen
    (``subprocess.run`` looks ``Popen`` up in its module, where a test double may patch it).
    """
    with REAL_POPEN(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        try:
            return proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def start_pty(
    args: tuple[str, ...],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    term: str | None,
    dimensions: tuple[int, int],
    echo: bool,
    pass_fds: tuple[int, ...] = (),
) -> tuple[Child, int]:
    """Start ``args`` on a new PTY; return the child and the master fd (owned by the caller).

    ``term`` replaces ``TERM`` in the environment (None: keep the caller's choice). The
    master fd is non-blocking.

    Raises:
        CommandNotFound, CommandNotExecutable: as for a pipe run.
        StartFailed: out of fds or pseudo-terminals, or the arguments are too long.
        OSError: the PTY could not be set up for another reason.
    """
    program = _check_executable(args[0], env, cwd)
    setsid = find_setsid() if START_PATH != "ptyprocess" else None
    try:
        if setsid is not None:
            return _start_with_setsid(
                setsid,
                args,
                cwd=cwd,
                env=env,
                term=term,
                dimensions=dimensions,
                echo=echo,
                pass_fds=pass_fds,
            )
        return _start_with_ptyprocess(
            program,
            args,
            cwd=cwd,
            env=env,
            term=term,
            dimensions=dimensions,
            echo=echo,
            pass_fds=pass_fds,
        )
    except OSError as exc:
        if isinstance(exc, CmdrunError):
            raise
        raise _start_error(exc, args, env) from None


_EXEC_ERRORS = (errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.EISDIR)
_LIMITS = (errno.EMFILE, errno.ENFILE, errno.E2BIG)


def _start_error(exc: OSError, args: tuple[str, ...], env: dict[str, str] | None) -> Exception:
    """The one place a failed PTY start becomes cmdrun's error."""
    if exc.errno in _LIMITS:
        return start_error(exc, args, env)
    if exc.errno == errno.ENOSPC:  # opening /dev/ptmx: the kernel's PTY limit was reached
        detail = "every pseudo-terminal allowed by sysctl kernel.pty.max is in use"
        return StartFailed(args[0], "out of pseudo-terminals", errno.ENOSPC, detail)
    if isinstance(exc, FileNotFoundError) or exc.errno in _EXEC_ERRORS:
        return explain_exec_error(exc, args[0], path_of(env))
    return exc


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """Set the terminal's window size (``TIOCSWINSZ``); on the master, the kernel sends
    ``SIGWINCH`` to the terminal's foreground process group when the size changes."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _set_up_terminal(fd: int, dimensions: tuple[int, int], echo: bool) -> None:
    """Give the terminal its window size and, unless ``echo``, turn echo off."""
    set_window_size(fd, *dimensions)
    if not echo:
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _start_with_setsid(
    setsid: str,
    args: tuple[str, ...],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    term: str | None,
    dimensions: tuple[int, int],
    echo: bool,
    pass_fds: tuple[int, ...] = (),
) -> tuple[Child, int]:
    if term is not None:
        env = {**(os.environ if env is None else env), "TERM": term}
    master, slave = os.openpty()
    with contextlib.ExitStack() as on_failure, contextlib.ExitStack() as always:
        on_failure.callback(os.close, master)
        always.callback(os.close, slave)
        _set_up_terminal(slave, dimensions, echo)
        child = REAL_POPEN(
            [setsid, "--ctty", "--", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            pass_fds=pass_fds,
        )
        on_failure.pop_all()
    os.set_blocking(master, False)
    return child, master


def _start_with_ptyprocess(
    program: str,
    args: tuple[str, ...],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    term: str | None,
    dimensions: tuple[int, int],
    echo: bool,
    pass_fds: tuple[int, ...] = (),
) -> tuple[Child, int]:
    """Start through ptyprocess (a fork in Python), handing it the argv as a list.

    ptyprocess looks the program up on the parent's ``PATH``, not the child's: it gets the
    path :func:`_check_executable` found on the child's instead (the same as ``argv[0]``
    when that contains a ``/``).
    """
    from ptyprocess import PtyProcess  # type: ignore[import-untyped]

    set_term: Callable[[], None] | None = None
    if term is not None:
        if env is None:  # cheaper than copying the whole environment: set it in the child
            set_term = functools.partial(os.putenv, "TERM", term)
        else:
            env = {**env, "TERM": term}
    if pass_fds:
        set_term = _inheriting(pass_fds, set_term)
    forked: list[PtyProcess] = []

    class Recorded(PtyProcess):  # type: ignore[misc]
        """Known to cmdrun as soon as it exists, so a failed exec leaves nothing behind."""

        def __init__(self, pid: int, fd: int) -> None:
            super().__init__(pid, fd)
            forked.append(self)

    try:
        proc = Recorded.spawn(
            [program, *args[1:]],
            cwd=cwd,
            env=env,
            echo=echo,
            dimensions=dimensions,
            preexec_fn=set_term,
            pass_fds=pass_fds,
        )
    except BaseException as exc:
        for failed in forked:  # exec failed (the child is exiting) or we were interrupted
            _disown(failed)
            stop_now(PtyChild(failed.pid), grace=0)
        if isinstance(exc, Exception) and not isinstance(exc, OSError):
            # Its own checks, or an error it could not decode.
            raise CommandNotExecutable(args[0], str(exc), errno.ENOENT) from None
        raise
    master = os.dup(proc.fd)
    _disown(proc)
    os.set_blocking(master, False)
    return PtyChild(proc.pid), master


def _inheriting(fds: tuple[int, ...], then: Callable[[], None] | None) -> Callable[[], None]:
    """A ``preexec_fn`` that lets ``fds`` survive ``exec``: ptyprocess keeps them open after
    its fork but leaves them close-on-exec, as Python opens every fd."""

    def prepare() -> None:
        for fd in fds:
            os.set_inheritable(fd, True)
        if then is not None:
            then()

    return prepare


def _disown(proc: object) -> None:
    """Close ptyprocess's own master fd and mark it closed, so it never closes, sleeps
    (0.1 s in its ``close``) or reaps the child behind cmdrun's back."""
    proc.fileobj.close()  # type: ignore[attr-defined]
    proc.closed = True  # type: ignore[attr-defined]


def control_chars(fd: int) -> tuple[bytes, bytes]:
    """The PTY's end-of-file and interrupt characters (normally Ctrl-D and Ctrl-C)."""
    try:
        chars = termios.tcgetattr(fd)[6]
        eof, intr = chars[termios.VEOF], chars[termios.VINTR]
    except (termios.error, OSError):
        return b"\x04", b"\x03"
    return (
        eof if isinstance(eof, bytes) else b"\x04",
        intr if isinstance(intr, bytes) else b"\x03",
    )


def canonical(fd: int) -> bool:
    """Whether the terminal of master ``fd`` is in canonical mode (lines edited and held by
    the kernel); True if it cannot be told, the cautious answer."""
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ICANON)
    except (termios.error, OSError):
        return True
