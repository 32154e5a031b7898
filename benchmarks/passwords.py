"""The password race: answers typed to a /dev/tty reader that flushes input as it turns echo off.

Usage::

    python benchmarks/passwords.py [--tries N]

A classic password reader prints its prompt, then turns echo off with ``TCSAFLUSH``, which
throws away anything typed before that call. An answer typed the instant the prompt appears
can land in that gap and be lost; the reader then waits forever. The child below asks N times
(200 by default) in one process, pausing ``--gap`` seconds (2 ms by default: gpg's pinentry
does some work there) between its prompt and the ``TCSAFLUSH``, and counts the answers lost
(nothing within 0.3 s) or garbled. Four ways of answering are counted, in the same run:

- ``cmdrun.run(respond={"Password: ": Secret(...)})`` and a session's ``expect`` +
  ``sendline(Secret(...))``: cmdrun waits until the terminal's echo is off before typing a
  Secret (bounded by ``SECRET_ECHO_WAIT``);
- the same session with a plain-text ``sendline``: typed at once, as any program would;
- pexpect with ``delaybeforesend=None`` (no sleep before a send) and ``expect`` + ``sendline``,
  for context: what a tuned pexpect dialogue does without ``waitnoecho``;
- and the real programs, N times each where installed: gpg's loopback pinentry (encrypt with
  ``respond=``, decrypt in a session) and ``ssh-keygen -p`` (three prompts), all with Secrets.

The table is Markdown; the exit status is 1 if a Secret answer was lost.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import textwrap
import time

import cmdrun

PASSWORD = "correct horse"

READER = textwrap.dedent(
    """
    import os, select, sys, termios, time
    tty = os.open("/dev/tty", os.O_RDWR)
    gap = float(sys.argv[3])
    lost = wrong = 0
    for i in range(int(sys.argv[1])):
        os.write(tty, b"Password: ")
        time.sleep(gap)  # the work a real reader does between its prompt and reading
        old = termios.tcgetattr(tty)
        new = termios.tcgetattr(tty)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(tty, termios.TCSAFLUSH, new)
        try:
            if select.select([tty], [], [], 0.3)[0]:
                line = os.read(tty, 4096).decode().rstrip("\\n")
                verdict = "ok" if line == sys.argv[2] else "wrong"
                wrong += verdict == "wrong"
            else:
                verdict = "lost"
                lost += 1
        finally:
            termios.tcsetattr(tty, termios.TCSAFLUSH, old)
        os.write(tty, verdict.encode() + b"\\n")
    os.write(tty, b"missed=%d\\n" % (lost + wrong))
    """
)


GAP = 0.002


def reader(tries: int, gap: float) -> list[str]:
    return [sys.executable, "-c", READER, str(tries), PASSWORD, str(gap)]


def lost_in(output: str) -> int:
    """The reader's own count of answers lost or garbled (its last line, ``missed=N``)."""
    found = re.search(r"missed=(\d+)", output)
    if found is None:
        raise RuntimeError(f"the reader did not finish: {output[-200:]!r}")
    return int(found.group(1))


def by_respond(tries: int, gap: float) -> int:
    secret = cmdrun.Secret(PASSWORD)
    result = cmdrun.run(reader(tries, gap), tty=True, respond={"Password: ": secret}, timeout=600)
    return lost_in(result.stdout)


def by_session(tries: int, gap: float, secret: bool) -> int:
    answer: str | cmdrun.Secret = cmdrun.Secret(PASSWORD) if secret else PASSWORD
    with cmdrun.spawn(reader(tries, gap), timeout=30) as session:
        for _ in range(tries):
            session.expect("Password: ")
            session.sendline(answer)
        return lost_in(session.read())


def by_pexpect(tries: int, gap: float) -> int:
    import pexpect

    child = pexpect.spawn(
        reader(tries, gap)[0], reader(tries, gap)[1:], encoding="utf-8", timeout=30
    )
    child.delaybeforesend = None
    for _ in range(tries):
        child.expect("Password: ")
        child.sendline(PASSWORD)
    child.expect(pexpect.EOF)
    output = child.before or ""
    child.close()
    return lost_in(output)


GPG = ["gpg", "--no-symkey-cache", "--pinentry-mode", "loopback"]


def by_gpg(tries: int) -> int:
    """gpg's loopback pinentry, for real: encrypt (``respond=``), then decrypt (a session)."""
    secret = cmdrun.Secret(PASSWORD)
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "gnupg")
        os.mkdir(home, 0o700)
        env = {"GNUPGHOME": home}
        plain = os.path.join(tmp, "plain.txt")
        with open(plain, "w") as f:
            f.write("the message\n")
        try:
            for i in range(tries):
                sealed = os.path.join(tmp, f"sealed{i}.gpg")
                cmdrun.run(
                    [*GPG, "--symmetric", "-o", sealed, plain],
                    tty=True,
                    env=env,
                    respond={"Enter passphrase: ": secret},
                    timeout=10,
                    check=False,
                )
                with cmdrun.spawn([*GPG, "-d", sealed], env=env, timeout=10) as session:
                    try:
                        session.expect("Enter passphrase: ")
                        session.sendline(secret)
                        missed += "the message" not in session.wait().stdout
                    except cmdrun.CmdrunError:
                        missed += 1
        finally:
            cmdrun.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, timeout=30)
    return missed


def by_ssh_keygen(tries: int) -> int:
    """``ssh-keygen -p``: the old passphrase, the new one, the new one again."""
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "key")
        cmdrun.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw0", "-f", key], timeout=30)
        current = 0
        for i in range(tries):
            result = cmdrun.run(
                ["ssh-keygen", "-p", "-f", key],
                tty=True,
                respond={
                    "Enter old passphrase: ": cmdrun.Secret(f"pw{current}"),
                    "Enter new passphrase (empty for no passphrase): ": cmdrun.Secret(f"pw{i + 1}"),
                    "Enter same passphrase again: ": cmdrun.Secret(f"pw{i + 1}"),
                },
                timeout=10,
                check=False,
            )
            if result.ok:
                current = i + 1
            else:
                missed += 1
        check = cmdrun.run(["ssh-keygen", "-y", "-P", f"pw{current}", "-f", key], check=False)
        missed += not check.ok
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tries", type=int, default=200, help="answers per way (default 200)")
    parser.add_argument("--gap", type=float, default=GAP, help="seconds from prompt to flush")
    options = parser.parse_args()
    tries, gap = options.tries, options.gap
    rows = [
        ("cmdrun.run(respond={prompt: Secret})", True, lambda: by_respond(tries, gap)),
        ("cmdrun session: expect + sendline(Secret)", True, lambda: by_session(tries, gap, True)),
        (
            "cmdrun session: expect + sendline(plain text)",
            False,
            lambda: by_session(tries, gap, False),
        ),
        (
            "pexpect (delaybeforesend=None): expect + sendline",
            False,
            lambda: by_pexpect(tries, gap),
        ),
    ]
    if shutil.which("gpg"):
        rows.append(
            ("gpg --symmetric, then -d (loopback pinentry), Secret", True, lambda: by_gpg(tries))
        )
    if shutil.which("ssh-keygen"):
        rows.append(("ssh-keygen -p (old, new, again), Secret", True, lambda: by_ssh_keygen(tries)))
    print(
        f"cmdrun {cmdrun.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {tries} answers each, "
        f"{gap * 1000:g} ms from prompt to TCSAFLUSH\n"
    )
    print("| how the answer is typed | lost or wrong | time |")
    print("|---|---:|---:|")
    failed = False
    for name, must_not_lose, run in rows:
        start = time.monotonic()
        lost = run()
        print(f"| {name} | {lost} of {tries} | {time.monotonic() - start:.1f} s |", flush=True)
        failed |= must_not_lose and lost > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
