"""Children that die with their parent (``die_with_parent=True``).

By default a child outlives a parent that is killed by a signal (SIGTERM, SIGKILL, or the
default action of SIGHUP): it leads its own session, so no hang-up reaches it, as with
``subprocess``. Ctrl-C, exceptions and timeouts in the parent always stop it; a killed
parent runs no code at all, so something else has to.

That something is one watchdog process per parent, started on first use with
``os.posix_spawn`` (no Python code runs in a forked copy of the parent, and no extra
program runs per child: the fast spawn path stays as it is). It reads a pipe whose only
write end the parent holds (close-on-exec, closed in fork children); the parent writes
``+PGID GRACE`` when such a child starts and ``-PGID`` when it has been reaped. When the pipe
reports end of file, the parent is gone, however it died: the watchdog stops every group
still registered by the kill policy (SIGTERM and SIGCONT, ``GRACE`` seconds, SIGKILL) and
exits. It leads its own session and ignores SIGINT and SIGHUP, so the Ctrl-C or hang-up that
kills the parent does not kill it first.

Limits: a parent killed between a child's start and its registration (a few microseconds)
leaves that child alone, and so does one whose watchdog was killed first.
"""

from __future__ import annotations

import os
import sys
import threading

_WATCHDOG = r"""
import os, signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups, rest = {}, b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    *lines, rest = (rest + data).split(b"\n")
    for line in lines:
        words = line.split()
        if line.startswith(b"+"):
            groups[int(words[0][1:])] = float(words[1])
        elif line.startswith(b"-"):
            groups.pop(int(words[0][1:]), None)

def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True

for pgid in groups:
    signal_group(pgid, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)
deadline = time.monotonic() + max(groups.values(), default=0.0)
while groups and time.monotonic() < deadline:
    groups = {g: s for g, s in groups.items() if signal_group(g, 0)}
    time.sleep(0.05)
for pgid in groups:
    signal_group(pgid, signal.SIGKILL)
"""


class Watchdog:
    """The parent's side: starts the watchdog once, then registers and forgets groups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1

    def _start(self) -> int:
        read, write = os.pipe()  # both close-on-exec; the watchdog gets ``read`` as stdin
        try:
            os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", "-c", _WATCHDOG],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, read, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,
            )
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        return write

    def ensure_running(self) -> None:
        """Start the watchdog now if it is not running (before a child it will watch)."""
        with self._lock:
            if self._fd < 0:
                self._fd = self._start()

    def register(self, pgid: int, grace: float) -> None:
        """Have group ``pgid`` stopped (with ``grace``) if this process dies first."""
        line = b"+%d %r\n" % (pgid, grace)
        with self._lock:
            if self._fd >= 0:
                try:
                    os.write(self._fd, line)
                    return
                except BrokenPipeError:  # somebody killed the watchdog: start another
                    os.close(self._fd)
            self._fd = -1
            self._fd = self._start()
            os.write(self._fd, line)

    def forget(self, pgid: int) -> None:
        """Group ``pgid`` has been reaped: the watchdog must leave that number alone."""
        with self._lock:
            if self._fd >= 0:
                try:
                    os.write(self._fd, b"-%d\n" % pgid)
                except BrokenPipeError:
                    pass  # nobody left to tell

    def after_fork_in_child(self) -> None:
        # The write end is the parent's: holding it would hide the parent's death.
        self._lock = threading.Lock()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG.after_fork_in_child)
