"""The kill policy: the one place in cmdrun that decides to send signals.

Every child runs as the leader of its own process group (of a new session, except
``call``'s foreground job on a terminal: see :func:`cmdrun.call`). To stop it:

1. send the first signal (SIGTERM; SIGINT when the parent got Ctrl-C) to the whole group,
   followed by SIGCONT so that a stopped (SIGSTOP/SIGTSTP) member wakes up to handle it;
2. wait, on a monotonic deadline, up to ``grace`` seconds for the leader to exit and the group
   to empty;
3. send SIGKILL to the group if anything is left (SIGKILL also ends a stopped process);
4. always reap the leader, so no zombie is left behind.

Limits, by design of POSIX process groups: a descendant that called ``setsid``/``setpgid``
has left the group and is not reached. cmdrun never waits for such a process: it stops
reading the pipes it may hold open (see :mod:`cmdrun._pump`) and leaves it running.

:class:`GroupStopper` is a small state machine, so the same policy can be driven by the
blocking engine, by :func:`stop_now`, and by event loops, without a second copy.
The one other sender is the ``die_with_parent`` watchdog (:mod:`cmdrun._watchdog`), a
separate process that applies the same TERM, CONT, grace, KILL sequence once this process
is gone and can no longer do it.
"""

from __future__ import annotations

import signal
import time

from ._log import log_info
from ._platform import group_alive, group_size, signal_group
from ._shield import SigintShield

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # a plain base at run time; type checkers see typing's


class Child(Protocol):
    """The process handle the kill policy needs (``subprocess.Popen`` is one)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


#: Pauses between scans of /proc while a group empties: the first scan at once, the next
#: ``FIRST_SCAN`` seconds later, each pause twice as long as the one before, up to
#: ``MAX_SCAN``. A scan reads one file per process on the host (about 10 ms of CPU with
#: 1,000 processes): scanning every time a caller looks kept a core busy for the whole
#: grace period.
FIRST_SCAN = 0.005
MAX_SCAN = 0.25


class GroupStopper:
    """Stops one process group: first signal, then SIGKILL once ``grace`` has passed.

    Callers may ask :meth:`finished` as often as they like: the cheap check (does the group
    still exist at all) is made every time, the costly one (is any member not a zombie) at
    growing intervals (``FIRST_SCAN`` to ``MAX_SCAN``). So a group whose last member died
    is noticed at once, and one left with only zombies within ``MAX_SCAN`` seconds.
    """

    __slots__ = (
        "deadline",
        "grace",
        "killed",
        "members",
        "next_scan",
        "pgid",
        "scan_gap",
        "started",
    )

    def __init__(self, pgid: int, grace: float) -> None:
        self.pgid = pgid
        self.grace = grace
        self.started = False
        self.killed = False
        self.deadline = float("inf")
        self.next_scan = 0.0
        self.scan_gap = FIRST_SCAN
        self.members: list[int] = []  # live members the last scan found

    def begin(self, first: int = signal.SIGTERM) -> None:
        """Send the first signal to the group and start the grace period (once)."""
        if self.started:
            return
        self.started = True
        self.deadline = time.monotonic() + self.grace
        signal_group(self.pgid, first)
        signal_group(self.pgid, signal.SIGCONT)

    def kill(self) -> None:
        """Send SIGKILL to the group (once); say so at INFO when the first signal was ignored."""
        if self.killed:
            return
        self.killed = True
        if self.started:
            survivors = group_size(self.pgid)
            if survivors:
                log_info(
                    "process group %d still had %d process(es) %.1f s after the first signal: "
                    "killing them (SIGKILL)",
                    self.pgid,
                    survivors,
                    self.grace,
                )
        signal_group(self.pgid, signal.SIGKILL)

    def advance(self, leader_reaped: bool) -> bool:
        """Whether nothing is left to wait for; escalates to SIGKILL at the deadline.

        Call it only once the leader has been reaped: until then the leader's pid holds the
        group id, so an empty group cannot be told apart from a zombie leader.
        """
        if not leader_reaped:
            if time.monotonic() >= self.deadline:
                self.kill()
            return False
        if self.killed:
            return True
        now = time.monotonic()
        if not group_alive(self.pgid, scan=now >= self.next_scan, known=self.members):
            return True
        if now >= self.next_scan:
            self.next_scan = now + self.scan_gap
            self.scan_gap = min(self.scan_gap * 2, MAX_SCAN)
        if now >= self.deadline:
            self.kill()
            return True
        return False


def interrupt(pgid: int) -> None:
    """Deliver SIGINT to the group, as Ctrl-C on its terminal would."""
    signal_group(pgid, signal.SIGINT)


def stop_now(proc: Child, grace: float, first: int = signal.SIGTERM) -> None:
    """Stop ``proc``'s group by the policy above and reap ``proc``, blocking.

    Used when the parent itself is leaving (an exception, Ctrl-C, a closed session). A second
    Ctrl-C while waiting skips the rest of the grace period and kills at once.
    """
    stopper = GroupStopper(proc.pid, grace)
    stopper.begin(first)
    pause = 0.001
    try:
        while not stopper.advance(proc.poll() is not None):
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    except BaseException:
        stopper.kill()
        raise
    finally:
        if proc.returncode is None:
            with SigintShield():  # killed: reaping takes a moment, and must not be skipped
                stopper.kill()
                proc.wait()
