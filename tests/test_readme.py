"""The README is a front page that tells the truth: its set-up commands are the ones CI runs.

Its Python snippets run with the documentation's (``tests/test_docs_snippets.py``), which also
checks that its links into ``docs/`` lead somewhere.
"""

from __future__ import annotations

import re

from readme_snippets import ROOT, SNIPPETS

README = (ROOT / "README.md").read_text()


def _command_after(marker: str) -> str:
    block = re.search(re.escape(marker) + r".*?```sh\n(.*?)\n\s*```", README, flags=re.DOTALL)
    assert block, f"no sh block after {marker!r}"
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 1, "a set-up command is one line"
    return lines[0].strip()


def test_readme_shows_a_screen_of_examples_that_run() -> None:
    readme_snippets = [s for s in SNIPPETS if s.path == ROOT / "README.md"]
    assert len(readme_snippets) >= 3


def test_readme_links_into_every_guide() -> None:
    guides = sorted(p.name for p in (ROOT / "docs" / "guides").glob("*.md"))
    linked = set(re.findall(r"\]\(docs/guides/([\w-]+\.md)", README))
    assert guides, "no guide in docs/guides"
    assert set(guides) <= linked


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _command_after("<!-- test-command")
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_demo_command_runs_the_demo() -> None:
    command = _command_after("1. Install and run the demo")
    assert command.endswith("python examples/demo.py")
