"""``stdin=`` from somewhere else: a path, a file, an fd, an iterable of chunks, an async one."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import cmdrun
import leakcheck
from children import echo_stdin, pids_in, py

CHUNK = 64 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha_of_stdin(**options: Any) -> str:
    """The sha256 of what ``sha256sum`` read from its stdin."""
    return str(cmdrun.run(["sha256sum"], **options).stdout.split()[0])


@pytest.fixture
def data_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(300_000) + b"\n\x00end")
    return path


# -- a path -----------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", [str, pathlib.Path], ids=["str", "Path"])
def test_stdin_path_gives_the_file_byte_exact(data_file: pathlib.Path, spelling: Any) -> None:
    assert sha_of_stdin(stdin=spelling(data_file)) == sha256(data_file.read_bytes())


def test_stdin_path_is_handed_to_the_child_not_copied(data_file: pathlib.Path) -> None:
    r = cmdrun.run(["readlink", "/proc/self/fd/0"], stdin=data_file)
    assert r.stdout.strip() == str(data_file)


def test_stdin_path_fd_is_closed_after_the_run(data_file: pathlib.Path) -> None:
    before = leakcheck.snapshot()
    cmdrun.run(["cat"], stdin=data_file)
    leakcheck.assert_no_leaks(before)


def test_missing_stdin_path_raises_before_anything_starts(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "ran"
    missing = tmp_path / "no-such-file"
    before = leakcheck.snapshot()
    with pytest.raises(FileNotFoundError, match="no-such-file") as caught:
        cmdrun.run(["touch", str(marker)], stdin=missing)
    assert caught.value.filename == str(missing)
    assert not isinstance(caught.value, cmdrun.CommandNotFound)
    assert not marker.exists()
    leakcheck.assert_no_leaks(before)


def test_a_directory_as_stdin_raises(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        cmdrun.run(["cat"], stdin=tmp_path)


# -- a file object, an fd -----------------------------------------------------------------


def test_stdin_binary_file_is_handed_over(data_file: pathlib.Path) -> None:
    with open(data_file, "rb") as f:
        assert sha_of_stdin(stdin=f) == sha256(data_file.read_bytes())


def test_stdin_file_partly_read_gives_the_child_exactly_the_rest(data_file: pathlib.Path) -> None:
    data = data_file.read_bytes()
    with open(data_file, "rb") as f:
        assert f.read(10) == data[:10]  # the buffered reader has read far more than 10 bytes
        assert sha_of_stdin(stdin=f) == sha256(data[10:])


def test_stdin_open_fd_is_handed_over(data_file: pathlib.Path) -> None:
    fd = os.open(data_file, os.O_RDONLY)
    try:
        assert sha_of_stdin(stdin=fd) == sha256(data_file.read_bytes())
        os.fstat(fd)  # still open: the caller's to close
    finally:
        os.close(fd)


def test_stdin_closed_fd_is_refused() -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(ValueError, match=f"fd {fd} is not open"):
        cmdrun.run(["cat"], stdin=fd)


def test_stdin_text_file_is_refused(data_file: pathlib.Path) -> None:
    with open(data_file, encoding="latin-1") as f, pytest.raises(TypeError, match="binary"):
        cmdrun.run(["cat"], stdin=f)  # type: ignore[arg-type]


def test_stdin_closed_or_write_only_file_is_refused(data_file: pathlib.Path) -> None:
    with open(data_file, "rb") as f:
        pass
    with pytest.raises(ValueError, match="closed"):
        cmdrun.run(["cat"], stdin=f)
    with open(data_file, "ab") as w, pytest.raises(ValueError, match="not open for reading"):
        cmdrun.run(["cat"], stdin=w)


def test_stdin_file_without_fd_is_read_in_chunks() -> None:
    data = os.urandom(200_000)
    assert sha_of_stdin(stdin=io.BytesIO(data)) == sha256(data)


# -- an iterable of chunks --------------------------------------------------------------


def test_stdin_generator_of_bytes() -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(100):
            yield bytes([i]) * 1000

    expected = b"".join(bytes([i]) * 1000 for i in range(100))
    assert sha_of_stdin(stdin=chunks()) == sha256(expected)


def test_stdin_str_chunks_are_encoded_with_encoding() -> None:
    r = cmdrun.run(echo_stdin(), stdin=iter(["é", b"\xff", "ü"]), encoding="latin-1")
    assert r.stdout_bytes == b"\xe9\xff\xfc"


def test_stdin_chunk_of_wrong_type_raises_and_stops_the_program() -> None:
    before = leakcheck.snapshot()
    with pytest.raises(TypeError, match="int"):
        cmdrun.run(["cat"], stdin=iter([b"ok", 42]))  # type: ignore[list-item]
    leakcheck.assert_no_leaks(before)


class Boom(Exception):
    pass


def test_stdin_generator_that_raises_stops_the_program_and_reraises() -> None:
    raised = Boom("from the generator")
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        while not seen:  # until the grandchild runs: it must be stopped too
            yield b"some data\n"
            time.sleep(0.01)
        raise raised

    before = leakcheck.snapshot()
    # A child that starts a grandchild and keeps reading: the whole group must be stopped.
    child = py(
        """
        import subprocess, sys
        p = subprocess.Popen(["sleep", "60"])
        print("pids", p.pid, flush=True)
        sys.stdin.read()
        """
    )
    with pytest.raises(Boom) as caught:
        cmdrun.run(child, stdin=chunks(), on_stdout=seen.append)
    assert caught.value is raised
    leakcheck.assert_gone(pids_in("".join(seen)))
    leakcheck.assert_no_leaks(before)


def test_stdin_generator_is_closed_when_the_child_exits_early() -> None:
    closed: list[bool] = []

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"y" * CHUNK
        finally:
            closed.append(True)

    r = cmdrun.run(["head", "-c", "10"], stdin=endless(), timeout=30)
    assert (r.stdout, r.ok, closed) == ("y" * 10, True, [True])


def test_stdin_generator_and_big_output_do_not_deadlock() -> None:
    total = 64 * 1024 * 1024

    def chunks() -> Iterator[bytes]:
        for i in range(total // CHUNK):
            yield bytes([i % 251]) * CHUNK

    r = cmdrun.run(["cat"], stdin=chunks(), timeout=120)
    expected = hashlib.sha256()
    for chunk in chunks():
        expected.update(chunk)
    assert len(r.stdout_bytes) == total
    assert sha256(r.stdout_bytes) == expected.hexdigest()


_FLAT_MEMORY = """
import resource, cmdrun
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
cmdrun.run(["true"], stdin=iter([b"warm up"]))
before = hwm()
chunk = b"x" * (1 << 20)
r = cmdrun.run(["wc", "-c"], stdin=(chunk for _ in range(1024)), timeout=120)
print(r.stdout.strip(), hwm() - before)
"""


def _count_and_growth(code: str) -> tuple[int, int]:
    """Run ``code`` in a fresh Python (so the test runner's memory does not count) and
    return the two numbers it prints: bytes the program counted, peak memory growth."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=True,
    )
    count, growth = map(int, done.stdout.split())
    return count, growth


def test_stdin_generator_feeds_1_gib_with_flat_memory() -> None:
    count, growth = _count_and_growth(_FLAT_MEMORY)
    assert count == 1 << 30
    assert growth < 64 * 1024 * 1024


def test_stdin_path_streams_1_gib_to_the_child(tmp_path: pathlib.Path) -> None:
    """The file's fd is handed over (here to a pipeline's first stage): 1 GiB arrives whole,
    and nothing of it passes through this process (its peak memory does not move)."""
    big = tmp_path / "big"
    with big.open("wb") as f:
        f.truncate(1 << 30)  # sparse: costs no disk
    code = (
        _FLAT_MEMORY.split("before = hwm()", maxsplit=1)[0]
        + "before = hwm()\n"
        # through cat: wc -c alone would only fstat() a file it was handed
        + f"r = cmdrun.run(cmdrun.pipe(['cat'], ['wc', '-c']), stdin={str(big)!r}, timeout=120)\n"
        + "print(r.stdout.strip(), hwm() - before)\n"
    )
    count, growth = _count_and_growth(code)
    assert count == 1 << 30
    assert growth < 1 << 20


# -- other doors ------------------------------------------------------------------------


def test_stream_with_a_generator() -> None:
    with cmdrun.stream(["cat"], stdin=(f"line {i}\n" for i in range(3))) as lines:
        assert [line.text for line in lines] == ["line 0\n", "line 1\n", "line 2\n"]


def test_run_many_opens_a_path_per_command(data_file: pathlib.Path) -> None:
    results = cmdrun.run_many([["sha256sum"]] * 3, stdin=data_file, jobs=3)
    assert {r.stdout.split()[0] for r in results} == {sha256(data_file.read_bytes())}


@pytest.mark.parametrize("door", ["run_many", "as_completed"])
def test_batches_refuse_a_stdin_that_can_be_read_once(door: str) -> None:
    with pytest.raises(TypeError, match="read once"):
        list(getattr(cmdrun, door)([["cat"], ["cat"]], stdin=iter([b"x"])))


def test_arun_many_refuses_a_file(data_file: pathlib.Path) -> None:
    with open(data_file, "rb") as f, pytest.raises(TypeError, match="read once"):
        asyncio.run(cmdrun.arun_many([["cat"]], stdin=f))


def test_arun_with_an_async_iterable() -> None:
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes | str]:
        try:
            for i in range(50):
                await asyncio.sleep(0.001)
                yield f"{i}\n" if i % 2 else str(i).encode() + b"\n"
        finally:
            closed.append(True)

    r = asyncio.run(cmdrun.arun(["cat"], stdin=chunks()))
    assert r.stdout == "".join(f"{i}\n" for i in range(50))
    assert closed == [True]


def test_arun_async_iterable_that_raises_reraises() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"
        raise Boom("async")

    with pytest.raises(Boom, match="async"):
        asyncio.run(cmdrun.arun(["cat"], stdin=chunks()))


def test_arun_timeout_applies_while_the_async_iterable_waits() -> None:
    async def stalls() -> AsyncIterator[bytes]:
        yield b"x"
        await asyncio.sleep(60)
        yield b"never"

    r = asyncio.run(cmdrun.arun(["cat"], stdin=stalls(), timeout=0.5, check=False))
    assert r.timed_out
    assert r.stdout == "x"


def test_arun_with_a_path(data_file: pathlib.Path) -> None:
    r = asyncio.run(cmdrun.arun(["sha256sum"], stdin=data_file))
    assert r.stdout.split()[0] == sha256(data_file.read_bytes())


def test_sync_doors_refuse_an_async_iterable() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"

    gen = chunks()
    with pytest.raises(TypeError, match="arun"):
        cmdrun.run(["cat"], stdin=gen)
    asyncio.run(gen.aclose())


# -- refusals ---------------------------------------------------------------------------


def test_stdin_and_input_together_are_refused(data_file: pathlib.Path) -> None:
    with pytest.raises(TypeError, match="both"):
        cmdrun.run(["cat"], stdin=data_file, input="x")


def test_stdin_and_respond_together_are_refused(data_file: pathlib.Path) -> None:
    with pytest.raises(TypeError, match=r"stdin=.*respond="):
        cmdrun.run(["cat"], stdin=data_file, respond={"? ": "y"})


def test_stdin_with_tty_true_is_refused(data_file: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="tty"):
        cmdrun.run(["cat"], stdin=data_file, tty=True)


def test_stdin_string_that_is_no_file_names_input_in_the_error() -> None:
    with pytest.raises(FileNotFoundError, match="input="):
        cmdrun.run(["cat"], stdin="hello world")


def test_tty_auto_with_stdin_runs_on_pipes_and_never_reruns(data_file: pathlib.Path) -> None:
    refuses = py("import sys; sys.stdin.buffer.read(); sys.exit('not a tty')")
    r = cmdrun.run(refuses, stdin=data_file, check=False)
    assert (r.tty, r.returncode) == (False, 1)
