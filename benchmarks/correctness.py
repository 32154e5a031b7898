"""The correctness table of the benchmark page: what each library does when the program it
runs will not end on its own, under a 1 s timeout, and under Ctrl-C.

Usage (this table alone)::

    python benchmarks/correctness.py [--quick]

Speed tables leave out what matters most when things go wrong: whether the call comes back
at all, how long after its timeout, and what it leaves running. Each library runs four
programs, each a ``sh -c`` line whose sleeps have a length no other process uses
(``sleep 30.NNNNNNNN``, a marker found with ``pgrep -f``):

(a) **A child that ignores SIGTERM**: ``sh -c 'trap "" TERM; exec sleep 30.N'`` (one
    process, SIGTERM ignored), 1 s timeout. A library that stops a program with SIGTERM
    alone waits for ever; one that only sends SIGKILL is fine here.
(b) **A grandchild holds the pipes**: ``sh -c 'sleep 30.N & sleep 30.N'``, 1 s timeout. The
    background sleep inherits the captured stdout and stderr: a library that kills only the
    process it started then waits for end-of-file on the pipes for the other 29 s (or never
    sees it), and leaves the sleeps running.
(c) **A child that stops itself**: ``sh -c 'kill -STOP $$; sleep 30.N'``, 1 s timeout. A
    stopped process does not act on SIGTERM until it gets SIGCONT; SIGKILL works.
(d) **Ctrl-C in a real parent process**: the Python process that makes the call (with no
    timeout) on ``sh -c 'sleep 30.N & sleep 30.N'`` gets SIGINT (``kill -INT`` of that process
    alone, not of its group, as from a supervisor or a ``kill`` in another terminal) once the
    sleeps have started. Measured: seconds from the SIGINT until that process has exited, and
    what it left. The program makes no attempt to handle ``KeyboardInterrupt``: it is what a
    script does.

For each library and program: seconds until the call returns (for (d): until the parent has
exited), the exception it raised (``returned`` if none), and the processes left alive
(``pgrep -f`` of the marker), when the call returns and :data:`LATER` seconds later (the
calling process is still alive then, as a service that made the call would be). An attempt
that has not returned after :data:`CAP` seconds is a *hang*: its processes are counted at
the cap, then the calling process's group is killed, and the count 2 s later says what
outlived even that. Everything left with the marker is then killed before the attempt ends.

Every attempt runs in a fresh Python process (``python correctness.py --attempt LIB
SCENARIO``) in a session of its own, so that a hang or a stuck thread cannot poison this
one, and so that (d) has a real parent to interrupt. That process imports its library, makes
one call on ``true`` (imports and first-call costs are paid before the clock), says it is
ready, and starts the call when told (a pipe of its own, not stdin, which invoke would read).
The attempts of a batch all start the call at the same moment: they spend their time waiting,
so running them side by side (on 2 cores) shifts the times by milliseconds, not by seconds.
With ``--quick`` (:data:`QUICK`) every attempt is in one batch, once, and hangs after
:data:`QUICK_CAP` seconds; a full run
(:data:`FULL`) has a batch per program, three rounds, and shows the median time, the most
processes left, and a hang if any round hung.

The calls (:data:`LIBRARIES` has the exact lines; ``argv`` is ``["sh", "-c", line]``):
``subprocess.run(argv, capture_output=True, timeout=1)``; ``cmdrun.run(argv, timeout=1)``;
pexpect's ``spawn`` then ``expect(EOF, timeout=1)``, and on ``TIMEOUT`` what its docs tell a
user to do with a child that must go, ``close(force=True)`` (SIGHUP, SIGCONT, SIGINT, then
SIGKILL to the child); ``sh.Command("sh")("-c", line, _timeout=1)``; plumbum's
``local["sh"]["-c", line].run(timeout=1)``; ``invoke.run(shlex.join(argv), timeout=1,
hide=True)``; sarge, which has no timeout of its own: ``run(cmd, async_=True, stdout=Capture(),
stderr=Capture())``, ``wait(1)``, and on ``TimeoutExpired`` ``kill()`` of each command then
``close()``. Each captures the output, as a user who wants it would. cmdrun's rows have a
target: back within 1 s + ``kill_grace`` + 1 s (4 s with the default grace of 2 s) of the
timeout's start (for (d): of the SIGINT) and nothing left; the others are context.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import inspect
import json
import os
import platform
import random
import re
import select
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchutil import Row, installed

import cmdrun

#: The timeout of (a)-(c), in seconds.
TIMEOUT = 1.0
#: An attempt not back after this many seconds hangs (every sleep lasts 30 s); ``--quick``
#: waits :data:`QUICK_CAP`, still twice cmdrun's limit.
CAP = 15.0
QUICK_CAP = 8.0
#: Seconds between the two counts of what is left.
LATER = 2.0
#: cmdrun's default grace between SIGTERM and SIGKILL.
KILL_GRACE = float(inspect.signature(cmdrun.run).parameters["kill_grace"].default)
#: cmdrun's target: back within this many seconds, nothing left.
CMDRUN_LIMIT = TIMEOUT + KILL_GRACE + 1.0

#: How an attempt process finds its marker and its two pipes (control in, reports out).
MARK_ENV = "CORRECTNESS_MARK"
CONTROL_ENV = "CORRECTNESS_CONTROL_FD"
REPORT_ENV = "CORRECTNESS_REPORT_FD"


@dataclass(frozen=True)
class Scenario:
    """One of the four programs: its key, its letter and title, and its ``sh -c`` line
    (``{sleep}`` is the marked sleep)."""

    key: str
    letter: str
    title: str
    line: str
    interrupt: bool = False  # (d): no timeout, SIGINT to the parent

    def argv(self, mark: str) -> list[str]:
        return ["sh", "-c", self.line.format(sleep=f"sleep {mark}")]

    @property
    def label(self) -> str:
        limit = "no timeout" if self.interrupt else f"{TIMEOUT:.0f} s timeout"
        return f"({self.letter}) {self.title}, {limit}"


SCENARIOS = (
    Scenario("sigterm-ignored", "a", "child ignores SIGTERM", 'trap "" TERM; exec {sleep}'),
    Scenario("grandchild-holds-pipes", "b", "grandchild holds the pipes", "{sleep} & {sleep}"),
    Scenario("sigstop", "c", "child stops itself (SIGSTOP)", "kill -STOP $$; {sleep}"),
    Scenario("ctrl-c", "d", "Ctrl-C (SIGINT to the parent)", "{sleep} & {sleep}", True),
)
SCENARIO_BY_KEY = {s.key: s for s in SCENARIOS}


@dataclass(frozen=True)
class Library:
    """A contestant: its display name, and the call it makes with and without a timeout."""

    name: str
    how: str  # with the 1 s timeout of (a)-(c)
    how_untimed: str  # for (d)
    module: str  # what must be importable

    def how_for(self, scenario: Scenario) -> str:
        return self.how_untimed if scenario.interrupt else self.how


LIBRARIES = {
    "subprocess": Library(
        "subprocess",
        "subprocess.run(argv, capture_output=True, timeout=1)",
        "subprocess.run(argv, capture_output=True)",
        "subprocess",
    ),
    "cmdrun": Library("cmdrun", "cmdrun.run(argv, timeout=1)", "cmdrun.run(argv)", "cmdrun"),
    "pexpect": Library(
        "pexpect",
        "child = pexpect.spawn(argv[0], argv[1:]); child.expect(EOF, timeout=1); "
        "on TIMEOUT: child.close(force=True)",
        "pexpect.spawn(argv[0], argv[1:]).expect(EOF, timeout=None)",
        "pexpect",
    ),
    "sh": Library(
        "sh",
        'sh.Command("sh")("-c", line, _timeout=1)',
        'sh.Command("sh")("-c", line)',
        "sh",
    ),
    "plumbum": Library(
        "plumbum",
        'plumbum.local["sh"]["-c", line].run(timeout=1)',
        'plumbum.local["sh"]["-c", line].run()',
        "plumbum",
    ),
    "invoke": Library(
        "invoke",
        "invoke.run(shlex.join(argv), timeout=1, hide=True)",
        "invoke.run(shlex.join(argv), hide=True)",
        "invoke",
    ),
    "sarge": Library(
        "sarge",
        "p = sarge.run(shlex.join(argv), async_=True, stdout=Capture(), stderr=Capture()); "
        "p.wait(1); on TimeoutExpired: kill() each of p.commands, p.close()",
        "sarge.capture_both(shlex.join(argv))",
        "sarge",
    ),
}


def libraries() -> list[str]:
    """The keys of the contestants installed here (sarge is optional: the ``bench`` extra)."""
    return [key for key, lib in LIBRARIES.items() if installed(lib.module)]


# --------------------------------------------------------------------------------------------
# The calls, made in an attempt process (each imports its library only there)

Call = Callable[[list[str], "float | None"], None]


def call_subprocess(argv: list[str], timeout: float | None) -> None:
    subprocess.run(argv, capture_output=True, timeout=timeout, check=False)


def call_cmdrun(argv: list[str], timeout: float | None) -> None:
    cmdrun.run(argv, timeout=timeout)


def call_pexpect(argv: list[str], timeout: float | None) -> None:
    import pexpect

    child = pexpect.spawn(argv[0], argv[1:])
    try:
        child.expect(pexpect.EOF, timeout=timeout)
    except pexpect.TIMEOUT:
        child.close(force=True)
        raise
    child.close()


def call_sh(argv: list[str], timeout: float | None) -> None:
    import sh

    sh.Command(argv[0])(*argv[1:], _timeout=timeout)


def call_plumbum(argv: list[str], timeout: float | None) -> None:
    from plumbum import local

    local[argv[0]][argv[1:]].run(timeout=timeout)


def call_invoke(argv: list[str], timeout: float | None) -> None:
    import invoke

    invoke.run(shlex.join(argv), timeout=timeout, hide=True)


def call_sarge(argv: list[str], timeout: float | None) -> None:
    import sarge  # type: ignore[import-untyped]

    if timeout is None:
        sarge.capture_both(shlex.join(argv))
        return
    pipeline = sarge.run(
        shlex.join(argv), async_=True, stdout=sarge.Capture(), stderr=sarge.Capture()
    )
    try:
        pipeline.wait(timeout)
    except subprocess.TimeoutExpired:
        for command in pipeline.commands:
            command.kill()
        pipeline.close()
        raise
    pipeline.close()


CALLS: dict[str, Call] = {
    "subprocess": call_subprocess,
    "cmdrun": call_cmdrun,
    "pexpect": call_pexpect,
    "sh": call_sh,
    "plumbum": call_plumbum,
    "invoke": call_invoke,
    "sarge": call_sarge,
}


def attempt_main(library: str, scenario_key: str) -> int:
    """The attempt process: warm up, say ready, make the call when told, report."""
    mark = os.environ[MARK_ENV]
    control = int(os.environ[CONTROL_ENV])
    report = int(os.environ[REPORT_ENV])
    for fd in (control, report):
        os.set_inheritable(fd, False)  # no child of the call gets them

    def send(message: dict[str, object]) -> None:
        os.write(report, (json.dumps(message) + "\n").encode())

    scenario = SCENARIO_BY_KEY[scenario_key]
    call = CALLS[library]
    call(["true"], TIMEOUT)  # imports, first-call costs, PATH look-ups
    send({"ready": True})
    os.read(control, 16)  # "go"
    argv = scenario.argv(mark)
    if scenario.interrupt:
        send({"started": True})
        call(argv, None)  # the harness interrupts this process; nothing catches it
        send({"returned": True})
        return 0
    start = time.perf_counter()
    try:
        call(argv, TIMEOUT)
        outcome = "returned"
    except BaseException as exc:  # the outcome is what it raised, whatever it is
        outcome = type(exc).__name__
    send({"seconds": time.perf_counter() - start, "outcome": outcome})
    os.read(control, 16)  # live on (as a caller would) until the harness has counted
    return 0


# --------------------------------------------------------------------------------------------
# The harness


def pattern(mark: str) -> str:
    return f"sleep {re.escape(mark)}"


def count_left(mark: str) -> int:
    """How many processes have ``sleep MARK`` in their command line (zombies have none)."""
    found = subprocess.run(
        ["pgrep", "-c", "-f", pattern(mark)], capture_output=True, text=True, check=False
    )
    return int(found.stdout.strip() or 0)


def kill_marked(mark: str) -> None:
    subprocess.run(["pkill", "-KILL", "-f", pattern(mark)], check=False)


@dataclass(frozen=True)
class Outcome:
    """One attempt: seconds (None: hung), processes left then and later, what it raised."""

    seconds: float | None
    survivors: int
    survivors_later: int
    outcome: str


class Attempt:
    """One library on one program, in a fresh Python process of its own session."""

    def __init__(self, library: str, scenario: Scenario, cap: float = CAP) -> None:
        self.library = library
        self.scenario = scenario
        self.cap = cap
        self.mark = f"30.{random.randrange(10**8):08d}"
        control_r, self.control_w = os.pipe()
        self.report_r, report_w = os.pipe()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        env = {
            **os.environ,
            MARK_ENV: self.mark,
            CONTROL_ENV: str(control_r),
            REPORT_ENV: str(report_w),
        }
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--attempt", library, scenario.key],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(control_r, report_w),
            start_new_session=True,
        )
        os.close(control_r)
        os.close(report_w)
        self.buffer = b""
        self.go_at = 0.0

    def message(self, deadline: float) -> dict[str, object] | None:
        """The next report of the attempt process; None if none came by ``deadline``.

        Raises:
            RuntimeError: the attempt process ended without it (it failed).
        """
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.report_r], [], [], left)[0]:
                return None
            chunk = os.read(self.report_r, 4096)
            if not chunk:
                raise RuntimeError(f"{self.library} {self.scenario.key} failed:\n{self.output()}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        data: dict[str, object] = json.loads(line)
        return data

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def go(self) -> None:
        self.go_at = time.monotonic()
        os.write(self.control_w, b"go\n")

    def kill_caller(self) -> None:
        """SIGKILL to the attempt's process group (its session leader's group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def counts(self, hung: bool) -> tuple[int, int]:
        """What is left now and :data:`LATER` s later (a hung caller is killed between)."""
        now = count_left(self.mark)
        if hung:
            self.kill_caller()
        time.sleep(LATER)
        return now, count_left(self.mark)

    def finish(self) -> Outcome:
        """After :meth:`go`: wait for the call, count what is left."""
        if self.scenario.interrupt:
            return self.interrupted()
        report = self.message(self.go_at + self.cap)
        if report is None:
            return Outcome(None, *self.counts(hung=True), "hang")
        seconds = float(report["seconds"])  # type: ignore[arg-type]
        return Outcome(seconds, *self.counts(hung=False), str(report["outcome"]))

    def interrupted(self) -> Outcome:
        """(d): SIGINT to the caller once its program runs; seconds until the caller exits."""
        if self.message(time.monotonic() + 10) is None:
            raise RuntimeError(f"{self.library} did not start its call:\n{self.output()}")
        time.sleep(0.3)
        deadline = time.monotonic() + 5
        while count_left(self.mark) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # the library is in its wait by now
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            os.kill(self.proc.pid, signal.SIGINT)
            start = time.monotonic()
            exited = bool(select.select([pidfd], [], [], self.cap)[0])
            seconds = time.monotonic() - start
        finally:
            os.close(pidfd)
        if not exited:
            return Outcome(None, *self.counts(hung=True), "hang")
        left, later = self.counts(hung=False)
        return Outcome(seconds, left, later, self.exit_outcome())

    def exit_outcome(self) -> str:
        """What the interrupted caller died of: the last exception in its output."""
        code = self.proc.wait()
        for line in reversed(self.output().splitlines()):
            found = re.match(r"([A-Za-z_][\w.]*)(:|$)", line)
            if found:
                return found.group(1).rsplit(".", 1)[-1]
        return f"exit {code}"

    def close(self) -> None:
        """Let the caller exit, then kill whatever is left of the attempt."""
        os.close(self.control_w)
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        kill_marked(self.mark)
        os.close(self.report_r)
        self.log.close()


def run_batch(pairs: list[tuple[str, Scenario]], cap: float = CAP) -> list[Outcome]:
    """The attempts of ``pairs`` side by side: started together once all are ready."""
    attempts: list[Attempt] = []
    try:
        for library, scenario in pairs:
            attempts.append(Attempt(library, scenario, cap))
        ready_by = time.monotonic() + 60
        for attempt in attempts:
            if attempt.message(ready_by) is None:
                raise RuntimeError(f"{attempt.library} not ready:\n{attempt.output()}")
        for attempt in attempts:
            attempt.go()
        with concurrent.futures.ThreadPoolExecutor(len(attempts)) as pool:
            return list(pool.map(Attempt.finish, attempts))
    finally:
        for attempt in attempts:
            attempt.close()


@dataclass(frozen=True)
class CorrectnessSettings:
    """How many rounds, whether all attempts of a round run as one batch, and the seconds
    after which an attempt hangs."""

    rounds: int
    one_batch: bool  # else one batch per program
    cap: float


FULL = CorrectnessSettings(rounds=3, one_batch=False, cap=CAP)
QUICK = CorrectnessSettings(rounds=1, one_batch=True, cap=QUICK_CAP)


def results(quick: bool = False) -> list[dict[str, object]]:
    """One dict per (library, program): ``library``, ``scenario`` (a key of
    :data:`SCENARIOS`), ``seconds`` (None if hung), ``hung``, ``survivors`` (when the call
    returned), ``survivors_later`` (:data:`LATER` s later), ``outcome`` (the exception's name,
    ``returned`` or ``hang``), ``how`` (the call) and ``cap`` (seconds before a hang)."""
    settings = QUICK if quick else FULL
    keys = libraries()
    pairs = [(key, scenario) for scenario in SCENARIOS for key in keys]
    runs: dict[tuple[str, str], list[Outcome]] = {(k, s.key): [] for k, s in pairs}
    batches = (
        [pairs] if settings.one_batch else [[p for p in pairs if p[1] is s] for s in SCENARIOS]
    )
    for _ in range(settings.rounds):
        for batch in batches:
            for (key, scenario), outcome in zip(batch, run_batch(batch, settings.cap), strict=True):
                runs[key, scenario.key].append(outcome)
    table: list[dict[str, object]] = []
    for key, scenario in pairs:
        outcomes = runs[key, scenario.key]
        hung = any(o.seconds is None for o in outcomes)
        seconds = None if hung else statistics.median(o.seconds or 0.0 for o in outcomes)
        table.append(
            {
                "library": LIBRARIES[key].name,
                "scenario": scenario.key,
                "seconds": seconds,
                "hung": hung,
                "survivors": max(o.survivors for o in outcomes),
                "survivors_later": max(o.survivors_later for o in outcomes),
                "outcome": "/".join(dict.fromkeys(o.outcome for o in outcomes)),
                "how": LIBRARIES[key].how_for(scenario),
                "cap": settings.cap,
            }
        )
    return table


def shown(result: dict[str, object]) -> str:
    """``1.00 s, 2 left`` or ``hang (15 s cap), 3 left (0 once the caller was killed)``; the
    later count when it differs (for a hang: after the harness killed the calling process's
    group)."""
    seconds = result["seconds"]
    cap = float(result.get("cap", CAP))  # type: ignore[arg-type]
    time_part = f"hang ({cap:.0f} s cap)" if result["hung"] else f"{seconds:.2f} s"
    text = f"{time_part}, {result['survivors']} left"
    if result["hung"]:
        text += f" ({result['survivors_later']} once the caller was killed)"
    elif result["survivors_later"] != result["survivors"]:
        text += f" ({result['survivors_later']} after {LATER:.0f} s)"
    return text


def passed(result: dict[str, object]) -> bool:
    """cmdrun's target: back within :data:`CMDRUN_LIMIT` s, nothing left then or later."""
    seconds = result["seconds"]
    return (
        isinstance(seconds, float)
        and seconds <= CMDRUN_LIMIT
        and result["survivors"] == 0
        and result["survivors_later"] == 0
    )


def bench_correctness(quick: bool = False) -> list[Row]:
    """The table's rows: one per (library, program); a target for cmdrun's only."""
    rows: list[Row] = []
    for result in results(quick):
        scenario = SCENARIO_BY_KEY[str(result["scenario"])]
        ours = result["library"] == "cmdrun"
        details = f"{result['outcome']}; {result['how']}"
        if result["hung"]:
            details += f"; left {LATER:.0f} s after the caller was killed: "
            details += str(result["survivors_later"])
        rows.append(
            Row(
                f"correctness: {result['library']}, {scenario.label}",
                shown(result),
                f"<= {CMDRUN_LIMIT:.0f} s, 0 left" if ours else "",
                passed(result) if ours else None,
                details,
            )
        )
    return rows


def markdown(table: list[dict[str, object]]) -> str:
    """Libraries x programs, then what each raised, then the calls."""
    names = list(dict.fromkeys(str(r["library"]) for r in table))
    cell = {(str(r["library"]), str(r["scenario"])): r for r in table}
    head = "| library | " + " | ".join(s.label for s in SCENARIOS) + " |"
    rule = "|---" * (len(SCENARIOS) + 1) + "|"
    lines = [head, rule]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(shown(cell[name, s.key]) for s in SCENARIOS) + " |"
        )
    lines += ["", "What the call raised (or did):", "", head, rule]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(str(cell[name, s.key]["outcome"]) for s in SCENARIOS) + " |"
        )
    lines += ["", "How each library was called (argv = ['sh', '-c', line]):", ""]
    for key in libraries():
        lib = LIBRARIES[key]
        lines.append(f"- {lib.name}: `{lib.how}`; for (d): `{lib.how_untimed}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one round, all at once")
    parser.add_argument("--attempt", nargs=2, metavar=("LIBRARY", "SCENARIO"), help="internal")
    args = parser.parse_args(argv)
    if args.attempt:
        return attempt_main(*args.attempt)
    started = time.monotonic()
    table = results(args.quick)
    command = "python benchmarks/correctness.py" + (" --quick" if args.quick else "")
    print(
        f"Correctness: `{command}` on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}), "
        f"{datetime.date.today().isoformat()}, {time.monotonic() - started:.0f} s\n"
    )
    print(markdown(table))
    cap = QUICK_CAP if args.quick else CAP
    print(
        f"\nTimes: seconds until the call returned (for (d): from the SIGINT until the caller "
        f"exited); hang: not back after {cap:.0f} s. Left: processes of the program alive when "
        f"it returned (in parentheses, {LATER:.0f} s later when that differs; for a hang, "
        f"{LATER:.0f} s after the harness killed the caller's process group). cmdrun's "
        f"target: <= {CMDRUN_LIMIT:.0f} s (1 s + kill_grace {KILL_GRACE:g} s + 1 s), 0 left."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
