"""``run`` and ``call``: thin doors onto the engine, through the launcher seam."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._args import (
    Command,
    Input,
    encode_input,
    normalize_command,
    normalize_cwd,
    normalize_env,
    normalize_grace,
    normalize_timeout,
)
from ._engine import Spec
from ._launcher import current_launcher
from ._result import Result

if TYPE_CHECKING:
    import logging

_DEBUG = 10  # logging.DEBUG, without importing logging at import time
_logger: logging.Logger | None = None


def _get_logger() -> logging.Logger:
    """The ``"cmdrun"`` logger; ``logging`` is imported on first use, not by ``import cmdrun``."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("cmdrun")
    return _logger


def _outcome(result: Result) -> str:
    if result.timed_out:
        how = "timed out, stopped"
        how += f" ({result.signal.name})" if result.signal else f" (exit {result.returncode})"
    elif result.signal is not None:
        how = f"killed by {result.signal.name}"
    else:
        how = f"exit {result.returncode}"
    return f"{how} in {result.duration:.3f} s"


def _execute(spec: Spec) -> Result:
    logger = _get_logger()
    debug = logger.isEnabledFor(_DEBUG)
    if debug:
        logger.debug("run: %s", shlex.join(spec.args))
    result = current_launcher().execute(spec)
    if debug:
        logger.debug("done: %s (pid %d): %s", shlex.join(spec.args), result.pid, _outcome(result))
    return result


def _spec(
    cmd: Command,
    *,
    input: Input | None,
    timeout: float | None,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    inherit_env: bool,
    shell: bool,
    encoding: str,
    errors: str,
    merge_stderr: bool,
    kill_grace: float,
    drain_timeout: float,
    capture: bool,
) -> Spec:
    """Check every argument and build the engine's request (raises before anything runs)."""
    "".encode(encoding, errors)  # an unknown codec raises LookupError now, not after the run
    return Spec(
        args=normalize_command(cmd, shell),
        input=encode_input(input, encoding),
        timeout=normalize_timeout(timeout),
        cwd=normalize_cwd(cwd),
        env=normalize_env(env, inherit_env),
        capture=capture,
        merge_stderr=merge_stderr,
        kill_grace=normalize_grace(kill_grace),
        drain_timeout=normalize_grace(drain_timeout, "drain_timeout"),
        encoding=encoding,
        errors=errors,
    )


def run(
    cmd: Command,
    *,
    input: Input | None = None,
    timeout: float | None = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    shell: bool = False,
    encoding: str = "utf-8",
    errors: str = "replace",
    merge_stderr: bool = False,
    kill_grace: float = 2.0,
    drain_timeout: float = 1.0,
) -> Result:
    """Run a command to completion and capture its output.

    The child runs in its own process group with stdin from ``/dev/null`` (unless ``input``
    is given), so it can neither hang waiting for a terminal nor outlive a timeout.

    Args:
        cmd: a sequence of arguments, or a string split with :func:`shlex.split` (never given
            to a shell unless ``shell=True``, which runs it with ``/bin/sh -c``).
        input: text or bytes fed to stdin, without deadlock however large.
        timeout: seconds before the process group is stopped (None or ``inf``: no limit).
        check: raise for a non-zero exit, a death by signal or a timeout.
        cwd: the child's working directory.
        env: variables added to (or, with ``inherit_env=False``, replacing) the parent's.
        inherit_env: start from the parent's environment.
        shell: run ``cmd`` (a string) with ``/bin/sh -c``.
        encoding: codec for ``input`` given as text and for ``Result.stdout``/``stderr``.
        errors: codec error handler; the default ``"replace"`` never raises.
        merge_stderr: send stderr into the stdout pipe (like ``2>&1``), keeping write order.
        kill_grace: seconds between SIGTERM and SIGKILL when stopping the group.
        drain_timeout: once the child has exited, how long to wait for descendants that
            still hold its stdout/stderr open before returning without their output.

    Returns:
        The :class:`Result`; with ``check=False`` whatever the child did.

    Raises:
        CommandFailed: ``check`` and the child exited non-zero or was killed by a signal.
        CommandTimedOut: ``check`` and the timeout expired; ``.result`` has the output so far.
        CommandNotFound: the program does not exist.
        CommandNotExecutable: it exists but cannot be executed (the message says why).
        TypeError, ValueError: a bad argument, raised before anything runs.
        FileNotFoundError, NotADirectoryError: ``cwd`` is missing or not a directory.
    """
    spec = _spec(
        cmd,
        input=input,
        timeout=timeout,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        shell=shell,
        encoding=encoding,
        errors=errors,
        merge_stderr=merge_stderr,
        kill_grace=kill_grace,
        drain_timeout=drain_timeout,
        capture=True,
    )
    result = _execute(spec)
    if check:
        result.check_returncode()
    return result


def call(
    cmd: Command,
    *,
    timeout: float | None = None,
    input: Input | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    shell: bool = False,
    kill_grace: float = 2.0,
) -> int:
    """Run a command with the parent's stdin, stdout and stderr; return its exit code.

    Like :func:`subprocess.call`, but a timeout stops the whole process group.

    Args:
        cmd, timeout, input, cwd, env, inherit_env, shell, kill_grace: as for :func:`run`.

    Returns:
        The exit status; ``-N`` when killed by signal ``N``. A non-zero exit never raises.

    Raises:
        CommandTimedOut: the timeout expired and the group was stopped.
        CommandNotFound, CommandNotExecutable, TypeError, ValueError: as for :func:`run`.
    """
    spec = _spec(
        cmd,
        input=input,
        timeout=timeout,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        shell=shell,
        encoding="utf-8",
        errors="replace",
        merge_stderr=False,
        kill_grace=kill_grace,
        drain_timeout=0.0,
        capture=False,
    )
    result = _execute(spec)
    if result.timed_out:
        result.check_returncode()
    return result.returncode
