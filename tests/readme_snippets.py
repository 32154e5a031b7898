"""The README's Python snippets, and a check that they pass ``mypy --strict``.

``python tests/readme_snippets.py`` writes each snippet into a temporary directory as a
module, padded so that its line numbers are the README's, runs ``python -m mypy --strict``
on them and reports errors as ``README.md:LINE``. Snippets that are pytest tests import
``mxtool`` from ``examples/``, and their fixtures are typed through ``cmdrun.testing``.
``tests/test_readme.py`` runs the same snippets.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
_FENCE = re.compile(r"```python\n(.*?)```", flags=re.DOTALL)


def snippets() -> list[tuple[int, str]]:
    """``(line, code)`` for every ```python block: ``line`` is the README line of its code."""
    return [(README.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(README)]


SNIPPETS = [code for _, code in snippets()]


def check_types() -> int:
    """Run ``mypy --strict`` on every snippet; print its report; return its exit status."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for line, code in snippets():
            path = pathlib.Path(tmp, f"readme_line_{line}.py")
            path.write_text("\n" * (line - 1) + code)
            files.append(str(path))
        # The checkout's src first, so the snippets are checked against this cmdrun.
        search = os.pathsep.join([str(ROOT / "src"), str(ROOT / "examples")])
        argv = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", f"{tmp}/.cache"]
        proc = subprocess.run(
            [*argv, *files],
            env={**os.environ, "MYPYPATH": search},
            capture_output=True,
            text=True,
            check=False,
        )
    report = re.sub(r"\S*readme_line_\d+\.py:", "README.md:", proc.stdout + proc.stderr)
    print(report.replace("source files", "README snippets"), end="")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(check_types())
