"""The cmdrun tour in one script, then the seed document's nslookup examples.

Run it with ``python examples/demo.py``. The tour needs only Python and coreutils; the
nslookup examples need ``nslookup`` (Debian: bind9-dnsutils) and dnslib, and query a DNS
server they start on 127.0.0.1 (nothing leaves the machine).
"""

from __future__ import annotations

import pathlib
import sys
import time

import cmdrun

NSLOOKUP_EXAMPLES = ("nslookup_call.py", "nslookup_communicate.py", "nslookup_dialogue.py")


def main(argv: list[str]) -> int:
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

    # The seed's subprocess section, for real: each example is a script of its own.
    here = pathlib.Path(__file__).parent
    failed = 0
    for name in NSLOOKUP_EXAMPLES:
        print(f"\n=== {name}", flush=True)
        failed += cmdrun.call([sys.executable, str(here / name), *argv], timeout=60) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
