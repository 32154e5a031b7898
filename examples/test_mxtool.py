"""Tests of mxtool, written the way a user of cmdrun writes them: no nslookup, no network.

The first tests fake nslookup with the ``fake_commands`` fixture. The last one replays a
cassette recorded from a real interactive nslookup session; re-record it with
``pytest examples/test_mxtool.py --cmdrun-record`` (that starts the local DNS server on
127.0.0.1 port 5353, so the recording never leaves the machine).
"""

from __future__ import annotations

from collections.abc import Iterator

import mxtool
import pytest

import cmdrun
from cmdrun.testing import ANY, Exit, FakeCommands, In, Out

NSLOOKUP_MX = """\
Server:\t\t127.0.0.1
Address:\t127.0.0.1#53

Non-authoritative answer:
example.org\tmail exchanger = 20 backup.example.org.
example.org\tmail exchanger = 10 mx.example.org.

"""


def test_parses_the_answer(fake_commands: FakeCommands) -> None:
    query = ["nslookup", "-type=mx", ANY, ANY, ANY, "example.org", ANY]
    fake_commands.register(query, stdout=NSLOOKUP_MX)
    assert mxtool.mx_records("example.org", "127.0.0.1") == [
        (10, "mx.example.org."),
        (20, "backup.example.org."),
    ]
    fake_commands.assert_called(["nslookup", "-type=mx", "-port=53", ANY, ANY, ANY, ANY], times=1)


def test_reports_what_nslookup_said(fake_commands: FakeCommands) -> None:
    fake_commands.register(
        ["nslookup", *[ANY] * 6],
        stdout=";; connection timed out; no servers could be reached\n",
        returncode=1,
    )
    with pytest.raises(mxtool.LookupFailed, match="no servers could be reached"):
        mxtool.mx_records("example.org", "192.0.2.1")


def test_missing_nslookup(fake_commands: FakeCommands) -> None:
    missing = cmdrun.CommandNotFound("nslookup", "/usr/bin")
    fake_commands.register(["nslookup", cmdrun.testing.ANY_REST], raises=missing)
    with pytest.raises(cmdrun.CommandNotFound, match="nslookup"):
        mxtool.mx_records("example.org", "127.0.0.1")


def test_interactive_lookup_against_a_fake_dialogue(fake_commands: FakeCommands) -> None:
    prompt = Out("> ")
    fake_commands.register(
        ["nslookup"],
        tty=True,
        dialogue=[
            prompt, In("set port=53"),
            prompt, In("server 10.0.0.1"),
            Out("Default server: 10.0.0.1\nAddress: 10.0.0.1#53\n"), prompt, In("set q=mx"),
            prompt, In("example.org"),
            Out(NSLOOKUP_MX), prompt, In("exit"),
            Exit(0),
        ],
    )  # fmt: skip
    assert mxtool.mx_records_interactive("example.org", "10.0.0.1") == [
        (10, "mx.example.org."),
        (20, "backup.example.org."),
    ]


@pytest.fixture
def dns_server_when_recording(request: pytest.FixtureRequest) -> Iterator[None]:
    """While recording, a real DNS server on 127.0.0.1:5353; nothing while replaying."""
    if not request.config.getoption("--cmdrun-record"):
        yield
        return
    import _dnsserver

    with _dnsserver.serve(port=5353):
        yield


@pytest.mark.cmdrun_cassette("cassettes/nslookup_dialogue.json")
@pytest.mark.usefixtures("dns_server_when_recording")
def test_interactive_lookup_replayed_from_a_cassette() -> None:
    assert mxtool.mx_records_interactive("python.org", "127.0.0.1", port=5353) == [
        (50, "mail.python.org.")
    ]
