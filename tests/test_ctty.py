"""The controlling terminal: programs that open /dev/tty, and ``call`` sharing the terminal."""

from __future__ import annotations

import cmdrun


def test_telnet_style_line_endings_from_a_real_terminal_give_clean_lines() -> None:
    # A program that writes \r\n itself on a terminal that maps \n to \r\n sends \r\r\n, as
    # telnet does.
    with cmdrun.spawn(
        ["sh", "-c", r"printf 'one\r\ntwo\r\n> '; sleep 5"], tty=True, timeout=5
    ) as s:
        found = s.expect("> ")
        assert "one\r\r\ntwo\r\r\n" in found.before
        assert found.lines == ["one", "two"]
