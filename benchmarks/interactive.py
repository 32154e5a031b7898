"""The contestants of bench.py's interactive section, one small class or function each.

* :class:`Dialogue` implementations hold one running line-echo child (:data:`ECHO_CHILD`)
  and do ``n`` send/expect round trips on it. Starting and stopping the child is not part of
  what bench.py times: only :meth:`Dialogue.round_trips` is.
* The ``read_*`` functions read a PTY child's whole output (``head -c SIZE FILE`` where FILE
  holds printable bytes and no newline, so the PTY's ``\\n`` -> ``\\r\\n`` translation leaves
  the byte count alone) and return the seconds taken from start to the last byte.

Every contestant talks to the same child the same way; each checks what it received, so a
fast but wrong contestant fails loudly instead of winning.
"""

from __future__ import annotations

import abc
import errno
import os
import pty
import subprocess
import sys
import time

import pexpect
from pexpect.popen_spawn import PopenSpawn

import cmdrun

#: A child that prints the prompt "> ", then echoes each line it reads followed by the prompt
#: again, until end of input. os.read/os.write: no buffering, one write per answer, so the
#: child costs the same few microseconds whoever drives it.
ECHO_CHILD = r"""
import os
os.write(1, b"> ")
pending = b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    pending += data
    while b"\n" in pending:
        line, _, pending = pending.partition(b"\n")
        os.write(1, line + b"\n> ")
"""
ECHO_ARGV = [sys.executable, "-c", ECHO_CHILD]
PROMPT = "> "
LINE = "x"
#: How long any single wait may take before the benchmark gives up on a stuck contestant.
WAIT = 30.0


class Dialogue(abc.ABC):
    """One running echo child and the way one library talks to it."""

    @abc.abstractmethod
    def round_trips(self, n: int) -> str:
        """Send :data:`LINE` and wait for :data:`PROMPT`, ``n`` times; return the last reply."""

    @abc.abstractmethod
    def close(self) -> None:
        """End the child (end of input, then reap it)."""

    def check(self, reply: str) -> None:
        """Raise if ``reply`` (text before the last prompt) is not the echoed line."""
        check_reply(type(self).__name__, reply)


def check_reply(who: str, reply: str) -> None:
    """Raise if ``reply`` (text before the last prompt) is not the echoed line."""
    if reply.replace("\r", "").split("\n")[-2:] != [LINE, ""]:
        raise RuntimeError(f"{who}: unexpected reply {reply!r}")


class CmdrunDialogue(Dialogue):
    """``cmdrun.spawn(..., tty=tty)``: ``sendline`` + ``expect``."""

    def __init__(self, tty: bool) -> None:
        self.session = cmdrun.spawn(ECHO_ARGV, tty=tty, timeout=WAIT)
        self.session.expect(PROMPT)

    def round_trips(self, n: int) -> str:
        sendline, expect = self.session.sendline, self.session.expect
        before = ""
        for _ in range(n):
            sendline(LINE)
            before = expect(PROMPT).before
        return before

    def close(self) -> None:
        self.session.sendeof()
        self.session.wait()


class PexpectDialogue(Dialogue):
    """``pexpect.spawn`` in its default bytes mode: ``sendline`` + ``expect``.

    ``delaybeforesend`` (0.05 s by default) and ``delayafterread`` (0.0001 s by default) are
    pexpect's own sleeps around every send and every read; None turns one off.
    """

    def __init__(
        self, delaybeforesend: float | None = 0.05, delayafterread: float | None = 0.0001
    ) -> None:
        self.child = pexpect.spawn(ECHO_ARGV[0], ECHO_ARGV[1:], timeout=WAIT)
        # Attributes, not constructor arguments: pexpect 4.8 does not take them there.
        self.child.delaybeforesend = delaybeforesend
        self.child.delayafterread = delayafterread
        self.child.delayafterclose = 0  # only close() sleeps on these, and it is not timed
        self.child.ptyproc.delayafterclose = 0  # type: ignore[attr-defined]
        self.child.expect(PROMPT)

    def round_trips(self, n: int) -> str:
        sendline, expect = self.child.sendline, self.child.expect
        for _ in range(n):
            sendline(LINE)
            expect(PROMPT)
        before = self.child.before
        return before.decode() if isinstance(before, bytes) else str(before)

    def close(self) -> None:
        self.child.sendeof()
        self.child.expect(pexpect.EOF)
        self.child.close()


class PopenSpawnDialogue(Dialogue):
    """``pexpect.popen_spawn.PopenSpawn`` (pipes, a reader thread), defaults."""

    def __init__(self) -> None:
        self.child = PopenSpawn(ECHO_ARGV, timeout=WAIT)
        self.child.expect(PROMPT)

    def round_trips(self, n: int) -> str:
        sendline, expect = self.child.sendline, self.child.expect
        for _ in range(n):
            sendline(LINE)
            expect(PROMPT)
        before = self.child.before
        return before.decode() if isinstance(before, bytes) else str(before)

    def close(self) -> None:
        self.child.sendeof()
        self.child.expect(pexpect.EOF)
        self.child.proc.wait()


class RawPipeDialogue(Dialogue):
    """The floor: ``subprocess.Popen`` with pipes, ``os.write`` and an ``os.read`` loop."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(ECHO_ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None
        assert stdout is not None
        self.stdin, self.stdout = stdin, stdout
        self.fd_in, self.fd_out = stdin.fileno(), stdout.fileno()
        self._read_until_prompt()

    def _read_until_prompt(self) -> bytes:
        received = b""
        while not received.endswith(b"> "):
            data = os.read(self.fd_out, 65536)
            if not data:
                raise RuntimeError(f"echo child ended early: {received!r}")
            received += data
        return received

    def round_trips(self, n: int) -> str:
        line, prompt = f"{LINE}\n".encode(), PROMPT.encode()
        fd_in, fd_out, read, write = self.fd_in, self.fd_out, os.read, os.write
        received = b""
        for _ in range(n):
            write(fd_in, line)
            received = read(fd_out, 65536)
            while not received.endswith(prompt):  # almost never: one write, one read
                more = read(fd_out, 65536)
                if not more:
                    raise RuntimeError(f"echo child ended early: {received!r}")
                received += more
        return received[: -len(prompt)].decode()

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait()
        self.stdout.close()


class RawPtyDialogue(Dialogue):
    """The PTY floor: ``pty.openpty`` + ``Popen(stdin=stdout=slave)`` + ``os.write``/``os.read``.

    The terminal echoes the line, so each reply comes as the echo and then the answer,
    sometimes in one read, sometimes in two.
    """

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        try:
            self.proc = subprocess.Popen(
                ECHO_ARGV, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
            )
        finally:
            os.close(slave)
        self._until_prompt(b"")

    def _until_prompt(self, received: bytes) -> bytes:
        while not received.endswith(b"> "):
            received += os.read(self.master, 65536)
        return received

    def round_trips(self, n: int) -> str:
        line, prompt = f"{LINE}\n".encode(), PROMPT.encode()
        master, read, write = self.master, os.read, os.write
        received = b""
        for _ in range(n):
            write(master, line)
            received = read(master, 65536)
            if not received.endswith(prompt):  # the echo came first
                received = self._until_prompt(received)
        return received[: -len(prompt)].decode()

    def close(self) -> None:
        os.write(self.master, b"\x04")  # Ctrl-D at the start of a line: end of input
        try:
            while os.read(self.master, 65536):
                pass
        except OSError:  # EIO: the child has gone
            pass
        os.close(self.master)
        self.proc.wait()


# --------------------------------------------------------------------------------------------
# Reading a big output through a PTY


def head_argv(path: str, size: int) -> list[str]:
    """The PTY child: the first ``size`` bytes of ``path``."""
    return ["head", "-c", str(size), path]


def write_printable(path: str, size: int) -> None:
    """Fill ``path`` with ``size`` bytes of printable ASCII and no newline."""
    block = (b"0123456789abcdef" * 65536)[: 1 << 20]
    with open(path, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
        out.write(block[: size % len(block)])


def _expect_size(who: str, got: int, size: int) -> None:
    if got != size:
        raise RuntimeError(f"{who} read {got} bytes through the PTY, expected {size}")


def read_raw_pty(path: str, size: int) -> float:
    """``pty.openpty`` + ``Popen(stdout=slave)`` + an ``os.read(master, 1 MiB)`` loop to EIO."""
    start = time.perf_counter()
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            head_argv(path, size), stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                data = os.read(master, 1 << 20)
            except OSError as exc:  # EIO: every holder of the slave side has closed it
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait()
    output = b"".join(chunks)
    elapsed = time.perf_counter() - start
    _expect_size("raw pty loop", len(output), size)
    return elapsed


def read_cmdrun_spawn(path: str, size: int) -> float:
    """``cmdrun.spawn(..., tty=True).read()``."""
    start = time.perf_counter()
    with cmdrun.spawn(head_argv(path, size), tty=True, timeout=120) as session:
        text = session.read()
        session.wait()
    elapsed = time.perf_counter() - start
    _expect_size("cmdrun.spawn().read()", len(text), size)
    return elapsed


def read_cmdrun_run(path: str, size: int) -> float:
    """``cmdrun.run(..., tty=True)``, keeping the bytes."""
    start = time.perf_counter()
    output = cmdrun.run(head_argv(path, size), tty=True, timeout=120).stdout_bytes
    elapsed = time.perf_counter() - start
    _expect_size("cmdrun.run(tty=True)", len(output), size)
    return elapsed


def read_pexpect(path: str, size: int, maxread: int) -> float:
    """``pexpect.spawn(..., maxread=maxread).read()`` (bytes mode)."""
    start = time.perf_counter()
    child = pexpect.spawn("head", ["-c", str(size), path], maxread=maxread, timeout=120)
    child.delayafterclose = 0  # close() would sleep 0.1 s: not what is measured here
    child.ptyproc.delayafterclose = 0  # type: ignore[attr-defined]
    output = child.read()
    child.close()
    elapsed = time.perf_counter() - start
    _expect_size(f"pexpect read() (maxread={maxread})", len(output), size)
    return elapsed
