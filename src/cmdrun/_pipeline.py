"""Pipelines: the :class:`Pipeline` value built by :func:`pipe`, the pipefail rule, and the
handle of a running pipeline (:class:`StageGroup`), which the kill policy and the pump see
as one child.

The stages run as one process group in the caller's session, the first stage its leader
(see :mod:`cmdrun._start`); stage ``i``'s stdout is an OS pipe into stage ``i + 1``'s stdin,
so the data never passes through Python.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Iterator, Sequence

from ._args import Command, normalize_command
from ._frozen import Frozen, build
from ._output import Capture, Tail

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    import subprocess
    from typing import TypeAlias, TypeGuard

#: What every door that runs a command takes: one command, or a pipeline of them.
Runnable: TypeAlias = "Command | Pipeline"

#: An exit status that means "killed by SIGPIPE" as a shell reports it (128 + 13).
_SHELL_SIGPIPE = 128 + signal.SIGPIPE


class Pipeline(Frozen):
    """Commands whose stdout feeds the next one's stdin, as ``a | b | c`` in a shell.

    Build one with :func:`pipe` (or ``pipe(a, b) | c``); run it with any door that takes a
    command. Immutable, hashable and picklable.

    Args:
        commands: two or more commands, as :func:`pipe` takes them (a sequence of them, not
            a str).

    Attributes:
        commands: each stage's argv.

    Raises:
        ValueError: fewer than two commands, or a bad command (empty, a NUL byte).
        TypeError: ``commands`` is a str or bytes, or holds a command that is not a string
            or a sequence of arguments.
    """

    __slots__ = ("commands",)

    commands: tuple[tuple[str, ...], ...]

    def __init__(self, commands: Sequence[Runnable]) -> None:
        if isinstance(commands, (str, bytes)):
            raise TypeError(
                f"Pipeline() takes a sequence of commands, not {commands!r}: use pipe()"
            )
        stages: list[tuple[str, ...]] = []
        for cmd in commands:
            if isinstance(cmd, Pipeline):
                stages.extend(cmd.commands)
            else:
                stages.append(normalize_command(cmd, False))
        if len(stages) < 2:
            raise ValueError(
                f"a pipeline needs at least 2 commands, got {len(stages)}: run a single "
                "command with run() (or any door) directly"
            )
        build(self, commands=tuple(stages))

    def __len__(self) -> int:
        return len(self.commands)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return iter(self.commands)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.commands == other.commands

    def __hash__(self) -> int:
        return hash(("cmdrun.Pipeline", self.commands))

    def __str__(self) -> str:
        return " | ".join(shlex.join(argv) for argv in self.commands)

    def __repr__(self) -> str:
        return f"pipe({', '.join(repr(list(argv)) for argv in self.commands)})"

    def __or__(self, other: Runnable) -> Pipeline:
        if not _is_command(other):
            return NotImplemented
        return Pipeline((self, other))

    def __ror__(self, other: Runnable) -> Pipeline:
        if not _is_command(other):
            return NotImplemented
        return Pipeline((other, self))

    def __reduce__(self) -> tuple[object, ...]:
        return (Pipeline, (self.commands,))


def _is_command(value: object) -> TypeGuard[Runnable]:
    return isinstance(value, (str, Pipeline, list, tuple))


def pipe(*cmds: Runnable) -> Pipeline:
    """Build a pipeline: each command's stdout is connected to the next one's stdin.

    Run it with any door that takes a command (``run``, ``stream``, ``run_many``,
    ``as_completed``, ``arun``, ``arun_many``). The stages are connected by OS pipes between
    the programs (the data never passes through Python). ``input=`` feeds the first stage;
    ``stdout=``, ``max_output``, ``on_stdout``, ``tee`` and ``respond`` apply to the last
    stage's stdout. Each stage's stderr is kept apart (``Result.stages[i].stderr``) and also
    collected, in the order it arrived, into ``Result.stderr`` (``on_stderr`` sees every
    stage's lines). ``stderr=FILE`` sends every stage's stderr to the file;
    ``merge_stderr=True`` sends every stage's stderr into the final output, like the shell's
    ``{ a | b; } 2>&1``.

    Exit status (pipefail): the rightmost stage that failed decides ``Result.returncode``
    (``-N`` when killed by signal ``N``); 0 when none failed. A stage other than the last
    one that was killed by SIGPIPE (or exited with status 141, a shell's way of saying so)
    did not fail: the stage after it stopped reading (it exited, or closed its input)
    because it had what it wanted, as ``head`` does: ``pipe(["yes"], ["head", "-n1"])`` is
    ok. (Whether the reader exited before or after the SIGPIPE cannot be told: a program's
    pipes close before the kernel reports its exit, so the writer's death is often
    reported first.) The last stage gets no such pass: its reader is cmdrun.
    ``check=True`` raises ``CommandFailed`` naming the failing stage and quoting its stderr.

    The whole pipeline is one process group in this process's session (a shell's job),
    led by the first stage: a timeout, Ctrl-C, ``fail_fast`` or cancellation stops every
    stage by the kill policy. Not a new session, as a single command's group is, because a
    process can join only a group of its own session: so a stage that reads ``/dev/tty``
    while this process owns the terminal's foreground is stopped (SIGTTIN) until the
    timeout stops it. A stage that cannot start raises the usual error, naming the stage,
    and the stages already started are stopped.

    Args:
        cmds: two or more commands, each as ``run`` takes it (a list of arguments, or a
            string split with :func:`shlex.split`); a pipeline among them is spliced in.

    Returns:
        The :class:`Pipeline`.

    Raises:
        ValueError: fewer than two commands, or a bad command (empty, a NUL byte).
        TypeError: a command that is not a string or a sequence of arguments.
    """
    return Pipeline(cmds)


def refuse_pipeline(cmd: object, door: str, instead: str) -> None:
    """Raise if ``door`` (which runs one program) was given a pipeline.

    Raises:
        TypeError: ``cmd`` is a :class:`Pipeline`.
    """
    if isinstance(cmd, Pipeline):
        raise TypeError(f"{door}() runs one program and does not take a pipeline: {instead}")


def is_failure(returncode: int, last: bool) -> bool:
    """Whether a stage that ended with ``returncode`` failed by the pipefail rule (see
    :func:`pipe`); ``last`` says whether it is the last stage."""
    return returncode != 0 and (last or returncode not in (-signal.SIGPIPE, _SHELL_SIGPIPE))


def pipefail(returncodes: Sequence[int]) -> tuple[int, tuple[bool, ...]]:
    """The pipeline's exit status, and whether each stage failed."""
    last = len(returncodes) - 1
    failed = tuple(is_failure(code, i == last) for i, code in enumerate(returncodes))
    for code, bad in zip(reversed(returncodes), reversed(failed), strict=True):
        if bad:
            return code, failed
    return 0, failed


class StageGroup:
    """A running pipeline as one child for the kill policy and the pump (see ``_kill.Child``).

    ``pid`` is the first stage's, which is the process group's id; ``returncode`` stays
    None until every stage started has been reaped, then holds the pipefail status. The
    pump watches each stage's exit and calls :meth:`reaped`.
    ``stderr`` holds each stage's own stderr (None when it went to a file or into stdout),
    ``taps`` the same by the fd the pump reads it from.
    """

    __slots__ = ("members", "pid", "returncode", "stderr", "taps")

    def __init__(self) -> None:
        self.members: list[subprocess.Popen[bytes]] = []
        self.stderr: list[Capture | Tail | None] = []
        self.taps: dict[int, Capture | Tail] = {}
        self.pid = 0
        self.returncode: int | None = None

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        if not self.members:
            self.pid = proc.pid
        self.members.append(proc)

    def tap(self, fd: int, limit: int | None) -> Capture | Tail:
        """A new capture for the stderr read from ``fd`` (its last ``limit`` bytes)."""
        capture = self.taps[fd] = Capture() if limit is None else Tail(limit)
        return capture

    def reaped(self, indices: Sequence[int]) -> None:
        """Reap the stages ``indices``, whose exit was seen."""
        for index in indices:
            self.members[index].wait()
        self._settle()

    def _settle(self) -> None:
        if self.returncode is None and all(p.returncode is not None for p in self.members):
            self.returncode = pipefail([p.wait() for p in self.members])[0]

    def poll(self) -> int | None:
        for proc in self.members:
            proc.poll()
        self._settle()
        return self.returncode

    def wait(self) -> int:
        for proc in self.members:
            proc.wait()
        self._settle()
        assert self.returncode is not None
        return self.returncode
