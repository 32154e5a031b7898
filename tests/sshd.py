"""Real OpenSSH servers on loopback for the tests of :class:`cmdrun.Remote` (and the benchmarks).

:class:`Servers` starts N ``sshd`` (Debian's ``openssh-server``) on free 127.0.0.1 ports, each
with a throwaway host key, one client key authorized for the current user, and an
``ssh_config`` that names each server ``hostN`` (plus aliases), so tests run
``cmdrun.Remote("host0", options={"F": config})``-style code against real servers. Nothing
listens beyond 127.0.0.1; everything lives in one temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"  # by absolute path: sshd refuses to re-exec itself otherwise


def available() -> str:
    """Why real sshd servers cannot run here ("" when they can)."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install openssh-client)"
    return ""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _sshd_descendants(root: int) -> list[int]:
    """The pids of the sshd processes below ``root`` (its connections)."""
    tree, found, todo = _children(), [], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            try:
                with open(f"/proc/{child}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            if name.startswith("sshd"):
                found.append(child)
                todo.append(child)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cmdrun-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Server:
    """One sshd: its name in the config, port, process and pid file."""

    name: str
    port: int
    config: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation dir (a tmpfs)
        log = self.config.with_suffix(".log").open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
            ):
                if conn.recv(4).startswith(b"SSH-"):
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd {self.name} did not start: {self.log()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Kill the listening sshd and every connection it serves (a host going down)."""
        if self.process is None:
            return
        # Each connection has its own sshd processes (in sessions of their own): the
        # listener's sshd descendants. The commands they run are left to their fate.
        for pid in [self.process.pid, *_sshd_descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.config.with_suffix(".log")
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Servers:
    """``count`` sshd servers on loopback and a client config naming them."""

    count: int = 3
    aliases: int = 0
    #: Sessions start with SHLVL=1 (sshd's SetEnv), so bash, the login shell, skips
    #: ~/.bashrc (Debian's reads it for every ssh command, below level 2): this image's
    #: root .bashrc runs ``pyenv init``, 0.1 s a command, which a typical host does not.
    lean_shell: bool = True
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cmdrun-sshd-")))
    servers: list[Server] = field(default_factory=list)

    @property
    def key(self) -> Path:
        return self.root / "client_key"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    def names(self) -> list[str]:
        """Every host name the config knows: ``host0``.. and their aliases."""
        names = [server.name for server in self.servers]
        for index in range(self.aliases):
            names += [f"{server.name}-{index}" for server in self.servers]
        return names

    def start(self) -> Servers:
        os.chmod(self.root, 0o700)
        _keygen(self.key)
        authorized = self.root / "authorized_keys"
        shutil.copy(self.key.with_suffix(".pub"), authorized)
        host_key = self.root / "host_key"
        _keygen(host_key)
        public = host_key.with_suffix(".pub").read_text().split()
        config_lines = []
        known = []
        for index in range(self.count):
            server = Server(f"host{index}", _free_port(), self.root / f"sshd{index}.conf")
            server.config.write_text(
                "\n".join(
                    [
                        "ListenAddress 127.0.0.1",
                        f"Port {server.port}",
                        f"HostKey {host_key}",
                        f"AuthorizedKeysFile {authorized}",
                        f"PidFile {self.root}/sshd{index}.pid",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "UsePAM no",
                        "StrictModes no",
                        "PermitRootLogin yes",
                        "MaxSessions 100",
                        "MaxStartups 100:30:200",
                        "LogLevel ERROR",
                        "AcceptEnv LANG LC_*",
                        *(["SetEnv SHLVL=1"] if self.lean_shell else []),
                        "",
                    ]
                )
            )
            self.servers.append(server)
            known.append(f"[127.0.0.1]:{server.port} {public[0]} {public[1]}")
        self.known_hosts.write_text("\n".join(known) + "\n")
        for server in self.servers:
            names = [server.name] + [f"{server.name}-{i}" for i in range(self.aliases)]
            config_lines += [
                f"Host {' '.join(names)}",
                "    HostName 127.0.0.1",
                f"    Port {server.port}",
                f"    IdentityFile {self.key}",
                "    IdentitiesOnly yes",
                f"    UserKnownHostsFile {self.known_hosts}",
                "    StrictHostKeyChecking yes",
                "    LogLevel ERROR",
                "",
            ]
        self.ssh_config.write_text("\n".join(config_lines))
        for server in self.servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Servers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def servers(count: int = 3, aliases: int = 0, lean_shell: bool = True) -> Iterator[Servers]:
    with Servers(count, aliases, lean_shell=lean_shell) as started:
        yield started
