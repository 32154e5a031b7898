"""The README tells the truth: every Python snippet runs, and CI runs its test command."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

import sshd
from readme_snippets import SNIPPETS

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _command_after(marker: str) -> str:
    block = re.search(re.escape(marker) + r".*?```sh\n(.*?)\n\s*```", README, flags=re.DOTALL)
    assert block, f"no sh block after {marker!r}"
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 1, "a set-up command is one line"
    return lines[0].strip()


def test_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 8


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


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str, tmp_path: pathlib.Path) -> None:
    """Plain snippets run as scripts; snippets that are pytest tests run under pytest, next
    to a copy of the examples they use (mxtool and its cassettes). Snippets that talk to
    hosts over SSH (web1..) get real sshd servers on loopback under those names."""
    if "cmdrun.Remote(" in code:
        with _ssh_hosts():
            proc = subprocess.run(
                [sys.executable, "-c", code],
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    if "def test_" in code:
        shutil.copy(ROOT / "examples" / "mxtool.py", tmp_path)
        shutil.copytree(ROOT / "examples" / "cassettes", tmp_path / "cassettes")
        (tmp_path / "test_snippet.py").write_text(code)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"]
    else:
        argv = [sys.executable, "-c", code]
    proc = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _command_after("<!-- test-command")
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_demo_command_runs_the_demo() -> None:
    command = _command_after("1. Install and run the demo")
    assert command.endswith("python examples/demo.py")
