"""The pure text machinery of dialogues: no process needed."""

from __future__ import annotations

import re

import pytest

from cmdrun import Secret, clean
from cmdrun._match import Buffer, Responder, check_patterns
from cmdrun._output import StreamDecoder


def test_literal_found_across_additions() -> None:
    buf = Buffer()
    buf.add("Pass")
    assert buf.search(["Password: "]) is None
    buf.add("word")
    assert buf.search(["Password: "]) is None
    buf.add(": ")
    found = buf.search(["Password: "])
    assert found is not None
    assert (found.index, found.before, found.text) == (0, "", "Password: ")


def test_earliest_match_wins_and_ties_go_to_first_pattern() -> None:
    buf = Buffer()
    buf.add("aaa> bbb$ ")
    found = buf.search(["$ ", "> "])
    assert found is not None
    assert (found.index, found.before) == (1, "aaa")
    buf2 = Buffer()
    buf2.add("xx> ")
    found2 = buf2.search([re.compile(r">\s"), "> "])
    assert found2 is not None
    assert found2.index == 0
    assert found2.match is not None


def test_match_consumes_up_to_its_end() -> None:
    buf = Buffer()
    buf.add("one> two> ")
    first = buf.search(["> "])
    second = buf.search(["> "])
    assert first is not None
    assert second is not None
    assert (first.before, second.before) == ("one", "two")
    assert buf.search(["> "]) is None


def test_regex_groups_are_available() -> None:
    buf = Buffer()
    buf.add("mail exchanger = 50 mail.python.org.\n> ")
    found = buf.search([re.compile(r"exchanger = (\d+) (\S+)")])
    assert found is not None
    assert found.match is not None
    assert found.match.groups() == ("50", "mail.python.org.")


def test_literal_search_is_incremental_on_big_buffers() -> None:
    buf = Buffer()
    for _ in range(200):
        buf.add("x" * 10_000)
        assert buf.search(["PROMPT> "]) is None
    buf.add("PROMPT> ")
    found = buf.search(["PROMPT> "])
    assert found is not None
    assert len(found.before) == 2_000_000


@pytest.mark.parametrize(
    ("patterns", "error"),
    [((), ValueError), (("",), ValueError), ((b"x",), TypeError), ((re.compile(b"x"),), TypeError)],
)
def test_bad_patterns(patterns: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        check_patterns(patterns)


def test_lines_are_clean_and_drop_the_echo() -> None:
    buf = Buffer()
    buf.add("set q=mx\r\n\x1b[?2004lanswer one\r\nanswer two\r\n> ")
    found = buf.search(["> "], sent="set q=mx")
    assert found is not None
    assert found.lines == ["answer one", "answer two"]


def test_clean_normalises_line_endings_and_escapes() -> None:
    assert clean("\x1b[1;32mok\x1b[0m\r\nnext\rline\n") == "ok\nnext\nline\n"


def test_responder_answers_every_occurrence_in_order() -> None:
    responder = Responder({"User: ": "ann", re.compile(r"Password: ?"): Secret("pw")})
    replies = responder.feed("User: ")
    assert replies == [("User: ", "ann")]
    replies = responder.feed("Passw")
    assert replies == []
    replies = responder.feed("ord: User: ")
    assert [r for _, r in replies] == [Secret("pw"), "ann"]


def test_responder_memory_is_bounded() -> None:
    responder = Responder({"never": "x"})
    for _ in range(1000):
        assert responder.feed("y" * 10_000) == []
    assert len(responder._buffer.text) <= 10_000 + 4096


def test_responder_rejects_bad_replies() -> None:
    with pytest.raises(TypeError, match="reply must be str or Secret"):
        Responder({"x": 3})  # type: ignore[dict-item]


def test_stream_decoder_keeps_split_characters_per_stream() -> None:
    decoder = StreamDecoder("utf-8", "replace")
    euro = "€".encode()
    text = decoder.decode("stdout", euro[:1])
    text += decoder.decode("stderr", b"e")
    text += decoder.decode("stdout", euro[1:])
    assert text == "e€"
    assert decoder.decode("stdout", b"\xff") == "\ufffd"


def test_secret_is_masked_and_not_picklable() -> None:
    import pickle

    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert str(secret) == "******"
    assert f"{secret}" == "******"
    assert secret.reveal() == "hunter2"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="empty"):
        Secret("")


def test_lines_drop_a_double_echo_from_a_line_editor() -> None:
    buf = Buffer()
    buf.add("set q=mx\r\nset q=mx\r\nanswer\r\n> ")
    found = buf.search(["> "], sent="set q=mx")
    assert found is not None
    assert found.lines == ["answer"]


def test_redactor_masks_a_secret_typed_with_its_newline() -> None:
    from cmdrun._secret import Redactor

    redact = Redactor([Secret("hunter2\n")])
    assert redact.text("you typed hunter2\n") == "you typed ******\n"
    assert redact.feed("stdout", b"hunter2hunter2") == b"************"


def test_clean_reads_a_run_of_carriage_returns_before_newline_as_one_line_ending() -> None:
    assert clean("a\r\r\nb\r\r\n") == "a\nb\n"  # telnet sends \r\r\n
    assert clean("a\r\r\r\n\r\nb\rc") == "a\n\nb\nc"


def test_lines_after_telnet_style_line_endings_have_no_blank_lines() -> None:
    buf = Buffer()
    buf.add("one\r\r\ntwo\r\r\nthree\r\r\n> ")
    found = buf.search(["> "])
    assert found is not None
    assert found.lines == ["one", "two", "three"]
