"""Everything that depends on the operating system, in one place (POSIX; Linux extras).

The rest of cmdrun calls these functions and never ``os.killpg``, ``fcntl`` or
``os.pidfd_open`` directly. Linux-only features degrade gracefully elsewhere:
without ``pidfd_open`` the engine polls ``waitpid``; without ``F_SETPIPE_SZ`` pipes keep
their default size.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found,unused-ignore]
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

#: The real Popen, taken when cmdrun is imported: cmdrun starts its children with it, never
#: through ``subprocess.Popen``, which a test double may have patched since
#: (``FakeCommands.patch_subprocess``) to answer the code under test.
REAL_POPEN = subprocess.Popen

#: Popen's ``start_new_session``: the child leads a new session and process group, so one
#: signal to the group reaches it and every descendant that does not leave the group itself.
#: CPython keeps its fast vfork path with this option (it would not with ``preexec_fn``).
NEW_SESSION = True

#: Whether Popen can start a child in a new process group of this session without running
#: Python in the child (``process_group=``, Python 3.11+): what ``call`` needs to hand the
#: child the controlling terminal (see :func:`foreground_terminal`).
CAN_JOIN_TERMINAL = sys.version_info >= (3, 11)


def group_options(pgid: int) -> dict[str, Any]:
    """Popen keywords that put the child in process group ``pgid`` of this session (0: a new
    group that the child leads), as a shell does with the stages of a job.

    Python 3.11+ has ``process_group=``, which keeps CPython's fast vfork path; 3.10 calls
    ``setpgid`` from a ``preexec_fn`` (Python code in the forked child: slower, and unsafe
    if another thread holds a lock the child needs, which is why newer Pythons avoid it).
    """
    if CAN_JOIN_TERMINAL:
        return {"process_group": pgid}
    return {"preexec_fn": lambda: os.setpgid(0, pgid)}


#: The largest pipe buffer an unprivileged process may ask for by default on Linux.
BIG_PIPE = 1 << 20
_F_SETPIPE_SZ: int | None = getattr(
    fcntl, "F_SETPIPE_SZ", 1031 if os.uname().sysname == "Linux" else None
)

HAS_PIDFD = hasattr(os, "pidfd_open")

_SIGCHLD = int(signal.SIGCHLD)
_SIG_IGN = int(signal.SIG_IGN)


def open_devnull() -> int:
    """A new read-only fd on /dev/null, for one start; the caller closes it.

    Never cached: a process may close fds it does not know about (``os.closerange`` in
    daemons and test harnesses), and a cached number could by then be another file, or one
    of cmdrun's own pipes. One open and close per start is noise next to fork and exec.
    """
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


def exit_status_discarded() -> bool:
    """Whether SIGCHLD is ignored here (set so, or inherited): the kernel then reaps every
    child at once and ``waitpid`` can no longer tell how a child ended."""
    return bool(_signal.getsignal(_SIGCHLD) == _SIG_IGN)  # the C call: no enum conversion


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; return False if the group no longer exists.

    A PTY child started through ``setsid --ctty`` becomes leader of group ``pgid`` (its pid)
    a moment after the start returned; until then the group does not exist and the child
    alone is signalled, but only while it is still an unreaped child of this process (its
    pid cannot have been reused by then).
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return _signal_unreaped_child(pgid, sig)
    except PermissionError:  # a member became setuid; the rest of the group was signalled
        return True
    return True


def _signal_unreaped_child(pid: int, sig: int) -> bool:
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # not a child of ours, or already reaped
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminal_has_group(fd: int) -> bool:
    """Whether the terminal ``fd`` (a PTY master) has a foreground process group, which a
    typed Ctrl-C would reach; False before any session made it its controlling terminal."""
    try:
        return os.tcgetpgrp(fd) > 0
    except OSError:
        return True  # let the caller type as usual and meet the error there


def echo_is_off(fd: int) -> bool:
    """Whether the terminal ``fd`` (a PTY master) has echo off, as its program last set it.

    A password reader turns echo off (with ``TCSAFLUSH``) just before it reads: from then on
    what is typed reaches it. False when the terminal cannot be asked (it is gone).
    """
    import termios  # only ever asked on a PTY, whose start imported it already

    try:
        return not termios.tcgetattr(fd)[3] & termios.ECHO
    except (termios.error, OSError):
        return False


def foreground_terminal() -> int | None:
    """An fd on this process's controlling terminal, if this process's group is in the
    foreground there (where a shell's job control would let it hand the terminal to a job);
    the caller closes it. None without a controlling terminal (``/dev/tty`` gives ENXIO), in
    a background job, and on Python 3.10 (see ``CAN_JOIN_TERMINAL``)."""
    if not CAN_JOIN_TERMINAL:
        return None
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def give_terminal(fd: int, pgid: int) -> bool:
    """Make ``pgid`` the foreground group of terminal ``fd``; False if it no longer exists.

    SIGTTOU is blocked meanwhile: once another group has the foreground, this process is a
    background one, and the kernel would otherwise stop it for asking the terminal back.
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:  # the group is gone (EPERM: no such group in this session), or the tty
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return True


def follow_stop(fd: int, pgid: int) -> None:
    """If job ``pgid``, the foreground of terminal ``fd``, was stopped (Ctrl-Z), do what a
    shell's job control expects: take the terminal back and stop this process's own group,
    so the shell above sees its job stopped; once continued in the foreground (``fg``), hand
    the terminal to ``pgid`` again and continue it. In an orphaned group (no shell above,
    this process leads the session) the kernel ignores the stop and the job is continued at
    once. Continued in the background (``bg``), the job stays stopped until the next look.
    """
    try:
        stopped = os.waitid(os.P_PGID, pgid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return
    if stopped is None or stopped.si_code != os.CLD_STOPPED:
        return
    own = os.getpgrp()
    give_terminal(fd, own)
    os.killpg(own, signal.SIGTSTP)
    if os.tcgetpgrp(fd) == own and give_terminal(fd, pgid):
        signal_group(pgid, signal.SIGCONT)


def _member_state(pid: int) -> tuple[int, bool] | None:
    """``pid``'s process group and whether it is a zombie, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:  # exited meanwhile
        return None
    # Fields after the command name (which may contain spaces and parentheses).
    fields = stat[stat.rfind(b")") + 2 :].split(b" ", 3)
    return int(fields[2]), fields[0] == b"Z"


def _live_members(pgid: int) -> Iterator[int]:
    """Scan /proc for the members of ``pgid`` that are not zombies."""
    for name in os.listdir("/proc"):
        if name.isdigit() and _member_state(int(name)) == (pgid, False):
            yield int(name)


def group_size(pgid: int) -> int:
    """How many members of group ``pgid`` are alive (0 where /proc cannot tell)."""
    return sum(1 for _ in _live_members(pgid)) if _HAS_PROC else 0


_HAS_PROC = os.path.isdir("/proc/self")


def group_alive(pgid: int, scan: bool = True, known: list[int] | None = None) -> bool:
    """Whether group ``pgid`` still has a member that is not a zombie.

    Orphaned members are reparented to PID 1, and not every init reaps them (container
    and VM inits often do not): counting zombies would keep cmdrun waiting for processes
    that are already dead. Where /proc exists it is scanned, but only after the cheap
    ``killpg(pgid, 0)`` found the group. A scan reads a file per process on the host:
    with ``scan=False`` only the cheap check is made, and True means "it may".

    ``known`` (updated in place) holds the live members the last scan found: while one of
    them is still a live member, the group is alive and the host need not be scanned again.
    Only when all of them are gone is the whole of /proc read, since a member may have
    forked a new one before it died.
    """
    if not signal_group(pgid, 0):
        return False
    if not (scan and _HAS_PROC):
        return True
    if known is None:
        return any(_live_members(pgid))
    if any(_member_state(pid) == (pgid, False) for pid in known):
        return True
    known[:] = _live_members(pgid)
    return bool(known)


def exit_fd(pid: int) -> int | None:
    """A file descriptor that becomes readable when ``pid`` exits, or None if unsupported."""
    if not HAS_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # old kernel (ENOSYS) or the process is already gone
        return None


def make_nonblocking(fd: int) -> None:
    """Make a new pipe end non-blocking, in one ``fcntl`` call (``os.set_blocking`` makes
    two: it reads the flags first). A pipe end just made has no status flag to keep:
    ``O_CLOEXEC`` is an fd flag, and ``F_SETFL`` ignores the access mode."""
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)


def enlarge_pipe(fd: int, size: int = BIG_PIPE) -> None:
    """Grow a pipe's kernel buffer so a fast writer blocks less often (best effort)."""
    if _F_SETPIPE_SZ is None:
        return
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except OSError:
        pass
