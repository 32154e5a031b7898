"""The Python snippets of the README and of the documentation site, and a check that they
pass ``mypy --strict``.

Every ```python block of ``README.md`` and of ``docs/**/*.md`` is a snippet, except in
``docs/benchmarks.md`` (written by ``benchmarks/bench.py --page``). A block that is shown but
not meant to run is marked on the line right before its fence with an HTML comment that says
why, which a reader of the rendered page does not see::

    <!-- not-run: pytest-subprocess's API, for comparison (not installed by [test]) -->
    ```python

``tests/test_docs_snippets.py`` runs the snippets and checks the markers. ``python
tests/readme_snippets.py`` writes each snippet into a temporary directory as a module, padded
so that its line numbers are its file's, runs ``python -m mypy --strict`` on them and reports
errors as ``FILE:LINE`` (``README.md:120``, ``docs/guides/running.md:40``). Snippets that are
pytest tests import ``mxtool`` from ``examples/``, and their fixtures are typed through
``cmdrun.testing``.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tempfile
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Pages that are generated, not written: their blocks are not snippets.
GENERATED = {ROOT / "docs" / "benchmarks.md"}
#: Where snippets live: the README, then every page of the site, in a stable order.
SOURCES = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").rglob("*.md") if p not in GENERATED),
]
#: The marker of a block that is shown, not run; a reason is required.
NOT_RUN = re.compile(r"^<!-- not-run: (\S.*?) -->$")
_FENCE = re.compile(r"^```python\n(.*?)^```$", flags=re.DOTALL | re.MULTILINE)


class Snippet(NamedTuple):
    path: pathlib.Path
    line: int  # the file's line number of the snippet's first line of code
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: pathlib.Path) -> list[tuple[Snippet, str | None]]:
    """Every top-level ```python block of ``path``, with its not-run reason (or None)."""
    text = path.read_text()
    found = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start(1)) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marked = NOT_RUN.match(before)
        found.append((Snippet(path, line, m.group(1)), marked.group(1) if marked else None))
    return found


def snippets() -> list[Snippet]:
    """Every snippet meant to run, README first, then the site's pages by path."""
    return [snippet for path in SOURCES for snippet, reason in blocks(path) if reason is None]


SNIPPETS = snippets()


def check_types() -> int:
    """Run ``mypy --strict`` on every snippet; print its report; return its exit status."""
    with tempfile.TemporaryDirectory() as tmp:
        names: dict[str, str] = {}
        for n, snippet in enumerate(SNIPPETS):
            name = f"snippet_{n}_line_{snippet.line}.py"
            pathlib.Path(tmp, name).write_text("\n" * (snippet.line - 1) + snippet.code)
            names[name] = str(snippet.path.relative_to(ROOT))
        # The checkout's src first, so the snippets are checked against this cmdrun.
        search = os.pathsep.join([str(ROOT / "src"), str(ROOT / "examples")])
        argv = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", f"{tmp}/.cache"]
        proc = subprocess.run(
            [*argv, *(str(pathlib.Path(tmp, name)) for name in names)],
            env={**os.environ, "MYPYPATH": search},
            capture_output=True,
            text=True,
            check=False,
        )
    report = re.sub(
        r"\S*(snippet_\d+_line_\d+\.py):",
        lambda m: f"{names[m.group(1)]}:",
        proc.stdout + proc.stderr,
    )
    print(report.replace("source files", "snippets"), end="")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(check_types())
