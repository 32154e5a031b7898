"""``stdout=``/``stderr=`` file targets: nothing clobbered, nothing leaked, nothing truncated
for a program that never ran."""

from __future__ import annotations

import os
import pathlib

import pytest

import cmdrun
from children import interleaved, open_fds, py

Path = str | os.PathLike[str]


def test_missing_program_leaves_the_stdout_file_alone(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"precious\n")
    with pytest.raises(cmdrun.CommandNotFound):
        cmdrun.run(["cmdrun-no-such-program"], stdout=out, stderr=tmp_path / "err")
    assert out.read_bytes() == b"precious\n"
    assert not (tmp_path / "err").exists()


def test_missing_program_relative_to_cwd_leaves_the_file_alone(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"precious\n")
    with pytest.raises(cmdrun.CommandNotFound):
        cmdrun.run(["./no-such-script"], stdout=out, cwd=tmp_path)
    assert out.read_bytes() == b"precious\n"


def test_program_relative_to_cwd_is_found(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "hello"
    script.write_text("#!/bin/sh\necho hello from cwd\n")
    script.chmod(0o755)
    out = tmp_path / "out"
    cmdrun.run(["./hello"], stdout=out, cwd=tmp_path)
    assert out.read_text() == "hello from cwd\n"


def test_directory_as_program_leaves_the_file_alone(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"precious\n")
    with pytest.raises(cmdrun.CommandNotExecutable, match="is a directory"):
        cmdrun.run([str(tmp_path)], stdout=out)
    assert out.read_bytes() == b"precious\n"


def _same_path_spellings(tmp_path: pathlib.Path) -> list[tuple[Path, Path]]:
    path = tmp_path / "both"
    return [
        (str(path), str(path)),
        (str(path), path),
        ("./both", "both"),
        (path, str(tmp_path / "." / "both")),
    ]


@pytest.mark.parametrize("spelling", range(4))
def test_same_path_for_both_streams_keeps_both_in_write_order(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, spelling: int
) -> None:
    monkeypatch.chdir(tmp_path)
    out, err = _same_path_spellings(tmp_path)[spelling]
    (tmp_path / "both").write_bytes(b"old contents that must go away entirely\n" * 100)
    cmdrun.run(interleaved(50), stdout=out, stderr=err)
    expected = "".join(f"out {i}\nerr {i}\n" for i in range(50))
    assert (tmp_path / "both").read_text() == expected


@pytest.mark.parametrize("spelling", range(4))
def test_same_path_for_a_watched_stream_loses_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, spelling: int
) -> None:
    monkeypatch.chdir(tmp_path)
    out, err = _same_path_spellings(tmp_path)[spelling]
    lines: list[str] = []
    cmdrun.run(interleaved(50), stdout=out, stderr=err, on_stderr=lines.append)
    # Two pipes are read in turn: each stream's order is kept, not the order across them.
    written = (tmp_path / "both").read_text().splitlines()
    assert [line for line in written if line.startswith("out")] == [f"out {i}" for i in range(50)]
    assert [line for line in written if line.startswith("err")] == [f"err {i}" for i in range(50)]
    assert len(written) == 100
    assert lines == [f"err {i}\n" for i in range(50)]


def test_hard_link_to_the_same_file_is_one_file(tmp_path: pathlib.Path) -> None:
    out, link = tmp_path / "out", tmp_path / "link"
    out.write_bytes(b"")
    os.link(out, link)
    cmdrun.run(interleaved(20), stdout=out, stderr=link)
    assert out.read_text() == "".join(f"out {i}\nerr {i}\n" for i in range(20))


def test_different_paths_stay_separate(tmp_path: pathlib.Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    cmdrun.run(interleaved(3), stdout=out, stderr=err)
    assert out.read_text() == "out 0\nout 1\nout 2\n"
    assert err.read_text() == "err 0\nerr 1\nerr 2\n"


def test_stderr_target_that_cannot_be_opened_leaks_nothing(tmp_path: pathlib.Path) -> None:
    cmdrun.run(["true"], stdout=tmp_path / "warm-up")
    before = open_fds()
    kept = []  # the errors stay alive, as in a caller that logs them later
    for _ in range(5):
        with pytest.raises(IsADirectoryError) as info:
            cmdrun.run(["echo", "x"], stdout=tmp_path / "out", stderr=tmp_path)
        kept.append(info.value)
    assert open_fds() == before


def test_file_target_closed_when_the_start_fails(tmp_path: pathlib.Path) -> None:
    cmdrun.run(["true"], stdout=tmp_path / "warm-up")
    before = open_fds()
    script = tmp_path / "bad-interpreter"
    script.write_text("#!/cmdrun/no/such/interpreter\n")
    script.chmod(0o755)
    kept = []
    for _ in range(5):
        with pytest.raises(cmdrun.CommandNotExecutable) as info:
            cmdrun.run([str(script)], stdout=tmp_path / "out", stderr=tmp_path / "err")
        kept.append(info.value)
    assert open_fds() == before


def test_file_target_with_a_program_found_on_path(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    cmdrun.run(py("print('by path')"), stdout=out)
    assert out.read_text() == "by path\n"
    cmdrun.run(["echo", "again"], stdout=out, stderr=out)
    assert out.read_text() == "again\n"
