"""The benchmark page: ``docs/benchmarks.md`` and its PNG charts, from one run of bench.py.

``python benchmarks/bench.py --page [--quick]`` runs the sections, then hands their rows (and
the correctness results of ``correctness.py``) to :func:`write`. People choosing between
cmdrun and its peers want to *see* the figures side by side, so each section of the page has
a chart, the rows as a table, and a short reading that says where cmdrun loses and why.

The page is made in two steps, so that the first can be tested without matplotlib (the test
extra does not have it) and without running a benchmark:

- :func:`build` turns rows into :class:`Plot` data (bars with values, ``wrong`` and
  ``not measured`` markers) and :func:`markdown` writes the page's text. Both use only the
  standard library. Values are read from each row's ``shown`` string ("1.08", "1.78 s",
  "24.9 MiB", "wrong"), so the plain table of bench.py stays exactly as it was.
- :func:`draw` renders a :class:`Plot` with matplotlib (imported there, Agg backend).

:func:`write` also saves what the page was made from (``docs/benchmarks/results.json``), so
``python benchmarks/page.py`` redraws the page and its charts after a change here, without
measuring again (a full run takes about half an hour); ``--correctness`` measures the
correctness table alone again and puts it on the page.

Which rows a chart shows is said by :data:`SECTIONS`: each bar names its row by substrings
of the row's name. A bar whose row is missing (a section not run, a peer not installed, a
row renamed) is drawn as "not measured" and reported by :func:`build`, never guessed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchutil import Row

#: Where :func:`write` puts things, relative to its ``root``: the page, its charts, and the
#: rows and results it was made from (so that :func:`main` can redraw it without measuring).
PAGE = Path("docs/benchmarks.md")
CHARTS = Path("docs/benchmarks")
RESULTS = CHARTS / "results.json"

#: How much better a peer must be before the reading says that cmdrun loses to it (the
#: issue's "within 5% of the fastest").
MARGIN = 0.05

#: The roles of a bar: cmdrun itself; a peer in the race; a floor or context contestant
#: that is not a library one would choose instead (a raw loop, ``posix_spawn``), drawn but
#: never counted as beating cmdrun.
OURS, PEER, FLOOR = "ours", "peer", "floor"
#: The summary's colour for a race where cmdrun is behind by more than :data:`MARGIN`.
BEHIND = "behind"

#: Bar states other than a measured value.
OK, WRONG, MISSING = "ok", "wrong", "missing"


# --------------------------------------------------------------------------------------------
# What the page shows


@dataclass(frozen=True)
class Bar:
    """One contestant in a panel.

    ``match``: substrings that the row's name must all contain (searched among the rows of
    the panel's ``sources``). ``fixed``: the bar is the ratio's denominator and has this
    value (1.0), though a ``match`` can still say it was wrong. ``invert``: the row is
    ``cmdrun / peer`` and the bar shows ``peer / cmdrun``. ``note_from``: substrings of a
    second row whose leading counts ("3 (3 later)") annotate the bar as survivors.
    ``optional``: leave the bar out when no row matches (a row only some runs print).
    """

    label: str
    match: tuple[str, ...] = ()
    role: str = PEER
    fixed: float | None = None
    invert: bool = False
    note_from: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class Panel:
    """One bar chart: contestants measured the same way, in the same unit.

    ``unit``: "x" for ratios (drawn with a line at 1), else the unit the rows show ("s",
    "ms", "µs", "MiB"). ``race``: whether the contestants compete (the reading then names
    every peer that beats cmdrun by more than :data:`MARGIN`); ``short`` names the race in
    the summary chart. ``limit``: a target line, e.g. 64 MiB. ``directed``: whether the
    axis says which way is better (not for facts such as seconds until a timeout).
    """

    title: str
    axis: str
    bars: tuple[Bar, ...]
    sources: tuple[str, ...]
    unit: str = "x"
    lower_is_better: bool = True
    race: bool = True
    short: str = ""
    limit: float | None = None
    limit_label: str = ""
    directed: bool = True
    room: float = 1.0  # more room right of the bars, for long notes
    behind: str = ""  # why cmdrun may be behind in this race: the work the peer skips


@dataclass(frozen=True)
class Section:
    """A section of the page: its rows (those of bench.py's section ``functions``), one chart
    of ``panels`` saved as ``chart``.png, and a short reading of the figures."""

    title: str
    anchor: str
    functions: tuple[str, ...]
    chart: str
    panels: tuple[Panel, ...]
    reading: str


SECTIONS: tuple[Section, ...] = (
    Section(
        "Per-call overhead",
        "overhead",
        ("bench_overhead", "bench_arun", "bench_pty_run"),
        "overhead",
        (
            Panel(
                "Run `true` and wait, one call after another",
                "time per call ÷ subprocess.run's",
                (
                    Bar("subprocess.run (capture_output)", fixed=1.0),
                    Bar("cmdrun.run", ("per-call overhead: cmdrun.run / subprocess.run",), OURS),
                    Bar("asyncio create_subprocess_exec", ("asyncio create_subprocess_exec",)),
                    Bar('plumbum local["true"]()', ("plumbum `local",)),
                    Bar("sh.true()", ("sh `sh.true()`",)),
                    Bar('sarge.capture_both("true")', ("sarge `",), optional=True),
                    Bar('invoke.run("true", hide=True)', ("invoke `run(",)),
                    Bar(
                        "pexpect spawn + expect(EOF) + close (delayafterclose=0)",
                        ("(delayafterclose=0)",),
                    ),
                    Bar(
                        "pexpect spawn + expect(EOF) + close (defaults)",
                        ("close (defaults)",),
                    ),
                ),
                ("bench_overhead",),
                short="one call of `true`",
                behind="the peer skips the new session, the pidfd, the Ctrl-C shield and the "
                "checks of every argument (about 60 µs of CPU a call)",
            ),
            Panel(
                "The same from asyncio: sequential awaits in one event loop",
                "time per call ÷ create_subprocess_exec + communicate's",
                (
                    Bar("asyncio create_subprocess_exec + communicate", fixed=1.0),
                    Bar("await cmdrun.arun", ("per-call overhead: `await cmdrun.arun",), OURS),
                ),
                ("bench_arun",),
                short="one `await` of `true`",
            ),
            Panel(
                "On a PTY: run `true` with a terminal",
                "time per call ÷ cmdrun.run(tty=True)'s",
                (
                    Bar("cmdrun.run(tty=True)", ("(delayafterclose=0)",), OURS, fixed=1.0),
                    Bar(
                        "pexpect spawn + expect(EOF) + close (delayafterclose=0)",
                        ("(delayafterclose=0)",),
                        invert=True,
                    ),
                    Bar("pexpect spawn + expect(EOF) + close (defaults)", ("(defaults)",)),
                    Bar(
                        "cmdrun.run(tty=True) forced through ptyprocess",
                        ("through ptyprocess",),
                        FLOOR,
                    ),
                ),
                ("bench_pty_run",),
                short="one call on a PTY",
            ),
        ),
        """\
Every contestant forks and execs the same `true`, which is most of each call's time; the
bars show what each library adds. cmdrun.run costs more than subprocess.run per call, on
purpose: it checks every argument before anything runs, puts the child in a session of its
own, watches its exit with a pidfd in the same poll loop as its pipes, opens `/dev/null` for
each start rather than caching an fd that could be closed and reused under it, holds Ctrl-C
while the child changes hands, checks that SIGCHLD is not ignored, and builds a Result that
decodes lazily. Measured apart on this machine, that is about 60-70 µs of CPU a call above
`subprocess.run` (some 260 against 190 µs; arguments left at their defaults are not checked
again, but the new session, `/dev/null`, the pidfd, the Ctrl-C shield and the layers of the
engine remain), 5-10% of a call of `true` and nothing next to a program that does any
work. plumbum adds little to `Popen` and comes out level with
subprocess.run, so it is ahead of cmdrun here;
sh, invoke and pexpect do much more in Python per call, and pexpect's `close()` sleeps 0.1 s
unless told not to. `await cmdrun.arun` costs about what asyncio's own subprocess API does.
On a PTY, cmdrun starts the child exec-only through util-linux `setsid --ctty`, where
pexpect (and cmdrun's own fallback, drawn for comparison) forks Python through ptyprocess.""",
    ),
    Section(
        "Capture throughput and peak memory",
        "capture",
        ("bench_capture", "bench_bounded_memory", "bench_stdin"),
        "capture",
        (
            Panel(
                "Capture 256 MiB of stdout: throughput",
                "bytes per second ÷ subprocess.run's (higher is better)",
                (
                    Bar("subprocess.run(capture_output=True)", fixed=1.0),
                    Bar("cmdrun.run", ("256 MiB capture: throughput",), OURS),
                ),
                ("bench_capture",),
                lower_is_better=False,
                short="capture 256 MiB",
            ),
            Panel(
                "Capture 256 MiB of stdout: memory",
                "peak RSS growth ÷ output size (lower is better)",
                (
                    Bar("cmdrun.run", ("peak RSS growth / output size", "cmdrun.run"), OURS),
                    Bar("subprocess.run", ("peak RSS growth / output size", "subprocess.run")),
                ),
                ("bench_capture",),
                short="memory per captured byte",
            ),
            Panel(
                "Big outputs and inputs, bounded: peak RSS of the Python process",
                "MiB (the target: under 64 MiB, whatever the size)",
                (
                    Bar("run(max_output=1 MiB)", ("max_output=1 << 20",), OURS),
                    Bar("run(stdout=PATH)", ("`run(cmd, stdout=PATH)`",), OURS),
                    Bar("run(pipe(cat, wc -c), stdin=PATH)", ("stdin=PATH)`: peak RSS",), OURS),
                    Bar("run(wc -c, stdin=generator)", ("stdin=generator of 1 MiB",), OURS),
                ),
                ("bench_bounded_memory", "bench_stdin"),
                unit="MiB",
                race=False,
                limit=64.0,
                limit_label="target 64 MiB",
            ),
            Panel(
                "Feed stdin from a generator of 1 MiB chunks",
                "wall time ÷ a Popen + stdin.write loop's",
                (
                    Bar("subprocess.Popen + stdin.write loop", fixed=1.0),
                    Bar("cmdrun.run(stdin=generator)", ("from a generator: wall time",), OURS),
                ),
                ("bench_stdin",),
                short="stdin from a generator",
            ),
        ),
        """\
cmdrun reads stdout with `os.read` in chunks that grow from 64 KiB to 1 MiB while the pipe
stays full (the pipe buffer is enlarged to 1 MiB), into an `io.BytesIO` whose `getvalue()`
hands its buffer over without a copy: capturing N bytes takes about N bytes of memory, where
`subprocess.run` joins a list of chunks and briefly holds 2N. Text is decoded on first
access to `Result.stdout`, so asking for text (not `stdout_bytes`) makes the second copy
then. With `max_output=` or `stdout=PATH` the Python process stays at its start-up size
whatever the output; a generator given as `stdin=` is written through the same enlarged pipe
in the poll loop, without blocking. Nothing is lost here; quick runs move less data, so
their rates are noisier.""",
    ),
    Section(
        "Dialogue round trips",
        "dialogues",
        ("bench_dialogues", "bench_aio_dialogues"),
        "dialogues",
        (
            Panel(
                "sendline + expect over pipes",
                "time per round trip ÷ cmdrun.spawn(tty=False)'s",
                (
                    Bar("cmdrun.spawn(tty=False)", role=OURS, fixed=1.0),
                    Bar("pexpect PopenSpawn (defaults)", ("PopenSpawn (defaults) / cmdrun",)),
                    Bar(
                        "pexpect.spawn (a PTY, delaybeforesend=None)",
                        ("(delaybeforesend=None)", "tty=False)"),
                    ),
                    Bar(
                        "raw Popen + os.write + os.read loop",
                        ("/ raw Popen + os.write",),
                        FLOOR,
                        invert=True,
                    ),
                ),
                ("bench_dialogues",),
                short="dialogue over pipes",
            ),
            Panel(
                "sendline + expect on a PTY",
                "time per round trip ÷ cmdrun.spawn(tty=True)'s",
                (
                    Bar("cmdrun.spawn(tty=True)", role=OURS, fixed=1.0),
                    Bar("pexpect.spawn (defaults)", ("pexpect.spawn (defaults) / cmdrun",)),
                    Bar(
                        "pexpect.spawn (delaybeforesend=None)",
                        ("(delaybeforesend=None)", "tty=True)"),
                    ),
                    Bar(
                        "pexpect.spawn (delaybeforesend=None, delayafterread=None)",
                        ("delayafterread=None) / cmdrun",),
                    ),
                    Bar(
                        "raw pty.openpty + os.write + os.read loop",
                        ("/ raw pty.openpty",),
                        FLOOR,
                        invert=True,
                    ),
                ),
                ("bench_dialogues",),
                short="dialogue on a PTY",
                behind="tuned pexpect in bytes mode decodes nothing and watches no pidfd or "
                "deadline per wait (some 15-20 µs a round trip; short round trips also make "
                "this race the one most moved by a busy moment)",
            ),
            Panel(
                "Async sessions: aspawn against the synchronous spawn",
                "time per round trip ÷ cmdrun.spawn's (same transport)",
                (
                    Bar("cmdrun.spawn (synchronous)", role=OURS, fixed=1.0),
                    Bar("aspawn, pipes, asyncio", ("aspawn(tty=False)` on asyncio",), OURS),
                    Bar("aspawn, pipes, trio", ("aspawn(tty=False)` on trio",), OURS),
                    Bar("aspawn, PTY, asyncio", ("aspawn(tty=True)` on asyncio /",), OURS),
                    Bar("aspawn, PTY, trio", ("aspawn(tty=True)` on trio /",), OURS),
                    Bar(
                        "raw asyncio (one add_reader), pipes",
                        ("raw asyncio / `cmdrun.spawn",),
                        FLOOR,
                    ),
                ),
                ("bench_aio_dialogues",),
                race=False,
            ),
            Panel(
                "Async dialogue on a PTY: aspawn against pexpect's async mode",
                "time per round trip ÷ cmdrun.aspawn(tty=True)'s on asyncio",
                (
                    Bar("cmdrun.aspawn(tty=True), asyncio", role=OURS, fixed=1.0),
                    Bar(
                        "pexpect.spawn expect(async_=True) (delaybeforesend=None)",
                        ("expect(async_=True)` (delaybeforesend=None)",),
                    ),
                ),
                ("bench_aio_dialogues",),
                short="async dialogue on a PTY",
                behind="as on a PTY without async: pexpect's bytes mode decodes nothing",
            ),
        ),
        """\
Where cmdrun loses: the raw loops (an `os.write`, then `os.read` until the prompt; no pattern
search, no timeout, no buffer kept) are faster, by what `expect()`'s search, its timeout and
its buffer cost. pexpect's large ratios come from its sleeps (50 ms before every send with
its defaults, 0.1 ms after every read unless `delayafterread=None`), not from a slower core:
fully tuned, pexpect on a PTY is ahead of cmdrun, by 10-25% in our runs (this run: see
below), some 15-20 µs a round trip. That is work it skips: pexpect in its default bytes mode
decodes nothing, where cmdrun hands out text decoded as it arrives (a character split across
two reads stays whole) and masks any secret in it; each wait also watches the child's pidfd
(an exit is seen at once, not at the next timeout) and checks the session's deadline.
pexpect's `PopenSpawn` reads through a thread. In async code, `aspawn` costs about
what the synchronous `spawn` does on asyncio and trio alike, and pexpect's
`expect(async_=True)` does not sleep: it is one asyncio reader like ours, so the two run
level.""",
    ),
    Section(
        "PTY throughput",
        "pty",
        ("bench_pty_read",),
        "pty",
        (
            Panel(
                "Read a big output (no newlines) through a PTY",
                "bytes per second ÷ a raw pty.openpty + os.read(1 MiB) loop's (higher is better)",
                (
                    Bar("raw pty.openpty + os.read(1 MiB) loop", fixed=1.0, role=FLOOR),
                    Bar("cmdrun.spawn(tty=True).read()", ("rate of cmdrun.spawn(tty=True)",), OURS),
                    Bar("cmdrun.run(tty=True)", ("rate of cmdrun.run(tty=True)",), OURS),
                    Bar("pexpect.spawn.read() (maxread=65536)", ("maxread=65536",)),
                    Bar("pexpect.spawn.read() (maxread=2000, default)", ("maxread=2000",)),
                ),
                ("bench_pty_read",),
                lower_is_better=False,
                short="read through a PTY",
            ),
        ),
        """\
A PTY hands out a few KiB per read whatever the buffer offered, so every reader pays many
system calls. cmdrun reads until the PTY is empty on each wake-up of its poll loop; a bare
`os.read` loop does nothing else, and what cmdrun loses against it is its poll loop, its
timeout checks and its buffer. pexpect with its default `maxread=2000` reads at about a
tenth of the rate; with `maxread=65536` it comes closer.
The per-round spread of this measurement is wide (see the table's IQR).""",
    ),
    Section(
        "Parallel runs against xargs -P",
        "parallel",
        ("bench_run_many_sleep", "bench_run_many_true"),
        "parallel",
        (
            Panel(
                "A batch of `sleep 0.05`, 8 at a time",
                "wall time of the batch ÷ xargs -P8's",
                (
                    Bar("xargs -P8 -n1 sleep", fixed=1.0),
                    Bar("cmdrun.run_many(jobs=8)", ("wall time cmdrun.run_many",), OURS),
                    Bar("ThreadPoolExecutor(8) + subprocess.run", ("ThreadPoolExecutor(",)),
                    Bar("multiprocessing.Pool(8) + subprocess.run", ("multiprocessing.Pool(",)),
                ),
                ("bench_run_many_sleep",),
                short="batch of sleeps, 8 at a time",
            ),
            Panel(
                "A batch of `true`, 2 at a time",
                "wall time of the batch ÷ xargs -P2's",
                (
                    Bar("xargs -P2 -n1 true", fixed=1.0),
                    Bar("cmdrun.run_many(jobs=2)", ("wall time cmdrun.run_many",), OURS),
                    Bar("ThreadPoolExecutor(2) + subprocess.run", ("ThreadPoolExecutor(",)),
                ),
                ("bench_run_many_true",),
                short="batch of `true`, 2 at a time",
                behind="xargs sends every output to /dev/null, where cmdrun captures each "
                "command's, and pays its per-call work of section 1",
            ),
        ),
        """\
`run_many` runs each command in a worker thread: starting and waiting for a process release
the GIL, so threads keep up with `xargs -P` while the commands take real time. Where the
commands take no time (`true`), cmdrun is slower than xargs (whose children write to
`/dev/null`, where cmdrun captures every command's output) and than a bare
`ThreadPoolExecutor` with `subprocess.run`: that is its per-call work of section 1 (process
group, pidfd, `/dev/null`, signal checks), paid for timeouts that hold and errors that say
what went wrong.""",
    ),
    Section(
        "Pipelines against the shell and plumbum",
        "pipelines",
        ("bench_pipeline",),
        "pipelines",
        (
            Panel(
                "`cat FILE | gzip -1 | wc -c`",
                "wall time ÷ cmdrun.run(cmdrun.pipe(...))'s",
                (
                    Bar("cmdrun.run(cmdrun.pipe(...))", ("wall time cmdrun.run",), OURS, 1.0),
                    Bar("bash -c 'set -o pipefail; ...'", ("`bash -c",), invert=True),
                    Bar("plumbum (cat[FILE] | gzip | wc)()", ("plumbum `(cat",), invert=True),
                    Bar("subprocess.Popen chain", ("subprocess.Popen chain",), invert=True),
                ),
                ("bench_pipeline",),
                short="pipeline",
            ),
        ),
        """\
In every contestant the data flows between the children without passing through Python, so
the differences are in the plumbing. cmdrun gives the pipes between stages a 1 MiB buffer
where the shell, plumbum and a `Popen` chain keep the kernel's 64 KiB: a fast writer and a
reader in big gulps wake each other less often, which shows as a few percent on
`cat | gzip -1 | wc -c` and far more when no stage does real work. Quick runs use a smaller
file, where starting three processes weighs more and the spread is wider.""",
    ),
    Section(
        "Async concurrency",
        "async",
        ("bench_aio_concurrent", "bench_aio_sessions"),
        "async",
        (
            Panel(
                "Many concurrent `sleep` commands, awaited together",
                "wall time, seconds",
                (
                    Bar("cmdrun.arun, asyncio.gather", ("of `cmdrun.arun(", "wall time"), OURS),
                    Bar("cmdrun.arun, trio nursery", ("`cmdrun.arun` in a trio nursery",), OURS),
                    Bar("cmdrun.arun_many(jobs=all)", ("`cmdrun.arun_many(",), OURS, optional=True),
                    Bar("asyncio create_subprocess_exec", ("`create_subprocess_exec` + ",)),
                    Bar("trio.run_process", ("`trio.run_process`",)),
                    Bar("cmdrun.arun before the async engine", ("old thread-pool",), FLOOR),
                    Bar("floor: os.posix_spawn + os.waitpid", ("floor: `os.posix_spawn`",), FLOOR),
                ),
                ("bench_aio_concurrent",),
                unit="s",
                short="concurrent `sleep`s",
                behind="2,000 starts at once vary widely from run to run on 2 CPUs; cmdrun "
                "starts every child from the loop's own thread",
            ),
            Panel(
                "Concurrent PTY sessions, each in a dialogue",
                "cost per round trip ÷ one session alone's",
                (
                    Bar("one session alone (asyncio)", role=FLOOR, fixed=1.0),
                    Bar("sessions at once, asyncio", ("on asyncio: cost per round trip",), OURS),
                    Bar(
                        "sessions at once, trio",
                        ("on trio: cost per round trip",),
                        OURS,
                        optional=True,
                    ),
                ),
                ("bench_aio_sessions",),
                race=False,
            ),
        ),
        """\
The floor (`os.posix_spawn` of every child, then `os.waitpid` of each: no pipes, no event
loop) shows what starting the processes costs on this machine; the table gives each
contestant's cost per process over it, its peak RSS and its peak thread count. cmdrun runs
every child from the event loop's own thread (one thread in all), where asyncio's
`create_subprocess_exec` starts a watcher thread per child on Python 3.11 and trio's
`run_process` uses a few dozen threads. The wall time of 2,000 starts at once varies widely
from run to run on a small shared machine (see the IQR): cmdrun has been ahead of asyncio's
own API in some full runs and behind it in others, as in this one when a peer is listed
below. The issue's target, 2,000 `sleep 1` in 1.5 s, is below the floor on this machine,
for any library. A quick run's small batch overlaps starts and sleeps differently, and
cmdrun can finish before the floor there. Sessions that talk at once share the event loop's
wake-ups, so each round trip can cost more than one session's alone.""",
    ),
    Section(
        "SSH: multiplexing, fan-out and timeouts",
        "ssh",
        (
            "bench_ssh_commands",
            "bench_ssh_fanout",
            "bench_ssh_fanout_timeout",
            "bench_ssh_timeouts",
        ),
        "ssh",
        (
            Panel(
                "Short commands on one host",
                "time per command ÷ Remote.run's",
                (
                    Bar('Remote.run(["true"]) (one shared connection)', role=OURS, fixed=1.0),
                    Bar("fabric Connection.run (one paramiko connection)", ("fabric `Connection",)),
                    Bar("plain ssh per command", ("plain `subprocess.run",)),
                    Bar('plumbum SshMachine machine["true"]()', ("plumbum `SshMachine",)),
                    Bar(
                        "bare ssh over Remote's master (floor)",
                        ("the floor (a bare `ssh`",),
                        FLOOR,
                        invert=True,
                        optional=True,
                    ),
                ),
                ("bench_ssh_commands",),
                short="short SSH commands",
            ),
            Panel(
                "Fan-out of `true` to 30 targets, connections included",
                "wall time ÷ run_on's",
                (
                    Bar("cmdrun.run_on(jobs=30)", ("`cmdrun.run_on(",), OURS, fixed=1.0),
                    Bar("parallel-ssh ParallelSSHClient", ("parallel-ssh `",)),
                    Bar("fabric ThreadingGroup", ("fabric `ThreadingGroup",)),
                    Bar(
                        "fabric Connection.run in a thread pool",
                        ("`Connection(target)",),
                        optional=True,
                    ),
                    Bar(
                        "run_on with the peers' key exchange (context, not raced)",
                        ("'KexAlgorithms'",),
                        FLOOR,
                        optional=True,
                    ),
                ),
                ("bench_ssh_fanout",),
                short="SSH fan-out to 30 targets",
                behind="OpenSSH's default post-quantum key exchange (about 60 ms of CPU a "
                "host) and an ssh process per host; with the peers' key exchange cmdrun comes "
                "close to them (section 8 has that figure)",
            ),
            Panel(
                "A 1 s timeout on `sh -c 'sleep 30 & sleep 30'`: what is left running",
                "seconds until the call returns (processes left on the host noted)",
                (
                    Bar("cmdrun Remote.run(timeout=1)", ("cmdrun `Remote.run(",), OURS),
                    Bar(
                        "cmdrun run_on(30 targets, timeout=1)",
                        ("fan-out timeout: seconds until",),
                        OURS,
                        note_from=("no survivor after a fan-out timeout",),
                    ),
                    Bar("fabric Connection.run(timeout=1)", ("fabric `Connection.run(",)),
                    Bar("plumbum SshMachine .run(timeout=1)", ("plumbum `SshMachine",)),
                ),
                ("bench_ssh_timeouts", "bench_ssh_fanout_timeout"),
                unit="s",
                race=False,
                directed=False,
            ),
        ),
        """\
One shared OpenSSH connection (a control master) makes each `Remote.run` cost a session, not
a connection: plain `ssh` and plumbum pay a connection per command. Where cmdrun loses is
the fan-out with fresh connections: each host costs an OpenSSH login (one `ssh` per host,
no master when no second command follows), and OpenSSH 9's default key exchange
(`sntrup761x25519`, post-quantum) takes about 60 ms of CPU of it on this machine, where
paramiko (fabric) and libssh2 (parallel-ssh) negotiate curve25519. cmdrun keeps the system's
defaults on purpose (`options={"KexAlgorithms": ...}` changes them); the last bar (full runs)
is run_on with the peers' key exchange. What is left then is an `ssh` process per host (the
peers hold every connection in one process) and the remote script that makes timeouts hold.
fabric's `ThreadingGroup` gives a wrong answer (its `GroupResult` keys results by
connection, and ten names of one server compare equal), and after a timeout fabric and
plumbum return on time but leave the command running on the host.""",
    ),
    Section(
        "Import time and start-up",
        "import",
        ("bench_import", "bench_cli"),
        "import",
        (
            Panel(
                "A fresh Python process that imports the library (bytecode cached)",
                "wall time of the process ÷ `python -c 'import subprocess'`'s",
                (
                    Bar("import subprocess", fixed=1.0),
                    Bar("import cmdrun; cmdrun.run", ("(.pyc cached)",), OURS),
                    Bar(
                        "import cmdrun, compiled from source",
                        ("(env as inherited)",),
                        FLOOR,
                        optional=True,
                    ),
                    Bar("import sh", ("'import sh'",), optional=True),
                    Bar("import pexpect", ("'import pexpect'",), optional=True),
                    Bar("import sarge", ("'import sarge'",), optional=True),
                    Bar("import plumbum", ("'import plumbum'",), optional=True),
                    Bar("import invoke", ("'import invoke'",), optional=True),
                    Bar("import fabric", ("'import fabric'",), optional=True),
                ),
                ("bench_import",),
                short="import time",
                behind="a process that imports only subprocess skips loading cmdrun's engine "
                "(about two dozen modules, read once per process)",
            ),
            Panel(
                "A command-line tool that runs `true`, start to end",
                "wall time ÷ `python -c \"import subprocess; subprocess.run(['true'])\"`'s",
                (
                    Bar("python + subprocess.run(['true'])", fixed=1.0),
                    Bar("cmdrun -- true", ("cmdrun -- true, whole process",), OURS),
                    Bar("python -m cmdrun -- true", ("python -m cmdrun -- true",), OURS),
                    Bar("coreutils timeout 10 true (C)", ("timeout 10 true",), FLOOR),
                ),
                ("bench_cli",),
                short="`cmdrun -- true` start-up",
                behind="the same engine to load, once per command line",
            ),
        ),
        """\
`import cmdrun` imports nothing more until a public name is used; the measured line uses
`cmdrun.run`, which loads the engine and nothing else: not the sessions, batches, remotes or
streams (they wait for their own names), nor typing, importlib, logging or dataclasses; of
the standard library only `__future__`, `contextvars` and `shlex` beyond what `subprocess`
imports (a test pins that list). What remains above plain `subprocess` (which Python's own
start-up already half-loads) is cmdrun's engine itself, about two dozen modules read and run
once per process (roughly 4-7 ms of CPU here): the kill policy, the pump, the error tree,
the checks of every option. A program that only imports `subprocess` skips that work along
with what it buys. Without bytecode caching (`PYTHONDONTWRITEBYTECODE`, as in an editable
install's environment) cmdrun is compiled from source in every process, about twice the time
or more. The `cmdrun` command reads a plain command line without argparse (argparse, for
`--help`, abbreviations and mistakes, costs about 2.5 ms more), then pays the same engine;
like any Python tool it pays the interpreter's start-up, and a C program (`timeout`) is
drawn for scale.""",
    ),
    Section(
        "pytest plugin overhead against pytest-subprocess",
        "plugin",
        ("bench_plugin",),
        "plugin",
        (
            Panel(
                "pytest start-up: CPU time the plugin adds",
                "CPU ms (against -p no:PLUGIN)",
                (
                    Bar("cmdrun", ("pytest start-up", "cmdrun's plugin"), OURS),
                    Bar("pytest-subprocess", ("pytest start-up", "pytest-subprocess's plugin")),
                ),
                ("bench_plugin",),
                unit="ms",
                short="pytest start-up with the plugin",
                behind="a difference of whole pytest start-ups, within their noise",
            ),
            Panel(
                "Each test that does not use the plugin: CPU time added",
                "CPU µs per test (against -p no:PLUGIN)",
                (
                    Bar("cmdrun", ("does not use it", "cmdrun's plugin"), OURS),
                    Bar("pytest-subprocess", ("does not use it", "pytest-subprocess's plugin")),
                ),
                ("bench_plugin",),
                unit="µs",
                short="a test that does not use the plugin",
                behind="a difference of a few µs between whole pytest runs whose noise is tens "
                "of µs per test: the plugin itself does about 0.05 µs per test",
            ),
            Panel(
                "Importing the plugin module once pytest is loaded",
                "CPU ms",
                (
                    Bar("cmdrun.testing._plugin", ("to import cmdrun's plugin",), OURS),
                    Bar("pytest_subprocess.fixtures", ("to import pytest-subprocess's plugin",)),
                ),
                ("bench_plugin",),
                unit="ms",
                short="importing the plugin",
            ),
            Panel(
                "A test that fakes one call",
                "CPU time per test ÷ pytest-subprocess fp's",
                (
                    Bar("pytest-subprocess fp", fixed=1.0),
                    Bar("cmdrun fake_commands", ("`fake_commands` / pytest-subprocess",), OURS),
                ),
                ("bench_plugin",),
                short="a test faking one call",
            ),
        ),
        """\
The plugin is loaded by every pytest run where cmdrun is installed, so it must cost nothing
to tests that do not use it: loading it imports neither the fakes nor the engine, no fixture
runs for unmarked tests, and no hook runs per test; the one thing it does per test is at
collection, a look at the test's own marks for the cassette marker (about 0.05 µs; its
class's and module's marks are looked up once for all their tests), where
pytest-subprocess's plugin does nothing per test at all. The per-test figures are
differences of a few µs between whole pytest runs whose round-to-round noise (the table's
IQR) is tens of µs per test, so a peer "ahead" there is noise, quick runs above all.
pytest-subprocess's module costs more to import; a test that fakes a call with
`fake_commands` takes about half the CPU time of the same test with `fp`.""",
    ),
)

#: The correctness scenarios, in the order of the issue, with the names the page uses.
SCENARIOS: dict[str, str] = {
    "sigterm-ignored": "a child that ignores SIGTERM",
    "grandchild-holds-pipes": "a grandchild holds the pipes",
    "sigstop": "a child that stops itself (SIGSTOP)",
    "ctrl-c": "Ctrl-C in a real parent process",
}
CORRECTNESS_CHART = "correctness"
SUMMARY_CHART = "summary"


# --------------------------------------------------------------------------------------------
# From rows to plot data (standard library only)


@dataclass(frozen=True)
class Meta:
    """What made the figures: the machine, the date, the command, and how long it took."""

    command: str
    quick: bool
    date: str
    machine: str
    python: str
    cmdrun: str
    seconds: float = 0.0
    only: tuple[str, ...] = ()
    load: tuple[float, float] | None = None  # 1-minute load average at the start and the end

    @property
    def caption(self) -> str:
        """One line for a chart's footer."""
        mode = "quick run: indicative figures" if self.quick else "full run"
        return f"{self.machine}, Python {self.python}, cmdrun {self.cmdrun} · {self.date} · " + (
            f"`{self.command}` ({mode})"
        )


@dataclass(frozen=True)
class Point:
    """A bar as drawn: its value (``None`` unless ``state`` is :data:`OK`), and a note."""

    label: str
    role: str
    value: float | None
    state: str = OK
    note: str = ""  # drawn after the value: survivors, or why it was not measured
    alarm: bool = False  # the note is bad news (drawn in red)


@dataclass(frozen=True)
class PanelData:
    panel: Panel
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Plot:
    """One chart: its file name, title and panels."""

    name: str
    title: str
    panels: tuple[PanelData, ...]


_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(s|ms|µs|us|MiB|GiB|KiB|%)?(?![\w])")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}


def parse_shown(shown: str) -> tuple[float | None, str]:
    """The number a row shows and its unit ("" for a ratio): ``"1.78 s"`` -> ``(1.78, "s")``.

    A row that shows no number ("wrong", "skipped", "not installed") gives ``(None, text)``.
    """
    found = _NUMBER.match(shown)
    if not found:
        return None, shown.strip()
    unit = found.group(2) or ""
    return float(found.group(1)), "µs" if unit == "us" else unit


def convert(value: float, unit: str, wanted: str) -> float | None:
    """``value`` in ``unit`` expressed in ``wanted`` (time units convert), else ``None``."""
    if unit == wanted or (wanted == "x" and unit == ""):
        return value
    if unit in _TIME_UNITS and wanted in _TIME_UNITS:
        return value * _TIME_UNITS[unit] / _TIME_UNITS[wanted]
    return None


def survivors(shown: str) -> str:
    """``"3 (3 2 s later)"`` or ``"1.06 s, 3 left (3 later)"`` -> ``"3 left (3 later)"``."""
    if ", " in shown:
        return shown.split(", ", 1)[1]
    counts = re.findall(r"\d+", shown)
    if len(counts) >= 2:
        return f"{counts[0]} left ({counts[1]} later)"
    return f"{shown} left"


def find(rows: Sequence[Row], match: tuple[str, ...]) -> Row | None:
    """The first row whose name contains every string of ``match``."""
    for row in rows:
        if all(part in row.name for part in match):
            return row
    return None


def point(bar: Bar, rows: Sequence[Row], unit: str, problems: list[str]) -> Point | None:
    """The bar's value from its row (see :class:`Bar`); ``None`` for an optional bar with no
    row. A missing row or a unit that does not fit is added to ``problems``."""
    row = find(rows, bar.match) if bar.match else None
    if bar.match and row is None:
        if bar.optional:
            return None
        problems.append(f"no row for {bar.label!r} (name containing {bar.match})")
        if bar.fixed is None:
            return Point(bar.label, bar.role, None, MISSING, "not measured")
    note, alarm = "", False
    if bar.note_from:
        other = find(rows, bar.note_from)
        if other is not None:
            note = survivors(other.shown)
            alarm = not note.startswith("0 left (0 ")
    if row is not None:
        value, shown_unit = parse_shown(row.shown)
        if value is None:
            state = WRONG if shown_unit.lower().startswith("wrong") else MISSING
            return Point(bar.label, bar.role, None, state, "" if state == WRONG else shown_unit)
        if bar.fixed is None:
            if ", " in row.shown and not note:
                note = survivors(row.shown)
                alarm = not note.startswith("0 left")
            converted = convert(value, shown_unit, unit)
            if converted is None:
                problems.append(f"{bar.label!r}: {row.shown!r} is not in {unit}")
                return Point(bar.label, bar.role, None, MISSING, "unit?")
            if bar.invert:
                if converted == 0:
                    return Point(bar.label, bar.role, None, MISSING, "0")
                converted = 1 / converted
            return Point(bar.label, bar.role, converted, OK, note, alarm)
    return Point(bar.label, bar.role, bar.fixed, OK, note, alarm)


def build(
    rows: Mapping[str, Sequence[Row]], sections: Sequence[Section] = SECTIONS
) -> tuple[list[Plot], list[str]]:
    """Plot data for every section's chart from the rows of bench.py's sections (by function
    name), and the problems found (bars without a row, units that do not fit) in the panels
    whose sections ran."""
    plots, problems = [], []
    for section in sections:
        panels = []
        for panel in section.panels:
            pool = [row for source in panel.sources for row in rows.get(source, ())]
            said = problems if pool else []  # a section not run (--only) is no problem
            found = (point(bar, pool, panel.unit, said) for bar in panel.bars)
            panels.append(PanelData(panel, tuple(p for p in found if p is not None)))
        plots.append(Plot(section.chart, section.title, tuple(panels)))
    return plots, [f"page: {problem}" for problem in problems]


def better(a: float, b: float, lower_is_better: bool) -> bool:
    """Whether ``a`` beats ``b`` by more than :data:`MARGIN`."""
    return a < b * (1 - MARGIN) if lower_is_better else a > b * (1 + MARGIN)


def best(points: Iterable[Point], lower_is_better: bool) -> Point | None:
    measured = [p for p in points if p.state == OK and p.value is not None]
    if not measured:
        return None
    pick = min if lower_is_better else max
    return pick(measured, key=lambda p: p.value if p.value is not None else math.nan)


def standing(data: PanelData) -> tuple[Point, Point] | None:
    """cmdrun's best contestant and the best peer of a race, or ``None`` (not a race, or
    one side not measured)."""
    if not data.panel.race:
        return None
    lower = data.panel.lower_is_better
    ours = best((p for p in data.points if p.role == OURS), lower)
    peer = best((p for p in data.points if p.role == PEER), lower)
    if ours is None or peer is None:
        return None
    return ours, peer


def fmt(value: float, unit: str) -> str:
    """A value as the charts and the readings show it."""
    if unit in ("MiB", "µs") or (unit == "ms" and abs(value) >= 10):
        digits = 1
    else:
        digits = 2 if abs(value) >= 0.095 or value == 0 else 3
    text = f"{value:.{digits}f}"
    return f"{text}x" if unit == "x" else f"{text} {unit}"


def losses(plot: Plot) -> list[str]:
    """Where a peer beats cmdrun by more than :data:`MARGIN` in this run, in words."""
    said = []
    for data in plot.panels:
        pair = standing(data)
        if pair is None:
            continue
        ours = pair[0]
        lower, unit = data.panel.lower_is_better, data.panel.unit
        assert ours.value is not None
        for p in data.points:
            measured = p.role == PEER and p.state == OK and p.value is not None
            if measured and p.value is not None and better(p.value, ours.value, lower):
                said.append(
                    f"{data.panel.title}: {p.label} {fmt(p.value, unit)}, "
                    f"{ours.label} {fmt(ours.value, unit)}"
                )
    return said


def wrong_answers(plot: Plot) -> list[str]:
    return [
        f"{data.panel.title}: {p.label}"
        for data in plot.panels
        for p in data.points
        if p.state == WRONG
    ]


def behind_list(plots: Sequence[Plot]) -> list[str]:
    """Under the summary chart: each race where cmdrun is behind by more than the margin in
    this run, and the work the faster peer skips (the panel's ``behind``)."""
    lines = []
    reasons = {
        data.panel.short or data.panel.title: data.panel.behind
        for plot in plots
        for data in plot.panels
    }
    for point in summary(plots).panels[0].points:
        if point.role == BEHIND:
            reason = reasons.get(point.label) or "see its section"
            lines.append(f"- {point.label}: {point.value:.2f}x {point.note}. Why: {reason}.")
    if not lines:
        return [f"*In this run*, cmdrun is ahead or within {MARGIN:.0%} in every race.", ""]
    return [
        f"*In this run*, cmdrun is behind the fastest peer by more than {MARGIN:.0%} in:",
        "",
        *lines,
        "",
    ]


def summary(plots: Sequence[Plot]) -> Plot:
    """The headline: in each race, cmdrun's best time against the fastest peer's (a rate is
    turned into a time), so below 1 cmdrun is ahead and above 1 it is behind."""
    points = []
    for plot in plots:
        for data in plot.panels:
            pair = standing(data)
            if pair is None:
                continue
            ours, peer = pair
            assert ours.value is not None
            assert peer.value is not None
            if ours.value <= 0 or peer.value <= 0:
                continue  # a difference that came out negative: noise, not a ratio
            value = ours.value / peer.value
            if not data.panel.lower_is_better:
                value = 1 / value
            role = OURS if value <= 1 + MARGIN else BEHIND
            label = data.panel.short or data.panel.title
            points.append(Point(label, role, value, note=f"vs {peer.label}"))
    panel = Panel(
        f"Blue: cmdrun ahead or within {MARGIN:.0%}. Amber: cmdrun behind by more.",
        "cmdrun's time ÷ the fastest peer's (below 1: cmdrun ahead; a rate is turned into a time)",
        (),
        (),
        race=False,
        directed=False,
        room=12.0,
    )
    title = "cmdrun against the fastest peer, race by race"
    return Plot(SUMMARY_CHART, title, (PanelData(panel, tuple(points)),))


# --------------------------------------------------------------------------------------------
# Correctness


def correctness_cell(result: Mapping[str, Any]) -> str:
    """``"1.00 s, 0 left"``, ``"hang, 3 left"``; ``(N later)`` when the count changed."""
    seconds = result.get("seconds")
    head = "hang" if result.get("hung") else ("?" if seconds is None else f"{seconds:.2f} s")
    left, later = int(result.get("survivors", 0)), int(result.get("survivors_later", 0))
    tail = f"{left} left" + (f" ({later} later)" if later != left else "")
    return f"{head}, {tail}"


def libraries(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The libraries in the order the results first name them, cmdrun first."""
    names = list(dict.fromkeys(str(r["library"]) for r in results))
    return sorted(names, key=lambda name: name != "cmdrun")


def scenarios(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The scenarios present, in the issue's order, then any others."""
    present = list(dict.fromkeys(str(r["scenario"]) for r in results))
    return [s for s in SCENARIOS if s in present] + [s for s in present if s not in SCENARIOS]


def correctness_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Libraries x scenarios, each cell what :func:`correctness_cell` says."""
    cells = {(str(r["library"]), str(r["scenario"])): r for r in results}
    order = scenarios(results)
    lines = [
        "| Library | " + " | ".join(SCENARIOS.get(s, s) for s in order) + " |",
        "|---|" + "---:|" * len(order),
    ]
    for library in libraries(results):
        shown = [
            correctness_cell(cells[library, s]) if (library, s) in cells else "not run"
            for s in order
        ]
        name = f"**{library}**" if library == "cmdrun" else library
        lines.append(f"| {name} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def correctness_reading(results: Sequence[Mapping[str, Any]]) -> str:
    """Who hangs and who leaves survivors, from the results themselves."""
    if not results:
        return "No correctness results in this run."
    hangs: dict[str, list[str]] = {}
    leaves: dict[str, list[str]] = {}
    order = scenarios(results)
    for r in sorted(results, key=lambda r: order.index(str(r["scenario"]))):
        library, scenario = str(r["library"]), SCENARIOS.get(str(r["scenario"]), r["scenario"])
        if r.get("hung"):
            hangs.setdefault(library, []).append(str(scenario))
        left = max(int(r.get("survivors", 0)), int(r.get("survivors_later", 0)))
        if left:
            leaves.setdefault(library, []).append(f"({scenario}): {left}")
    lines = []
    for name in libraries(results):
        said = []
        if name in hangs:
            said.append("hangs in " + "; ".join(f"({scenario})" for scenario in hangs[name]))
        if name in leaves:
            said.append("leaves processes alive in " + "; ".join(leaves[name]))
        if said:
            lines.append(f"- {name} " + ", and ".join(said) + ".")
    clean = [name for name in libraries(results) if name not in hangs and name not in leaves]
    text = "In this run:\n\n" + "\n".join(lines) + "\n\n" if lines else ""
    if clean:
        text += "No hang and no survivor: " + ", ".join(clean) + "."
    if "pexpect" in clean:
        text += " " + PEXPECT_CLEAN
    if "cmdrun" in clean:
        text += " " + CMDRUN_SLOWER
    return text.strip()


#: Why pexpect comes out clean too: said wherever it does.
PEXPECT_CLEAN = (
    "pexpect's clean record comes from its terminal, not from a kill policy: every child runs "
    "on a PTY in a session of its own, and when `close(force=True)` (or the death of the "
    "interrupted parent) closes the PTY, the kernel hangs up the whole session, the "
    "grandchild included. The price is a terminal for every command: stdout and stderr "
    "merged, line endings turned into CRLF, echo, and a 0.1 s sleep in `close()` by default "
    "(section 1). cmdrun gets the same result on plain pipes by signalling the process group."
)
#: Why cmdrun's (a) and (d) take longer than some peers': said wherever cmdrun is clean.
CMDRUN_SLOWER = (
    "cmdrun is slower than some peers in (a) and (d) on purpose: it asks first (SIGTERM on a "
    "timeout, SIGINT on Ctrl-C, as a terminal's Ctrl-C would) and waits up to `kill_grace` "
    "(2 s by default) before SIGKILL, so a program that handles the signal can clean up. The "
    "SIGTERM-ignoring child of (a) and the background sleep of (d) (a non-interactive shell "
    "starts background jobs with SIGINT ignored) use up that grace; peers that are quicker "
    "there either kill without asking or leave the processes running. `kill_grace=0` stops "
    "at once."
)


def correctness_notes(results: Sequence[Mapping[str, Any]]) -> str:
    """How each library was called, and what each call did, as a list."""
    lines = []
    for library in libraries(results):
        mine = [r for r in results if r["library"] == library]
        hows = list(dict.fromkeys(str(r.get("how", "")) for r in mine if r.get("how")))
        outcomes = "; ".join(
            f"{SCENARIOS.get(str(r['scenario']), r['scenario'])}: {r.get('outcome', '')}"
            for r in mine
        )
        # As code: a call such as local["sh"]["-c", line] is a reference link in Markdown.
        calls = " / ".join(f"`{how}`" for how in hows) or "how not given"
        lines.append(f"- **{library}** ({calls}): {outcomes}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The page's text


def table(rows: Sequence[Row]) -> str:
    """The rows as bench.py prints them, minus the header's run line."""
    lines = ["| Measurement | Result | Target | Pass | Details |", "|---|---:|---:|:---:|---|"]
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "**FAIL**")
        cells = [row.name, row.shown, row.target, verdict, row.details]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def markdown(
    meta: Meta,
    rows: Mapping[str, Sequence[Row]],
    plots: Sequence[Plot],
    correctness: Sequence[Mapping[str, Any]] | None,
    *,
    correctness_problem: str = "",
    correctness_note: str = "",
    sections: Sequence[Section] = SECTIONS,
) -> str:
    """The whole page. ``rows``: bench.py's rows by section function; ``plots``: what
    :func:`build` made of them; ``correctness``: ``correctness.results()``, or ``None``
    with ``correctness_problem`` saying why there are none; ``correctness_note``: a warning
    printed above its table (placeholder data)."""
    by_name = {plot.name: plot for plot in plots}
    mode = (
        "a **quick** run (`--quick`: fewer rounds and smaller sizes; the figures are "
        "indicative, a full run's are steadier)"
        if meta.quick
        else "a **full** run"
    )
    only = f" Only the sections matching {', '.join(meta.only)} were run." if meta.only else ""
    if meta.load is not None:
        only += (
            f" The machine's 1-minute load average was {meta.load[0]:.1f} when the run "
            f"started and {meta.load[1]:.1f} when it ended: other work on a shared machine "
            "slows both sides of a ratio, but widens its spread."
        )
    out = [
        "# cmdrun against its peers: speed, memory and correctness",
        "",
        "<!-- Written by `python benchmarks/bench.py --page`; edit benchmarks/page.py, not "
        "this file. -->",
        "",
        f"Made by `{meta.command}` on {meta.date}: {mode}, its sections took "
        f"{meta.seconds:.0f} s, on "
        f"{meta.machine}, Python {meta.python}, cmdrun {meta.cmdrun}.{only}",
        "",
        "Every figure is a median of interleaved or rotated rounds, and every comparison a "
        "ratio of two figures measured in the same run, so a slow or busy machine slows "
        "both sides alike. Blue bars are cmdrun, grey bars its peers, light bars floors and "
        "context (a raw loop, the bare system call: what no library can beat). A contestant "
        "that gave a wrong answer is marked *wrong*, never drawn as a time. Each section "
        "has the rows of `benchmarks/bench.py` (its docstring says how each is measured) "
        "and a reading that says where cmdrun loses, and why.",
        "",
        f"![Summary: cmdrun against the fastest peer in each race]"
        f"({CHARTS.name}/{SUMMARY_CHART}.png)",
        "",
        *behind_list(plots),
        "Sections:",
        "",
    ]
    out += [f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(sections, 1)]
    out.append(f"{len(sections) + 1}. [Correctness under a timeout](#correctness)")
    for i, section in enumerate(sections, 1):
        plot = by_name.get(section.chart)
        mine = [row for name in section.functions for row in rows.get(name, ())]
        out += ["", f'<a id="{section.anchor}"></a>', "", f"## {i}. {section.title}", ""]
        if not mine:
            out.append("*Not measured in this run.*")
            continue
        out += [f"![{section.title}]({CHARTS.name}/{section.chart}.png)", "", table(mine), ""]
        out.append("**Reading.** " + " ".join(section.reading.split()))
        if plot is not None:
            lost, wrong = losses(plot), wrong_answers(plot)
            out.append("")
            if lost:
                out.append(
                    f"*In this run*, a peer is ahead of cmdrun by more than {MARGIN:.0%} in:"
                )
                out += [""] + [f"- {line}" for line in lost]
            elif any(standing(d) for d in plot.panels):
                out.append(
                    f"*In this run*, cmdrun is fastest or within {MARGIN:.0%} of the fastest "
                    "peer in every race of this section."
                )
            if wrong:
                out += ["", "Wrong answers (no time shown): " + "; ".join(wrong) + "."]
    n = len(sections) + 1
    out += ["", '<a id="correctness"></a>', "", f"## {n}. Correctness under a timeout", ""]
    out.append(
        "Each library runs four children with a 1 s timeout: (a) one that ignores SIGTERM, "
        "(b) `sh -c 'sleep 30 & sleep 30'`, whose background grandchild holds the pipes, (c) "
        "one that stops itself with SIGSTOP, (d) Ctrl-C sent to a real parent process "
        "running the call. Each cell: seconds until the call returned (*hang*: it had not "
        "returned by the cap), and the processes left alive then (and a moment later). "
        "Speed tables leave these out; several peers hang or leave processes running here."
    )
    out.append("")
    if correctness is None:
        out.append(f"*Not measured in this run: {correctness_problem or 'no results'}.*")
    else:
        if correctness_note:
            out += [f"> **{correctness_note}**", ""]
        out += [
            f"![Correctness under a timeout]({CHARTS.name}/{CORRECTNESS_CHART}.png)",
            "",
            correctness_table(correctness),
            "",
            "**Reading.** " + correctness_reading(correctness),
            "",
            "How each library was called, and what happened:",
            "",
            correctness_notes(correctness),
        ]
    out += [
        "",
        "---",
        "",
        "Regenerate with `python -m pip install -e '.[bench]' && python benchmarks/bench.py "
        "--page` (a full run, about half an hour on 2 CPUs; `--quick` for an indicative one "
        "in about a minute).",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Drawing (matplotlib)

#: Colours: cmdrun, its peers, floors and context; wrong answers and survivors.
COLOURS = {OURS: "#2563eb", PEER: "#9ca3af", FLOOR: "#d9dde3", BEHIND: "#f59e0b"}
ALARM = "#dc2626"
HANG = "#fca5a5"
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.grid": True,
    "axes.grid.axis": "x",
    "axes.axisbelow": True,
    "grid.color": "#e5e7eb",
    "xtick.color": "#4b5563",
    "ytick.color": "#111827",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


def _log_scale(values: list[float], unit: str) -> bool:
    """Ratios spanning more than 25x are drawn on a log scale (pexpect's sleeps: 1,000x)."""
    return unit == "x" and bool(values) and min(values) > 0 and max(values) / min(values) > 25


def plain(text: str) -> str:
    """``text`` for a chart: Markdown's backticks dropped."""
    return text.replace("`", "")


def axis_label(panel: Panel) -> str:
    """The panel's axis text, with which way is better unless it says so already."""
    if "better" in panel.axis or not panel.directed:
        return plain(panel.axis)
    return plain(panel.axis) + (
        " - lower is better" if panel.lower_is_better else " - higher is better"
    )


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, title: str, meta: Meta, path: Path) -> None:
    """Title, the footer that says what made the chart, and the PNG."""
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.text(0.01, 0.005, plain(meta.caption), fontsize=7, color="#6b7280", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.025, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def draw(plot: Plot, path: Path, meta: Meta) -> None:
    """Render ``plot`` as a PNG at ``path``: one horizontal bar chart per panel."""
    plt = _pyplot()
    panels = [d for d in plot.panels if d.points]
    heights = [0.9 + 0.32 * len(d.points) for d in panels] or [1.0]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(heights),
            1,
            figsize=(10, sum(heights) + 1.0),
            gridspec_kw={"height_ratios": heights},
            squeeze=False,
        )
        for ax, data in zip(axes[:, 0], panels, strict=False):
            _draw_panel(ax, data)
        _finish(fig, plot.title, meta, path)
        plt.close(fig)


def _mark(ax: Any, x: float, y: int, text: str, **style: Any) -> None:
    """Text just right of ``(x, y)``, never clipped by the axes."""
    ax.annotate(
        text,
        (x, y),
        xytext=(4, 0),
        textcoords="offset points",
        va="center",
        fontsize=8,
        annotation_clip=False,
        **style,
    )


def _draw_panel(ax: Any, data: PanelData) -> None:
    from matplotlib.ticker import FuncFormatter

    panel = data.panel
    values = [p.value for p in data.points if p.state == OK and p.value is not None]
    log = _log_scale(values, panel.unit)
    top = max([*values, panel.limit or 0, 1.0 if panel.unit == "x" else 0.0, 1e-9])
    low = min([*values, 0.0])
    start = min(values) / 1.5 if log else 0.0  # where markers without a bar sit
    for y, p in enumerate(data.points):
        if p.state == OK and p.value is not None:
            ax.barh(y, p.value, color=COLOURS.get(p.role, COLOURS[PEER]), height=0.62)
            _mark(
                ax,
                max(p.value, 0.0),
                y,
                fmt(p.value, panel.unit) + (f"  {plain(p.note)}" if p.note else ""),
                color=ALARM if p.alarm else "#111827",
                fontweight="bold" if p.role == OURS else "normal",
            )
        elif p.state == WRONG:
            ax.plot([start], [y], "X", color=ALARM, ms=10, clip_on=False, zorder=4)
            _mark(ax, start, y, "  wrong answer: no time shown", color=ALARM, fontweight="bold")
        else:
            why = "" if p.note in ("", "not measured") else f" ({p.note})"
            _mark(ax, start, y, f"not measured{why}", color="#6b7280", style="italic")
    ax.set_yticks(range(len(data.points)))
    ax.set_yticklabels([plain(p.label) for p in data.points])
    for tick, p in zip(ax.get_yticklabels(), data.points, strict=True):
        if p.role == OURS:
            tick.set_color(COLOURS[OURS])
            tick.set_fontweight("bold")
    ax.set_title(plain(panel.title))
    ax.set_xlabel(axis_label(panel), color="#374151")
    if panel.unit == "x":
        ax.axvline(1.0, color="#374151", linewidth=0.8, linestyle="--", zorder=3)
    if panel.limit is not None:
        ax.axvline(panel.limit, color=ALARM, linewidth=1.0, linestyle=":", zorder=3)
        ax.annotate(
            panel.limit_label,
            (panel.limit, -0.55),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=7,
            color=ALARM,
            va="bottom",
        )
    if log:
        ax.set_xscale("log")
        ax.set_xlim(start, top * 8 * panel.room)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_xlim(min(low * 1.3, 0), top * 1.45 * panel.room)
    ax.set_ylim(len(data.points) - 0.4, -0.8)


def hang_cap(results: Sequence[Mapping[str, Any]]) -> float:
    """Where a hang's bar ends: the longest wait reported for a hang, else clearly past
    every call that returned (twice the slowest, at least 3 s)."""
    returned = [float(r["seconds"]) for r in results if r.get("seconds") is not None]
    waited = [float(r["seconds"]) for r in results if r.get("hung") and r.get("seconds")]
    waited += [float(r["cap"]) for r in results if r.get("hung") and r.get("cap")]
    if waited:
        return max([*waited, *returned])
    return max([*returned, 1.5]) * 2


def draw_correctness(results: Sequence[Mapping[str, Any]], path: Path, meta: Meta) -> None:
    """Seconds until each library's call returned, a panel per scenario; a hang is a hatched
    bar at the cap labelled "hang"; processes left alive are written after each bar."""
    plt = _pyplot()
    order, names = scenarios(results), libraries(results)
    cells = {(str(r["library"]), str(r["scenario"])): r for r in results}
    cap = hang_cap(results)
    columns = 2 if len(order) > 1 else 1
    rows_n = math.ceil(len(order) / columns)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows_n,
            columns,
            figsize=(11, rows_n * (1.0 + 0.3 * len(names)) + 1.0),
            squeeze=False,
        )
        for index, scenario in enumerate(order):
            ax = axes[index // columns][index % columns]
            for y, library in enumerate(names):
                r = cells.get((library, scenario))
                if r is None:
                    _mark(ax, 0.0, y, "not run", color="#6b7280", style="italic")
                    continue
                left = max(int(r.get("survivors", 0)), int(r.get("survivors_later", 0)))
                cell = correctness_cell(r)
                if r.get("hung"):
                    ax.barh(y, cap, color=HANG, hatch="///", edgecolor=ALARM, height=0.62)
                    ax.annotate(
                        "hang",
                        (cap / 2, y),
                        ha="center",
                        va="center",
                        fontsize=8,
                        fontweight="bold",
                        color="#7f1d1d",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
                    )
                    x, text = cap, cell.split(", ", 1)[1]
                else:
                    colour = COLOURS[OURS] if library == "cmdrun" else COLOURS[PEER]
                    x, text = float(r.get("seconds") or 0.0), cell
                    ax.barh(y, x, color=colour, height=0.62)
                _mark(
                    ax,
                    x,
                    y,
                    text,
                    color=ALARM if left else "#111827",
                    fontweight="bold" if left or library == "cmdrun" else "normal",
                )
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names)
            for tick, library in zip(ax.get_yticklabels(), names, strict=True):
                if library == "cmdrun":
                    tick.set_color(COLOURS[OURS])
                    tick.set_fontweight("bold")
            ax.set_ylim(len(names) - 0.4, -0.6)
            ax.axvline(1.0, color="#374151", linewidth=0.8, linestyle="--", zorder=3)
            ax.set_xlim(0, cap * 1.45)
            ax.set_title(SCENARIOS.get(scenario, scenario))
            ax.set_xlabel("seconds until the call returned (the timeout: 1 s, dashed)")
        for index in range(len(order), rows_n * columns):
            axes[index // columns][index % columns].set_visible(False)
        title = "Correctness under a 1 s timeout: time to return, processes left alive"
        _finish(fig, title, meta, path)
        plt.close(fig)


# --------------------------------------------------------------------------------------------


@dataclass
class Written:
    """What :func:`write` made: the page, the charts, and the problems it found."""

    page: Path
    charts: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write(
    root: Path,
    meta: Meta,
    rows: Mapping[str, Sequence[Row]],
    correctness: Sequence[Mapping[str, Any]] | None,
    *,
    correctness_problem: str = "",
    correctness_note: str = "",
    charts: bool = True,
) -> Written:
    """Write ``docs/benchmarks.md`` under ``root``, what it was made from (:data:`RESULTS`,
    for :func:`main`) and, with ``charts``, its PNG charts (matplotlib needed then) for the
    sections that have rows. Charts of sections not run are left as they were."""
    plots, problems = build(rows)
    text = markdown(
        meta,
        rows,
        plots,
        correctness,
        correctness_problem=correctness_problem,
        correctness_note=correctness_note,
    )
    page = root / PAGE
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    saved = {
        "meta": dataclasses.asdict(meta),
        "rows": {name: [dataclasses.asdict(row) for row in mine] for name, mine in rows.items()},
        "correctness": None if correctness is None else [dict(r) for r in correctness],
        "correctness_problem": correctness_problem,
        "correctness_note": correctness_note,
    }
    (root / RESULTS).parent.mkdir(parents=True, exist_ok=True)
    (root / RESULTS).write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n")
    done = Written(page, problems=problems)
    if not charts:
        return done
    for section, plot in zip(SECTIONS, plots, strict=True):
        if any(rows.get(name) for name in section.functions):
            done.charts.append(root / CHARTS / f"{plot.name}.png")
            draw(plot, done.charts[-1], meta)
    done.charts.append(root / CHARTS / f"{SUMMARY_CHART}.png")
    draw(summary(plots), done.charts[-1], meta)
    if correctness:
        done.charts.append(root / CHARTS / f"{CORRECTNESS_CHART}.png")
        draw_correctness(correctness, done.charts[-1], meta)
    return done


def measure_correctness(quick: bool) -> tuple[list[dict[str, Any]] | None, str, str]:
    """The correctness table's results (``correctness.results(quick)``), or ``None`` and why
    not; and a note for the page (none today)."""
    try:
        import correctness  # benchmarks/correctness.py, beside this module
    except ImportError as exc:
        return None, f"benchmarks/correctness.py cannot be imported ({exc})", ""
    results: list[dict[str, Any]] = correctness.results(quick)
    return results, "", ""


def rewrite(root: Path, charts: bool = True, correctness: bool = False) -> Written:
    """Write the page and its charts again from :data:`RESULTS` (no measuring): after a
    change to this module's texts or drawing, the figures of the last run stay. With
    ``correctness``, the correctness table is measured again (in the saved run's mode) and
    replaces the saved one."""
    saved = json.loads((root / RESULTS).read_text())
    if correctness:
        found = measure_correctness(bool(saved["meta"]["quick"]))
        keys = ("correctness", "correctness_problem", "correctness_note")
        saved.update(zip(keys, found, strict=True))
    meta = saved["meta"]
    meta["only"] = tuple(meta["only"])
    if meta.get("load") is not None:
        meta["load"] = tuple(meta["load"])
    rows = {name: [Row(**row) for row in mine] for name, mine in saved["rows"].items()}
    return write(
        root,
        Meta(**meta),
        rows,
        saved["correctness"],
        correctness_problem=saved["correctness_problem"],
        correctness_note=saved["correctness_note"],
        charts=charts,
    )


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/page.py``: redraw the page from the last run's saved results."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parent.parent, help="checkout"
    )
    parser.add_argument(
        "--correctness",
        action="store_true",
        help="measure the correctness table again (correctness.py) and put it on the page",
    )
    args = parser.parse_args(argv)
    written = rewrite(args.root, correctness=args.correctness)
    for line in written.problems:
        print(line, file=sys.stderr)
    print(f"wrote {written.page} and {len(written.charts)} charts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
