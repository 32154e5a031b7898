"""Finding a program as ``exec`` would, and saying why one cannot run.

Used only around a start: before it, where a side effect cannot be undone (truncating a
``stdout=`` file; a PTY start whose ``exec`` happens out of cmdrun's sight), and after a
failed one, to turn the ``OSError`` into the cmdrun error that says why (not found, not
executable and why, out of fds, argument list too long and by how much).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping, Sequence

from ._errors import CmdrunError, CommandNotExecutable, CommandNotFound, StartFailed


def _interpreter(path: str) -> str | None:
    """The program named on a script's ``#!`` line, if it has one."""
    try:
        with open(path, "rb") as f:
            head = f.readline(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].strip().split()
    return os.fsdecode(words[0]) if words else ""


def locate(program: str, env_path: str | None, cwd: str | None = None) -> str | None:
    """Where exec would find ``program``: like ``execvp``, the first executable file on
    ``env_path``, else the first thing of that name (so the error can say what it is).

    Relative names are resolved from ``cwd`` (the child's working directory), if given.
    """
    base = cwd or ""
    if "/" in program:
        where = os.path.join(base, program)
        return where if os.path.exists(where) else None
    first = None
    for directory in (env_path or os.defpath).split(os.pathsep):
        candidate = os.path.join(base, directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        if first is None and os.path.exists(candidate):
            first = candidate
    return first


def explain_exec_error(exc: OSError, program: str, env_path: str | None) -> CmdrunError:
    """Turn the OSError that ``exec`` raised into the cmdrun error that says why.

    Called only after a failed start, so the extra ``stat`` calls cost nothing on success.
    """
    found = locate(program, env_path)
    if found is None:
        return CommandNotFound(program, env_path)
    if os.path.isdir(found):
        return CommandNotExecutable(program, "is a directory", exc.errno or errno.EACCES, found)
    if exc.errno == errno.ENOENT:
        interp = _interpreter(found)
        detail = f"{found} starts with #!{interp}" if interp else found
        return CommandNotExecutable(program, "interpreter not found", errno.ENOENT, detail)
    if exc.errno == errno.ENOEXEC:
        return CommandNotExecutable(program, "exec format error", errno.ENOEXEC, found)
    if exc.errno == errno.EACCES:
        return CommandNotExecutable(program, "permission denied", errno.EACCES, found)
    return CommandNotExecutable(program, exc.strerror or str(exc), exc.errno or 0, found)


def _binfmt_misc_in_use() -> bool:
    """Whether the kernel has ``binfmt_misc`` handlers that may run files of other formats."""
    base = "/proc/sys/fs/binfmt_misc"
    try:
        return bool(set(os.listdir(base)) - {"register", "status"})
    except OSError:
        return False


def _elf_header_valid(head: bytes) -> bool:
    """Whether ``head`` starts an ELF file the kernel would try to load (class, byte order,
    version and type), not just the magic number."""
    if len(head) < 18 or head[4] not in (1, 2) or head[5] not in (1, 2) or head[6] != 1:
        return False
    e_type = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
    return e_type in (2, 3)  # ET_EXEC, ET_DYN


def exec_refusal(path: str, cwd: str | None) -> OSError | None:
    """The error ``execve`` would give for the executable file ``path``, judged from its
    first bytes; None when it looks runnable.

    For starts whose ``exec`` happens out of cmdrun's sight (a PTY child started through
    ``setsid``, whose ``execvp`` would even run a file of unknown format with ``/bin/sh``):
    a script whose ``#!`` interpreter is missing or not executable, an ELF magic number on a
    file that is not ELF, a file in neither format (unless ``binfmt_misc`` handlers exist,
    which may know it). Races with the file changing afterwards are not covered.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        interp = _interpreter(path)
        if not interp:
            return OSError(errno.ENOEXEC, "no interpreter on the #! line")
        interp = os.path.join(cwd or "", interp)
        if not os.path.exists(interp):
            return OSError(errno.ENOENT, "interpreter not found")
        if os.path.isdir(interp) or not os.access(interp, os.X_OK):
            return OSError(errno.EACCES, "interpreter not executable")
        return None
    if head.startswith(b"\x7fELF"):
        return None if _elf_header_valid(head) else OSError(errno.ENOEXEC, "not ELF")
    if _binfmt_misc_in_use():
        return None
    return OSError(errno.ENOEXEC, "unknown format")


def check_program(program: str, env_path: str | None, cwd: str | None) -> None:
    """Raise the error ``exec`` would give if ``program`` is missing or not executable.

    A few ``stat`` calls, made only before a start with a side effect that cannot be undone
    (truncating a ``stdout=`` file), so that a command that cannot run changes nothing. What
    this cannot cover: a program that disappears or loses its permissions between this check
    and ``exec``, a script whose ``#!`` interpreter is missing, or a file in a format the
    kernel refuses; those still fail at ``exec``, after the file was truncated.

    Raises:
        CommandNotFound: no such program.
        CommandNotExecutable: it is a directory, or not executable by this user.
    """
    found = locate(program, env_path, cwd)
    if found is None:
        raise CommandNotFound(program, env_path)
    if os.path.isdir(found):
        raise CommandNotExecutable(program, "is a directory", errno.EACCES, found)
    if not os.access(found, os.X_OK):
        raise CommandNotExecutable(program, "permission denied", errno.EACCES, found)


def start_error(
    exc: OSError, args: Sequence[str], env: Mapping[str, str] | None, *, in_exec: bool = True
) -> OSError | CmdrunError:
    """The error to raise for ``exc``, raised while starting ``args`` (pipes or a PTY).

    A limit of the OS becomes :class:`StartFailed` saying which limit and by how much:
    out of file descriptors (EMFILE, ENFILE) or an argument list too long (E2BIG). Any
    other error raised by exec is explained by :func:`explain_exec_error`; with
    ``in_exec=False`` (opening pipes or files before the start) it is returned unchanged.
    Call it only after the failed start has closed what it opened, so this has fds to work
    with. ``env`` is the child's environment (None: this process's).
    """
    program = args[0]
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return StartFailed(program, "out of file descriptors", exc.errno, _fd_limit(exc.errno))
    if exc.errno == errno.E2BIG:
        return StartFailed(program, "argument list too long", errno.E2BIG, _too_long(args, env))
    if not in_exec:
        return exc
    return explain_exec_error(exc, program, path_of(env))


def _fd_limit(err: int) -> str:
    """What ran out, for EMFILE (this process's limit) or ENFILE (the system's)."""
    if err == errno.ENFILE:
        return "the system-wide limit on open files was reached (sysctl fs.file-max)"
    try:  # not imported up front: only this rare path needs it
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError):  # an import needs an fd too, and there may be none
        return f"all {os.sysconf('SC_OPEN_MAX'):,} allowed by RLIMIT_NOFILE are in use"
    ceiling = "unlimited" if hard == resource.RLIM_INFINITY else f"{hard:,}"
    return f"all {soft:,} allowed by RLIMIT_NOFILE are in use; the hard limit is {ceiling}"


def _too_long(args: Sequence[str], env: Mapping[str, str] | None) -> str:
    """Which string of ``args`` and ``env`` is over Linux's limit, or how far the total is."""
    strlen_max = 32 * os.sysconf("SC_PAGE_SIZE")  # MAX_ARG_STRLEN, the final NUL included
    environ = (
        os.environb if env is None else {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    )
    sized = [(f"argv[{i}] is", len(os.fsencode(arg)) + 1) for i, arg in enumerate(args)]
    sized += [
        (f"environment variable {os.fsdecode(name)} is, as NAME=value,", len(name) + len(v) + 2)
        for name, v in environ.items()
    ]
    what, longest = max(sized, key=lambda item: item[1])
    if longest > strlen_max:
        return (
            f"{what} {longest - 1:,} bytes: {longest - strlen_max:,} too many for one string, "
            f"whose limit is MAX_ARG_STRLEN = {strlen_max:,} bytes with the final NUL"
        )
    # sizeof(char *), as struct.calcsize("P") says, without importing struct for it:
    # CPython's Py_ssize_t (sys.maxsize) is pointer-sized on every platform it runs on.
    pointer = (sys.maxsize.bit_length() + 1) // 8
    total = sum(size for _, size in sized) + pointer * (len(args) + len(environ) + 2)
    limit = os.sysconf("SC_ARG_MAX")
    over = f"{total - limit:,} too many" if total > limit else "the kernel counts a little more"
    return (
        f"arguments and environment take {total:,} bytes, with a NUL and a pointer for each "
        f"string: {over} for the limit SC_ARG_MAX = {limit:,} bytes"
    )


def path_of(env: Mapping[str, str] | None) -> str | None:
    """The PATH that will be searched for the program (the child's, as exec uses it)."""
    return (env if env is not None else os.environ).get("PATH", os.defpath)
