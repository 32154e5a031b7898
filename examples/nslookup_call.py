"""Run ``nslookup www.python.org`` sharing our terminal, and print its exit code.

Reproduces the first ``subprocess`` example of the Python notes this project grew from (a
Chinese tutorial on ``os.fork``, ``multiprocessing`` and ``subprocess``)::

    r = subprocess.call(['nslookup', 'www.python.org'])
    print('Exit code:', r)

with :func:`cmdrun.call`, which also lets nslookup write straight to our stdout and returns
its exit code, but stops it (and anything it started) if it runs past the timeout.

The question goes to a local fake DNS server (see ``_dnsserver.py``), so nothing leaves the
machine; pass ``--server HOST[#PORT]`` to ask a real resolver instead.
"""

from __future__ import annotations

import argparse
import sys

import _dnsserver

import cmdrun


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _dnsserver.add_server_option(parser)
    args = parser.parse_args(argv)
    with _dnsserver.dns_server(args.server) as (host, port):
        command = ["nslookup", f"-port={port}", "www.python.org", host]
        print("$", " ".join(command), flush=True)  # flush: nslookup writes to our stdout next
        code = cmdrun.call(command, timeout=30)
    print("Exit code:", code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
