"""The README and the documentation site tell the truth: every Python snippet runs, a block
that does not run says why, and every relative link leads somewhere.

``python tests/readme_snippets.py`` checks the same snippets with ``mypy --strict``.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator

import pytest

import sshd
from readme_snippets import NOT_RUN, ROOT, SNIPPETS, SOURCES, Snippet, blocks

#: How many snippets ran before the guides existed (the README's 32): moving text into the
#: site must not lose any.
SNIPPETS_BEFORE_THE_SITE = 32

#: Where the SSH snippets' hosts (web1..web4) are defined while they run: Debian's
#: /etc/ssh/ssh_config includes this directory, as a system's own host names would be.
SSH_CONFIG_DIR = pathlib.Path("/etc/ssh/ssh_config.d")


@contextlib.contextmanager
def _ssh_hosts() -> Iterator[None]:
    """web1, web2, web3: three real sshd on loopback; web4: a port nothing listens on."""
    if not os.access(SSH_CONFIG_DIR, os.W_OK) or sshd.available():
        pytest.skip(f"needs sshd and a writable {SSH_CONFIG_DIR} (root): {sshd.available()}")
    with sshd.servers(3) as servers:
        ports = [server.port for server in servers.servers] + [sshd._free_port()]
        blocks = [
            f"Host web{i + 1}\n    HostName 127.0.0.1\n    Port {port}\n"
            f"    IdentityFile {servers.key}\n    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {servers.known_hosts}\n    StrictHostKeyChecking yes\n"
            for i, port in enumerate(ports)
        ]
        conf = SSH_CONFIG_DIR / f"cmdrun-readme-{os.getpid()}.conf"
        conf.write_text("\n".join(blocks))
        try:
            yield
        finally:
            conf.unlink()


def _needs_hosts(code: str) -> bool:
    """Whether a snippet talks to web1.. over real SSH (a pytest snippet fakes its hosts)."""
    return "def test_" not in code and ("cmdrun.Remote(" in code or "run_on(" in code)


def test_there_are_at_least_as_many_snippets_as_before_the_site() -> None:
    assert len(SNIPPETS) >= SNIPPETS_BEFORE_THE_SITE


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_snippet_runs(snippet: Snippet, tmp_path: pathlib.Path) -> None:
    """Plain snippets run as scripts; snippets that are pytest tests run under pytest, next
    to a copy of the examples they use (mxtool and its cassettes). Snippets that talk to
    hosts over SSH (web1..) get real sshd servers on loopback under those names."""
    code = snippet.code
    if "def test_" in code:
        shutil.copy(ROOT / "examples" / "mxtool.py", tmp_path)
        shutil.copytree(ROOT / "examples" / "cassettes", tmp_path / "cassettes")
        (tmp_path / "test_snippet.py").write_text(code)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"]
    else:
        argv = [sys.executable, "-c", code]
    with _ssh_hosts() if _needs_hosts(code) else contextlib.nullcontext():
        proc = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
    assert proc.returncode == 0, f"{snippet.where}\n{proc.stdout}{proc.stderr}"


# -- blocks that do not run ------------------------------------------------------------------


def _fences(path: pathlib.Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every line that opens or closes a fenced block."""
    lines = path.read_text().splitlines()
    return [(n + 1, line) for n, line in enumerate(lines) if line.lstrip().startswith("```")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_not_run_marker_stands_right_before_a_python_block(path: pathlib.Path) -> None:
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        if line.startswith("<!--") and "not-run" in line:
            assert NOT_RUN.match(line), f"{path.name}:{n + 1}: write <!-- not-run: REASON -->"
            following = lines[n + 1] if n + 1 < len(lines) else ""
            assert following == "```python", f"{path.name}:{n + 1}: marks no python block"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_python_block_escapes_the_snippet_tests(path: pathlib.Path) -> None:
    """Python is fenced as ```python at the start of a line, where the tests find it: not as
    ```py or ```pycon, and not indented in a list item."""
    escaping = [
        (n, line)
        for n, line in _fences(path)
        if re.fullmatch(r"\s*```\s*(py|py3|python3|pycon|ipython|Python)\b.*", line)
        or re.fullmatch(r"\s+```python.*", line)
    ]
    assert escaping == []


def test_not_run_blocks_are_few() -> None:
    """A block shown but not run is the exception: each one is listed here by reason."""
    reasons = [reason for path in SOURCES for _, reason in blocks(path) if reason is not None]
    assert len(reasons) <= 3, reasons


def test_marker_check_catches_a_marker_without_a_block(tmp_path: pathlib.Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- not-run: shown only -->\n```sh\necho hi\n```\n")
    with pytest.raises(AssertionError, match="marks no python block"):
        test_every_not_run_marker_stands_right_before_a_python_block(page)
    page.write_text("<!-- not-run: shown only -->\n```python\nimport os\n```\n")
    [(snippet, reason)] = blocks(page)
    assert reason == "shown only"
    assert snippet.code == "import os\n"


# -- links ------------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCED = re.compile(r"^```.*?^```$", flags=re.DOTALL | re.MULTILINE)
_CODE = re.compile(_FENCED.pattern + r"|`[^`\n]+`", flags=re.DOTALL | re.MULTILINE)


def _slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc (MkDocs) and GitHub both make it, for the
    headings these pages have (words, spaces, hyphens, backticks and punctuation)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: pathlib.Path) -> set[str]:
    text = _FENCED.sub("", path.read_text())  # a heading may hold `code`: it counts
    found = {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+?)\s*$", text, re.MULTILINE)}
    return found | set(re.findall(r"""<a id=["']([^"']+)["']""", text))


def _broken_links(path: pathlib.Path) -> list[str]:
    broken = []
    for target in _LINK.findall(_CODE.sub("", path.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not checked offline
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    return broken


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files_and_headings_that_exist(path: pathlib.Path) -> None:
    assert _broken_links(path) == []


def test_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path: pathlib.Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Timeouts that hold\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[a](other.md#timeouts-that-hold) [b](gone.md) [c](other.md#nope) `[d](x.md)`\n"
        "[e](https://example.org) ![f](other.md)\n"
    )
    assert _broken_links(page) == [
        "gone.md: no such file",
        "other.md#nope: no heading #nope in other.md",
    ]
