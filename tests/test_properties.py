"""Properties checked on random data (hypothesis): bytes, lines, tails and matches come out
exactly as they went in, however the data is split on its way.

Every example runs a real child, so the example counts are modest.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmdrun
from children import write_chunks

FEW = settings(
    max_examples=80,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

#: Text rich in line endings of every kind, and in multi-byte characters.
LINEY = st.text(alphabet="ab é€\n\r\t\0", max_size=300)


@FEW
@given(data=st.binary(max_size=2000), repeat=st.integers(1, 300))
def test_bytes_round_trip_through_cat(data: bytes, repeat: int) -> None:
    sent = data * repeat
    assert cmdrun.run(["cat"], input=sent).stdout_bytes == sent


@FEW
@given(text=LINEY)
def test_lines_delivered_to_on_stdout_join_to_stdout(text: str) -> None:
    lines: list[str] = []
    r = cmdrun.run(["cat"], input=text, on_stdout=lines.append)
    assert r.stdout == text
    assert "".join(lines) == r.stdout


@FEW
@given(text=LINEY)
def test_lines_from_stream_join_to_stdout(text: str) -> None:
    with cmdrun.stream(["cat"], input=text) as lines:
        joined = "".join(line.text for line in lines)
    assert joined == text


def _splits(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut into chunks at random byte offsets (inside characters too)."""

    def cut(points: list[int]) -> list[bytes]:
        edges = [0, *sorted(points), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(edges)]

    return st.lists(st.integers(1, max(1, len(data) - 1)), max_size=6, unique=True).map(cut)


@settings(FEW, max_examples=40)
@given(st.data())
def test_lines_split_at_random_points_join_to_stdout(data: st.DataObject) -> None:
    text = data.draw(LINEY.filter(bool))
    chunks = data.draw(_splits(text.encode()))
    lines: list[str] = []
    r = cmdrun.run(write_chunks(chunks, pause=0.002), on_stdout=lines.append)
    assert r.stdout == text
    assert "".join(lines) == text


@FEW
@given(data=st.binary(max_size=5000), repeat=st.integers(1, 50), limit=st.integers(0, 300_000))
def test_max_output_keeps_the_exact_tail(data: bytes, repeat: int, limit: int) -> None:
    sent = data * repeat
    r = cmdrun.run(["cat"], input=sent, max_output=limit)
    kept = sent[max(0, len(sent) - limit) :] if limit else b""
    assert r.stdout_bytes == kept
    assert r.stdout_dropped == len(sent) - len(kept)


@settings(FEW, max_examples=40)
@given(st.data())
def test_expect_over_random_splits_matches_as_over_the_whole_text(data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet="ab é€\n>", min_size=1, max_size=80))
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    wanted = text[start:end]
    chunks = data.draw(_splits(text.encode()))
    pattern = data.draw(st.sampled_from([wanted, re.compile(re.escape(wanted))]))
    with cmdrun.spawn(write_chunks([*chunks], pause=0.002), tty=False, timeout=10) as s:
        found = s.expect(pattern)
    first = text.index(wanted)
    assert found.before == text[:first]
    assert found.text == wanted


SECRETS = st.text(alphabet="abXY-é", min_size=2, max_size=10)
AROUND = st.text(alphabet="abXY-é \n", max_size=30)


@settings(FEW, max_examples=30)
@given(st.data())
def test_a_secret_is_masked_on_every_surface_however_it_is_split(data: st.DataObject) -> None:
    secret = data.draw(SECRETS, label="secret")
    output = (data.draw(AROUND) + secret + data.draw(AROUND)).encode()
    chunks = data.draw(_splits(output), label="chunks")
    limit = data.draw(st.integers(1, len(output) + 10), label="max_output")
    expected = output.decode().replace(secret, cmdrun_mask()).encode()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out")
        to_file = cmdrun.run(
            write_chunks(chunks, pause=0.001), input=cmdrun.Secret(secret), stdout=target
        )
        with open(target, "rb") as f:
            assert f.read() == expected
    assert to_file.stdout == ""
    r = cmdrun.run(
        write_chunks(chunks, pause=0.001),
        input=cmdrun.Secret(secret),
        on_stdout=lines.append,
        max_output=limit,
    )
    assert r.stdout_bytes == expected[-limit:]
    assert "".join(lines).encode() == expected
    with cmdrun.stream(write_chunks(chunks, pause=0.001), input=cmdrun.Secret(secret)) as seen:
        assert "".join(line.text for line in seen).encode() == expected


def cmdrun_mask() -> str:
    from cmdrun._secret import MASK

    return MASK
