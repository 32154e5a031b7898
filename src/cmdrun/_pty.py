"""Starting a program on a pseudo-terminal, through pexpect (imported only here, on use).

pexpect (with ptyprocess) forks the child as the leader of a new session whose controlling
terminal is the PTY, so ``/dev/tty``, job control and ``isatty()`` all work even when the
parent has no terminal at all. cmdrun uses pexpect only to start the child: all reading
and writing is done by :class:`~cmdrun._pump.Pump` on a duplicate of the master fd, with
large reads, no sleep before a send and no sleep after close (pexpect's defaults sleep
50 ms before every send and 100 ms in ``close``).

What a PTY does to the text: what is typed is echoed back (unless echo is off), line
endings come out as ``\\r\\n``, and stdout and stderr are one stream.
"""

from __future__ import annotations

import errno
import functools
import os
import termios

from ._errors import CommandNotExecutable, CommandNotFound
from ._platform import explain_exec_error, locate, path_of, start_error


class PtyChild:
    """The process handle of a PTY child, with Popen's ``poll``/``wait``/``returncode``."""

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


def _check_executable(program: str, env: dict[str, str] | None) -> str:
    """Find the program as exec would and refuse early what exec would refuse.

    pexpect reports a missing program with its own exception type, and a failed exec
    only after forking; checking first gives the same errors as a pipe run. A program
    found before is checked again with one ``access`` call instead of a PATH search.
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
    if len(_located) > 256:
        _located.clear()
    _located[(program, path)] = found
    return found


def start_pty(
    args: tuple[str, ...],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    term: str | None,
    dimensions: tuple[int, int],
    echo: bool,
) -> tuple[PtyChild, int]:
    """Start ``args`` on a new PTY; return the child and the master fd (owned by the caller).

    ``term`` replaces ``TERM`` in the environment (None: keep the caller's choice).

    Raises:
        CommandNotFound, CommandNotExecutable, StartFailed: as for a pipe run.
    """
    import pexpect

    program = _check_executable(args[0], env)
    child_env = env
    set_term = None
    if term is not None:
        if env is None:  # cheaper than copying the whole environment: set it in the child
            set_term = functools.partial(os.putenv, "TERM", term)
        else:
            child_env = {**env, "TERM": term}
    try:
        spawned = pexpect.spawn(
            program,
            list(args[1:]),
            cwd=cwd,
            env=child_env,
            echo=echo,
            dimensions=dimensions,
            use_poll=True,
            preexec_fn=set_term,
        )
    except OSError as exc:
        # A failed exec leaves ptyprocess's half-made process (master fd, unreaped child)
        # reachable only from this traceback: drop it, so it is closed and reaped now.
        exc.__traceback__ = None
        raise start_error(exc, args, child_env) from None
    except pexpect.ExceptionPexpect as exc:  # its own not-found check raced with ours
        raise CommandNotExecutable(args[0], str(exc), errno.ENOENT) from None
    ptyproc = spawned.ptyproc  # type: ignore[attr-defined]  # not in the stubs
    # Take the master fd over; ptyprocess then has nothing left to close or wait for (its
    # close() would sleep 0.1 s and reap the child behind cmdrun's back).
    master = os.dup(ptyproc.fd)
    ptyproc.fileobj.close()
    ptyproc.closed = True
    spawned.closed = True
    spawned.child_fd = -1
    os.set_blocking(master, False)
    return PtyChild(ptyproc.pid), master


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
