"""The pump: one child's I/O and lifetime, driven by a single ``poll`` loop.

Used by every way cmdrun talks to a program (``run``, ``call``, pipe and PTY sessions), so
the decisions below are made once:

* Output is read with ``os.read`` in chunks that grow from 64 KiB to 1 MiB while a stream
  keeps its pipe full (the pipe buffer is then enlarged to 1 MiB): few system calls for big
  outputs, no cost for small ones. Chunks go into an ``io.BytesIO`` whose ``getvalue()``
  hands its buffer over without a copy, so capturing N bytes costs about N bytes of memory.
* Input is written without blocking, interleaved with reading, so no amount of input or
  output can deadlock. A child that exits or closes stdin early is not an error: EPIPE only
  ends the feeding.
* The child's exit is watched through a pidfd in the same poll (Linux); elsewhere waitpid
  is polled every 10 ms. A pipeline (:class:`~cmdrun._pipeline.StageGroup`) is one child
  whose every stage's exit is watched so (it has exited once all of them have); each
  stage's stderr pipe is also kept apart, in the group's ``taps``.
* :meth:`Pump.run_to_end`: when the child exits while a descendant still holds the pipes
  (a daemon it started), wait at most ``drain_timeout`` seconds for the rest of the output,
  then stop reading. That is not a timeout and the descendant is left alone. On timeout
  the kill policy (:mod:`cmdrun._kill`) runs inside the same loop, so output written while
  the program shuts down is still captured; once the group is gone (or was killed), pipes
  still held by a process that left the group are read for at most ``AFTER_KILL`` seconds
  more, never waited on.
* An idle timeout is a second deadline that moves: each chunk read (any stream) sets it
  ``idle_timeout`` seconds later. Without one, no clock is read per chunk.
* Two drivers, one pump: :meth:`Pump.step` waits in ``poll`` (the synchronous API), while an
  event loop waits for the fd :meth:`Pump.arm` gives (an ``epoll`` fd that holds every fd of
  the pump, made on first use) and then calls :meth:`Pump.handle`. :meth:`Pump.drive` says
  how long to wait and never waits itself, so the kill policy, the drain rules and the
  timeouts are one piece of code for both.
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence

from ._kill import Child, GroupStopper
from ._output import Capture
from ._pipeline import StageGroup
from ._platform import enlarge_pipe, exit_fd
from ._secret import Redactor
from ._stdin import Feed

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Literal, Protocol, TypeVar

    R = TypeVar("R")
else:
    Protocol = object  # a plain base at run time; type checkers see typing's

FIRST_READ = 1 << 16
MAX_READ = 1 << 20
WRITE_CHUNK = 1 << 20
AFTER_KILL = 0.1
#: The longest one step pulls chunks from a ``stdin=`` iterable before polling again.
FEED_SLICE = 0.005
#: The longest single ``poll`` wait, in seconds (a day). ``poll`` refuses 2**31 ms (about
#: 24.8 days) and more with OverflowError, so longer waits are cut into pieces: every
#: caller of :meth:`Pump.step` loops until its own deadline anyway.
MAX_WAIT = 86_400.0
#: The longest the main thread waits in ``poll``. A Ctrl-C that the kernel delivers to
#: another thread of this process (it may, when that thread sent it, or when the main thread
#: has just blocked SIGINT) does not interrupt the main thread's ``poll``: Python runs the
#: handler only when the main thread next runs, so it must not sleep for long.
MAIN_THREAD_TICK = 0.25
_READ = select.POLLIN | select.POLLHUP | select.POLLERR
#: Poll events after which every writer of a stream is gone (or it failed): its reads then
#: run to the end of the stream without meeting EAGAIN.
_HANGUP = select.POLLHUP | select.POLLERR
#: A read shorter than this most likely emptied the stream (see :meth:`Pump._read`).
SHORT_READ = 1024
_WRITE = select.POLLOUT | select.POLLERR


DataHook = Callable[[str, bytes], None]


class _Poller:
    """``select.poll``, until an event loop drives the pump: then an ``epoll`` object with the
    same registrations, whose one fd the loop watches for all of them.

    Every registration is recorded, so the move can happen at any point of a run.
    """

    __slots__ = ("_epoll", "_poll", "fds")

    def __init__(self) -> None:
        self._poll: Any = select.poll()
        self._epoll: Any = None
        self.fds: dict[int, int] = {}

    def register(self, fd: int, events: int) -> None:
        self.fds[fd] = events
        (self._epoll or self._poll).register(fd, events)

    def modify(self, fd: int, events: int) -> None:
        self.fds[fd] = events
        (self._epoll or self._poll).modify(fd, events)

    def unregister(self, fd: int) -> None:
        del self.fds[fd]
        (self._epoll or self._poll).unregister(fd)

    def poll(self, milliseconds: int) -> list[tuple[int, int]]:
        """What is ready, waiting at most ``milliseconds`` (-1: no limit)."""
        if self._epoll is None:
            ready: list[tuple[int, int]] = self._poll.poll(milliseconds)
        else:
            ready = self._epoll.poll(-1 if milliseconds < 0 else milliseconds / 1000)
            if len(ready) > 1:
                # epoll's order is not the order of the writes: an fd read to its end just
                # before stays first in line. poll's order is the order of registration, so
                # a program's stdout is read before its stderr prompt: keep to it, and the
                # event-loop driver sees a dialogue as the synchronous one does.
                rank = {fd: index for index, fd in enumerate(self.fds)}
                ready.sort(key=lambda event: rank.get(event[0], len(rank)))
        return ready

    def loop_fd(self) -> int:
        """The fd an event loop watches: readable whenever a registered fd is ready; -1
        when none can be made (out of fds): the loop then looks every 10 ms instead."""
        if self._epoll is None:
            try:
                epoll = select.epoll()
            except OSError:
                return -1
            for registered, events in self.fds.items():
                epoll.register(registered, events)
            self._epoll, self._poll = epoll, None
        fd: int = self._epoll.fileno()
        return fd

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()


class Sink(Protocol):
    """Keeps (or forwards) one stream's bytes; see :mod:`cmdrun._output`."""

    @property
    def dropped(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def value(self) -> bytes: ...


class SessionPump(Protocol):
    """What a :class:`~cmdrun.Session` drives: the I/O and lifetime of one program.

    :class:`Pump` is the real one; :class:`cmdrun.testing._dialogue.FakePump` plays a
    transcript instead. The session sets ``on_data`` (where output goes) and ``redact``
    (the secrets to mask) before the first :meth:`step`.
    """

    on_data: DataHook | None
    redact: Redactor | None
    #: Set by :meth:`cancel`: the program is stopped because an async call was cancelled.
    cancelled: bool

    @property
    def sinks(self) -> Mapping[str, Sink]:
        """Each stream's bytes ("stdout", "stderr"), for the Result."""
        ...

    @property
    def eof(self) -> bool:
        """True once every output stream has ended."""
        ...

    @property
    def exited(self) -> bool:
        """True once the program has exited (and was reaped)."""
        ...

    @property
    def writable(self) -> bool:
        """True while input can still be sent."""
        ...

    def write(self, data: bytes) -> None:
        """Send ``data`` to the program's input, never waiting."""
        ...

    def close_input(self) -> None:
        """End the program's input once what is queued has been written."""
        ...

    def step(self, until: float) -> None:
        """Wait until something happens or ``until`` (monotonic) passes, and handle it."""
        ...

    def arm(self, until: float) -> tuple[int, float] | None:
        """For an event loop: the fd to wait for and for how long (seconds), then
        :meth:`handle`; None: :meth:`step` never blocks (a fake), call it instead."""
        ...

    def handle(self) -> None:
        """Handle what is ready, without waiting."""
        ...

    def cancel(self) -> None:
        """Stop the program by the kill policy at the next step."""
        ...

    def drive(self, deadline: float, drain_timeout: float) -> Iterator[float]:
        """Run until the program ended, stopping it at ``deadline``: yield each wait."""
        ...

    @property
    def stopped(self) -> bool:
        """Whether the program had to be stopped (kill policy)."""
        ...

    def run_to_end(self, deadline: float, drain_timeout: float) -> bool:
        """Run until the program ended, stopping it at ``deadline``; True if it was stopped."""
        ...

    def close(self) -> None:
        """Release what the pump holds (fds)."""
        ...


class Waiter(Protocol):
    """What an execution yields to wait on: a pump, or one fd (:class:`FdWait`).

    A synchronous driver calls :meth:`step`; an event loop waits for the fd :meth:`arm`
    gives (None: :meth:`step` does not block, call it instead), then calls :meth:`handle`.
    """

    def step(self, until: float) -> None: ...

    def arm(self, until: float) -> tuple[int, float] | None: ...

    def handle(self) -> None: ...

    def cancel(self) -> None:
        """Stop what runs (kill policy) at the next step: an async call was cancelled."""
        ...


if TYPE_CHECKING:
    #: What an execution generator yields: a waiter and the monotonic time until which it
    #: may wait, or None (nothing to wait for: resume at once).
    Wait = tuple[Waiter, float] | None


def advance(steps: Generator[Wait, None, R], wait: Wait) -> Wait:
    """Wait for what ``steps`` yielded (here, blocking), then resume it and return what it
    yields next. An exception raised while waiting (a ``stdin=`` source that fails, Ctrl-C)
    is thrown into the generator, whose clean-up stops the program before it propagates.

    Raises:
        StopIteration: ``steps`` has ended; its value is what it returned.
    """
    if wait is not None:
        try:
            wait[0].step(wait[1])
        except BaseException as exc:
            return steps.throw(exc)
    return next(steps)


class FdWait:
    """A wait for one fd to become readable (a test double reading an async ``stdin=``)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def step(self, until: float) -> None:
        wait = None if math.isinf(until) else max(0.0, until - time.monotonic())
        select.select([self.fd], [], [], wait)

    def arm(self, until: float) -> tuple[int, float]:
        return self.fd, max(0.0, until - time.monotonic())

    def handle(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class CancelToken:
    """Stops every pump that watches it, from any thread: ``cancel()`` makes a pipe
    readable (and leaves it so), which wakes each pump's ``poll`` at once."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._lock = threading.Lock()
        self.cancelled = False

    def fileno(self) -> int:
        return self._read

    def cancel(self) -> None:
        with self._lock:
            if not self.cancelled and self._write >= 0:
                self.cancelled = True
                os.write(self._write, b"x")

    def close(self) -> None:
        with self._lock:
            if self._write >= 0:
                os.close(self._read)
                os.close(self._write)
                self._read = self._write = -1


class Pump:
    """Moves bytes between one child and memory, and notices when the child exits.

    Args:
        child: the started process, leader of its own process group.
        readers: ``(fd, stream name)`` for each output stream ("stdout", "stderr").
        writer: the fd input is written to (a pipe, or the PTY master), or None.
        kill_grace: seconds between the first signal and SIGKILL when stopping the group.
        on_data: called with ``(stream name, bytes)`` for every chunk read.
        sinks: where each stream's bytes are kept (default: all of it, in memory).
        cancel: a token that, once cancelled from any thread, stops the group.
        redact: masks secrets in the output before any sink or hook sees it (see
            :mod:`cmdrun._secret`); it may learn new secrets while the pump runs.
        idle_timeout: stop the group when nothing was read for this many seconds, counted
            from now (the child has just started); None: no limit.
    """

    def __init__(
        self,
        child: Child,
        readers: Sequence[tuple[int, str]],
        writer: int | None,
        kill_grace: float,
        *,
        on_data: DataHook | None = None,
        sinks: Mapping[str, Sink] | None = None,
        cancel: CancelToken | None = None,
        redact: Redactor | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.child = child
        self.on_data = on_data
        self.redact = redact
        self.sinks: Mapping[str, Sink] = sinks or {"stdout": Capture(), "stderr": Capture()}
        self.stopper = GroupStopper(child.pid, kill_grace)
        self.timed_out = False
        #: Which deadline stopped the group: "total" or "idle" (None: neither).
        self.timeout_kind: Literal["total", "idle"] | None = None
        self.cancelled = False
        #: Whether an event loop drives the pump (:meth:`arm` was called).
        self.on_loop = False
        self.idle_timeout = idle_timeout
        #: When output last arrived (monotonic); read only under an idle timeout.
        self.heard = 0.0 if idle_timeout is None else time.monotonic()
        #: The longest a single :meth:`step` may wait (callers that flush lines lower it).
        self.max_wait = math.inf
        self._poller = _Poller()
        self._events: dict[int, int] = {}
        self._streams: dict[int, str] = {}
        self._size: dict[int, int] = {}
        self._pending = memoryview(b"")
        self._writer = -1 if writer is None else writer
        self._close_writer_when_done = False
        self._feed: Feed | None = None
        self._ended: list[int] = []
        for fd, name in readers:
            self._streams[fd] = name
            self._size[fd] = FIRST_READ
            self._watch(fd, _READ)
        self._taps: Mapping[int, Sink] | None = None
        self._stage_fds: dict[int, int] = {}
        self._exit_fd: int | None
        if isinstance(child, StageGroup):
            self._exit_fd = None
            self._polls = self._watch_stages(child)
        else:
            self._exit_fd = exit_fd(child.pid)
            self._polls = self._exit_fd is None
        if self._exit_fd is not None:
            self._poller.register(self._exit_fd, select.POLLIN)
        self._cancel_fd = -1
        if cancel is not None:
            if cancel.cancelled:
                self.cancelled = True
            else:
                self._cancel_fd = cancel.fileno()
                self._poller.register(self._cancel_fd, select.POLLIN)

    # -- registration -------------------------------------------------------------------

    def _watch_stages(self, group: StageGroup) -> bool:
        """Watch each stage's exit; return True if some can only be polled for."""
        self._taps = group.taps or None
        polls = False
        for index, proc in enumerate(group.members):
            fd = exit_fd(proc.pid)
            if fd is None:  # no pidfd here (or out of fds): waitpid every 10 ms instead
                polls = True
                continue
            self._stage_fds[fd] = index
            self._poller.register(fd, select.POLLIN)
        return polls

    def _watch(self, fd: int, events: int) -> None:
        old = self._events.get(fd, 0)
        new = old | events
        if old == new:
            return
        self._events[fd] = new
        if old:
            self._poller.modify(fd, new)
        else:
            self._poller.register(fd, new)

    def _unwatch(self, fd: int, events: int) -> None:
        old = self._events.get(fd, 0)
        new = old & ~events
        if old == new:
            return
        if new:
            self._events[fd] = new
            self._poller.modify(fd, new)
        else:
            del self._events[fd]
            self._poller.unregister(fd)

    def _end_stream(self, fd: int) -> None:
        """Stop reading ``fd`` at end of stream; close it only in :meth:`close`.

        On a PTY, closing the master hangs the terminal up, and the kernel sends SIGHUP to
        the program, which may not have exited yet: a program that closes its stdio before
        exiting (GNU coreutils do) would be reported as killed by SIGHUP.
        """
        if fd in self._events:
            del self._events[fd]
            self._poller.unregister(fd)
        del self._streams[fd]
        if fd == self._writer:
            self._writer = -1
            self._pending = memoryview(b"")
        self._ended.append(fd)

    def _close_fd(self, fd: int) -> None:
        if fd in self._events:
            del self._events[fd]
            self._poller.unregister(fd)
        self._streams.pop(fd, None)
        if fd == self._writer:
            self._writer = -1
            self._pending = memoryview(b"")
        try:
            os.close(fd)
        except OSError:
            pass

    # -- state --------------------------------------------------------------------------

    @property
    def eof(self) -> bool:
        """True once every output stream has been read to its end (or abandoned)."""
        return not self._streams

    @property
    def exited(self) -> bool:
        """True once the child has been reaped."""
        return self.child.returncode is not None

    @property
    def writable(self) -> bool:
        """True while input can still be sent."""
        return self._writer >= 0 and not self._close_writer_when_done

    # -- input --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` to the child's input: now as far as the pipe takes it, the rest as
        the child reads (the writer fd is non-blocking, so this never waits)."""
        if self._writer < 0 or not data:
            return
        if self._pending:
            self._pending = memoryview(bytes(self._pending) + data)
            return
        if len(data) <= FIRST_READ and self._feed is None:  # a line typed: write it now
            try:
                written = os.write(self._writer, data)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE, EIO on a PTY: the reader is gone, as in _write
                return
            if written < len(data):
                self._pending = memoryview(data)[written:]
                self._watch(self._writer, _WRITE)
            return
        self._pending = memoryview(data)
        if len(data) > FIRST_READ:
            enlarge_pipe(self._writer)
        self._write()
        if self._pending:
            self._watch(self._writer, _WRITE)

    def close_input(self) -> None:
        """Close the input pipe once everything queued has been written (the child sees EOF)."""
        if self._writer < 0:
            return
        if self._pending:
            self._close_writer_when_done = True
        else:
            self._close_fd(self._writer)

    def feed(self, feed: Feed) -> None:
        """Write what ``feed`` gives as the child reads it, then close the input (EOF).

        One chunk at a time is held, and a step writes at most ``MAX_READ`` bytes and
        pulls chunks for at most ``FEED_SLICE`` seconds, so output keeps being read in
        between (a chunk the iterator takes long to make still holds the loop meanwhile).
        The feed's exceptions propagate out of :meth:`step`; a child that stops reading
        (EPIPE) just ends the feeding. The feed is closed when it ends, or in :meth:`close`.
        """
        if self._writer < 0:
            feed.close()
            return
        self._feed = feed
        enlarge_pipe(self._writer)
        self._watch(self._writer, _WRITE)

    def _feed_more(self) -> None:
        feed = self._feed
        assert feed is not None
        budget = MAX_READ
        until = time.monotonic() + FEED_SLICE
        while budget > 0:
            if not self._pending:
                if time.monotonic() >= until:
                    break
                chunk = feed.pull()
                if chunk is None:
                    self._end_feed()
                    return
                if not chunk:  # not ready yet: wait for it without holding the loop
                    self._unwatch(self._writer, _WRITE)
                    self._poller.register(feed.wake_fd, select.POLLIN)
                    return
                self._pending = memoryview(chunk)
            try:
                written = os.write(self._writer, self._pending[:WRITE_CHUNK])
            except BlockingIOError:
                break
            except OSError:  # EPIPE: the child stopped reading, which is its right
                self._end_feed()
                return
            self._pending = self._pending[written:]
            budget -= written
        self._watch(self._writer, _WRITE)

    def _fed(self) -> None:
        """The feed's next chunk is ready."""
        assert self._feed is not None
        self._poller.unregister(self._feed.wake_fd)
        self._feed_more()

    def _end_feed(self) -> None:
        """Close the feed and, if it is still open, the input pipe (the child sees EOF)."""
        feed, self._feed = self._feed, None
        if feed is not None:
            if feed.wake_fd >= 0:
                try:
                    self._poller.unregister(feed.wake_fd)
                except KeyError:  # it was not waiting
                    pass
            feed.close()
        if self._writer >= 0:
            self._close_fd(self._writer)

    def _write(self) -> None:
        try:
            written = os.write(self._writer, self._pending[:WRITE_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # EPIPE (Python ignores SIGPIPE), EIO on a PTY: the reader is gone
            written = len(self._pending)
        self._pending = self._pending[written:]
        if not self._pending:
            if self._close_writer_when_done:
                self._close_fd(self._writer)
            elif self._writer >= 0:
                self._unwatch(self._writer, _WRITE)

    # -- output -------------------------------------------------------------------------

    def _read(self, fd: int, hangup: bool = False) -> None:
        """Read what is there (up to MAX_READ bytes), without waiting for more.

        Readers are non-blocking, so one poll event is followed by reads until EAGAIN: a PTY
        returns at most a few KiB per read whatever is asked, and polling between each of
        those reads would cost more than the reads themselves. A read shorter than
        ``SHORT_READ`` ends the turn, though, unless the poll saw a hang-up (``hangup``: then
        the reads run to the end of the stream): it almost always emptied the stream, and
        the read that would say so raises EAGAIN, which costs more than a dialogue's whole
        read. Anything that did come meanwhile is still there at the next poll.
        """
        size = self._size[fd]
        chunks: list[bytes] = []
        total = 0
        while total < MAX_READ:
            try:
                data = os.read(fd, size)
            except BlockingIOError:
                break
            except OSError:  # EIO: a PTY whose other side is closed
                data = b""
            if not data:
                self._deliver(fd, chunks)
                self._release(fd)
                self._end_stream(fd)
                return
            chunks.append(data)
            total += len(data)
            if len(data) < SHORT_READ and not hangup:
                break
            if len(data) == size and size < MAX_READ:
                self._size[fd] = size = size * 4
                if size == FIRST_READ * 4:
                    enlarge_pipe(fd)
        self._deliver(fd, chunks)

    def _deliver(self, fd: int, chunks: list[bytes]) -> None:
        if not chunks:
            return
        if self.idle_timeout is not None:
            self.heard = time.monotonic()
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        name = self._streams[fd]
        if self.redact is not None:
            data = self.redact.feed(name, data)
        if self._taps is not None and fd in self._taps:
            self._taps[fd].write(data)
        if data:  # as _emit, inline: this runs for every chunk read
            self.sinks[name].write(data)
            if self.on_data is not None:
                self.on_data(name, data)

    def _emit(self, name: str, data: bytes) -> None:
        if data:
            self.sinks[name].write(data)
            if self.on_data is not None:
                self.on_data(name, data)

    def _release(self, fd: int) -> None:
        """Deliver what the redactor held back of a stream that ends (or is abandoned)."""
        if self.redact is not None:
            name = self._streams[fd]
            data = self.redact.flush(name)
            if self._taps is not None and fd in self._taps:
                self._taps[fd].write(data)
            self._emit(name, data)

    # -- the loop -----------------------------------------------------------------------

    def _reap(self) -> None:
        if self._exit_fd is None:
            self.child.poll()
            return
        self.child.wait()
        self._poller.unregister(self._exit_fd)
        os.close(self._exit_fd)
        self._exit_fd = None

    def _reap_stages(self, fds: list[int]) -> None:
        """Reap the stages whose exit fds fired, together: the group orders them."""
        indices = []
        for fd in fds:
            indices.append(self._stage_fds.pop(fd))
            self._poller.unregister(fd)
            os.close(fd)
        assert isinstance(self.child, StageGroup)
        self.child.reaped(indices)

    def _wait_ms(self, until: float, tick: bool) -> int:
        """How long one wait may last, in ms (-1: no limit): until ``until``, but no longer
        than ``max_wait``, 10 ms without a pidfd, and with ``tick``, ``MAIN_THREAD_TICK``."""
        now = time.monotonic()
        until = min(until, now + self.max_wait)
        if self._polls and self.child.returncode is None:
            until = min(until, now + 0.01)  # no pidfd: look at waitpid every 10 ms
        if tick:
            until = min(until, now + MAIN_THREAD_TICK)
        if math.isinf(until):
            return -1
        return max(0, math.ceil(min(until - now, MAX_WAIT) * 1000))

    def step(self, until: float) -> None:
        """Wait until something happens or ``until`` (monotonic) passes, and handle it."""
        tick = threading.current_thread() is threading.main_thread()
        if self._handle(self._poller.poll(self._wait_ms(until, tick))) and math.isinf(
            self.max_wait
        ):
            # The output has just ended, most often because the program is exiting, and its
            # pidfd fires a moment after its files are closed: wait for that here, within
            # the same limit, rather than go round the caller's loop for another step. Not
            # for a caller that asked for short steps (max_wait): it has work between them.
            self._handle(self._poller.poll(self._wait_ms(until, tick)))

    def arm(self, until: float) -> tuple[int, float]:
        """For an event loop: the fd to wait for (readable when the pump has work) and the
        longest wait in seconds (``inf``: no limit); call :meth:`handle` after the wait. The
        event loop handles signals itself, so no ``MAIN_THREAD_TICK`` applies."""
        self.on_loop = True
        wait = self._wait_ms(until, tick=False)
        fd = self._poller.loop_fd()
        if fd < 0:  # no epoll fd to be had: look again in 10 ms, as without a pidfd
            wait = 10 if wait < 0 else min(wait, 10)
        return fd, math.inf if wait < 0 else wait / 1000

    def handle(self) -> None:
        """Handle what is ready now, without waiting (after the loop's wait)."""
        self._handle(self._poller.poll(0))  # an event loop waits again itself

    def cancel(self) -> None:
        """Stop the group by the kill policy at the next step (``cancelled``), as a
        :class:`CancelToken` does, from the thread that drives the pump."""
        self.cancelled = True

    def _handle(self, events: list[tuple[int, int]]) -> bool:
        """Handle ``events``; return True if the output has just ended while the pidfd
        still watches for the exit."""
        exited: list[int] = []
        reading = bool(self._streams)
        for fd, happened in events:
            if fd == self._exit_fd:
                self._reap()
                continue
            if fd == self._cancel_fd:
                self.cancelled = True
                self._poller.unregister(fd)
                self._cancel_fd = -1
                continue
            if fd in self._streams:
                self._read(fd, bool(happened & _HANGUP))
            if fd == self._writer:
                if self._feed is not None:
                    self._feed_more()
                elif self._pending:
                    self._write()
            elif self._feed is not None and fd == self._feed.wake_fd:
                self._fed()
            if fd in self._stage_fds:
                exited.append(fd)
        if exited:
            self._reap_stages(exited)
        if self._polls and self.child.returncode is None:
            self.child.poll()
        return reading and not self._streams and self._exit_fd is not None

    def drive(self, deadline: float, drain_timeout: float) -> Iterator[float]:
        """Pump until the child has exited and its output ended: yield how long to wait (a
        monotonic time) and expect the caller to wait so (:meth:`step`, or :meth:`arm` and
        :meth:`handle` on an event loop) before it resumes the generator.

        ``deadline`` is monotonic (``inf`` for none): past it, past the idle deadline, or
        once cancelled, the group is stopped by the kill policy (``timed_out``,
        ``timeout_kind`` and ``cancelled`` say why). See the module docstring for how pipes
        held by descendants are handled.
        """
        drain_until = math.inf
        stopper = self.stopper
        while True:
            now = time.monotonic()
            reaped = self.child.returncode is not None
            due = deadline if self.idle_timeout is None else self._due(deadline)
            if not reaped and not stopper.started and (self.cancelled or now >= due):
                if not self.cancelled:
                    self.timed_out = True
                    self.timeout_kind = "total" if due == deadline else "idle"
                stopper.begin()
            if stopper.started:
                if stopper.advance(reaped):
                    drain_until = min(drain_until, now + AFTER_KILL)
                    if self.eof or now >= drain_until:
                        self._release_all()
                        return
            elif reaped:
                drain_until = min(drain_until, now + drain_timeout)
                if self.eof or now >= drain_until:
                    self._release_all()
                    return
            if not reaped:
                until = stopper.deadline if stopper.started else due
            elif stopper.started and not stopper.killed:
                until = min(stopper.deadline, now + 0.01)  # watching the group empty
            else:
                until = drain_until
            yield until

    @property
    def stopped(self) -> bool:
        """Whether the group had to be stopped (kill policy)."""
        return self.stopper.started

    def _due(self, deadline: float) -> float:
        """The earlier of ``deadline`` and the idle deadline (``deadline`` on a tie)."""
        assert self.idle_timeout is not None
        return min(deadline, self.heard + self.idle_timeout)

    def _release_all(self) -> None:
        """Output is no longer read (a descendant holds a pipe): release what was held."""
        for fd in list(self._streams):
            self._release(fd)

    def run_to_end(self, deadline: float, drain_timeout: float) -> bool:
        """:meth:`drive` to the end; return True if the group had to be stopped."""
        for until in self.drive(deadline, drain_timeout):
            self.step(until)
        return self.stopper.started

    def close(self) -> None:
        """Release every fd; the pipes of a lingering descendant are simply dropped."""
        if self._feed is not None:
            self._end_feed()
        for fd in list(self._events):
            if fd != self._exit_fd:
                self._close_fd(fd)
        for fd in list(self._streams):
            self._close_fd(fd)
        if self._writer >= 0:
            self._close_fd(self._writer)
        for fd in self._ended:
            os.close(fd)
        self._ended.clear()
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None
        for fd in self._stage_fds:
            os.close(fd)
        self._stage_fds.clear()
        self._poller.close()
