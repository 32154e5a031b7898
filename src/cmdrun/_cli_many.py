"""``cmdrun many``: run a list of commands in parallel, with a limit, a timeout each, and a
summary a CI log can show (or JSON lines a script can parse).

Choices, and why:

* ``-j`` defaults to the number of CPUs, as :func:`cmdrun.run_many` and ``make -j$(nproc)``
  users expect: the point of the tool is parallelism, and commands that use a CPU each
  (compilers, test shards) then neither crawl (``xargs``' default of 1) nor thrash.
* Lines are split with :mod:`shlex` (``#`` starts a comment) and run without a shell, as
  :func:`cmdrun.run` runs a list: a line holding a file name with ``$`` or ``;`` does no
  harm. ``--shell`` runs each line with ``/bin/sh -c`` for pipes and ``&&`` instead (then
  only whole-line ``#`` comments are skipped; ``sh`` reads the rest).
* ``--json`` prints one object per command as it finishes, with its ``index`` in the file
  (0-based), so a consumer can stream; commands that never started come last.
* Commands read ``/dev/null`` as stdin (the list itself may be on stdin) and their output is
  captured, never interleaved on the terminal.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ._defaults import DEFAULT_KILL_GRACE
from ._errors import TAIL_LINES
from ._parallel import Outcome, _outcomes, check_jobs, prepare_all

if TYPE_CHECKING:
    from ._run import Prepared
    from ._spec import BatchOptions

#: Exit statuses: as shells report a death by SIGINT (Ctrl-C) and SIGTERM, and argparse's.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM

_EXAMPLES = """\
Each line of FILE (or stdin) is a command, split like a shell line; # starts a comment.

examples:
  cmdrun many -j 4 --timeout 60 tests.txt      at most 4 at once, 60 s each
  cmdrun many --fail-fast --json builds.txt    stop all at the first failure; JSON lines
  printf 'make -C a\\nmake -C b\\n' | cmdrun many
  cmdrun many --shell pipelines.txt            lines with | and && (run by /bin/sh -c)
  cmdrun many --hosts web.txt -j 30 --timeout 60 -- systemctl restart app
                                               one command on every host of web.txt (SSH)

With --hosts FILE, FILE lists hosts ([user@]host or ssh config names), one a line, and
the command after -- runs on each, over SSH (the system's ssh; one connection per host).
A host that cannot be reached shows as exit 255 with ssh's message.

exit status: 0 all succeeded, 1 any failed (or timed out, or was cancelled),
2 usage error, 130 after Ctrl-C, 143 after SIGTERM (running commands are stopped first).
"""


class Terminated(BaseException):
    """SIGTERM arrived (a CI system cancelling the job): unwind like Ctrl-C."""


class Line:
    """One command of the list: its line number, how the summary shows it (what runs,
    quoted again: without a trailing comment), and the command given to the library."""

    __slots__ = ("command", "number", "text")

    def __init__(self, number: int, text: str, command: str | list[str]) -> None:
        self.number = number
        self.text = text
        self.command = command


def parse_lines(text: str, shell: bool) -> list[Line]:
    """The commands in ``text``, one a line; blank and comment lines skipped.

    Raises:
        ValueError: a line cannot be split (unbalanced quotes); the message names it.
    """
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if shell:
            if stripped and not stripped.startswith("#"):
                found.append(Line(number, stripped, stripped))
            continue
        try:
            argv = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise ValueError(f"line {number}: cannot split {stripped!r}: {exc}") from None
        if argv:
            found.append(Line(number, shlex.join(argv), argv))
    return found


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def _seconds(minimum_exclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not math.isfinite(value) or value < 0 or (minimum_exclusive and value == 0):
            least = "more than 0" if minimum_exclusive else "0 or more"
            raise argparse.ArgumentTypeError(f"must be {least} seconds, not {text!r}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmdrun many",
        description="Run many commands in parallel, at most N at once; print a summary.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the commands, one a line (- or none: stdin)",
    )
    add("-j", "--jobs", type=_whole(1), metavar="N", help="at most N at once (default: CPUs)")
    add("--timeout", type=_seconds(True), metavar="S", help="stop each command after S seconds")
    add(
        "--idle-timeout",
        type=_seconds(True),
        metavar="S",
        help="stop a command after S seconds without output",
    )
    add(
        "--kill-grace",
        type=_seconds(False),
        default=DEFAULT_KILL_GRACE,
        metavar="S",
        help=f"seconds from SIGTERM to SIGKILL when stopping (default: {DEFAULT_KILL_GRACE:g})",
    )
    add("--fail-fast", action="store_true", help="at the first failure, stop all the others")
    add("--json", action="store_true", help="print JSON lines, one per command, as they end")
    add("--shell", action="store_true", help="run each line with /bin/sh -c (pipes, &&)")
    add("--hosts", metavar="FILE", help="run the command after -- on every host in FILE (SSH)")
    add("--ssh-config", metavar="FILE", help="with --hosts: the ssh config to read (ssh -F)")
    add(
        "--ssh-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --hosts: an ssh -o option; repeatable",
    )
    add(
        "--tail",
        type=_whole(0),
        default=TAIL_LINES,
        metavar="N",
        help=f"last lines of a failed command's output to show (default: {TAIL_LINES})",
    )
    return parser


def _read(name: str) -> str:
    """The text of the list: FILE, or stdin for ``-``.

    Raises:
        OSError, UnicodeDecodeError: FILE cannot be read.
    """
    if name == "-":
        return sys.stdin.read()
    with open(name, encoding="utf-8") as f:
        return f.read()


def _prepare(lines: list[Line], args: argparse.Namespace) -> list[Prepared]:
    """Each line checked as :func:`cmdrun.run` checks a command.

    Raises:
        ValueError: a line cannot run (a NUL byte, ...); the message names it.
    """
    options: BatchOptions = {
        "idle_timeout": args.idle_timeout,
        "kill_grace": args.kill_grace,
        "shell": args.shell,
    }
    batch = []
    for line in lines:
        try:
            [prepared] = prepare_all([line.command], options, args.timeout, "cmdrun many")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {line.number}: {exc}") from None
        batch.append(prepared)
    return batch


def main(argv: Sequence[str]) -> int:
    """Run ``cmdrun many`` with the arguments ``argv`` (without ``many`` itself).

    Returns:
        The exit status: 0 when every command succeeded, 1 when any failed, 2 for a usage
        error, 130 after Ctrl-C and 143 after SIGTERM (every running command stopped first).
    """
    try:
        with _SigtermRaises():
            return _main(argv)
    except KeyboardInterrupt:
        _say("interrupted (Ctrl-C); every running command was stopped first")
        return EXIT_INTERRUPTED
    except Terminated:
        _say("terminated (SIGTERM); every running command was stopped first")
        return EXIT_TERMINATED


def _main(argv: Sequence[str]) -> int:
    parser = _parser()
    argv = list(argv)
    command = None
    if "--" in argv:  # cmdrun many --hosts FILE [options] -- CMD [ARGS...]
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    remotes: list[Any] = []
    try:
        args = parser.parse_args(argv)
        try:
            if args.hosts is not None:
                if not command:
                    parser.error("--hosts FILE runs the command given after --: none was")
                if args.file != "-":
                    parser.error("--hosts FILE takes no command file: the command follows --")
                lines, batch, preset, remotes = _prepare_hosts(args, command)
            else:
                if command is not None:
                    parser.error("a command after -- goes with --hosts FILE")
                if args.ssh_config is not None or args.ssh_option:
                    parser.error("--ssh-config and --ssh-option go with --hosts")
                lines = parse_lines(_read(args.file), args.shell)
                batch, preset = _prepare(lines, args), {}
        except (OSError, UnicodeDecodeError) as exc:
            name = args.hosts or args.file
            parser.error(f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}")
        except ValueError as exc:
            parser.error(str(exc))
    except SystemExit as exc:  # argparse's way out: --help (0) or a usage error (2)
        for remote in remotes:
            remote.close()
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _run(lines, batch, args, preset)
    finally:
        for remote in remotes:
            remote.close()


def _prepare_hosts(
    args: argparse.Namespace, command: list[str]
) -> tuple[list[Line], list[Prepared], dict[int, Outcome], list[Any]]:
    """``--hosts``: one line per host, the command prepared for each, and the outcomes of
    the hosts that could not be reached (their connections are opened here, all at once).

    Raises:
        OSError, UnicodeDecodeError: the hosts file cannot be read.
        ValueError: a bad host name, ssh option or command.
    """
    from ._remote import Remote, _connect_all, _one_shot, _unreachable

    options: dict[str, Any] = {}
    for pair in args.ssh_option:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--ssh-option takes NAME=VALUE, not {pair!r}")
        options[name] = value
    hosts = []
    for number, text in enumerate(_read(args.hosts).splitlines(), 1):
        host = text.split("#", 1)[0].strip()
        if host:
            hosts.append((number, host))
    remotes = []
    try:
        for _, host in hosts:
            remotes.append(Remote(host, ssh_config=args.ssh_config, options=options or None))
        if not args.fail_fast:  # with it, a host found unreachable first must stop nothing
            _one_shot(remotes, args.timeout, args.idle_timeout)  # before the argvs are made
        shown = shlex.join(command) if not args.shell else " ".join(command)
        lines = [Line(number, f"{host}: {shown}", command) for number, host in hosts]
        batch_options: BatchOptions = {
            "idle_timeout": args.idle_timeout,
            "kill_grace": args.kill_grace,
        }
        commands = [
            remote.command(
                " ".join(command) if args.shell else command, {"shell": args.shell}, "cmdrun many"
            )
            for remote in remotes
        ]
        batch = prepare_all(commands, batch_options, args.timeout, "cmdrun many")  # type: ignore[arg-type]
        failures = _connect_all(remotes, check_jobs(args.jobs))
    except BaseException:
        for remote in remotes:
            remote.close()
        raise
    preset = {
        index: Outcome(index, _unreachable(commands[index], failure), failure)
        for index, failure in enumerate(failures)
        if failure is not None
    }
    return lines, batch, preset, remotes


def _say(message: str) -> None:
    print(f"cmdrun many: {message}", file=sys.stderr, flush=True)


class _SigtermRaises:
    """While held, SIGTERM raises :class:`Terminated` in the main thread, once: a second
    SIGTERM must not interrupt the cleanup the first one started."""

    def __enter__(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._raise)

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, _ignore)  # a Python handler: exec resets it
        raise Terminated

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler doing nothing (unlike SIG_IGN, not inherited by new children)."""


def _run(
    lines: list[Line],
    batch: list[Prepared],
    args: argparse.Namespace,
    preset: dict[int, Outcome] | None = None,
) -> int:
    """Run the batch, report as asked; the exit status. ``preset``: the outcomes of
    commands that cannot run (hosts that could not be reached), by index."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    jobs = check_jobs(args.jobs)
    preset = preset or {}
    todo = [index for index in range(len(batch)) if index not in preset]
    try:
        with _Progress(len(batch), sys.stderr) as advance:
            for index, outcome in preset.items():
                outcomes[index] = outcome
                advance(outcome)
                if args.json:
                    _print_json(_record(index, batch[index], outcome))
            running = [batch[index] for index in todo]
            for ran in _outcomes(running, jobs, False, False, cancel_on_failure=args.fail_fast):
                index = todo[ran.index]
                outcome = Outcome(index, ran.result, ran.error)
                outcomes[index] = outcome
                advance(outcome)
                if args.json:
                    _print_json(_record(index, batch[index], outcome))
    except (KeyboardInterrupt, Terminated):
        # Every running command was stopped on the way out: show what had finished.
        if not args.json:
            sys.stdout.write(summary(lines, outcomes, args.tail, unfinished="stopped"))
        raise
    if args.json:
        for index, prepared in enumerate(batch):
            if outcomes[index] is None:
                _print_json(_record(index, prepared, None))
    else:
        sys.stdout.write(summary(lines, outcomes, args.tail))
    return 0 if all(o is not None and _succeeded(o) for o in outcomes) else EXIT_FAILED


def _succeeded(outcome: Outcome) -> bool:
    return outcome.result.ok and not outcome.result.cancelled


def _print_json(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def _record(index: int, prepared: Prepared, outcome: Outcome | None) -> dict[str, Any]:
    """A command's JSON object; ``outcome`` None: it never started (``--fail-fast``)."""
    shown = prepared.spec.shown()
    args = list(shown) if isinstance(shown, tuple) else str(shown)
    host = None if prepared.spec.remote is None else prepared.spec.remote.host
    if outcome is None:
        return {
            "index": index,
            "args": args,
            "host": host,
            "returncode": None,
            "signal": None,
            "timed_out": False,
            "timeout_kind": None,
            "cancelled": True,
            "started": False,
            "duration": 0.0,
            "stdout": "",
            "stderr": "",
            "pid": None,
        }
    result = outcome.result
    return {
        "index": index,
        "args": args,
        "host": host,
        "returncode": result.returncode,
        "signal": None if result.signal is None else result.signal.name,
        "timed_out": result.timed_out,
        "timeout_kind": result.timeout_kind,
        "cancelled": result.cancelled,
        "started": result.pid != 0,
        "duration": result.duration,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "pid": result.pid or None,
    }


# -- the summary -----------------------------------------------------------------------------


def exit_label(outcome: Outcome | None) -> str:
    """What the table's ``exit`` column says about a command."""
    if outcome is None:
        return "not started"
    result = outcome.result
    if result.timed_out:
        return "idle-timeout" if result.timeout_kind == "idle" else "timeout"
    if result.cancelled:
        return "cancelled"
    if result.signal is not None:
        return result.signal.name
    return str(result.returncode)


def summary(
    lines: list[Line],
    outcomes: Sequence[Outcome | None],
    tail: int,
    unfinished: str = "not started",
) -> str:
    """The table (input order), a count, then the output tail of each failed command.
    ``unfinished`` labels the commands without an outcome (after Ctrl-C: "stopped", for
    they were stopped or never started)."""
    rows = [("line", "exit", "time", "command")]
    for line, outcome in zip(lines, outcomes, strict=True):
        took = "-" if outcome is None else f"{outcome.result.duration:.2f}s"
        label = unfinished if outcome is None else exit_label(outcome)
        rows.append((str(line.number), label, took, line.text))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    text = "".join(
        f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}\n"
        for row in rows
    )
    text += f"\n{_count(outcomes, unfinished)}\n"
    for line, outcome in zip(lines, outcomes, strict=True):
        if outcome is not None and not outcome.result.ok and not outcome.result.cancelled:
            text += _tail(line, outcome, tail)
    return text


def _count(outcomes: Sequence[Outcome | None], unfinished: str) -> str:
    """``5 commands: 1 succeeded, 2 failed, 1 cancelled, 1 not started`` (no zero counts
    but the first two; ``unfinished`` names the commands without an outcome)."""
    kinds = {"succeeded": 0, "failed": 0, "cancelled": 0, unfinished: 0}
    for outcome in outcomes:
        if outcome is None:
            kinds[unfinished] += 1
        elif outcome.result.cancelled and not outcome.result.timed_out:
            kinds["cancelled"] += 1
        else:
            kinds["succeeded" if _succeeded(outcome) else "failed"] += 1
    parts = [f"{n} {kind}" for i, (kind, n) in enumerate(kinds.items()) if n or i < 2]
    total = len(outcomes)
    noun = "command" if total == 1 else "commands"
    return f"{total} {noun}" + (f": {', '.join(parts)}" if total else "")


def _tail(line: Line, outcome: Outcome, tail: int) -> str:
    """The last ``tail`` lines of what a failed command wrote to stderr (or, when it wrote
    nothing there, to stdout: some programs report errors there)."""
    result = outcome.result
    stream, text = ("stderr", result.stderr) if result.stderr_bytes else ("stdout", result.stdout)
    label = exit_label(outcome)
    what = f"exit {label}" if label.isdigit() else label
    head = f"\n--- line {line.number}, {what}: {line.text}\n"
    written = text.splitlines()
    if not written:
        return head + "--- no output\n"
    shown = written[-tail:] if tail > 0 else []
    if len(shown) == len(written):
        head += f"--- {stream} ({len(written)} line{'s' * (len(written) > 1)}):\n"
    else:
        head += f"--- {stream}, last {len(shown)} of {len(written)} lines:\n"
    return head + "".join(f"{text}\n" for text in shown)


# -- progress --------------------------------------------------------------------------------


class _Progress:
    """A progress bar on ``stream`` while it is a terminal (tqdm if installed, else a
    one-line counter); nothing otherwise. Entering gives the function to call per command."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self._total = total
        self._stream = stream
        self._done = self._failed = 0
        self._bar: Any = None
        self._shown = stream.isatty() and total > 0

    def __enter__(self) -> Callable[[Outcome], None]:
        if self._shown:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped,import-not-found,unused-ignore]
            except ImportError:
                self._line()
            else:
                self._bar = tqdm(
                    total=self._total, unit="cmd", desc="cmdrun many", file=self._stream
                )
        return self._advance

    def _advance(self, outcome: Outcome) -> None:
        self._done += 1
        self._failed += not _succeeded(outcome)
        if self._bar is not None:
            self._bar.update()
        elif self._shown:
            self._line()

    def _line(self) -> None:
        failed = f", {self._failed} failed" if self._failed else ""
        self._stream.write(f"\r[{self._done}/{self._total}]{failed}")
        self._stream.flush()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._shown:
            self._stream.write("\n")
            self._stream.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
