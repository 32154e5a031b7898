"""Live output (callbacks, tee, stream) and bounded memory (files, max_output)."""

from __future__ import annotations

import io
import os
import pathlib

import pytest

import cmdrun
from children import (
    pids_in,
    py,
    tree,
    wait_dead,
    wait_for_file_between,
    write_both,
    write_chunks,
)
from cmdrun import Line


def test_lines_are_delivered_live_and_in_order(tmp_path: pathlib.Path) -> None:
    flag = tmp_path / "seen"
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        flag.touch()  # the child waits for this before writing its second line

    argv = wait_for_file_between("first\n", "second\n", str(flag))
    result = cmdrun.run(argv, on_stdout=on_line, timeout=20)
    assert seen == ["first\n", "second\n"]
    assert result.stdout == "first\nsecond\n"  # still captured


def test_partial_last_line_is_delivered_at_eof() -> None:
    out: list[str] = []
    err: list[str] = []
    cmdrun.run(write_both("a\nb", "x\r\ny"), on_stdout=out.append, on_stderr=err.append)
    assert out == ["a\n", "b"]
    assert err == ["x\r\n", "y"]


def test_progress_redraws_are_lines_of_their_own() -> None:
    code = "import sys; sys.stdout.write('10%\\r20%\\r30%\\rdone\\n')"
    lines: list[str] = []
    cmdrun.run(py(code), on_stdout=lines.append)
    assert lines == ["10%\r", "20%\r", "30%\r", "done\n"]


def _live_lines(door: str, chunks: list[bytes], pause: float) -> list[str]:
    """The lines ``door`` (on_stdout, on_stderr or stream) delivers for a child's ``chunks``."""
    fd = 2 if door == "on_stderr" else 1
    argv = write_chunks(chunks, pause=pause, fd=fd)
    if door == "stream":
        with cmdrun.stream(argv, timeout=20) as stream:
            got = list(stream)
        assert {line.stream for line in got} == {"stdout"}
        return [line.text for line in got]
    lines: list[str] = []
    result = cmdrun.run(argv, timeout=20, **{door: lines.append})  # type: ignore[arg-type]
    assert "".join(lines) == (result.stderr if fd == 2 else result.stdout)
    return lines


DOORS = ["on_stdout", "on_stderr", "stream"]
#: One write per redraw with pauses longer than the idle delay (each unfinished redraw is
#: delivered while the program waits), or the whole output in one write.
PACINGS = [(True, 0.25), (False, 0.0)]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("paused", "pause"), PACINGS)
def test_progress_with_cr_before_each_redraw_is_one_line_per_redraw(
    door: str, paused: bool, pause: float
) -> None:
    redraws = [b"\r0%", b"\r25%", b"\r50%\n"]
    chunks = redraws if paused else [b"".join(redraws)]
    assert _live_lines(door, chunks, pause) == ["\r0%", "\r25%", "\r50%\n"]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("paused", "pause"), PACINGS)
def test_progress_with_cr_after_each_redraw_is_one_line_per_redraw(
    door: str, paused: bool, pause: float
) -> None:
    redraws = [b"0%\r", b"25%\r", b"50%\r\n"]
    chunks = redraws if paused else [b"".join(redraws)]
    assert _live_lines(door, chunks, pause) == ["0%\r", "25%\r", "50%\r\n"]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("paused", "pause"), PACINGS)
def test_progress_between_crlf_lines_keeps_crlf_as_one_ending(
    door: str, paused: bool, pause: float
) -> None:
    pieces = [b"start\r\n", b"\r10%", b"\r20%\r\n", b"mid\r\n", b"30%\r", b"40%\r\n", b"end"]
    chunks = pieces if paused else [b"".join(pieces)]
    assert _live_lines(door, chunks, pause) == [
        "start\r\n",
        "\r10%",
        "\r20%\r\n",
        "mid\r\n",
        "30%\r",
        "40%\r\n",
        "end",
    ]


def test_unfinished_line_is_delivered_while_the_program_waits(tmp_path: pathlib.Path) -> None:
    flag = tmp_path / "seen"
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        flag.touch()

    argv = wait_for_file_between("working... 50%", " 100%\n", str(flag))
    cmdrun.run(argv, on_stdout=on_line, timeout=20)
    assert lines == ["working... 50%", " 100%\n"]


def test_tee_copies_output_to_the_parent_while_capturing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = cmdrun.run(write_both("out line\n", "err line\n"), tee=True)
    captured = capfd.readouterr()
    assert captured.out == "out line\n"
    assert captured.err == "err line\n"
    assert (result.stdout, result.stderr) == ("out line\n", "err line\n")


def test_stream_yields_lines_with_their_stream() -> None:
    code = "import os; os.write(1, b'o1\\n'); os.write(2, b'e1\\n'); os.write(1, b'o2')"
    with cmdrun.stream(py(code)) as lines:
        got = list(lines)
    assert got == [Line("stdout", "o1\n"), Line("stderr", "e1\n"), Line("stdout", "o2")]
    assert lines.result is not None
    assert lines.result.ok


def test_leaving_a_stream_early_stops_the_program() -> None:
    lines = cmdrun.stream(tree(2), kill_grace=0.5)
    for line in lines:
        pids = pids_in(line.text)
        break
    lines.close()
    assert wait_dead(pids) == []


def test_stream_raises_at_the_end_when_the_command_failed() -> None:
    seen: list[str] = []

    def consume() -> None:
        seen.extend(line.text for line in cmdrun.stream(write_both("partial\n", "", code=4)))

    with pytest.raises(cmdrun.CommandFailed):
        consume()
    assert seen == ["partial\n"]


def test_stream_timeout() -> None:
    with pytest.raises(cmdrun.CommandTimedOut):
        for _ in cmdrun.stream(["sleep", "30"], timeout=0.2):
            pass


def test_output_to_a_path_keeps_nothing_in_memory(tmp_path: pathlib.Path) -> None:
    out, err = tmp_path / "out.bin", tmp_path / "err.txt"
    size = 3 * (1 << 20) + 17
    code = f"import os; os.write(1, b'x' * {size}); os.write(2, b'to err')"
    result = cmdrun.run(py(code), stdout=out, stderr=str(err))
    assert out.stat().st_size == size
    assert err.read_text() == "to err"
    assert result.stdout_bytes == b""
    assert result.stderr == ""


def test_output_to_a_binary_file_object(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "log"
    with open(path, "wb") as f:
        f.write(b"header\n")
        cmdrun.run(["echo", "appended"], stdout=f, merge_stderr=True)
    assert path.read_bytes() == b"header\nappended\n"


def test_output_to_an_in_memory_binary_file_with_callbacks() -> None:
    sink = io.BytesIO()
    lines: list[str] = []
    cmdrun.run(["printf", "a\\nb\\n"], stdout=sink, on_stdout=lines.append)
    assert sink.getvalue() == b"a\nb\n"
    assert lines == ["a\n", "b\n"]


def test_text_file_target_is_refused(tmp_path: pathlib.Path) -> None:
    with open(tmp_path / "t", "w") as f, pytest.raises(TypeError, match="binary file"):
        cmdrun.run(["true"], stdout=f)  # type: ignore[arg-type]


def test_max_output_keeps_the_tail_and_counts_the_rest() -> None:
    size = 5 * (1 << 20) + 123
    code = (
        f"import os; os.write(1, b'a' * {size} + b'THE END'); "
        "os.write(2, b'e' * 10 + b'last words')"
    )
    result = cmdrun.run(py(code), max_output=1000)
    assert len(result.stdout_bytes) == 1000
    assert result.stdout.endswith("aTHE END")
    assert result.stdout_dropped == size + 7 - 1000
    assert result.stderr == "e" * 10 + "last words"
    assert result.stderr_dropped == 0


def test_max_output_tail_is_in_the_error_message() -> None:
    code = "import sys; sys.stderr.write('noise\\n' * 100000 + 'real problem\\n'); sys.exit(2)"
    with pytest.raises(cmdrun.CommandFailed, match="real problem") as info:
        cmdrun.run(py(code), max_output=100)
    assert info.value.result.stderr_dropped > 0


def test_bad_max_output() -> None:
    with pytest.raises(ValueError, match="max_output"):
        cmdrun.run(["true"], max_output=-1)
    with pytest.raises(TypeError, match="on_stdout must be callable"):
        cmdrun.run(["true"], on_stdout="print")  # type: ignore[arg-type]


def test_callback_exception_stops_the_program_and_propagates() -> None:
    def explode(line: str) -> None:
        raise RuntimeError("callback failed on " + line.strip())

    with pytest.raises(RuntimeError, match="callback failed on pids") as info:
        cmdrun.run(tree(2), on_stdout=explode, kill_grace=0.5)
    pids = [int(p) for p in str(info.value).split()[4:]]
    assert wait_dead(pids) == []


def test_file_target_fd_is_not_leaked(tmp_path: pathlib.Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(20):
        cmdrun.run(["echo", "x"], stdout=tmp_path / "o")
    assert set(os.listdir("/proc/self/fd")) == before
