"""Talk to nslookup prompt by prompt on a terminal, and pick the MX answer out of its output.

The Python notes this project grew from (a Chinese tutorial on ``os.fork``,
``multiprocessing`` and ``subprocess``) pipe a whole script into nslookup with
``Popen(['nslookup'], ...).communicate(b'set q=mx\\npython.org\\nexit\\n')`` and prints
everything. Here the same dialogue runs the way a person types it: :func:`cmdrun.spawn`
starts nslookup on a pseudo-terminal (so it shows its ``>`` prompt), each command is sent
after the prompt appears, and the answer is read from the text that came before the next
prompt.

The questions go to a local fake DNS server (see ``_dnsserver.py``); pass
``--server HOST[#PORT]`` to ask a real resolver instead.
"""

from __future__ import annotations

import argparse
import re
import sys

import _dnsserver

import cmdrun

PROMPT = "> "
MX = re.compile(r"mail exchanger = (\d+) (\S+)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _dnsserver.add_server_option(parser)
    args = parser.parse_args(argv)
    with (
        _dnsserver.dns_server(args.server) as (host, port),
        cmdrun.spawn(["nslookup"], tty=True, timeout=10) as session,
    ):
        session.expect(PROMPT)
        for command in (f"set port={port}", f"server {host}", "set q=mx"):
            session.sendline(command)
            session.expect(PROMPT)
        session.sendline("python.org")
        answer = session.expect(PROMPT)
        session.sendline("exit")
        result = session.wait()
    # Match.lines: the text before the prompt, cleaned, without the echo of "python.org".
    # A line typed just as nslookup's line editor takes over the terminal can be echoed
    # twice, so show the reply from its "Server:" line on.
    lines = answer.lines
    start = next((i for i, line in enumerate(lines) if line.startswith("Server:")), 0)
    print("\n".join(lines[start:]))
    found = MX.search("\n".join(lines))
    if found is None:
        print("no MX record in nslookup's answer", file=sys.stderr)
        return 1
    preference, exchanger = found.groups()
    print(f"MX for python.org: {preference} {exchanger}")
    print("Exit code:", result.returncode)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
