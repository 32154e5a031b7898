"""The ``cmdrun`` command: one program run with cmdrun's guarantees, from a shell.

``cmdrun [options] -- CMD [ARGS...]`` runs CMD as :func:`cmdrun.run` does (its own process
group, stdin from ``/dev/null`` unless ``--input``, a timeout that stops the whole group with
a grace period) and exits with a status a shell understands, as coreutils ``timeout`` does:

====  ==========================================================================
N     the program's own exit status
124   a timeout stopped it (``--timeout``, or ``--idle-timeout``: no output for S)
125   cmdrun could not run it (a ``--cwd`` or ``--input`` it cannot use, OS limits)
126   the program exists but cannot be executed
127   the program was not found
128+N the program died by signal N
255   ``--host``: ssh could not reach the host, log in, or keep the connection
2     bad cmdrun arguments (usage message on stderr)
130   cmdrun got SIGINT (Ctrl-C); 143: SIGTERM; 129: SIGHUP. The program's whole
      process group is stopped first, by the kill policy.
====  ==========================================================================

How output reaches the terminal (or the log) is chosen by what cmdrun must see:

* ``--no-tty`` with nothing to watch: the program writes straight to cmdrun's own stdout
  and stderr fds, as under ``timeout``: no copy, the exact order across both streams, and
  the program sees whether they are terminals.
* otherwise (the default ``tty="auto"``, ``--tty``, ``--respond``, ``--idle-timeout``):
  pipes (or a PTY) that cmdrun reads and copies out as they come (``tee``). Only the last
  ``TTY_REFUSAL_MAX_OUTPUT`` bytes of each stream are kept: enough to spot a program that
  refuses to run without a terminal (a longer output never counts as a refusal), and memory
  stays bounded however long the program runs.
* ``--json``: everything is captured and printed once, as one JSON object.

SIGTERM and SIGHUP to cmdrun (a CI system cancelling the job, a closed terminal) cancel
the run: the program's process group is stopped by the kill policy (SIGTERM, SIGKILL after
``--kill-grace``) while its output is still read, so what it prints as it cleans up is not
lost, and cmdrun exits 143 or 129. Ctrl-C is Python's ``KeyboardInterrupt``, on which the
run sends the group SIGINT first, as a shell would, then the same policy; exit 130.

``cmdrun many ...`` (a list of commands in parallel) lives in :mod:`cmdrun._cli_many`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from . import __version__

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    import argparse
    from argparse import Namespace
    from typing import Any, NoReturn

    from ._pump import CancelToken
    from ._result import Result
else:
    # What _plain_options returns: the attributes argparse's Namespace would have, without
    # importing argparse (about 2 ms with gettext and building the parser: see main()).
    from types import SimpleNamespace as Namespace

EXIT_TIMED_OUT = 124
EXIT_CANNOT_RUN = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGNALLED = 128  # plus the signal's number
EXIT_SSH = 255  # --host: ssh's own failure (as ssh itself exits)

_USAGE = "%(prog)s [options] [--] CMD [ARGS...]\n       %(prog)s many [options] [FILE]"

_DESCRIPTION = """\
Run CMD in its own process group and exit with its status. A timeout stops CMD and
everything it started (SIGTERM to the group, SIGKILL after --kill-grace seconds).
Output passes through as it comes; stdin is /dev/null unless --input is given."""

_EPILOG = """\
examples:
  cmdrun --timeout 10 -- make test
  cmdrun --idle-timeout 600 --timeout 3600 -- ./nightly.sh   (no output for 10 min: stop)
  cmdrun --json --timeout 60 -- pytest -q > result.json      (one JSON object, no echo)
  cmdrun --input - -- sort < names.txt                         (cmdrun's stdin to CMD)
  cmdrun --respond 'Continue? [y/N] =y' -- ./installer         (answer a prompt, as a line)
  cmdrun --env LANG=C --env DEBUG= --cwd build -- make
  cmdrun --tty -- tty                                          (run CMD on a pseudo-terminal)
  cmdrun --host deploy@web1 --timeout 60 -- systemctl restart app   (over SSH)
  cmdrun -- many                                               (a program called "many")

exit status:
  CMD's status; 124 timed out (total or idle); 128+N CMD died by signal N;
  127 CMD not found; 126 CMD cannot be executed; 125 cmdrun could not run it;
  255 (--host) ssh could not reach or log in to the host; 2 bad cmdrun arguments;
  130/143/129 cmdrun got SIGINT/SIGTERM/SIGHUP (CMD's process group is stopped first).

"cmdrun many" runs a list of commands in parallel: cmdrun many --help."""


class Stopped(BaseException):
    """cmdrun got SIGTERM or SIGHUP (a CI system cancelling the job, a closed terminal).

    A ``BaseException``, like ``KeyboardInterrupt``: the run stops the program's process
    group on its way out (SIGTERM first), and nothing catches it by accident.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# -- arguments ----------------------------------------------------------------------------


def _bad_value(message: str) -> NoReturn:
    """Refuse an option's value, with ``message`` in argparse's usage error."""
    import argparse

    raise argparse.ArgumentTypeError(message)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        _bad_value(f"not a number of seconds: {text!r}")


def _limit(text: str) -> float:
    """A ``--timeout``/``--idle-timeout`` value: seconds > 0 (``inf``: no limit)."""
    seconds = _number(text)
    if not seconds > 0:
        _bad_value(f"must be a number of seconds > 0, not {text!r}")
    return seconds


def _grace(text: str) -> float:
    """A ``--kill-grace`` value: finite seconds >= 0."""
    seconds = _number(text)
    if not 0 <= seconds < float("inf"):
        _bad_value(f"must be a finite number of seconds >= 0, not {text!r}")
    return seconds


def _pair(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` split at the first ``=`` (the value may be empty, or hold ``=``)."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        _bad_value(f"expected NAME=VALUE, not {text!r}")
    return name, value


def _columns() -> int:
    """The terminal's width, found as ``shutil.get_terminal_size`` finds it (``COLUMNS``, then
    stdout's terminal, then 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser() -> argparse.ArgumentParser:
    """The ``cmdrun`` argument parser (``cmdrun many`` has its own)."""
    import argparse

    class _Formatter(argparse.RawDescriptionHelpFormatter):
        """argparse's formatter with the width given, which spares argparse's ``import
        shutil`` (about 1.5 ms, with bz2, lzma and zlib): ``add_argument`` makes a formatter
        each time, even when no help is printed."""

        def __init__(self, prog: str) -> None:
            super().__init__(prog, width=_columns() - 2)

    parser = argparse.ArgumentParser(
        prog="cmdrun",
        usage=_USAGE,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    add = parser.add_argument
    add("--timeout", type=_limit, metavar="S", help="stop CMD's process group after S seconds")
    add(
        "--idle-timeout",
        type=_limit,
        metavar="S",
        help="stop it once it has printed nothing for S seconds",
    )
    add(
        "--kill-grace",
        type=_grace,
        metavar="S",
        help="seconds between SIGTERM and SIGKILL when stopping it (default: 2)",
    )
    terminal = parser.add_mutually_exclusive_group()
    terminal.add_argument(
        "--tty",
        dest="tty",
        action="store_const",
        const=True,
        default="auto",
        help="run CMD on a pseudo-terminal (default: pipes, and again on a pseudo-terminal "
        "if CMD refuses to run without one)",
    )
    terminal.add_argument(
        "--no-tty",
        dest="tty",
        action="store_const",
        const=False,
        help="never a pseudo-terminal: CMD writes straight to cmdrun's stdout and stderr",
    )
    add(
        "--host",
        metavar="[USER@]HOST",
        help="run CMD on HOST over SSH (the system's ssh and its config); --cwd and --env "
        "apply there, and a timeout stops CMD's process group there too",
    )
    add("--ssh-config", metavar="FILE", help="with --host: the ssh config to read (ssh -F)")
    add(
        "--ssh-option",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --host: an ssh -o option, such as StrictHostKeyChecking=accept-new; repeatable",
    )
    add("--input", metavar="FILE", help="CMD's stdin: FILE, or - for cmdrun's own stdin")
    add("--cwd", metavar="DIR", help="run CMD in DIR")
    add(
        "--env",
        type=_pair,
        action="append",
        default=[],
        metavar="K=V",
        help="set K in CMD's environment (K= sets it empty); repeatable",
    )
    add(
        "--respond",
        type=_pair,
        action="append",
        default=[],
        metavar="PATTERN=REPLY",
        help="type REPLY and Enter whenever CMD prints PATTERN (split at the first =); repeatable",
    )
    add("--quiet", "-q", action="store_true", help="do not show CMD's output")
    add(
        "--json",
        action="store_true",
        help="print one JSON object with the result instead of the output",
    )
    add("--version", action="version", version=f"%(prog)s {__version__}")
    add("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


#: The options :func:`_plain_options` reads itself: flags, and options that take a value
#: (``_pair`` ones repeatable), each with its destination, as :func:`build_parser` has them.
_FLAGS = {
    "--quiet": ("quiet", True),
    "-q": ("quiet", True),
    "--json": ("json", True),
    "--tty": ("tty", True),
    "--no-tty": ("tty", False),
}
_VALUED: dict[str, tuple[str, Callable[[str], object]]] = {
    "--timeout": ("timeout", _limit),
    "--idle-timeout": ("idle_timeout", _limit),
    "--kill-grace": ("kill_grace", _grace),
    "--host": ("host", str),
    "--ssh-config": ("ssh_config", str),
    "--input": ("input", str),
    "--cwd": ("cwd", str),
}
_APPENDED = {"--ssh-option": "ssh_option", "--env": "env", "--respond": "respond"}


def _plain_options(args: list[str]) -> Namespace | None:
    """What ``build_parser().parse_args(args)`` returns, for a plain command line; else None.

    Plain: options spelled in full, each value in the next argument and not starting with
    ``-`` (but ``-`` itself), a valid value, no ``--tty`` with ``--no-tty``, then the command
    (after ``--``, or from the first argument that is not an option: argparse's REMAINDER).
    Anything else (``--help``, ``--version``, ``--opt=value``, abbreviations, ``-qj``, a bad
    value, no command) is left to argparse, which reads it or says what is wrong; a test
    checks that both give the same answer. Spares most runs argparse: see :func:`main`.
    """
    fields: dict[str, object] = {
        "timeout": None,
        "idle_timeout": None,
        "kill_grace": None,
        "tty": "auto",
        "host": None,
        "ssh_config": None,
        "input": None,
        "cwd": None,
        "quiet": False,
        "json": False,
    }
    pairs: dict[str, list[tuple[str, str]]] = {dest: [] for dest in _APPENDED.values()}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--" or not arg.startswith("-"):
            return Namespace(**fields, **pairs, command=args[index:])
        if arg in _FLAGS:
            dest, value = _FLAGS[arg]
            if dest == "tty" and fields["tty"] not in ("auto", value):
                return None  # argparse: not allowed with the other one
            fields[dest] = value
            index += 1
            continue
        if index + 1 == len(args) or (args[index + 1].startswith("-") and args[index + 1] != "-"):
            return None
        text = args[index + 1]
        try:
            if arg in _APPENDED:
                pairs[_APPENDED[arg]].append(_pair(text))
            elif arg in _VALUED:
                dest, convert = _VALUED[arg]
                fields[dest] = convert(text)
            else:
                return None
        except Exception:  # argparse.ArgumentTypeError: argparse reports it
            return None
        index += 2
    return None  # no command: argparse says so


def _command(parser: argparse.ArgumentParser | None, options: Namespace) -> list[str]:
    # argparse keeps the "--" that ends the options at the head of a REMAINDER argument.
    command: list[str] = options.command
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        _usage_error(parser, "no command given: cmdrun [options] -- CMD [ARGS...]")
    return command


def _usage_error(parser: argparse.ArgumentParser | None, message: str) -> NoReturn:
    """Exit 2 with the usage and ``message`` on stderr, as argparse does."""
    (parser or build_parser()).error(message)


# -- the run ------------------------------------------------------------------------------


def _output_options(options: Namespace) -> dict[str, Any]:
    """Where the program's output goes (see the module docstring for why)."""
    if options.json:
        return {}
    watched = options.tty is not False or options.respond or options.idle_timeout is not None
    if not watched:
        if options.quiet:
            return {"stdout": os.devnull, "stderr": os.devnull}
        return {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    from ._run import TTY_REFUSAL_MAX_OUTPUT

    # What tty="auto" needs to spot a refusal: a longer output is never one.
    return {"tee": not options.quiet, "max_output": TTY_REFUSAL_MAX_OUTPUT}


def _stdin(name: str | None) -> int | None:
    """The fd ``--input`` names (``-``: cmdrun's own stdin), handed to the program as is.

    Raises:
        OSError: the file cannot be opened.
    """
    if name is None:
        return None
    if name == "-":
        return 0
    return os.open(name, os.O_RDONLY | os.O_CLOEXEC)


def _run(options: Namespace, command: list[str], cancel: CancelToken) -> Result:
    """Run ``command`` as ``options`` say, until it ends or ``cancel`` is cancelled.

    Raises:
        TypeError, ValueError, LookupError: an option the library refuses.
        CommandNotFound, CommandNotExecutable, StartFailed, OSError: it could not start.
    """
    from ._run import prepare

    settings: dict[str, Any] = _output_options(options)
    if options.kill_grace is not None:
        settings["kill_grace"] = options.kill_grace
    if options.respond:
        settings["respond"] = dict(options.respond)
    stdin = _stdin(options.input)
    run_options: dict[str, Any] = {
        "check": False,
        "timeout": options.timeout,
        "idle_timeout": options.idle_timeout,
        "tty": options.tty,
        "cwd": options.cwd,
        "env": dict(options.env) or None,
        "stdin": stdin,
        **settings,
    }
    try:
        if options.host is not None:
            return _run_remote(options, command, run_options, cancel)
        if options.ssh_config is not None or options.ssh_option:
            raise ValueError("--ssh-config and --ssh-option go with --host")
        prepared = prepare(command, run_options, "run")  # type: ignore[arg-type]
        return prepared.watching(cancel).run()
    finally:
        if stdin is not None and stdin != 0:
            os.close(stdin)


def _run_remote(
    options: Namespace,
    command: list[str],
    run_options: dict[str, Any],
    cancel: CancelToken,
) -> Result:
    """``--host``: run ``command`` there through a :class:`~cmdrun.Remote`.

    Raises:
        ConnectionFailed: ssh could not reach the host, log in or keep the connection.
        CommandNotFound, CommandNotExecutable, FileNotFoundError: as on the host.
    """
    from ._remote import Remote
    from ._run import prepare

    remote = Remote(
        options.host, ssh_config=options.ssh_config, options=dict(options.ssh_option) or None
    )
    with remote:
        remote_command = remote.command(command, run_options, "run")
        remote.connect()
        prepared = prepare(remote_command, run_options, "run")  # type: ignore[arg-type]
        result = prepared.watching(cancel).run()
        error = remote.error(remote_command, result)
        if error is not None:
            raise error
        return result


def exit_status(result: Result) -> int:
    """The status cmdrun exits with for ``result``, as ``timeout`` and shells report it."""
    if result.timed_out:
        return EXIT_TIMED_OUT
    if result.returncode < 0:
        return EXIT_SIGNALLED - result.returncode
    return result.returncode


def _report_timeout(result: Result) -> None:
    """Say on stderr why the program stopped: its exit status alone (124) does not."""
    if result.timeout_kind == "idle":
        why = f"no output for {result.idle_timeout:g} s (--idle-timeout)"
    else:
        why = f"timed out after {result.timeout:g} s"
    _error(f"{why}; stopped the program and its process group")


def _error(message: str) -> None:
    sys.stderr.write(f"cmdrun: {message}\n")
    sys.stderr.flush()


def _print_json(
    command: Sequence[str], result: Result | None = None, error: str | None = None
) -> None:
    import json

    fields: dict[str, object] = {
        "args": list(command),
        "returncode": None,
        "signal": None,
        "timed_out": False,
        "timeout_kind": None,
        "duration": None,
        "stdout": "",
        "stderr": "",
        "tty": False,
        "pid": None,
        "error": error,
    }
    if result is not None:
        fields.update(
            returncode=result.returncode,
            signal=None if result.signal is None else result.signal.name,
            timed_out=result.timed_out,
            timeout_kind=result.timeout_kind,
            duration=result.duration,
            stdout=result.stdout,
            stderr=result.stderr,
            tty=result.tty,
            pid=result.pid,
        )
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


# -- signals ------------------------------------------------------------------------------


class StopSignals:
    """While up, SIGTERM and SIGHUP cancel the run instead of killing cmdrun.

    The cancelled run stops the program's process group by the kill policy (SIGTERM, then
    SIGKILL after the grace) while it goes on reading the output, so what the program says
    as it cleans up still reaches the log (and the JSON), and the Result comes back. A signal
    ignored when cmdrun started stays ignored (``nohup``). SIGINT keeps Python's way: a
    ``KeyboardInterrupt``, on which the run sends the group SIGINT first, as a shell would.
    """

    def __init__(self) -> None:
        from ._pump import CancelToken

        self.token = CancelToken()
        #: The first stop signal received, or None.
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) == signal.SIG_DFL:
                self._previous[signum] = signal.signal(signum, self._stop)
        return self

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # Only the first one cancels: a second, landing inside the first handler while it
        # holds the token's lock, must not take the lock again.
        if self.received is None:
            self.received = signum
            self.token.cancel()

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self.token.close()  # no handler left that could cancel it meanwhile


# -- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cmdrun`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status (see the module docstring).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["many"]:
        from . import _cli_many

        return int(_cli_many.main(args[1:]))
    # argparse costs about 2 ms of a run (its import with gettext's, and building the
    # parser): a plain command line is read without it, the others by it.
    parser = None
    options = _plain_options(args)
    if options is None:
        parser = build_parser()
        options = parser.parse_args(args)
    command = _command(parser, options)
    try:
        return _main(parser, options, command)
    except BrokenPipeError:
        return _broken_pipe()
    except KeyboardInterrupt:
        return _failed(options, command, "stopped by SIGINT", EXIT_SIGNALLED + signal.SIGINT)


def _main(parser: argparse.ArgumentParser | None, options: Namespace, command: list[str]) -> int:
    from ._errors import CommandNotExecutable, CommandNotFound

    with StopSignals() as stops:
        try:
            result = _run(options, command, stops.token)
        except (TypeError, ValueError, LookupError) as exc:
            _usage_error(parser, str(exc))
        except (CommandNotFound, CommandNotExecutable, OSError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            return _failed(options, command, str(exc), _start_status(exc))
    if stops.received is not None:
        message = f"stopped by {signal.Signals(stops.received).name}"
        _error(message)
        if options.json:
            _print_json(command, result, message)
        return EXIT_SIGNALLED + stops.received
    if options.json:
        _print_json(command, result)
    elif result.timed_out and not options.quiet:
        _report_timeout(result)
    return exit_status(result)


def _start_status(error: OSError) -> int:
    """127 for a program not found, 126 for one that cannot be executed, else 125."""
    from ._errors import CommandNotExecutable, CommandNotFound, ConnectionFailed

    if isinstance(error, ConnectionFailed):
        return EXIT_SSH
    if isinstance(error, CommandNotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, CommandNotExecutable):
        return EXIT_NOT_EXECUTABLE
    return EXIT_CANNOT_RUN


def _failed(options: Namespace, command: list[str], message: str, status: int) -> int:
    """Report a run that did not end by itself (on stderr, and as JSON with ``--json``)."""
    _error(message)
    if options.json:
        _print_json(command, error=message)
    return status


def _broken_pipe() -> int:
    """cmdrun's stdout was closed (``cmdrun -- yes | head``): the run stopped the program's
    group; exit as a shell reports a program killed by SIGPIPE, without a traceback."""
    # Python flushes stdout again at exit, which would fail again and say so on stderr.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_SIGNALLED + signal.SIGPIPE
