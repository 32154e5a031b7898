"""mxtool: a small tool that asks nslookup for a domain's mail servers.

It is the kind of code cmdrun's test fixtures are for: ``examples/test_mxtool.py`` tests
it without nslookup or a network, with ``fake_commands`` and with a cassette recorded from
a real nslookup session.

Usage: ``python examples/mxtool.py DOMAIN [--server HOST[#PORT]] [--interactive]``
(without ``--server`` it starts the local test DNS server, like the other examples).
"""

from __future__ import annotations

import argparse
import re
import sys

import cmdrun

MX_LINE = re.compile(r"mail exchanger = (\d+) (\S+)")


class LookupFailed(Exception):
    """nslookup could not answer."""


def parse_mx(text: str) -> list[tuple[int, str]]:
    """``(preference, host)`` pairs from nslookup's output, best first."""
    return sorted((int(pref), host) for pref, host in MX_LINE.findall(text))


def mx_records(domain: str, server: str, port: int = 53) -> list[tuple[int, str]]:
    """Ask nslookup once (``-type=mx``) for ``domain``'s mail servers.

    Raises:
        LookupFailed: nslookup failed; the message is what it said.
    """
    argv = ["nslookup", "-type=mx", f"-port={port}", "-timeout=2", "-retry=1", domain, server]
    result = cmdrun.run(argv, timeout=15, check=False)
    if not result.ok:  # nslookup prints its errors on stdout
        reason = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "no output"
        raise LookupFailed(f"nslookup failed for {domain}: {reason}")
    return parse_mx(result.stdout)


def mx_records_interactive(domain: str, server: str, port: int = 53) -> list[tuple[int, str]]:
    """The same question, typed at nslookup's ``>`` prompt on a terminal."""
    with cmdrun.spawn(["nslookup"], tty=True, timeout=10) as session:
        session.expect("> ")
        for command in (f"set port={port}", f"server {server}", "set q=mx", domain):
            session.sendline(command)
            answer = session.expect("> ")
        session.sendline("exit")
        session.wait()
    return parse_mx("\n".join(answer.lines))


def main(argv: list[str]) -> int:
    import _dnsserver  # here, not at the top: tests import mxtool without its neighbours

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domain")
    _dnsserver.add_server_option(parser)
    parser.add_argument("--interactive", action="store_true", help="use nslookup's prompt")
    args = parser.parse_args(argv)

    lookup = mx_records_interactive if args.interactive else mx_records
    with _dnsserver.dns_server(args.server) as (host, port):
        try:
            records = lookup(args.domain, host, port)
        except LookupFailed as err:
            print(err, file=sys.stderr)
            return 1
    for preference, host in records:
        print(preference, host)
    return 0 if records else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
