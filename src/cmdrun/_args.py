"""Checking and normalising what callers pass, before anything runs (pure functions)."""

from __future__ import annotations

import errno
import math
import os
import shlex
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import TypeAlias

#: What a command may be: one string (split with shlex, never given to a shell unless
#: ``shell=True``) or a sequence of arguments.
Arg: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]
Command: TypeAlias = str | Sequence[Arg]
Input: TypeAlias = str | bytes | bytearray | memoryview

SHELL = "/bin/sh"


def _arg_to_str(arg: object, index: int) -> str:
    if isinstance(arg, str):
        text = arg
    elif isinstance(arg, (bytes, os.PathLike)):
        text = os.fsdecode(arg)
    else:
        raise TypeError(
            f"command argument {index} ({arg!r}) is {type(arg).__name__}, "
            "expected str, bytes or os.PathLike"
        )
    if "\0" in text:
        raise ValueError(f"command argument {index} ({text!r}) contains a NUL byte")
    return text


def normalize_command(cmd: object, shell: bool) -> tuple[str, ...]:
    """Return the argv to execute.

    Raises:
        TypeError: ``cmd`` is not a string or a sequence of str/bytes/PathLike.
        ValueError: empty command, NUL byte, or unbalanced quotes in a string command.
    """
    if shell:
        if not isinstance(cmd, str):
            raise TypeError(
                f"shell=True takes the command as one str, not {type(cmd).__name__}: a list "
                "runs without a shell (leave shell out), or join it with shlex.join()"
            )
        if not cmd.strip():
            raise ValueError("empty command")
        _arg_to_str(cmd, 0)
        return (SHELL, "-c", cmd)
    if isinstance(cmd, str):
        try:
            parts: Sequence[object] = shlex.split(cmd)
        except ValueError as exc:
            raise ValueError(f"cannot split command {cmd!r}: {exc}") from None
    elif isinstance(cmd, Sequence) and not isinstance(cmd, (bytes, bytearray)):
        parts = cmd
    else:
        raise TypeError(
            f"command must be a str or a sequence of arguments, not {type(cmd).__name__}"
        )
    if not parts:
        raise ValueError("empty command")
    argv = tuple(_arg_to_str(arg, i) for i, arg in enumerate(parts))
    if not argv[0]:
        raise ValueError("empty program name (command argument 0 is '')")
    return argv


def _env_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"environment {what} must be str, not {type(value).__name__}: {value!r}")
    if "\0" in value:
        raise ValueError(f"environment {what} {value!r} contains a NUL byte")
    return value


def normalize_env(env: Mapping[str, str] | None, inherit_env: bool) -> dict[str, str] | None:
    """Return the child's whole environment, or None to inherit the parent's unchanged.

    Raises:
        TypeError: a key or value is not a str.
        ValueError: a NUL byte, or a key that is empty or contains ``=``.
    """
    if env is None:
        return None if inherit_env else {}
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping, not {type(env).__name__}")
    extra: dict[str, str] = {}
    for raw_key, value in env.items():
        key = _env_text(raw_key, "name")
        if not key or "=" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
        extra[key] = _env_text(value, f"value of {key}")
    return {**os.environ, **extra} if inherit_env else extra


def _number(value: object, name: str) -> float:
    # Any real number (int, float, Fraction, Decimal, numpy scalars), but not bool or str.
    if type(value) is float and not math.isnan(value):  # the common case: at once
        return value
    if isinstance(value, (bool, str, bytes)) or not hasattr(type(value), "__float__"):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if isinstance(value, complex):
        raise TypeError(f"{name} must be a real number of seconds, not complex")
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        raise ValueError(f"{name} must be a number of seconds, not NaN")
    return number


def normalize_timeout(timeout: object, name: str = "timeout") -> float | None:
    """Return the timeout in seconds, or None for no timeout (``None`` or ``inf``).

    ``name`` is the parameter's name, for the messages (``idle_timeout``).

    Raises:
        TypeError: not a real number.
        ValueError: zero, negative or NaN.
    """
    if timeout is None:
        return None
    seconds = _number(timeout, name)
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, got {timeout!r}")
    return None if math.isinf(seconds) else seconds


def normalize_grace(grace: object, name: str = "kill_grace") -> float:
    """Return a non-negative, finite number of seconds.

    Raises:
        TypeError: not a real number.
        ValueError: negative, NaN or infinite.
    """
    seconds = _number(grace, name)
    if seconds < 0 or math.isinf(seconds):
        raise ValueError(f"{name} must be a finite number >= 0, got {grace!r}")
    return seconds


def normalize_cwd(cwd: str | os.PathLike[str] | None) -> str | None:
    """Return ``cwd`` as a str after checking it is an existing directory.

    Raises:
        FileNotFoundError: ``cwd`` does not exist (``filename`` is the cwd).
        NotADirectoryError: ``cwd`` is not a directory.
    """
    if cwd is None:
        return None
    path = os.fsdecode(cwd)
    # OSError's str() appends the filename: the message names the path once, like the stdlib.
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "working directory does not exist", path)
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "working directory is not a directory", path)
    return path


def encode_input(data: object, encoding: str) -> bytes | None:
    """Return ``input`` as bytes (str is encoded with ``encoding``), or None for no input.

    Raises:
        TypeError: not str or bytes-like.
    """
    if data is None:
        return None
    if isinstance(data, str):
        return data.encode(encoding)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"input must be str or bytes, not {type(data).__name__}")


def check_flag(value: object, name: str) -> bool:
    """Return ``value`` if it is True or False.

    Only real bools: ``"no"`` is true and ``1.5`` is not a choice, so taking their truth
    would silently do what the caller did not ask for.

    Raises:
        TypeError: anything else.
    """
    if value is True or value is False:
        return value
    raise TypeError(f"{name} must be True or False, not {value!r}")


def check_int(value: object, name: str, minimum: int, unit: str = "") -> int:
    """``value`` as an int of at least ``minimum`` (a bool is not an int here).

    Raises:
        TypeError: not an int.
        ValueError: below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int{unit}, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value
