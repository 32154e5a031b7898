"""Argument checking: bad input is refused with a clear error before anything runs."""

from __future__ import annotations

import math
import os
import pathlib

import pytest

import cmdrun
from cmdrun._args import (
    encode_input,
    normalize_command,
    normalize_cwd,
    normalize_env,
    normalize_grace,
    normalize_timeout,
)


def test_string_command_is_split_not_shelled() -> None:
    assert normalize_command("echo 'a b' $HOME", shell=False) == ("echo", "a b", "$HOME")


def test_shell_true_runs_bin_sh() -> None:
    assert normalize_command("echo $HOME | wc", shell=True) == ("/bin/sh", "-c", "echo $HOME | wc")


def test_sequence_accepts_bytes_and_pathlike() -> None:
    argv = normalize_command(["ls", b"-l", pathlib.Path("/tmp")], shell=False)
    assert argv == ("ls", "-l", "/tmp")


@pytest.mark.parametrize("cmd", ["", "   ", [], ()])
def test_empty_command_is_refused(cmd: object) -> None:
    with pytest.raises(ValueError, match="empty command"):
        normalize_command(cmd, shell=False)


def test_empty_program_name_is_refused() -> None:
    with pytest.raises(ValueError, match="empty program name"):
        normalize_command([""], shell=False)


def test_nul_byte_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"argument 1 .*NUL"):
        normalize_command(["echo", "a\0b"], shell=False)


def test_non_string_argument_names_element_and_index() -> None:
    with pytest.raises(TypeError, match=r"argument 2 \(5\) is int"):
        normalize_command(["echo", "x", 5], shell=False)


@pytest.mark.parametrize("cmd", [None, 42, b"ls -l"])
def test_command_of_wrong_type_is_refused(cmd: object) -> None:
    with pytest.raises(TypeError, match="command must be a str or a sequence"):
        normalize_command(cmd, shell=False)


def test_shell_true_needs_a_string() -> None:
    with pytest.raises(TypeError, match="shell=True takes the command as one str"):
        normalize_command(["echo", "hi"], shell=True)


def test_unbalanced_quotes_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot split"):
        normalize_command("echo 'oops", shell=False)


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.nan])
def test_bad_timeout_values(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        normalize_timeout(bad)


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_non_numeric_timeout(bad: object) -> None:
    with pytest.raises(TypeError, match="timeout must be a number"):
        normalize_timeout(bad)


def test_infinite_timeout_means_none() -> None:
    assert normalize_timeout(math.inf) is None
    assert normalize_timeout(None) is None
    assert normalize_timeout(2) == 2.0


@pytest.mark.parametrize("bad", [-1, math.inf, math.nan])
def test_bad_kill_grace(bad: float) -> None:
    with pytest.raises(ValueError, match="kill_grace"):
        normalize_grace(bad)


def test_env_is_added_to_parent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDRUN_PARENT", "1")
    env = normalize_env({"CMDRUN_X": "y"}, inherit_env=True)
    assert env is not None
    assert env["CMDRUN_PARENT"] == "1"
    assert env["CMDRUN_X"] == "y"


def test_env_without_inheritance_is_exact() -> None:
    assert normalize_env({"A": "1"}, inherit_env=False) == {"A": "1"}
    assert normalize_env(None, inherit_env=False) == {}
    assert normalize_env(None, inherit_env=True) is None


@pytest.mark.parametrize(
    ("env", "error", "match"),
    [
        ({1: "x"}, TypeError, "name must be str"),
        ({"A": 1}, TypeError, "value of A must be str"),
        ({"A": b"x"}, TypeError, "value of A must be str"),
        ({"A": "x\0"}, ValueError, "NUL"),
        ({"A=B": "x"}, ValueError, "invalid environment variable name"),
        ({"": "x"}, ValueError, "invalid environment variable name"),
    ],
)
def test_bad_env(env: dict[object, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        normalize_env(env, inherit_env=True)  # type: ignore[arg-type]


def test_missing_cwd_names_the_cwd(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="working directory") as info:
        normalize_cwd(missing)
    assert info.value.filename == str(missing)
    assert str(info.value) == f"[Errno 2] working directory does not exist: {str(missing)!r}"


def test_file_as_cwd_is_not_a_directory(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "f"
    file.write_text("")
    with pytest.raises(NotADirectoryError) as info:
        normalize_cwd(file)
    assert info.value.filename == str(file)
    assert str(info.value) == f"[Errno 20] working directory is not a directory: {str(file)!r}"


def test_input_types() -> None:
    assert encode_input("é", "utf-8") == "é".encode()
    assert encode_input(bytearray(b"x"), "utf-8") == b"x"
    assert encode_input(None, "utf-8") is None
    with pytest.raises(TypeError, match="input must be str or bytes"):
        encode_input(12, "utf-8")


def test_run_checks_arguments_before_starting_anything(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="timeout"):
        cmdrun.run(["touch", os.fspath(marker)], timeout=-1)
    with pytest.raises(LookupError):
        cmdrun.run(["touch", os.fspath(marker)], encoding="no-such-codec")
    with pytest.raises(TypeError):
        cmdrun.call(["touch", os.fspath(marker)], env={"A": 1})  # type: ignore[dict-item]
    assert not marker.exists()
