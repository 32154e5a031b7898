"""Run ``nslookup www.python.org`` sharing our terminal, and print its exit code.

Reproduces the seed's first subprocess example::

    r = subprocess.call(['nslookup', 'www.python.org'])
    print('Exit code:', r)

with :func:`cmdrun.call`, which also lets nslookup write straight to our stdout and returns
its exit code, but stops it (and anything it started) if it runs past the timeout.

The question goes to a local fake DNS server (see ``_dnsserver.py``), so nothing leaves the
machine; pass ``--server HOST[#PORT]`` to ask a real resolver instead.
"""

from __future__ import annotations

import sys

import _dnsserver

import cmdrun


def main(argv: list[str]) -> int:
    with _dnsserver.dns_server_for(argv) as (host, port):
        command = ["nslookup", f"-port={port}", "www.python.org", host]
        print("$", " ".join(command), flush=True)  # flush: nslookup writes to our stdout next
        code = cmdrun.call(command, timeout=30)
    print("Exit code:", code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
