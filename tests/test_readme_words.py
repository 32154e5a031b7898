"""The README and the examples speak to a reader who has only them.

cmdrun's examples reproduce a set of notes on Python's os.fork, multiprocessing and
subprocess; the texts once called those notes "the seed document", a name only the project's
first session knew. They must say what the examples reproduce instead.
"""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "examples").glob("*.py")),
]
# "seed" as the name of a document; a random seed ("seed 523809287", "--seed") is fine.
_SEED_DOCUMENT = re.compile(r"\bthe seed(?:'s)?\b(?! \d)", re.IGNORECASE)


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_text_refers_to_an_unexplained_seed_document(path: pathlib.Path) -> None:
    assert _SEED_DOCUMENT.findall(path.read_text()) == []


def test_readme_says_what_the_examples_reproduce() -> None:
    readme = (ROOT / "README.md").read_text()
    for words in (
        "subprocess.call(['nslookup', 'www.python.org'])",
        "Popen.communicate",
        "multiprocessing.Pool",
        "os.fork",
    ):
        assert words in readme
