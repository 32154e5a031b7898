"""The controlling terminal: programs that open /dev/tty, and ``call`` sharing the terminal."""

from __future__ import annotations

import json
import re
import sys
import time

import pytest

import cmdrun
from children import pids_in, py, wait_dead


def test_telnet_style_line_endings_from_a_real_terminal_give_clean_lines() -> None:
    # A program that writes \r\n itself on a terminal that maps \n to \r\n sends \r\r\n, as
    # telnet does.
    with cmdrun.spawn(
        ["sh", "-c", r"printf 'one\r\ntwo\r\n> '; sleep 5"], tty=True, timeout=5
    ) as s:
        found = s.expect("> ")
        assert "one\r\r\ntwo\r\r\n" in found.before
        assert found.lines == ["one", "two"]


# A program that talks to its controlling terminal and nothing else, as sudo, ssh and
# passphrase readers do; it also prints its process group and the terminal's foreground group.
TTY_TALKER = [
    "sh",
    "-c",
    "exec 3<>/dev/tty || exit 1; "
    'echo "groups $(ps -o pgid= -p $$) $(ps -o tpgid= -p $$)" >&3; '
    'printf "child> " >&3; read -r line <&3; echo "child got: $line" >&3',
]


# Python 3.10's Popen cannot start a child in a new group without Python code in the child:
# there call() keeps a new session (documented).
needs_process_group = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="call() takes the terminal on Python 3.11+"
)


def _terminal_parent(call: str, child: list[str]) -> list[str]:
    """A Python parent that runs ``call`` (cmdrun code using ``CHILD``), then says whether its
    own group has the terminal's foreground again; run on a PTY, it leads the session."""
    return py(
        f"""
        import json, os, sys, cmdrun
        CHILD = json.loads(sys.argv[1])
        print("parent group", os.getpgrp(), flush=True)
        {call}
        tty = os.open("/dev/tty", os.O_RDWR)
        print("foreground back:", os.tcgetpgrp(tty) == os.getpgrp(), flush=True)
        """,
        json.dumps(child),
    )


def _groups(found: cmdrun.Match) -> tuple[str, ...]:
    assert found.match is not None
    return found.match.groups()


@needs_process_group
def test_call_lets_the_program_read_and_write_the_controlling_terminal() -> None:
    parent = _terminal_parent('print("call returned", cmdrun.call(CHILD), flush=True)', TTY_TALKER)
    with cmdrun.spawn(parent, tty=True, timeout=15) as s:
        parent_group = int(_groups(s.expect(re.compile(r"parent group (\d+)")))[0])
        child_group, foreground = map(int, _groups(s.expect(re.compile(r"groups +(\d+) +(\d+)"))))
        assert child_group != parent_group
        assert foreground == child_group  # the program's own group is the terminal's foreground
        s.expect("child> ")
        s.sendline("typed by a person")
        s.expect("child got: typed by a person")
        s.expect("call returned 0")
        s.expect("foreground back: True")
        assert s.wait().returncode == 0


@needs_process_group
def test_ctrl_c_on_the_terminal_reaches_the_called_program_not_the_parent() -> None:
    # Reading the terminal first shows the program has its foreground (a background reader
    # would be stopped): only then is Ctrl-C typed.
    script = "exec 3<>/dev/tty || exit 1; read -r line <&3; echo ready >&3; exec sleep 30"
    child = ["sh", "-c", script]
    call = """
        try:
            print("call returned", cmdrun.call(CHILD, timeout=20), flush=True)
        except KeyboardInterrupt:
            print("parent interrupted", flush=True)
    """
    with cmdrun.spawn(_terminal_parent(call, child), tty=True, timeout=15) as s:
        s.expect("parent group")
        s.sendline("go")
        s.expect("ready")
        s.interrupt()
        found = s.expect("call returned -2", "parent interrupted")
        assert found.index == 0
        s.expect("foreground back: True")


@needs_process_group
def test_call_timeout_stops_the_programs_group_and_gives_the_terminal_back() -> None:
    child = [
        "sh",
        "-c",
        "exec 3<>/dev/tty || exit 1; sleep 30 & echo pids $$ $! >&3; read -r line <&3",
    ]
    call = """
        try:
            cmdrun.call(CHILD, timeout=1)
        except cmdrun.CommandTimedOut:
            print("timed out", flush=True)
    """
    with cmdrun.spawn(_terminal_parent(call, child), tty=True, timeout=15) as s:
        pids = pids_in(s.expect(re.compile(r"pids \d+ \d+")).text)
        s.expect("timed out")
        s.expect("foreground back: True")
        assert s.wait().returncode == 0
    assert wait_dead(pids) == []


@needs_process_group
def test_ctrl_z_of_the_called_program_does_not_leave_the_parent_waiting_forever() -> None:
    # The parent leads its session (no shell above it to resume it), so a stopped job is
    # continued at once, as the kernel refuses to stop an orphaned process group.
    script = "exec 3<>/dev/tty || exit 1; read -r a <&3; echo ready >&3; "
    script += 'read -r b <&3; echo "got $b" >&3'
    call = 'print("call returned", cmdrun.call(CHILD, timeout=20), flush=True)'
    with cmdrun.spawn(_terminal_parent(call, ["sh", "-c", script]), tty=True, timeout=15) as s:
        s.expect("parent group")
        s.sendline("go")
        s.expect("ready")
        s.send("\x1a")  # Ctrl-Z
        time.sleep(0.5)  # the stop happens and is noticed (not a timing assertion)
        s.sendline("after the stop")
        s.expect("got after the stop")
        s.expect("call returned 0")
        s.expect("foreground back: True")
