"""Cassettes: record real cmdrun calls to a JSON file, then answer them from it.

The format is readable and diffs well: one JSON object, ``"version"`` then ``"calls"`` in
the order they were made, two-space indents, keys in a fixed order. A run call keeps its
argv, working directory, input (secrets masked), tty, timeout, exit status, output,
duration, whether it timed out and which timeout stopped it, and the replies ``respond=``
typed; a session keeps its whole transcript as ``out``/``in`` steps. Secret values are never
written: what a :class:`~cmdrun.Secret` typed is stored as ``{"in_secret": true}``, and
output is masked as it is in the Result. Environments are not stored (they differ between
machines and may hold credentials).

Arguments, working directories and typed text are stored portably: machine-specific paths
(the test's ``tmp_path``, the interpreter, the test's directory) are written as
placeholders such as ``{tmp_path}``, and a ``normalize`` function can rewrite more; replay
compares calls in that portable form, so recordings made before placeholders existed still
replay where their paths are the same.
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import pathlib
import re
import shlex
import sys
import threading
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._engine import simulated
from .._launcher import REAL, using_launcher
from .._match import Pattern, Reply, Responder
from .._output import StreamDecoder
from .._pipeline import pipefail
from .._result import Result, Stage
from .._secret import MASK, Secret
from .._session import Session
from .._spec import DeliverLine, Spec
from ._dialogue import Exit, FakePump, In, Out, Step
from ._fake import fake_session, input_text

if TYPE_CHECKING:
    from .._pump import Wait

VERSION = 1


class CassetteMiss(AssertionError):
    """A call that the cassette has no recording of (the message shows the nearest one)."""


class CassetteError(ValueError):
    """A cassette file cmdrun cannot read: not JSON, another version, or an entry with a key
    missing or of the wrong type. The message names the file and the place.

    A ``ValueError`` like the ``json.JSONDecodeError`` it replaces: the file's content is
    wrong, not the code under test (that is what the AssertionErrors
    :class:`CassetteMiss` and :class:`~cmdrun.testing.DialogueMismatch` report).
    """


def _text_fields(name: str, data: bytes) -> dict[str, str]:
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode("ascii")}


def _data(entry: dict[str, Any], name: str) -> bytes:
    if f"{name}_base64" in entry:
        return base64.b64decode(entry[f"{name}_base64"])
    text: str = entry.get(name, "")
    return text.encode("utf-8")


# -- reading and checking a cassette file -------------------------------------------------------

_NUMBER = (int, float)
_STEP_KEYS = {"out": str, "err": str, "in": str, "in_secret": bool}
# Keys each kind of entry must have, and the JSON types of every key an entry may have.
_REQUIRED = {
    "run": ("args", "tty", "returncode", "duration", "timed_out"),
    "spawn": ("args", "tty", "steps"),
    "subprocess": ("args", "returncode", "duration"),
}
_TYPES: dict[str, tuple[type, ...]] = {
    "tty": (bool,),
    "input": (str, type(None)),
    "cwd": (str, type(None)),
    "timeout": (*_NUMBER, type(None)),
    "duration": (*_NUMBER, type(None)),
    "timed_out": (bool,),
    "timeout_kind": (str, type(None)),
    "stdout": (str,),
    "stderr": (str,),
    "stdout_base64": (str,),
    "stderr_base64": (str,),
    "steps": (list,),
    "stages": (list,),
    "replies": (list,),
}


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", type(None): "null"})
    return " or ".join(dict.fromkeys(names[t] for t in types))


def _is_argv(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(arg, str) for arg in value)


def _entry_problems(entry: object) -> list[str]:
    """What is wrong with one recorded call (nothing: an empty list)."""
    if not isinstance(entry, dict):
        return [f"must be a JSON object, not {entry!r}"]
    kind = entry.get("kind")
    if kind not in _REQUIRED:
        return [f"'kind' must be 'run', 'spawn' or 'subprocess', not {kind!r}"]
    problems = [f"missing {key!r}" for key in _REQUIRED[kind] if key not in entry]
    if "args" in entry and not _is_argv(entry["args"]):
        problems.append(f"'args' must be a list of strings, not {entry['args']!r}")
    code = entry.get("returncode")
    if "returncode" in entry and type(code) is not int and (kind != "spawn" or code is not None):
        problems.append(f"'returncode' must be an int, not {code!r}")
    for key, types in _TYPES.items():
        if key in entry and not isinstance(entry[key], types):
            problems.append(f"{key!r} must be {_type_name(types)}, not {entry[key]!r}")
    if "pipeline" in entry and not (
        isinstance(entry["pipeline"], list) and all(_is_argv(a) for a in entry["pipeline"])
    ):
        problems.append(f"'pipeline' must be a list of argv lists, not {entry['pipeline']!r}")
    for n, step in enumerate(entry.get("steps") or (), 1):
        keys = [key for key in _STEP_KEYS if isinstance(step, dict) and key in step]
        if len(keys) != 1 or not isinstance(step[keys[0]], _STEP_KEYS[keys[0]]):
            problems.append(f"step {n} must be one of out/err/in/in_secret, not {step!r}")
    return problems


def _load(path: pathlib.Path) -> list[dict[str, Any]]:
    """The recorded calls of the cassette at ``path``.

    Raises:
        FileNotFoundError: there is no such file (the message says how to record it).
        CassetteError: the file is not a cassette this version of cmdrun reads.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"cassette {str(path)!r} does not exist: record it with "
            "pytest --cmdrun-record (or Cassette(path, record=True))"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CassetteError(
            f"cassette {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise CassetteError(f"cassette {path} must hold a JSON object, not {type(data).__name__}")
    if data.get("version") != VERSION:
        raise CassetteError(
            f"cassette {path} has version {data.get('version')!r}; this cmdrun reads "
            f"version {VERSION}"
        )
    calls = data.get("calls")
    if not isinstance(calls, list):
        raise CassetteError(f"cassette {path}: 'calls' must be a list, not {calls!r}")
    problems = [
        f"entry {i}{_label(entry)}: {problem}"
        for i, entry in enumerate(calls)
        for problem in _entry_problems(entry)
    ]
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise CassetteError(f"cassette {path} is malformed:\n{listed}")
    return calls


def _label(entry: object) -> str:
    """`` (run: echo hi)``: an entry as messages name it, as far as it can be read."""
    if not isinstance(entry, dict) or not _is_argv(entry.get("args")):
        return ""
    return f" ({entry.get('kind')}: {shlex.join(entry['args'])})"


# -- the replies respond= types -----------------------------------------------------------------


def _replies(respond: tuple[tuple[Pattern, Reply], ...], output: str) -> list[str | Secret]:
    """The replies ``respond`` types while ``output`` is printed."""
    responder = Responder(dict(respond))
    return [reply for _, reply in responder.feed(output)]


def _shown_replies(replies: list[dict[str, Any]]) -> list[str]:
    return [MASK if "in_secret" in reply else repr(reply.get("in")) for reply in replies]


class _SessionRecorder:
    """Observes a real session and writes its transcript into a cassette entry.

    The session's output arrives with secrets already masked; what was typed arrives with
    each line of a Secret masked, and a line any part of which was a Secret is recorded as
    ``{"in_secret": true}`` (replay accepts any line typed with a Secret in it there). Other
    typed lines are stored in their ``portable`` form.
    """

    def __init__(
        self, entry: dict[str, Any], encoding: str, portable: Callable[[str], str]
    ) -> None:
        self._entry = entry
        self._decoder = StreamDecoder(encoding, "replace")
        self._steps: list[dict[str, Any]] = entry["steps"]
        self._portable = portable
        self._typed = ""
        self._typed_secret = False

    def output(self, stream: str, data: bytes) -> None:
        text = self._decoder.decode(stream, data)
        last = self._steps[-1] if self._steps else None
        key = "out" if stream == "stdout" else "err"
        if last is not None and key in last:
            last[key] += text
        else:
            self._steps.append({key: text})

    def typed(self, text: str, secret: bool) -> None:
        for i, part in enumerate(text.split("\n")):
            if i:  # a newline ended the line being typed
                self._steps.append(
                    {"in_secret": True}
                    if self._typed_secret
                    else {"in": self._portable(self._typed)}
                )
                self._typed, self._typed_secret = "", False
            self._typed += part
            self._typed_secret |= secret and bool(part)

    def finished(self, result: Result) -> None:
        self._entry["returncode"] = result.returncode
        self._entry["duration"] = round(result.duration, 6)


def _pipeline(spec: Spec) -> list[list[str]] | None:
    """A pipeline's stages as a recording holds them (None for one command)."""
    return None if spec.pipeline is None else [list(argv) for argv in spec.pipeline.commands]


def _line(spec: Spec) -> str:
    return shlex.join(spec.args) if spec.pipeline is None else str(spec.pipeline)


def _placeholder_pattern(places: Mapping[str, str]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex finding every value in ``places`` (longest first, so a path inside another
    is not cut), and the placeholder each value becomes. A value counts only where it ends a
    path component: ``/tmp/t1`` is not replaced inside ``/tmp/t10``."""
    values = sorted((v for v in places.values() if v), key=len, reverse=True)
    names = {value: "{" + name + "}" for name, value in places.items() if value}
    alternatives = "|".join(re.escape(value) for value in values) or r"(?!)"
    return re.compile(f"(?:{alternatives})(?![\\w.-])"), names


class Cassette:
    """Records real calls (``record=True``) or answers calls from a recording.

    Use it as a context manager around the code under test; while recording, the file is
    written when the block ends without an exception (a block that fails leaves the file as
    it was). The pytest marker ``cmdrun_cassette(path)`` does this for a test (record with
    ``pytest --cmdrun-record``; only a test that passes writes its cassette).

    Args:
        path: the JSON file.
        record: run commands for real and save them, instead of answering from the file.
        strict: when a replaying block ends without an exception, fail (AssertionError) on
            recorded calls that were not replayed, replayed out of their recorded order, or
            sessions whose transcript was not played to its end.
        normalize: ``normalize(text) -> text``, applied to every argument, working directory
            and typed text of recorded and replayed calls (after the placeholders), to make
            more of them portable (ids, dates, ports). It must give the same text when
            applied twice.
        placeholders: ``{name: value}``: ``value`` (a path) is written ``{name}``. None: the
            interpreter, as ``{python}``; the pytest marker adds ``{tmp_path}`` and
            ``{test_dir}``.

    Raises:
        FileNotFoundError: replaying a cassette that does not exist.
        CassetteError: replaying a file that is not a cassette this cmdrun reads.
        TypeError: ``normalize`` that is not callable.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        record: bool = False,
        strict: bool = False,
        normalize: Callable[[str], str] | None = None,
        placeholders: Mapping[str, str] | None = None,
    ) -> None:
        if normalize is not None and not callable(normalize):
            raise TypeError(f"normalize must be a function of a str, not {normalize!r}")
        self.path = pathlib.Path(path)
        self.record = record
        #: Replaying, a :class:`cmdrun.Remote` makes no connection: the file answers.
        self.offline = not record
        self.strict = strict
        self._normalize = normalize
        places = {"python": sys.executable} if placeholders is None else dict(placeholders)
        self._places, self._names = _placeholder_pattern(places)
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._used: list[int] = []  # entries replayed, in the order they were
        self._sessions: list[tuple[int, FakePump]] = []
        self._launcher: Any = None
        self._patches: list[Any] = []
        if not record:
            self._calls = _load(self.path)

    def _portable(self, text: str) -> str:
        """``text`` as a cassette stores it: placeholders for paths, then ``normalize``."""
        text = self._places.sub(lambda found: self._names[found.group()], text)
        return text if self._normalize is None else self._normalize(text)

    def _portable_or_none(self, text: str | None) -> str | None:
        return None if text is None else self._portable(text)

    # -- recording ------------------------------------------------------------------------

    def _add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(entry)

    def _identity(self, spec: Spec, kind: str) -> dict[str, Any]:
        """The fields a replayed call must match, as a recording stores them (a remote
        command's as its caller wrote it, with its ``host``)."""
        spec = spec.seen()
        identity = {
            "kind": kind,
            "args": [self._portable(arg) for arg in spec.args],
            "cwd": self._portable_or_none(spec.cwd),
            "tty": spec.tty,
            "input": self._portable_or_none(input_text(spec)),
        }
        if spec.remote is not None:
            identity["host"] = spec.remote.host
        return identity

    def _typed_replies(self, spec: Spec, stdout: bytes) -> list[dict[str, Any]]:
        """What ``respond=`` types for this output, as a recording stores it."""
        output = stdout.decode(spec.encoding, "replace")
        return [
            {"in_secret": True} if isinstance(reply, Secret) else {"in": self._portable(reply)}
            for reply in _replies(spec.respond, output)
        ]

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[Wait, None, Result]:
        """Carry out ``spec`` (the launcher hook cmdrun calls for run and friends; tests do not)."""
        if not self.record:
            return self._replay_run(spec.seen(), deliver)
        result = yield from REAL.execution(spec, deliver)
        spec = spec.seen()
        entry: dict[str, Any] = self._identity(spec, "run")
        entry.update(
            {
                "tty": result.tty,
                "timeout": spec.timeout,
                "returncode": result.returncode,
                **_text_fields("stdout", result.stdout_bytes),
                **_text_fields("stderr", result.stderr_bytes),
                "duration": round(result.duration, 6),
                "timed_out": result.timed_out,
                "timeout_kind": result.timeout_kind,
            }
        )
        if spec.respond:
            entry["replies"] = self._typed_replies(spec, result.stdout_bytes + result.stderr_bytes)
        if spec.pipeline is not None:
            entry["pipeline"] = [
                [self._portable(arg) for arg in argv] for argv in spec.pipeline.commands
            ]
            entry["stages"] = [
                {"returncode": stage.returncode, **_text_fields("stderr", stage.stderr_bytes)}
                for stage in result.stages
            ]
        self._add(entry)
        return result

    def spawn(self, spec: Spec) -> Session:
        """Start ``spec`` for a dialogue (the launcher hook cmdrun calls; tests do not)."""
        if not self.record:
            return self._replay_session(spec.seen())
        session = REAL.spawn(spec)
        entry = self._identity(spec, "spawn")
        entry.update({"steps": [], "returncode": None, "duration": None})
        self._add(entry)
        session.observe(_SessionRecorder(entry, spec.encoding, self._portable))
        return session

    def save(self) -> None:
        """Write the recording (stable, readable JSON): a recording block that ends without an
        exception calls it.

        Raises:
            OSError: the file or its directory cannot be written.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": VERSION, "calls": self._calls}, indent=2, ensure_ascii=False)
        self.path.write_text(text + "\n", encoding="utf-8")

    # -- replaying ------------------------------------------------------------------------

    def _recorded(self, entry: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """An entry's identity in portable form, comparable with ``wanted``. A field older
        recordings lack (``cwd``) takes the wanted value."""
        args = entry.get("pipeline") or [entry["args"]]
        recorded = {
            "kind": entry["kind"],
            "args": [self._portable(arg) for arg in entry["args"]],
            "cwd": self._portable_or_none(entry["cwd"]) if "cwd" in entry else wanted["cwd"],
            "tty": entry["tty"],
            "input": self._portable_or_none(entry.get("input")),
            "pipeline": [[self._portable(arg) for arg in argv] for argv in args],
        }
        if "host" in entry:
            recorded["host"] = entry["host"]
        return recorded

    def _take(self, spec: Spec, kind: str) -> tuple[int, dict[str, Any]]:
        """The first unused recording of this call (its index too), or a CassetteMiss
        naming the nearest."""
        wanted = self._identity(spec, kind)
        stages = _pipeline(spec) or [list(spec.args)]
        wanted["pipeline"] = [[self._portable(arg) for arg in argv] for argv in stages]
        with self._lock:
            for i, entry in enumerate(self._calls):
                if i in self._used:
                    continue
                recorded = self._recorded(entry, wanted)
                if recorded == wanted:
                    self._used.append(i)
                    return i, entry
        raise self._miss(spec, wanted)

    def _miss(self, spec: Spec, wanted: dict[str, Any]) -> CassetteMiss:
        def describe(identity: dict[str, Any]) -> list[str]:
            line = " | ".join(shlex.join(argv) for argv in identity["pipeline"])
            return [
                f"{identity['kind']}: {line}",
                f"tty: {identity['tty']}",
                f"cwd: {identity['cwd']!r}",
                f"input: {identity['input']!r}",
            ]

        mine = describe(wanted)
        candidates = [
            (i, describe(self._recorded(entry, wanted)))
            for i, entry in enumerate(self._calls)
            if i not in self._used
        ]
        message = f"cassette {self.path} has no recording of `{_line(spec)}`"
        if not candidates:
            return CassetteMiss(message + " (every recorded call was used)")
        index, nearest = max(
            candidates,
            key=lambda c: difflib.SequenceMatcher(None, "\n".join(c[1]), "\n".join(mine)).ratio(),
        )
        diff = "\n".join(
            difflib.unified_diff(nearest, mine, "nearest recorded call", "this call", lineterm="")
        )
        return CassetteMiss(f"{message}; the nearest recording (entry {index}) differs:\n{diff}")

    def _check_replies(self, spec: Spec, index: int, entry: dict[str, Any]) -> None:
        """Fail when ``respond=`` types other replies than the recording's (recordings made
        without ``respond=`` hold none and are not checked)."""
        if "replies" not in entry:
            return
        typed = self._typed_replies(spec, _data(entry, "stdout") + _data(entry, "stderr"))
        recorded = [dict(reply) for reply in entry["replies"]]
        if [self._reply_key(r) for r in typed] == [self._reply_key(r) for r in recorded]:
            return
        diff = "\n".join(
            difflib.unified_diff(
                _shown_replies(recorded),
                _shown_replies(typed),
                "recorded replies",
                "respond= now",
                lineterm="",
            )
        )
        raise CassetteMiss(
            f"cassette {self.path}, entry {index} (`{_line(spec)}`): respond= types other "
            f"replies than the recording:\n{diff}"
        )

    def _reply_key(self, reply: dict[str, Any]) -> str | None:
        return None if "in_secret" in reply else self._portable(str(reply.get("in")))

    def _replay_run(self, spec: Spec, deliver: DeliverLine | None) -> Result:
        index, entry = self._take(spec, "run")
        self._check_replies(spec, index, entry)
        stages = None
        if spec.pipeline is not None:
            codes = [stage["returncode"] for stage in entry["stages"]]
            failed = pipefail(codes)[1]
            stages = tuple(
                Stage(
                    argv,
                    0,
                    code,
                    _data(stage, "stderr"),
                    ok=not bad,
                    encoding=spec.encoding,
                    errors=spec.errors,
                )
                for argv, stage, code, bad in zip(
                    spec.pipeline.commands, entry["stages"], codes, failed, strict=True
                )
            )
        return simulated(
            spec,
            [("stdout", _data(entry, "stdout")), ("stderr", _data(entry, "stderr"))],
            deliver,
            returncode=entry["returncode"],
            duration=entry["duration"],
            timed_out=entry["timed_out"],
            timeout_kind=entry.get("timeout_kind"),  # absent from older recordings: "total"
            stages=stages,
        )

    def _replay_session(self, spec: Spec) -> Session:
        index, entry = self._take(spec, "spawn")
        steps: list[Step] = []
        for step in entry["steps"]:
            if "out" in step:
                steps.append(Out(step["out"]))
            elif "err" in step:
                steps.append(Out(step["err"], "stderr"))
            elif "in_secret" in step:
                steps.append(In(secret=True))
            else:
                steps.append(In(self._portable(step["in"])))
        steps.append(Exit(entry["returncode"] if entry["returncode"] is not None else 0))
        played: list[FakePump] = []
        session = fake_session(
            spec,
            steps,
            echo=False,
            played=played,
            where=f" (cassette {self.path}, entry {index})",
            canon=self._portable,
        )
        with self._lock:
            self._sessions.append((index, played[0]))
        return session

    # -- strict checks --------------------------------------------------------------------

    def _strict_problems(self) -> list[str]:
        def name(i: int) -> str:
            return f"entry {i}{_label(self._calls[i])}"

        with self._lock:
            problems = []
            latest = -1
            for i in self._used:
                if i < latest:
                    problems.append(f"{name(i)} was replayed after {name(latest)}")
                latest = max(latest, i)
            problems += [
                f"{name(i)} was never replayed"
                for i in range(len(self._calls))
                if i not in self._used
            ]
            problems += [
                f"entry {i}: {pump.unfinished()}" for i, pump in self._sessions if not pump.finished
            ]
        return problems

    def _check_strict(self) -> None:
        """Fail when strict and the replay did not follow the recording.

        Raises:
            AssertionError: naming each entry not replayed, replayed out of order, or a
                session not played to its end.
        """
        problems = self._strict_problems() if self.strict and not self.record else []
        if problems:
            listed = "\n".join(f"  - {problem}" for problem in problems)
            raise AssertionError(
                f"strict cassette {self.path}: {len(problems)} problem(s) at the end:\n{listed}"
            )

    def subprocess_program(self, spec: Spec, piped_input: bool) -> tuple[Any, None]:
        """The program answering (or recording) a plain ``subprocess`` call, as an entry of
        kind ``"subprocess"``: see :meth:`patch_subprocess`."""
        from ._popen import cassette_program

        return cassette_program(self, spec, piped_input)

    # -- activation -----------------------------------------------------------------------

    def patch_subprocess(self) -> Any:
        """Record and replay plain ``subprocess`` and asyncio subprocess calls too, until the
        cassette's block ends (see :meth:`FakeCommands.patch_subprocess`).

        A recorded call runs the real program once its input is complete (stdin closed, or
        the code waits or reads its output), so its entry holds the whole input and output;
        a conversation line by line over pipes is not recorded as one: fake it with a
        ``dialogue=``.

        Returns:
            The patch (a context manager to end it sooner).

        Raises:
            RuntimeError: the cassette is not active.
        """
        from ._popen import SubprocessPatch

        if self._launcher is None:
            raise RuntimeError("patch_subprocess() needs an active Cassette (a `with` block)")
        patch = SubprocessPatch()
        self._patches.append(patch)
        return patch

    def __enter__(self) -> Cassette:
        self._launcher = using_launcher(self, process_wide=True)
        self._launcher.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(ok=exc_type is None)

    def _close(self, *, ok: bool) -> None:
        """Undo subprocess patches and put the previous launcher back; then, if the block
        (or test) went well, save the recording, or run the strict checks of a replay."""
        for patch in reversed(self._patches):
            patch.undo()
        self._patches.clear()
        self._launcher.__exit__(None, None, None)
        self._launcher = None
        if not ok:
            return
        if self.record:
            self.save()
        else:
            self._check_strict()
