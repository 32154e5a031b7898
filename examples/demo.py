"""The cmdrun tour in one script, then the nslookup examples.

Run it with ``python examples/demo.py``. The tour needs only Python and coreutils. The
nslookup examples redo, with cmdrun, the ``subprocess`` examples of the Python notes this
project grew from (a Chinese tutorial on ``os.fork``, ``multiprocessing`` and
``subprocess``): ``subprocess.call(['nslookup', 'www.python.org'])`` and an interactive
nslookup fed ``set q=mx``, ``python.org``, ``exit`` through ``Popen.communicate``. They need
``nslookup`` (Debian: bind9-dnsutils) and dnslib, and query a DNS server they start on
127.0.0.1 (nothing leaves the machine) unless ``--server`` names a real one.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import _dnsserver

import cmdrun

NSLOOKUP_EXAMPLES = ("nslookup_call.py", "nslookup_communicate.py", "nslookup_dialogue.py")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _dnsserver.add_server_option(parser)
    args = parser.parse_args(argv)
    server_argv = [] if args.server is None else ["--server", "#".join(map(str, args.server))]

    # Capture output as text; a string command is split with shlex, never run by a shell.
    result = cmdrun.run("echo 'hello from cmdrun'")
    print("1. run:", result.stdout.strip(), "| exit", result.returncode)

    # Feed input without deadlocks, however large.
    words = cmdrun.run(["wc", "-w"], input="one two three\n" * 100_000)
    print("2. input: wc counted", words.stdout.strip(), "words")

    # Failures raise an error that says what happened, with the tail of stderr.
    try:
        cmdrun.run(["ls", "/no/such/dir"])
    except cmdrun.CommandFailed as err:
        print("3. error:", str(err).splitlines()[0])

    # A timeout stops the program and everything it started, and keeps partial output.
    start = time.monotonic()
    shell_tree = "echo started; sleep 60 & sleep 60 & wait"
    try:
        cmdrun.run(["sh", "-c", shell_tree], timeout=0.5)
    except cmdrun.CommandTimedOut as err:
        elapsed = time.monotonic() - start
        print(f"4. timeout: stopped after {elapsed:.2f} s, partial output {err.output!r}")

    # Like subprocess.call: the child shares our terminal, the exit code comes back.
    print("5. call: ", end="", flush=True)
    code = cmdrun.call(["sh", "-c", "echo 'printed by the child'; exit 3"])
    print("   exit code", code)

    # A missing program is a clear error, not a bare FileNotFoundError.
    try:
        cmdrun.run(["no-such-program"])
    except cmdrun.CommandNotFound as err:
        print("6. not found:", str(err)[:60], "...")

    # The subprocess examples of the notes cmdrun grew from: each is a script of its own.
    print("\nThe nslookup examples of the Python notes cmdrun grew from, redone with cmdrun:")
    here = pathlib.Path(__file__).parent
    failed = 0
    for name in NSLOOKUP_EXAMPLES:
        print(f"\n=== {name}", flush=True)
        command = [sys.executable, str(here / name), *server_argv]
        failed += cmdrun.call(command, timeout=60) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
