"""Child programs for the tests, built in one place.

Each helper returns an argv that runs a small Python script. Scripts that start other
processes print their pids first (flushed), so tests can check afterwards that every one of
them is gone.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import sys
import textwrap
import time

PY = sys.executable


def without_site(code: str) -> list[str]:
    """``python -S -c code`` with this cmdrun first on ``sys.path``: a process whose imports
    are its own (``site`` may import anything for its own reasons), to check what cmdrun
    imports."""
    import importlib.util

    spec = importlib.util.find_spec("cmdrun")
    assert spec is not None
    assert spec.origin is not None
    root = str(pathlib.Path(spec.origin).resolve().parent.parent)
    return [PY, "-S", "-c", f"import sys; sys.path.insert(0, {root!r})\n{code}"]


def py(code: str, *args: str) -> list[str]:
    """Run ``code`` (dedented) with this interpreter."""
    return [PY, "-c", textwrap.dedent(code), *args]


def echo_stdin() -> list[str]:
    """Copy stdin to stdout, byte for byte, in 64 KiB reads."""
    return py(
        """
        import os
        while chunk := os.read(0, 65536):
            os.write(1, chunk)
        """
    )


def write_both(out: str, err: str, code: int = 0) -> list[str]:
    """Write ``out`` to stdout and ``err`` to stderr, then exit with ``code``."""
    return py(
        f"""
        import sys
        sys.stdout.write({out!r}); sys.stdout.flush()
        sys.stderr.write({err!r}); sys.stderr.flush()
        sys.exit({code})
        """
    )


def interleaved(n: int) -> list[str]:
    """Alternate unbuffered lines to stdout and stderr, ``n`` of each."""
    return py(
        f"""
        import os
        for i in range({n}):
            os.write(1, b"out %d\\n" % i)
            os.write(2, b"err %d\\n" % i)
        """
    )


def write_bytes(data: bytes, pause: float = 0.0) -> list[str]:
    """Write ``data`` to stdout one byte at a time, pausing between bytes."""
    return py(
        f"""
        import os, time
        for b in {data!r}:
            os.write(1, bytes([b]))
            time.sleep({pause})
        """
    )


def ignore_term_and_hang() -> list[str]:
    """Print a line, ignore SIGTERM, hang."""
    return py(
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("partial", flush=True)
        time.sleep(60)
        """
    )


def stop_self() -> list[str]:
    """Print a line, then stop itself with SIGSTOP."""
    return py(
        """
        import os, signal
        print("partial", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
        """
    )


def tree(n: int, *, ignore_term: bool = False, setsid: bool = False) -> list[str]:
    """Start ``n`` sleeping children that inherit stdout/stderr, print all pids, hang.

    With ``setsid`` the children leave the process group (cmdrun cannot signal them).
    """
    return py(
        f"""
        import signal, subprocess, sys, time
        if {ignore_term}:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kids = [subprocess.Popen(["sleep", "60"], start_new_session={setsid})
                for _ in range({n})]
        print("pids", *[p.pid for p in kids], flush=True)
        time.sleep(60)
        """
    )


def close_pipes_and_hang() -> list[str]:
    """Print a line, close stdout and stderr, keep running."""
    return py(
        """
        import os, time
        os.write(1, b"partial\\n")
        os.close(1); os.close(2)
        time.sleep(60)
        """
    )


def daemonize(code: int = 0) -> list[str]:
    """Start a same-group child that keeps the pipes open, print its pid, exit ``code``."""
    return py(
        f"""
        import os, subprocess, sys
        kid = subprocess.Popen(["sleep", "60"])
        print("pids", kid.pid, flush=True)
        os._exit({code})
        """
    )


def kill_self(sig: int) -> list[str]:
    """Write to stderr, then die by signal ``sig``."""
    return py(
        f"""
        import os, sys
        sys.stderr.write("about to die\\n"); sys.stderr.flush()
        os.kill(os.getpid(), {sig})
        """
    )


def pids_in(text: str) -> list[int]:
    """The pids a child printed on its ``pids ...`` line."""
    for line in text.splitlines():
        if line.startswith("pids"):
            return [int(p) for p in line.split()[1:]]
    raise AssertionError(f"no pids line in {text!r}")


def alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie counts as dead: init may never reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def wait_dead(pids: list[int], within: float = 2.0) -> list[int]:
    """Return the pids still alive after ``within`` seconds (empty when all died)."""
    end = time.monotonic() + within
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.02)


def reap_leftovers(pids: list[int]) -> None:
    """Kill processes a test deliberately left running (a setsid grandchild)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def open_fds() -> set[str]:
    """This process's open file descriptors, as names."""
    return set(os.listdir("/proc/self/fd"))


def own_children() -> set[int]:
    """Pids whose parent is this process (zombies included: those would be leaks)."""
    from leakcheck import children_of

    live, zombies = children_of(os.getpid())
    return live | zombies


def prompter(prompt: str = "> ", *, stream: str = "stdout") -> list[str]:
    """Print ``prompt`` (no newline) on ``stream``; echo each line read as ``got: LINE``."""
    return py(
        f"""
        import os, sys
        out = 1 if {stream!r} == "stdout" else 2
        os.write(out, {prompt!r}.encode())
        for line in sys.stdin:
            os.write(1, ("got: " + line).encode())
            os.write(out, {prompt!r}.encode())
        os.write(1, b"bye\\n")
        """
    )


def split_prompt(parts: list[str], pause: float = 0.05) -> list[str]:
    """Write ``parts`` to stdout one write at a time, pausing in between, then wait for input."""
    return py(
        f"""
        import os, sys, time
        for part in {parts!r}:
            os.write(1, part.encode())
            time.sleep({pause})
        sys.stdin.readline()
        """
    )


def prompt_then_die(sig: int | None = None, code: int = 3) -> list[str]:
    """Print a prompt, then die by signal ``sig`` or exit with ``code``."""
    end = f"os.kill(os.getpid(), {sig})" if sig else f"os._exit({code})"
    return py(
        f"""
        import os
        os.write(1, b"name? ")
        {end}
        """
    )


def password_program(
    expected: str, *, need_tty: bool = False, echo_input: bool = False
) -> list[str]:
    """Ask for a password with getpass; print "access granted"/"access denied".

    With ``need_tty`` it refuses to run when stdin is not a terminal; with ``echo_input``
    it prints what it read (a careless program: cmdrun must mask it). Only a hash of
    ``expected`` is in its source, so the password never shows up in its command line.
    """
    digest = hashlib.sha256(expected.encode()).hexdigest()
    return py(
        f"""
        import getpass, hashlib, sys
        if {need_tty} and not sys.stdin.isatty():
            print("error: must be run from a terminal", file=sys.stderr)
            sys.exit(1)
        user = input("User: ")
        pw = getpass.getpass("Password: ")
        if {echo_input}:
            print("you typed", pw)
        ok = hashlib.sha256(pw.encode()).hexdigest() == {digest!r}
        print("access granted" if ok else "access denied", "for", user)
        """
    )


def isatty_report() -> list[str]:
    """Refuse unless stdin is a terminal; then print the terminal's size."""
    return py(
        """
        import os, sys
        if not sys.stdin.isatty():
            sys.exit("stdin: Inappropriate ioctl for device")
        size = os.get_terminal_size(0)
        print("rows", size.lines, "cols", size.columns)
        """
    )


def wait_for_file_between(first: str, second: str, path: str) -> list[str]:
    """Print ``first``, wait (up to 30 s) until ``path`` exists, then print ``second``.

    A test whose callback creates ``path`` when it sees ``first`` proves the line was
    delivered while the program was still running: otherwise nothing would create it.
    """
    return py(
        f"""
        import os, sys, time
        sys.stdout.write({first!r}); sys.stdout.flush()
        end = time.monotonic() + 30
        while not os.path.exists({path!r}) and time.monotonic() < end:
            time.sleep(0.01)
        sys.stdout.write({second!r}); sys.stdout.flush()
        """
    )


def deaf_to_ctrl_c(pidfile: str) -> list[str]:
    """A child that ignores SIGINT, appends its pid to ``pidfile`` and sleeps a minute:
    only the kill policy's SIGTERM (or SIGKILL) ends it."""
    return py(
        """
        import os, signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with open(sys.argv[1], "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(60)
        """,
        pidfile,
    )


def ctrl_c_parent(
    call: str, child: list[str], pidfile: str, pids: int
) -> tuple[int, bytes, list[int]]:
    """Run a Python parent that runs ``call`` (cmdrun code using ``CHILD``, the child argv),
    wait until ``pidfile`` lists ``pids`` pids, press Ctrl-C (SIGINT) on the parent.

    The parent prints "KeyboardInterrupt" and exits 42 if the interrupt reached it as one.
    Returns its exit status, its stdout and the pids the children wrote.
    """
    import json
    import subprocess

    parent = py(
        f"""
        import json, sys, cmdrun
        CHILD = json.loads(sys.argv[1])
        try:
            {call}
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            sys.exit(42)
        """,
        json.dumps(child),
    )
    proc = subprocess.Popen(parent, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        written: list[int] = []
        while time.monotonic() < deadline and len(written) < pids:
            time.sleep(0.02)
            if os.path.exists(pidfile):
                with open(pidfile) as f:
                    written = [int(p) for p in f.read().split()]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        proc.kill()
    return proc.returncode, out, written


def ignore_and_hang(*sigs: int) -> list[str]:
    """Ignore signals ``sigs``, print ``pids PID`` (flushed), hang for a minute."""
    return py(
        f"""
        import os, signal, time
        for sig in {[int(s) for s in sigs]!r}:
            signal.signal(sig, signal.SIG_IGN)
        print("pids", os.getpid(), flush=True)
        time.sleep(60)
        """
    )


def fork_holders(n: int) -> list[str]:
    """Fork ``n`` grandchildren that keep stdout/stderr open and sleep; print all pids, hang."""
    return py(
        f"""
        import os, sys, time
        kids = []
        for _ in range({n}):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            kids.append(pid)
        print("pids", os.getpid(), *kids, flush=True)
        time.sleep(60)
        """
    )


def close_stdout_then(seconds: float, code: int = 0) -> list[str]:
    """Print a line, close stdout and stderr, keep running ``seconds``, exit with ``code``."""
    return py(
        f"""
        import os, time
        os.write(1, b"partial\\n")
        os.close(1); os.close(2)
        time.sleep({seconds})
        os._exit({code})
        """
    )


def flood(total: int) -> list[str]:
    """Write ``total`` bytes of :func:`flood_bytes` to stdout, in 1 MiB writes."""
    return py(
        f"""
        import os
        block = bytes(range(256)) * 4096
        left = {total}
        while left:
            left -= os.write(1, block[: min(left, len(block))])
        """
    )


def flood_bytes(start: int, end: int) -> bytes:
    """Bytes ``start:end`` of what :func:`flood` writes (``bytes(range(256))`` repeated)."""
    pattern = bytes(range(256))
    return (pattern * ((end - start) // 256 + 2))[start % 256 :][: end - start]


def never_read() -> list[str]:
    """Print ``pids PID`` and sleep a minute without ever reading stdin."""
    return py(
        """
        import os, time
        print("pids", os.getpid(), flush=True)
        time.sleep(60)
        """
    )


def write_chunks(chunks: list[bytes], pause: float = 0.01, fd: int = 1) -> list[str]:
    """Write each of ``chunks`` to ``fd`` (stdout) with its own ``write``, pausing in between."""
    return py(
        f"""
        import os, time
        for chunk in {chunks!r}:
            os.write({fd}, chunk)
            time.sleep({pause})
        """
    )


def long_line(size: int) -> list[str]:
    """Write one line of ``size`` bytes of ``x`` plus ``\\n``, in 1 MiB writes."""
    return py(
        f"""
        import os
        left = {size}
        block = b"x" * (1 << 20)
        while left:
            left -= os.write(1, block[: min(left, len(block))])
        os.write(1, b"\\n")
        """
    )


def die_by(sig: int) -> list[str]:
    """Write to stderr, restore the default action of ``sig``, die by it (no core file)."""
    sig = int(sig)
    return py(
        f"""
        import os, resource, signal, sys
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if {sig} not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal({sig}, signal.SIG_DFL)
        sys.stderr.write("about to die\\n"); sys.stderr.flush()
        os.kill(os.getpid(), {sig})
        signal.pause()
        """
    )


#: What nslookup prints for www.python.org against examples/_dnsserver.py (its zone is
#: written down here again on purpose: the tests check the server, not copy it).
WWW_ANSWER = """\
Non-authoritative answer:
www.python.org\tcanonical name = dualstack.python.map.fastly.net.
Name:\tdualstack.python.map.fastly.net
Address: 198.51.100.223
Name:\tdualstack.python.map.fastly.net
Address: 2001:db8:fa57::223
"""


def print_input(code: int = 0) -> list[str]:
    """Read all of stdin and print it back: whole on stdout and stderr, then line by line.

    A careless program that shows the password it read; exits with ``code``.
    """
    return py(
        f"""
        import sys
        data = sys.stdin.read()
        sys.stdout.write("out: " + data + "\\n"); sys.stdout.flush()
        sys.stderr.write("err: " + data + "\\n"); sys.stderr.flush()
        for line in data.splitlines():
            print("line:", line, flush=True)
        sys.exit({code})
        """
    )


def echo_slowly(pause: float = 0.02) -> list[str]:
    """Read one line, print ``echo: `` and the line one character per write, pausing in
    between (a terminal echoing keystrokes), then ``done``."""
    return py(
        f"""
        import os, sys, time
        line = sys.stdin.readline().rstrip("\\n")
        os.write(1, b"echo: ")
        for ch in line:
            os.write(1, ch.encode())
            time.sleep({pause})
        os.write(1, b"\\ndone\\n")
        """
    )


def tty_password_reader(times: int, expected: str, give_up: float = 2.0) -> list[str]:
    """Ask ``times`` times for a password on ``/dev/tty`` the classic way (print the prompt,
    then echo off with ``TCSAFLUSH``, which throws away what was typed before, then read a
    line); print ``ok`` or ``wrong`` for each, or ``lost`` when no line came within
    ``give_up`` seconds. Ends with ``lost=N``."""
    return py(
        f"""
        import os, select, sys, termios
        tty = os.open("/dev/tty", os.O_RDWR)
        lost = 0
        for i in range({times}):
            os.write(tty, b"Password: ")
            old = termios.tcgetattr(tty)
            new = termios.tcgetattr(tty)
            new[3] &= ~termios.ECHO
            termios.tcsetattr(tty, termios.TCSAFLUSH, new)
            try:
                if select.select([tty], [], [], {give_up})[0]:
                    line = os.read(tty, 4096).decode().rstrip("\\n")
                    verdict = "ok" if line == {expected!r} else "wrong"
                else:
                    verdict = "lost"
                    lost += 1
            finally:
                termios.tcsetattr(tty, termios.TCSAFLUSH, old)
            os.write(tty, verdict.encode() + b"\\n")
        os.write(tty, b"lost=%d\\n" % lost)
        """
    )


def echo_report() -> list[str]:
    """Print ``echo on`` or ``echo off`` (the terminal's state at start), then copy one typed
    line back as ``got: LINE``."""
    return py(
        """
        import sys, termios
        on = termios.tcgetattr(0)[3] & termios.ECHO
        print("echo on" if on else "echo off", flush=True)
        print("got:", input())
        """
    )


def dev_tty_user(shell: str = "sh") -> list[str]:
    """Open ``/dev/tty`` with ``shell``, write ``on a terminal`` to it and exit 0; where there
    is no controlling terminal the shell refuses (dash: ``sh: 1: cannot create /dev/tty: No
    such device or address``, exit 2; bash: ``bash: line 1: /dev/tty: ...``, exit 1)."""
    return [shell, "-c", "exec 3<>/dev/tty || exit 1; echo 'on a terminal' >&3"]


def cli_script() -> list[str] | None:
    """The ``cmdrun`` console script as a user runs it (beside this interpreter, or on
    PATH), or None where the package is not installed with its scripts."""
    import shutil

    beside = pathlib.Path(sys.executable).with_name("cmdrun")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("cmdrun")
    return None if found is None else [found]


def line_acker() -> list[str]:
    """Read lines; answer each with ``got LINE`` (flushed) at once; print ``total N`` at EOF."""
    return py(
        """
        import sys
        count = 0
        for line in sys.stdin:
            count += 1
            print("got", line.strip(), flush=True)
        print("total", count, flush=True)
        """
    )


def pid_then_cat() -> list[str]:
    """Print ``pids PID`` (flushed), then copy stdin to stdout until EOF."""
    return py(
        """
        import os, sys
        print("pids", os.getpid(), flush=True)
        while chunk := os.read(0, 65536):
            os.write(1, chunk)
        """
    )


def start_end_logger(log: pathlib.Path) -> list[str]:
    """Append ``start`` to ``log``, sleep a little, append ``end`` (a shell starts fast)."""
    return ["sh", "-c", 'echo start >> "$1"; sleep 0.3; echo end >> "$1"', "sh", str(log)]


def most_at_once(log: pathlib.Path) -> int:
    """How many ``start_end_logger`` children ran at once, at most, from their log."""
    running = most = 0
    for event in log.read_text().split():
        running += 1 if event == "start" else -1
        most = max(most, running)
    return most


def pid_writer_then_sleep(pidfile: pathlib.Path) -> list[str]:
    """Append its pid to ``pidfile``, then sleep a minute."""
    return ["sh", "-c", 'echo $$ >> "$1"; exec sleep 60', "sh", str(pidfile)]


def fail_when_lines(pidfile: pathlib.Path, lines: int, code: int) -> list[str]:
    """Wait (up to 20 s) until ``pidfile`` holds ``lines`` lines, then exit with ``code``."""
    script = (
        'i=0; while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ] && [ $i -lt 1000 ]; '
        'do sleep 0.02; i=$((i+1)); done; exit "$3"'
    )
    return ["sh", "-c", script, "sh", str(pidfile), str(lines), str(code)]


def winch_reporter() -> list[str]:
    """Print ``READY``; on SIGWINCH print the terminal's size as ``SIZE rows cols`` and exit."""
    return py(
        """
        import os, signal, sys
        def report(signum, frame):
            cols, rows = os.get_terminal_size(0)
            print(f"SIZE {rows} {cols}", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGWINCH, report)
        print("READY", flush=True)
        while True:
            signal.pause()
        """
    )


def catches_ctrl_c() -> list[str]:
    """Print ``ready``, sleep; on Ctrl-C print ``interrupted`` and exit 0."""
    return py(
        """
        import time
        try:
            print("ready", flush=True)
            time.sleep(30)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
