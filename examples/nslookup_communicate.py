"""Feed nslookup a whole dialogue on stdin at once, over pipes, and print its answer.

Reproduces the second ``subprocess`` example of the Python notes this project grew from (a
Chinese tutorial on ``os.fork``, ``multiprocessing`` and ``subprocess``), which types three
commands into an interactive nslookup (``set q=mx`` asks for mail servers, then the name,
then ``exit``)::

    p = subprocess.Popen(['nslookup'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    output, err = p.communicate(b'set q=mx\\npython.org\\nexit\\n')
    print(output.decode('utf-8'))
    print('Exit code:', p.returncode)

with one :func:`cmdrun.run` call: ``input`` is written while the output is read (no
deadlock), and the output comes back as text. Over pipes nslookup prints no ``>`` prompt.
The dialogue first points nslookup at a local fake DNS server (see ``_dnsserver.py``); pass
``--server HOST[#PORT]`` to ask a real resolver instead.
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
        # The port first, so the "Default server" nslookup prints shows the right one.
        dialogue = f"set port={port}\nserver {host}\nset q=mx\npython.org\nexit\n"
        print("$ nslookup")
        result = cmdrun.run(["nslookup"], input=dialogue, timeout=30, check=False)
    print(result.stdout)
    if result.stderr:
        print("stderr:", result.stderr, file=sys.stderr)
    print("Exit code:", result.returncode)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
