"""Drive an interactive Python interpreter over pipes, one prompt at a time.

The nslookup examples, like the Python notes they come from, end with
``Popen(...).communicate(...)``: all the input is written at once and all the output read at
the end, so the script cannot react to what the program answers. A dialogue can:
:func:`cmdrun.spawn` with ``tty=False`` starts ``python -i -q`` over plain pipes,
``expect(">>> ")`` waits for its prompt (which Python writes on stderr; ``expect`` watches
stdout and stderr together), and ``Match.before`` is the answer to the line sent before it.
``sendeof()`` closes its stdin, like Ctrl-D, and ``wait()`` returns the
:class:`cmdrun.Result`, which keeps stdout and stderr apart.

(``sqlite3`` would need ``tty=True``: it prints its prompts only on a terminal.)
"""

from __future__ import annotations

import argparse
import sys

import cmdrun

PROMPT = ">>> "


def ask(session: cmdrun.Session, line: str) -> str:
    """Send one line to the interpreter; return what it printed before the next prompt."""
    session.sendline(line)
    return session.expect(PROMPT).before


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    with cmdrun.spawn([sys.executable, "-i", "-q"], tty=False, timeout=10) as session:
        session.expect(PROMPT)
        squares = ask(session, "sum(n * n for n in range(10))")
        print(f"sum of squares below 10: {squares.strip()}")
        ask(session, "words = 'the quick brown fox'.split()")
        longest = ask(session, "max(words, key=len)")
        print(f"longest word: {longest.strip()}")
        error = ask(session, "1 / 0")
        print(f"1 / 0 -> {error.strip().splitlines()[-1]}")
        session.sendeof()
        result = session.wait()
    print("Exit code:", result.returncode)
    print("stdout:", repr(result.stdout))
    print("stderr:", repr(result.stderr))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
