"""Options are what they say: flags are real bools, ``subprocess`` habits get an answer in
cmdrun's terms, and every door shares one set of named defaults."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

import cmdrun
from children import write_both

# -- flags are bools (item 11) ---------------------------------------------------------------


def test_spawn_refuses_tty_auto_and_says_what_it_takes() -> None:
    with pytest.raises(ValueError, match=r"spawn\(\)'s tty must be True .* or False .*'auto'"):
        cmdrun.spawn(["cat"], tty="auto")  # type: ignore[arg-type]


@pytest.mark.parametrize("tty", [1, 0, "yes", None])
def test_spawn_refuses_a_tty_that_is_not_a_bool(tty: object) -> None:
    with pytest.raises(ValueError, match="tty must be True"):
        cmdrun.spawn(["cat"], tty=tty)  # type: ignore[arg-type]


@pytest.mark.parametrize("tty", [1, 0, "AUTO", None])
def test_run_refuses_a_tty_that_is_not_true_false_or_auto(tty: object) -> None:
    with pytest.raises(ValueError, match="tty must be True, False or 'auto'"):
        cmdrun.run(["true"], tty=tty)  # type: ignore[arg-type]


FLAG_CASES = [
    ("check", "no"),
    ("tee", "yes"),
    ("merge_stderr", 1.5),
    ("die_with_parent", "x"),
    ("shell", 1),
    ("inherit_env", None),
]


@pytest.mark.parametrize(("name", "value"), FLAG_CASES)
def test_run_flags_must_be_bools(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"{name} must be True or False, not {value!r}"):
        cmdrun.run(["true"], **{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value"), FLAG_CASES)
def test_stream_and_arun_flags_must_be_bools(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        cmdrun.stream(["true"], **{name: value})  # type: ignore[misc]
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        asyncio.run(cmdrun.arun(["true"], **{name: value}))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("door", "name"),
    [(cmdrun.run_many, "fail_fast"), (cmdrun.run_many, "progress"), (cmdrun.call, "shell")],
)
def test_batch_and_call_flags_must_be_bools(door: Callable[..., object], name: str) -> None:
    cmds: Any = [["true"]] if door is cmdrun.run_many else ["true"]
    with pytest.raises(TypeError, match=f"{name} must be True or False, not 'no'"):
        door(cmds, **{name: "no"})


def test_arun_many_fail_fast_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="fail_fast must be True or False"):
        asyncio.run(cmdrun.arun_many([["true"]], fail_fast="no"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value"), [("die_with_parent", "x"), ("inherit_env", 0)])
def test_spawn_flags_must_be_bools(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        cmdrun.spawn(["cat"], **{name: value})  # type: ignore[arg-type]


# -- subprocess habits (item 14) -------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_devnull_discards_that_stream_only(stream: str) -> None:
    r = cmdrun.run(write_both("out\n", "err\n"), **{stream: subprocess.DEVNULL})  # type: ignore[arg-type]
    kept = {"stdout": "out\n", "stderr": "err\n"}
    kept[stream] = ""
    assert (r.stdout, r.stderr) == (kept["stdout"], kept["stderr"])


def test_devnull_for_both_streams_through_stream_and_run_many() -> None:
    argv = write_both("out\n", "err\n")
    with cmdrun.stream(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as lines:
        assert list(lines) == []
    [r] = cmdrun.run_many([argv], stdout=subprocess.DEVNULL)
    assert (r.stdout, r.stderr) == ("", "err\n")


def test_devnull_output_still_reaches_the_callbacks() -> None:
    seen: list[str] = []
    r = cmdrun.run(["echo", "hi"], stdout=subprocess.DEVNULL, on_stdout=seen.append)
    assert (r.stdout, seen) == ("", ["hi\n"])


def test_stdin_devnull_is_the_default_spelled_out() -> None:
    r = cmdrun.run(["cat"], stdin=subprocess.DEVNULL)
    assert r.stdout == ""
    with cmdrun.stream(["cat"], stdin=subprocess.DEVNULL) as lines:
        assert list(lines) == []


@pytest.mark.parametrize(
    "extra", [{"input": "data"}, {"respond": {"? ": "y"}}], ids=["input", "respond"]
)
def test_stdin_devnull_contradicts_input_and_respond(extra: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"stdin=subprocess\.DEVNULL"):
        cmdrun.run(["cat"], stdin=subprocess.DEVNULL, **extra)


@pytest.mark.parametrize(
    "stdin", [subprocess.PIPE, subprocess.STDOUT, b"bytes", bytearray(b"x"), True, 3.5]
)
def test_stdin_values_that_are_no_source_point_to_input(stdin: object) -> None:
    with pytest.raises(TypeError, match=r"input="):
        cmdrun.run(["cat"], stdin=stdin)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "answer"),
    [
        ("stdout", subprocess.PIPE, r"captured by default.*Result\.stdout"),
        ("stderr", subprocess.PIPE, r"captured by default.*Result\.stderr"),
        ("stderr", subprocess.STDOUT, r"merge_stderr=True"),
        ("stdout", 1, r"a path, a binary file or subprocess\.DEVNULL"),
    ],
)
def test_other_output_constants_name_cmdruns_way(name: str, value: int, answer: str) -> None:
    with pytest.raises(TypeError, match=answer):
        cmdrun.run(["true"], **{name: value})  # type: ignore[arg-type]


HABITS = [
    ("capture_output", True, r"captured by default"),
    ("text", True, r"text by default.*stdout_bytes"),
    ("universal_newlines", True, r"text by default.*stdout_bytes"),
]


@pytest.mark.parametrize(("name", "value", "answer"), HABITS)
def test_subprocess_keywords_are_answered_in_cmdruns_terms(
    name: str, value: object, answer: str
) -> None:
    doors: list[tuple[str, Callable[[], object]]] = [
        ("run", lambda: cmdrun.run(["true"], **{name: value})),
        ("stream", lambda: cmdrun.stream(["true"], **{name: value})),
        ("arun", lambda: asyncio.run(cmdrun.arun(["true"], **{name: value}))),
        ("run_many", lambda: cmdrun.run_many([["true"]], **{name: value})),
    ]
    for door, attempt in doors:
        with pytest.raises(TypeError, match=rf"{door}\(\) .*{name}.*: .*{answer}"):
            attempt()


def test_unknown_keywords_name_the_function_called() -> None:
    with pytest.raises(TypeError, match=r"^run\(\) got an unexpected keyword argument 'timout'$"):
        cmdrun.run(["true"], timout=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^stream\(\) got an unexpected keyword argument 'x'$"):
        cmdrun.stream(["true"], x=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^as_completed\(\) got an unexpected keyword"):
        cmdrun.as_completed([["true"]], x=1)  # type: ignore[call-arg]


def test_shell_with_a_list_says_how_to_run_a_list() -> None:
    with pytest.raises(TypeError, match=r"shell=True takes the command as one str.*shlex\.join"):
        cmdrun.run(["echo", "hi"], shell=True)


# -- one set of named defaults (item 20) -----------------------------------------------------


def test_every_door_uses_the_named_defaults() -> None:
    from cmdrun import _defaults
    from cmdrun._spec import Spec, build_spec

    named = {
        "kill_grace": _defaults.DEFAULT_KILL_GRACE,
        "drain_timeout": _defaults.DEFAULT_DRAIN_TIMEOUT,
        "dimensions": _defaults.DEFAULT_DIMENSIONS,
        "encoding": _defaults.DEFAULT_ENCODING,
        "errors": _defaults.DEFAULT_ERRORS,
    }
    doors = [cmdrun.run, cmdrun.call, cmdrun.spawn, build_spec, Spec, cmdrun.Result]
    seen = 0
    for door in doors:
        for name, parameter in inspect.signature(door).parameters.items():
            if name in named:
                assert parameter.default is named[name], (door, name)
                seen += 1
    assert seen == 22
    timeout = inspect.signature(cmdrun.spawn).parameters["timeout"].default
    assert timeout is _defaults.DEFAULT_SESSION_TIMEOUT
