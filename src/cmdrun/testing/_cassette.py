"""Cassettes: record real cmdrun calls to a JSON file, then answer them from it.

The format is readable and diffs well: one JSON object, ``"version"`` then ``"calls"`` in
the order they were made, two-space indents, keys in a fixed order. A run call keeps its
argv, input (secrets masked), tty, timeout, exit status, output, duration, whether it
timed out and which timeout stopped it; a session keeps its whole transcript as
``out``/``in`` steps. Secret values are never written: what a :class:`~cmdrun.Secret`
typed is stored as ``{"in_secret": true}``, and output is masked as it is in the Result.
Environments and working directories are not stored (they differ between machines and
may hold credentials).
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import pathlib
import shlex
import threading
from collections.abc import Generator
from types import TracebackType
from typing import Any

from .._engine import simulated
from .._launcher import REAL, using_launcher
from .._output import StreamDecoder
from .._pipeline import pipefail
from .._result import Result, Stage
from .._session import Session
from .._spec import DeliverLine, Spec
from ._dialogue import Exit, In, Out, Step
from ._fake import fake_session, input_text

VERSION = 1


class CassetteMiss(AssertionError):
    """A call that the cassette has no recording of (the message shows the nearest one)."""


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


class _SessionRecorder:
    """Observes a real session and writes its transcript into a cassette entry.

    The session's output arrives with secrets already masked; what was typed arrives with
    each line of a Secret masked, and a line any part of which was a Secret is recorded as
    ``{"in_secret": true}`` (replay accepts any line typed with a Secret in it there).
    """

    def __init__(self, entry: dict[str, Any], encoding: str) -> None:
        self._entry = entry
        self._decoder = StreamDecoder(encoding, "replace")
        self._steps: list[dict[str, Any]] = entry["steps"]
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
                    {"in_secret": True} if self._typed_secret else {"in": self._typed}
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


class Cassette:
    """Records real calls (``record=True``) or answers calls from a recording.

    Use it as a context manager around the code under test; while recording, the file is
    written when the block ends. The pytest marker ``cmdrun_cassette(path)`` does this for a
    test (record with ``pytest --cmdrun-record``).

    Args:
        path: the JSON file.
        record: run commands for real and save them, instead of answering from the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, record: bool = False) -> None:
        self.path = pathlib.Path(path)
        self.record = record
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._used: set[int] = set()
        self._launcher: Any = None
        self._patches: list[Any] = []
        if not record:
            if not self.path.exists():
                raise FileNotFoundError(
                    f"cassette {str(self.path)!r} does not exist: record it with "
                    "pytest --cmdrun-record (or Cassette(path, record=True))"
                )
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                raise ValueError(f"cassette {self.path} has version {data.get('version')!r}")
            self._calls = data["calls"]

    # -- recording ------------------------------------------------------------------------

    def _add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(entry)

    def execution(self, spec: Spec, deliver: DeliverLine | None) -> Generator[None, None, Result]:
        if not self.record:
            return self._replay_run(spec, deliver)
        result = yield from REAL.execution(spec, deliver)
        entry: dict[str, Any] = {
            "kind": "run",
            "args": list(spec.args),
            "tty": result.tty,
            "input": input_text(spec),
            "timeout": spec.timeout,
            "returncode": result.returncode,
            **_text_fields("stdout", result.stdout_bytes),
            **_text_fields("stderr", result.stderr_bytes),
            "duration": round(result.duration, 6),
            "timed_out": result.timed_out,
            "timeout_kind": result.timeout_kind,
        }
        if spec.pipeline is not None:
            entry["pipeline"] = [list(argv) for argv in spec.pipeline.commands]
            entry["stages"] = [
                {"returncode": stage.returncode, **_text_fields("stderr", stage.stderr_bytes)}
                for stage in result.stages
            ]
        self._add(entry)
        return result

    def spawn(self, spec: Spec) -> Session:
        if not self.record:
            return self._replay_session(spec)
        session = REAL.spawn(spec)
        entry: dict[str, Any] = {
            "kind": "spawn",
            "args": list(spec.args),
            "tty": spec.tty,
            "input": input_text(spec),
            "steps": [],
            "returncode": None,
            "duration": None,
        }
        self._add(entry)
        session.observe(_SessionRecorder(entry, spec.encoding))
        return session

    def save(self) -> None:
        """Write the recording (stable, readable JSON)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": VERSION, "calls": self._calls}, indent=2, ensure_ascii=False)
        self.path.write_text(text + "\n", encoding="utf-8")

    # -- replaying ------------------------------------------------------------------------

    def _take(self, spec: Spec, kind: str) -> dict[str, Any]:
        """The first unused recording of this call, or a CassetteMiss naming the nearest."""
        wanted_input = input_text(spec)
        with self._lock:
            for i, entry in enumerate(self._calls):
                if i in self._used or entry["kind"] != kind:
                    continue
                if tuple(entry["args"]) != spec.args or entry["tty"] != spec.tty:
                    continue
                if entry.get("pipeline") != _pipeline(spec):
                    continue
                if entry.get("input") != wanted_input:
                    continue
                self._used.add(i)
                return entry
        raise self._miss(spec, kind, wanted_input)

    def _miss(self, spec: Spec, kind: str, wanted_input: str | None) -> CassetteMiss:
        def describe(kind: str, args: Any, tty: Any, input: Any) -> list[str]:
            line = (
                " | ".join(shlex.join(argv) for argv in args)
                if args and isinstance(args[0], list)
                else shlex.join(args)
            )
            return [f"{kind}: {line}", f"tty: {tty}", f"input: {input!r}"]

        wanted = describe(kind, _pipeline(spec) or spec.args, spec.tty, wanted_input)
        candidates = [
            describe(e["kind"], e.get("pipeline") or e["args"], e["tty"], e.get("input"))
            for i, e in enumerate(self._calls)
            if i not in self._used
        ]
        message = f"cassette {self.path} has no recording of `{_line(spec)}`"
        if not candidates:
            return CassetteMiss(message + " (every recorded call was used)")
        nearest = max(
            candidates,
            key=lambda c: difflib.SequenceMatcher(None, "\n".join(c), "\n".join(wanted)).ratio(),
        )
        diff = "\n".join(
            difflib.unified_diff(nearest, wanted, "nearest recorded call", "this call", lineterm="")
        )
        return CassetteMiss(f"{message}; the nearest recording differs:\n{diff}")

    def _replay_run(self, spec: Spec, deliver: DeliverLine | None) -> Result:
        entry = self._take(spec, "run")
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
        entry = self._take(spec, "spawn")
        steps: list[Step] = []
        for step in entry["steps"]:
            if "out" in step:
                steps.append(Out(step["out"]))
            elif "err" in step:
                steps.append(Out(step["err"], "stderr"))
            elif "in_secret" in step:
                steps.append(In(secret=True))
            else:
                steps.append(In(step["in"]))
        steps.append(Exit(entry["returncode"] if entry["returncode"] is not None else 0))
        return fake_session(spec, steps, echo=False)

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
        for patch in reversed(self._patches):
            patch.undo()
        self._patches.clear()
        self._launcher.__exit__(exc_type, exc, tb)
        self._launcher = None
        if self.record and exc_type is None:
            self.save()
