"""Output written to files: the files a run is given are treated with care."""

from __future__ import annotations

import pathlib

import pytest

import cmdrun
import leakcheck


def test_program_not_found_leaves_the_stdout_file_untouched(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    out.write_text("precious\n")
    with pytest.raises(cmdrun.CommandNotFound):
        cmdrun.run(["cmdrun-no-such-program"], stdout=out)
    assert out.read_text() == "precious\n"


def test_stdout_and_stderr_to_the_same_path_keep_both(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    cmdrun.run(["sh", "-c", "echo one; echo two >&2; echo three"], stdout=out, stderr=out)
    assert out.read_text() == "one\ntwo\nthree\n"


def test_stderr_path_that_cannot_be_opened_leaks_no_file(tmp_path: pathlib.Path) -> None:
    before = leakcheck.snapshot()
    with pytest.raises(FileNotFoundError) as info:  # its traceback keeps cmdrun's frames alive
        cmdrun.run(["true"], stdout=tmp_path / "out", stderr=tmp_path / "missing" / "err")
    assert leakcheck.wait_for_no_leaks(before, within=0.1) == []
    del info
