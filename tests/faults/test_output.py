"""Children whose output is hostile: floods, endless lines, broken UTF-8, NUL bytes, and a
child that never reads its input."""

from __future__ import annotations

import cmdrun
from children import flood, long_line, never_read, pids_in, write_chunks
from faults.bounds import BOUND, GRACE, TIMEOUT, timed
from faults.fresh import fresh_python

GIB = 1 << 30
MIB = 1 << 20


def test_1gib_flood_with_max_output_keeps_the_exact_tail_in_bounded_memory() -> None:
    found = fresh_python(
        """
        import resource
        import cmdrun
        from children import flood, flood_bytes
        total, keep = 1 << 30, 1 << 20
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        r = cmdrun.run(flood(total), max_output=keep)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report({
            "growth_kib": after - before,
            "kept": len(r.stdout_bytes),
            "dropped": r.stdout_dropped,
            "tail_exact": r.stdout_bytes == flood_bytes(total - keep, total),
        })
        """
    )
    assert found["kept"] == MIB
    assert found["dropped"] + found["kept"] == GIB
    assert found["tail_exact"]
    assert found["growth_kib"] < 64 * 1024


def test_child_never_reading_100mb_of_input_is_stopped_by_the_timeout(pids: list[int]) -> None:
    r, elapsed = timed(
        lambda: cmdrun.run(
            never_read(), input=b"x" * (100 * MIB), timeout=TIMEOUT, kill_grace=GRACE, check=False
        )
    )
    pids += pids_in(r.stdout)
    assert r.timed_out
    assert elapsed < BOUND


def test_child_reading_a_little_of_100mb_of_input_ends_normally() -> None:
    r = cmdrun.run(["head", "-c", "10"], input=b"y" * (100 * MIB), timeout=30)
    assert r.stdout_bytes == b"y" * 10


INVALID_UTF8_CHUNKS = [
    b"caf\xc3",  # a two-byte character cut in half
    b"\xa9 ",
    b"\xe2\x82",  # a three-byte one cut after two bytes
    b"\xac\n",
    b"bad \xff\xfe bytes\r\n",
    b"emoji \xf0\x9f",
    b"\x98\x80\rredrawn\n",
    b"lone \x80 continuation\n",
    b"cut at the end \xe2\x82",
]


def test_invalid_utf8_split_across_reads_keeps_exact_bytes_and_decodes_with_replacement() -> None:
    data = b"".join(INVALID_UTF8_CHUNKS)
    lines: list[str] = []
    r = cmdrun.run(write_chunks(INVALID_UTF8_CHUNKS), on_stdout=lines.append)
    assert r.stdout_bytes == data
    assert r.stdout == data.decode("utf-8", "replace")
    assert "".join(lines) == r.stdout
    assert "café €\n" in lines


def test_invalid_utf8_split_across_reads_streams_the_same_text() -> None:
    data = b"".join(INVALID_UTF8_CHUNKS)
    with cmdrun.stream(write_chunks(INVALID_UTF8_CHUNKS)) as lines:
        text = "".join(line.text for line in lines)
    assert text == data.decode("utf-8", "replace")


def test_64mib_line_arrives_whole_in_stdout_and_in_one_callback() -> None:
    size = 64 * MIB
    lines: list[str] = []
    r = cmdrun.run(long_line(size), on_stdout=lines.append, timeout=60)
    assert len(r.stdout_bytes) == size + 1
    assert r.stdout_bytes == b"x" * size + b"\n"
    assert [len(line) for line in lines] == [size + 1]
    assert lines[0] == "x" * size + "\n"


def test_nul_bytes_round_trip_through_cat() -> None:
    data = bytes(range(256)) * 1000 + b"\0" * 100_000 + b"a\0b\n\0"
    lines: list[str] = []
    r = cmdrun.run(["cat"], input=data, on_stdout=lines.append)
    assert r.stdout_bytes == data
    assert r.stdout == data.decode("utf-8", "replace")
    assert "".join(lines) == r.stdout


def test_nul_bytes_in_text_input_round_trip() -> None:
    text = "a\0b\0\0c\n" * 1000
    assert cmdrun.run(["cat"], input=text).stdout == text


def test_flood_is_stopped_by_the_timeout_with_the_tail_kept() -> None:
    r, elapsed = timed(
        lambda: cmdrun.run(
            ["sh", "-c", 'exec "$@"; sleep 60', "sh", *flood(1 << 40)],
            timeout=TIMEOUT,
            kill_grace=GRACE,
            max_output=MIB,
            check=False,
        )
    )
    assert r.timed_out
    assert len(r.stdout_bytes) == MIB
    assert r.stdout_dropped > 0
    assert elapsed < BOUND
