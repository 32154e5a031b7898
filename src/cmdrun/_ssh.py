"""How a command runs on another machine through the system's OpenSSH client.

Pure functions, no process is started here: :mod:`cmdrun._remote` runs what they build
with the local engine. Three pieces:

- :func:`remote_script`: the POSIX ``sh`` program the remote side runs for each command. sshd
  starts it as the leader of a new session, so the command and everything it starts share
  its process group, which the script records in a *token file* (for the local side's
  stopper) and stops (TERM, grace, KILL) when the caller goes away: the end of its stdin
  (the local side's *lifeline* pipe, which closes when the ssh client or the Python
  process dies) or, when stdin carries the caller's input, the end of the sshd process
  that serves the connection.
- :func:`stopper_script`: what the local side runs through the master connection after a
  timeout or Ctrl-C: it stops the group the token file names and returns once it is gone,
  so a timed-out ``Remote.run`` returns with no remote process left.
- :func:`classify`: which SSH failure an ``ssh`` exit status of 255 and its stderr mean.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence

from ._frozen import Frozen, build
from ._pipeline import Pipeline

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Protocol

    from ._pump import Wait
    from ._spec import Spec

    class Link(Protocol):
        """The connection a :class:`RemoteCommand` runs over (a :class:`cmdrun.Remote`)."""

        @property
        def host(self) -> str: ...

        def ssh_argv(self, tty: bool) -> tuple[str, ...]:
            """``ssh`` and its options up to the destination, for one command."""

        def lifeline(self) -> int:
            """The read end of the lifeline pipe (open while the link is)."""

        def cleanup(self, remote: RemoteCommand, kill_grace: float) -> Generator[Wait, None, None]:
            """Stop what is left of ``remote`` on the host (a generator of waits)."""

        def watch(self, remote: RemoteCommand, spec: Spec) -> Watch | None:
            """Start ``remote``'s watch session if it needs one (see :func:`watch_script`)."""

    class Watch(Protocol):
        def end(self) -> None:
            """End the watch session (the command is over, or stopped)."""


#: Marks the lines the remote script writes for cmdrun itself (then stripped from stderr).
NOT_FOUND = "cmdrun-remote: command not found: "
NOT_EXECUTABLE = "cmdrun-remote: permission denied: "
NO_CWD = "cmdrun-remote: cannot change directory to "

#: The remote shell's exit status for a command it could not find (and could not execute).
STATUS_NOT_FOUND = 127
STATUS_NOT_EXECUTABLE = 126

#: How often the remote watcher looks at the connection's sshd process when stdin carries
#: the caller's input (seconds; the remote ``sleep`` takes fractions on Linux, BSD, busybox).
PARENT_POLL = 0.5

#: Steps of the remote stop sequence's wait for the group to empty (seconds each).
STOP_STEP = 0.05

#: Compiled on first use (by ``re``'s cache): only remote commands with ``env=`` need it.
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*\Z"


def command_text(args: Sequence[str] | str) -> str:
    """The command as the remote ``sh`` reads it: each argument quoted, so that it arrives
    byte for byte (no word splitting, no globbing, no injection), or a ``shell=True`` line
    as it is."""
    if isinstance(args, str):
        return args
    return " ".join(shlex.quote(arg) for arg in args)


def check_env_name(name: str) -> str:
    """A variable name the remote shell can ``export`` (checked before anything runs).

    Raises:
        ValueError: not a shell identifier.
    """
    if not re.match(_ENV_NAME, name):
        raise ValueError(
            f"env name {name!r} cannot be set on a remote host: names there are set by the "
            "remote shell, which takes letters, digits and _ (not starting with a digit)"
        )
    return name


def _wait_while(condition: str, seconds: float) -> str:
    """sh that waits while ``condition`` holds, at most ``seconds``."""
    steps = max(1, round(seconds / STOP_STEP))
    return (
        f'n=0; while {condition} && [ "$n" -lt {steps} ]; do sleep {STOP_STEP}; n=$((n + 1)); done'
    )


#: sh: process group ``$pg`` still has a member (zombies included, briefly).
_GROUP_LIVES = 'kill -0 -"$pg" 2>/dev/null'

#: sh: the command's script has not written its token file ``$f`` yet.
_NOT_STARTED = '! [ -f "$f" ]'

#: sh: the script still runs its command (it removes the token file ``$f`` when done).
_COMMAND_RUNS = '[ -f "$f" ]'


def _stop_from_inside(grace: float) -> str:
    """sh for the watcher, itself a member of group ``$pg``: TERM, wait up to ``grace``
    for the command to end (the script, which outlives TERM, then removes ``$f``), KILL
    what is left (the watcher too). ("-SIG -PG" without "--": dash's kill takes none.)"""
    return (
        f'kill -TERM -"$pg" 2>/dev/null; {_wait_while(_COMMAND_RUNS, grace)}; '
        'rm -f -- "$f"; kill -KILL -"$pg" 2>/dev/null'
    )


def token_path(token: str) -> str:
    """sh for the token file of run ``token`` on the remote host."""
    return f'"${{TMPDIR:-/tmp}}/cmdrun-{token}"'


def remote_script(
    args: Sequence[str] | str,
    *,
    token: str,
    lifeline: bool,
    tty: bool,
    kill_grace: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
) -> str:
    """The sh program that runs ``args`` on the remote host (see the module's docstring).

    ``lifeline``: stdin is cmdrun's lifeline pipe (the command gets /dev/null); otherwise
    stdin is the command's. ``tty``: the command runs on the remote PTY (``ssh -tt``), in
    the foreground, where a hang-up of the terminal also signals it.
    """
    program = args if isinstance(args, str) else args[0]
    # TERM for the group is for the command: this script outlives it, to clean up and
    # report the command's status (a trap, unlike an ignored signal, is reset in children).
    lines = [
        f"f={token_path(token)}",
        "pg=$$",
        'echo "$pg" > "$f" 2>/dev/null',
        # Stopped before it started (see stopper_script): do not start.
        'if [ -f "$f.stop" ]; then rm -f -- "$f" "$f.stop"; exit 143; fi',
        "trap : TERM",
    ]
    if tty:
        # Ctrl-C typed on the remote terminal signals the whole foreground group, this
        # script too: it stays to report the command's status (a trap, unlike an ignored
        # signal, is reset in the command).
        lines.append("trap : INT QUIT")
    stop = _stop_from_inside(kill_grace)
    if lifeline:
        # The watcher reads the lifeline; its end means the caller is gone. (The shell's
        # own read, not cat: no process to start; nothing is ever written to it.)
        lines.append(
            "exec 3<&0 </dev/null; "
            f"(trap '' TERM INT HUP; while read -r l; do :; done <&3; {stop}) "
            ">/dev/null 2>&1 & w=$!; exec 3<&-"
        )
    elif not tty:
        # stdin is the command's: watch the sshd process serving the connection instead.
        lines.append(
            "pp=$PPID; "
            f"(trap '' TERM INT HUP; while kill -0 \"$pp\" 2>/dev/null; do sleep {PARENT_POLL}; "
            f"done; {stop}) </dev/null >/dev/null 2>&1 & w=$!"
        )
    else:
        lines.append("w=")
    if cwd is not None:
        quoted = shlex.quote(cwd)
        lines.append(
            f"cd -- {quoted} 2>/dev/null || {{ echo {shlex.quote(NO_CWD + cwd)} >&2; "
            f'kill -KILL $w 2>/dev/null; rm -f -- "$f"; exit {STATUS_NOT_FOUND}; }}'
        )
    assignments = []
    for name, value in (env or {}).items():
        assignments.append(f"{check_env_name(name)}={shlex.quote(value)}")
    if not isinstance(args, str):
        # Found and executable? The remote shell's own message differs from shell to shell:
        # cmdrun says it in words it can recognise (and then raises CommandNotFound).
        quoted = shlex.quote(program)
        check = f"command -v -- {quoted} >/dev/null 2>&1"
        if "/" in program:
            check = f"[ -e {quoted} ]"
            lines.append(
                f"if [ -e {quoted} ] && ! [ -x {quoted} ] || [ -d {quoted} ]; then "
                f"echo {shlex.quote(NOT_EXECUTABLE + program)} >&2; "
                f'kill -KILL $w 2>/dev/null; rm -f -- "$f"; exit {STATUS_NOT_EXECUTABLE}; fi'
            )
        lines.append(
            f"{check} || {{ echo {shlex.quote(NOT_FOUND + program)} >&2; "
            f'kill -KILL $w 2>/dev/null; rm -f -- "$f"; exit {STATUS_NOT_FOUND}; }}'
        )
    # A shell line runs in a shell of its own: an ``exit`` in it ends that shell, not this
    # script, which still cleans up after it.
    command = f"/bin/sh -c {shlex.quote(args)}" if isinstance(args, str) else command_text(args)
    if not inherit_env:
        command = " ".join(["env -i", *assignments, command])
    elif assignments:
        lines.append("export " + " ".join(assignments))
    # The script's own stderr goes quiet (a shell reports a child killed by a signal, as
    # "Terminated", on it); the command keeps the real one, on fd 5.
    lines.append("exec 5>&2 2>/dev/null")
    # ("-SIG -PG" without "--": dash's kill takes no "--".) The command runs in a subshell
    # that becomes it (exec), so that this shell, not the command's redirections, reports.
    lines.append(f"(exec {command}{' </dev/null' if lifeline else ''} 2>&5 5>&-)")
    lines.append('s=$?; [ -n "$w" ] && kill -KILL $w 2>/dev/null; rm -f -- "$f"; exit "$s"')
    return "\n".join(lines)


def remote_command(script: str) -> str:
    """What ssh is given to run: the script under ``/bin/sh`` whatever the login shell is
    (sshd hands the command to the user's login shell, which may be bash, zsh or dash)."""
    return f"exec /bin/sh -c {shlex.quote(script)}"


#: Seconds a watch session waits for its command's token file to appear.
WATCH_START = 15


def watch_script(tokens: Sequence[str], kill_grace: float) -> str:
    """sh for the *watch session* of a command whose stdin carries the caller's input (so
    it cannot be the lifeline): a second session over the same connection whose stdin is
    the lifeline. When that ends (the caller died, or ended the watch because the command
    is over) it stops what is left of the command's groups (a pipeline's stages), if any.
    (No ``&`` here: a background job's stdin would be /dev/null.)"""
    return "; ".join(
        [
            f"f={token_path(tokens[0])}",
            _wait_while(_NOT_STARTED, WATCH_START),
            "cat >/dev/null 2>&1",
            *(f"f={token_path(token)}; {_stop_from_outside(kill_grace, 2)}" for token in tokens),
            "exit 0",
        ]
    )


def _stop_from_outside(kill_grace: float, wait: float, then: str = ":") -> str:
    """sh that stops the group the token file ``$f`` names, from outside it: TERM, up to
    ``kill_grace`` for the command to end (its script outlives TERM and then removes
    ``$f``), KILL what is left (helpers, stragglers), up to ``wait`` for all to be gone;
    then ``then``. Nothing if there is no token file."""
    return (
        'if [ -f "$f" ] && read pg < "$f"; then '
        f'kill -TERM -"$pg" 2>/dev/null; {_wait_while(_COMMAND_RUNS, kill_grace)}; '
        f'kill -KILL -"$pg" 2>/dev/null; {_wait_while(_GROUP_LIVES, wait)}; '
        f'rm -f -- "$f"; {then}; fi'
    )


#: sh: remove the stop mark (see :func:`stopper_script`) once the stop is done.
_DROP_MARK = 'rm -f -- "$f.stop"'


def stopper_script(token: str, kill_grace: float, wait: float) -> str:
    """sh that stops the group run ``token`` recorded (see :func:`_stop_from_outside`) and
    waits (at most ``wait`` seconds more) for it to be gone.

    The command may not have started yet (a slow login shell, a loaded host: sshd starts
    the script after the local side gave up): the stopper first leaves a *stop mark*
    (``$f.stop``), which the script looks for right after writing its token file, and
    then exits without running the command. Both write, then look for the other's file,
    so one of them always sees the other. The mark stays behind only when the run had
    already ended as the stopper came (an empty file in the temp directory)."""
    return f'f={token_path(token)}; : > "$f.stop" 2>/dev/null; ' + _stop_from_outside(
        kill_grace, wait, _DROP_MARK
    )


#: (what ssh's stderr says, the kind of failure), first match wins.
_FAILURES = (
    ("Host key verification failed", "host key"),
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host key"),
    ("host key for", "host key"),
    ("Permission denied", "authentication"),
    ("Too many authentication failures", "authentication"),
    ("Connection refused", "connection refused"),
    ("Could not resolve hostname", "unknown host"),
    ("Name or service not known", "unknown host"),
    ("timed out", "timeout"),
    ("No route to host", "unreachable"),
    ("Network is unreachable", "unreachable"),
    ("closed by remote host", "connection lost"),
    ("Connection reset", "connection lost"),
    ("Broken pipe", "connection lost"),
    ("kex_exchange_identification", "connection lost"),
)


def classify(stderr: str) -> str:
    """The kind of SSH failure ``stderr`` (ssh's own messages) describes."""
    for needle, kind in _FAILURES:
        if needle in stderr:
            return kind
    return "ssh failed"


#: The highest signal number an exit status of 128 + N is read as (Linux: SIGRTMAX).
_MAX_SIGNAL = 64


def returncode_of(status: int) -> int:
    """The local ``ssh``'s exit status as the remote command's ``returncode``.

    The remote shell reports a command killed by signal N as 128 + N (ssh cannot pass the
    signal itself on): that reads as ``-N``, as a local run reports it. A negative status
    (the local ssh was stopped by cmdrun) and 255 (see :func:`classify`) stay as they are.
    """
    if 128 < status <= 128 + _MAX_SIGNAL:
        return 128 - status
    return status


class RemoteCommand(Frozen):
    """A command for another host: what :class:`cmdrun.Remote` hands the doors (``run``,
    ``spawn``, ...) in place of an argv. The engine runs :meth:`launch`'s ``ssh`` argv and
    names the Result, errors and logs after :attr:`shown` on :attr:`host`."""

    __slots__ = ("command", "cwd", "env", "inherit_env", "interactive", "link", "tokens")

    link: Link
    #: An argv, a shell line (``shell=True``), or a Pipeline (each stage an argv).
    command: tuple[str, ...] | str | Pipeline
    cwd: str | None
    env: dict[str, str] | None
    inherit_env: bool
    #: A session's: its stdin carries the dialogue, so it is never the lifeline.
    interactive: bool
    #: One per remote process group (a pipeline's stages each have one).
    tokens: tuple[str, ...]

    def __init__(
        self,
        link: Link,
        command: tuple[str, ...] | str | Pipeline,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        inherit_env: bool = True,
        interactive: bool = False,
    ) -> None:
        count = len(command.commands) if isinstance(command, Pipeline) else 1
        for name in env or {}:
            check_env_name(name)
        build(
            self,
            link=link,
            command=command,
            cwd=cwd,
            env=env,
            inherit_env=inherit_env,
            interactive=interactive,
            tokens=tuple(os.urandom(8).hex() for _ in range(count)),
        )

    @property
    def host(self) -> str:
        return self.link.host

    @property
    def shown(self) -> tuple[str, ...] | Pipeline:
        """What Results and messages call the command: the argv (a shell line as
        ``/bin/sh -c LINE``, as locally) or the Pipeline."""
        if isinstance(self.command, str):
            return ("/bin/sh", "-c", self.command)
        return self.command

    def program(self) -> str:
        """The program the command starts (a pipeline's first stage's)."""
        if isinstance(self.command, Pipeline):
            return self.command.commands[0][0]
        return "/bin/sh" if isinstance(self.command, str) else self.command[0]

    def launch(
        self, tty: bool, lifeline: bool, kill_grace: float
    ) -> tuple[tuple[str, ...], Pipeline | None]:
        """The local ``ssh`` argv to run (a pipeline's first stage's) and, for a pipeline,
        the local Pipeline of one ``ssh`` per stage (connected by local pipes)."""
        stages = self.command.commands if isinstance(self.command, Pipeline) else [self.command]
        argvs = []
        for index, (stage, token) in enumerate(zip(stages, self.tokens, strict=True)):
            script = remote_script(
                stage,
                token=token,
                lifeline=lifeline and index == 0,
                tty=tty,
                kill_grace=kill_grace,
                cwd=self.cwd,
                env=self.env,
                inherit_env=self.inherit_env,
            )
            argvs.append((*self.link.ssh_argv(tty), remote_command(script)))
        return argvs[0], Pipeline(argvs) if len(argvs) > 1 else None

    def watcher(self, kill_grace: float) -> str:
        """sh for the watch session of every stage (see :func:`watch_script`)."""
        return watch_script(self.tokens, kill_grace)

    def stopper(self, kill_grace: float, wait: float) -> str:
        """sh that stops whatever is left of this command on the host (every stage)."""
        return "; ".join(f"({stopper_script(token, kill_grace, wait)})" for token in self.tokens)
