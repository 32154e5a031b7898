"""Answer a password prompt from a program that insists on a terminal, without leaking it.

``Popen.communicate``, as in the nslookup examples, feeds a program its input over pipes. That
stops working when the program asks for a password: ``getpass`` and tools like ``ssh`` or
``sudo`` read it from a terminal, and some refuse to start without one. This shows:

1. ``cmdrun.run(..., tty=False)``: over pipes the program refuses to run.
2. ``cmdrun.run(..., respond={"Password: ": Secret(...)})``: with the default ``tty="auto"``
   cmdrun sees the refusal, reruns the program on a pseudo-terminal and types the password
   when the prompt appears.
3. The same as a dialogue: ``spawn(..., tty=True)``, ``expect``, ``sendline(Secret(...))``.

The password is a :class:`cmdrun.Secret`: it reaches the program, but wherever cmdrun shows
text (captured output, matches, error messages, logs) it is replaced by ``******``, even
though this careless program prints what it read.
"""

from __future__ import annotations

import argparse
import hashlib
import sys

import cmdrun

# A made-up password for the demonstration; a real one would come from a vault or a prompt.
PASSWORD = "opensesame-42"

# The "program": it needs a terminal, asks for a password and checks it against a digest
# (given as its argument, so the password itself never appears on a command line).
PROGRAM = """\
import getpass, hashlib, sys
if not sys.stdin.isatty():
    print("error: must be run from a terminal", file=sys.stderr)
    sys.exit(1)
typed = getpass.getpass("Password: ")
if hashlib.sha256(typed.encode()).hexdigest() != sys.argv[1]:
    print("access denied")
    sys.exit(1)
print(f"access granted (you typed {typed!r}, {len(typed)} characters)")
"""


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    program = [sys.executable, "-c", PROGRAM, digest]

    refused = cmdrun.run(program, check=False, tty=False)
    print(f"1. over pipes: exit {refused.returncode}: {refused.stderr.strip()}")

    answered = cmdrun.run(program, respond={"Password: ": cmdrun.Secret(PASSWORD)})
    output = " | ".join(line.strip() for line in cmdrun.clean(answered.stdout).splitlines())
    print(f"2. run(respond=...): tty={answered.tty}, exit {answered.returncode}: {output}")

    with cmdrun.spawn(program, tty=True, timeout=10) as session:
        session.expect("Password: ")
        session.sendline(cmdrun.Secret(PASSWORD))
        granted = session.expect("access granted")
        rest = session.read()  # what follows, up to the end of the output
        result = session.wait()
    line = cmdrun.clean(granted.text + rest).strip()
    print(f"3. spawn + expect: tty={result.tty}, exit {result.returncode}: {line}")

    seen = (answered.stdout, rest, result.stdout, repr(result))
    leaked = any(PASSWORD in text for text in seen)
    print("the password appears in the captured output:", leaked)
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
