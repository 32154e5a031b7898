"""Feed nslookup a whole dialogue on stdin at once, over pipes, and print its answer.

Reproduces the seed's second subprocess example::

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

import sys

import _dnsserver

import cmdrun


def main(argv: list[str]) -> int:
    with _dnsserver.dns_server_for(argv) as (host, port):
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
