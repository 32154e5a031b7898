"""bench.py's section 17: commands on other machines, through ``cmdrun.Remote`` (SSH).

Usage (this section alone)::

    python benchmarks/remote.py [--quick] [--check]

The hosts are real OpenSSH servers: ``tests/sshd.py`` starts three ``sshd`` on 127.0.0.1
(throwaway keys, user root) and writes an ssh_config that names them ``host0``..``host2``,
and each of them ten times more (``host0-0``..``host2-9``: 30 targets, ten per server).
Nothing goes beyond 127.0.0.1. sshd hands every command to the user's login shell, so each
command of every contestant pays that shell's start-up on the host. Debian's bash reads
``~/.bashrc`` for every command run by sshd, and this image's root ``.bashrc`` runs
``pyenv init`` (about 0.1 s): the servers set ``SHLVL=1`` in each session (sshd's
``SetEnv``), so bash skips it, as a host without such a ``.bashrc`` would. A context row
gives the ratio with the ``.bashrc`` read (full runs), and one measures the shell itself.

17. **Remote commands over SSH**:

    - *Short commands on one host*: ``Remote("host0").run(["true"])`` over the Remote's one
      shared connection (opened before the clock starts) against ``subprocess.run(["ssh",
      "-F", CONFIG, "-o", "BatchMode=yes", "host0", "true"])``, a new connection per
      command. Target: the plain calls take at least 3 times as long. For context, each
      against cmdrun: fabric's ``Connection("host0").run("true", hide=True)`` (one paramiko
      connection, opened before the clock), plumbum's ``SshMachine("host0", ssh_opts=["-F",
      CONFIG])`` ``machine["true"]()`` (an ``ssh`` process and connection per command); and
      the floor of a shared connection: a bare ``ssh`` client over the Remote's own master
      (what cmdrun adds on top: its remote script, its checks). Per-command times in rotated
      rounds, medians; the slow contestants run fewer commands per round.
    - *Fan-out of one command to 30 targets*: ``cmdrun.run_on(targets, ["true"], jobs=30,
      remote_options={"ssh_config": CONFIG})``, connections included (named hosts: fresh
      Remotes, opened and closed by the call), against fabric's ``ThreadingGroup(*targets,
      config=...).run("true", hide=True)`` and parallel-ssh's ``ParallelSSHClient`` (host,
      port, user and key given from the servers) with ``run_command("true")`` and
      ``join()``. Every contestant must show exit status 0 for each of the 30 targets; one
      that does not is reported as *wrong*, never as a time. For context (not with
      ``--quick``): fabric ``Connection.run`` in a 30-thread pool, and ``run_on`` with the
      peers' key exchange (``options={"KexAlgorithms": "curve25519-sha256"}``: what OpenSSH
      9's default post-quantum one costs). Rotated rounds, ratios of median wall times.
    - *No survivor after a fan-out timeout*: ``run_on(targets, ["sh", "-c", "sleep 30.N &
      sleep 30.N"], timeout=1, jobs=30)`` (``30.N`` a random length: a unique marker):
      seconds until it returns, and the processes left on the hosts (``pgrep -f`` for the
      marker; every host is this machine) when it returns and 2 s later. Target: none.
    - *Remote timeouts side by side*: the same ``sh -c`` line on one host with a 1 s timeout
      through fabric (``Connection.run(..., timeout=1)``, invoke's ``CommandTimedOut``),
      plumbum (``machine["sh"]["-c", ...].run(timeout=1)``, ``ProcessTimedOut``) and cmdrun
      (``Remote.run(..., timeout=1)``, ``CommandTimedOut``): seconds until the call returns,
      processes left on the host then and 2 s later. Facts, not ratios; what a contestant
      leaves is killed (``pkill -f`` of its marker) before the next one starts.

``--quick`` (:data:`QUICK`) runs fewer rounds and commands, one fan-out timeout, counts
survivors again 0.5 s after a timeout instead of 2 s, and leaves out the floor of the first
part and fabric's thread pool in the fan-out.

(Named ``remote``, not ``ssh``: a module ``ssh`` on ``sys.path`` would shadow
ssh-python's package of that name, which parallel-ssh's ``pssh.clients.ssh`` imports.)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import pwd
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fabric
import invoke
import paramiko
from benchutil import Row, Versus, ratio_row, rotated_rounds, spread
from plumbum import ProcessTimedOut, SshMachine

import cmdrun

# The servers: tests/sshd.py, shared with tests/test_remote.py.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import sshd

#: Servers, and the ssh_config names each gets besides ``hostN``: 3 x 10 fan-out targets.
SERVERS = 3
ALIASES = 10
#: The target of the first part: plain ``ssh`` per command / ``Remote.run``.
COMMANDS_LIMIT = 3.0
#: The timeout of the last two parts, in seconds. How long survivors get to go away is a
#: setting (``later``): 2 s, 0.5 s with ``--quick``.
TIMEOUT = 1.0
#: Seconds a call under a timeout may take before it counts as hung (then its processes
#: are killed, which should make it return).
HANG = 30.0
#: Who logs in on the hosts (this user, as tests/sshd.py authorizes), and with what shell.
USER = pwd.getpwuid(os.getuid()).pw_name
LOGIN_SHELL = pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"


@dataclass(frozen=True)
class SshSettings:
    """How many repetitions each measurement of this module gets."""

    command_rounds: int
    commands: int  # per round for cmdrun, fabric and the floor (about 0.15 s each here)
    slow_commands: int  # per round for plain ssh and plumbum (a connection each)
    floor: bool  # the bare ssh client over cmdrun's master too
    fanout_rounds: int
    fanout_context: bool  # fabric Connection.run in a thread pool too
    fanout_timeouts: int  # run_on(..., timeout=1) of the third part
    later: float  # seconds after a timed-out call returns before survivors are counted again
    shell_repeats: int  # runs of the login shell alone, each way (the median is shown)


FULL = SshSettings(
    command_rounds=5,
    commands=30,
    slow_commands=12,
    floor=True,
    fanout_rounds=5,
    fanout_context=True,
    fanout_timeouts=3,
    later=2.0,
    shell_repeats=10,
)
QUICK = SshSettings(
    command_rounds=2,
    commands=4,
    slow_commands=2,
    floor=False,
    fanout_rounds=1,
    fanout_context=False,
    fanout_timeouts=1,
    later=0.5,
    shell_repeats=3,
)


@contextmanager
def hosts(lean_shell: bool = True) -> Iterator[sshd.Servers]:
    """The servers (see the module's docstring), stopped at the end; ``lean_shell=False``:
    the login shell reads ``~/.bashrc`` for every command."""
    problem = sshd.available()
    if problem:
        raise RuntimeError(f"no sshd to benchmark against: {problem}")
    with sshd.Servers(SERVERS, aliases=ALIASES, lean_shell=lean_shell) as servers:
        yield servers


def targets(servers: sshd.Servers) -> list[str]:
    """The 30 fan-out targets, ``host0-0``..``host2-9``, server by server."""
    return [f"{s.name}-{i}" for s in servers.servers for i in range(servers.aliases)]


def fabric_config(servers: sshd.Servers) -> fabric.Config:
    """fabric's configuration, reading the servers' ssh_config (HostName, Port,
    IdentityFile) as ``ssh -F`` does."""
    return fabric.Config(runtime_ssh_path=str(servers.ssh_config))


def check_host_keys(connection: fabric.Connection, servers: sshd.Servers) -> None:
    """Make ``connection`` check the server's key against the config's known_hosts, as
    OpenSSH does here (StrictHostKeyChecking yes): fabric ignores UserKnownHostsFile and
    accepts any key it does not know (paramiko's AutoAddPolicy)."""
    connection.client.load_host_keys(str(servers.known_hosts))
    connection.client.set_missing_host_key_policy(paramiko.RejectPolicy())


FABRIC_HOW = (
    "fabric.Config(runtime_ssh_path=CONFIG), host keys checked against the config's "
    "known_hosts (load_host_keys + RejectPolicy: fabric's default accepts any)"
)


class WrongAnswer(Exception):
    """A contestant ran, but its answer is not every host's exit status 0."""


# --------------------------------------------------------------------------------------------
# 17a. Short commands on one host


def per_command(run_one: Callable[[], None], n: int) -> Callable[[], float]:
    """A contestant: seconds per command over ``n`` commands."""

    def measure() -> float:
        start = time.perf_counter()
        for _ in range(n):
            run_one()
        return (time.perf_counter() - start) / n

    return measure


def login_shell_startup(lean_shell: bool, repeats: int = 10) -> float:
    """Seconds the hosts' login shell (this user's: every host is this machine) takes to
    run ``true`` as sshd starts it: ``SHELL -c true`` with ``SSH_CLIENT`` set (Debian's bash
    reads ``~/.bashrc`` then, unless ``lean_shell``: ``SHLVL=1``, as the servers set it).
    The median of ``repeats`` runs."""
    env = {
        "HOME": os.path.expanduser("~"),
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",  # sshd's
        "USER": USER,
        "SSH_CLIENT": "127.0.0.1 50000 22",
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22",
        **({"SHLVL": "1"} if lean_shell else {}),
    }
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([LOGIN_SHELL, "-c", "true"], env=env, stdin=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bashrc_times(s: SshSettings) -> dict[str, list[float]]:
    """Plain ssh and ``Remote.run`` per command, on servers whose login shell reads this
    image's ``~/.bashrc`` (see the module's docstring)."""
    with hosts(lean_shell=False) as servers:
        config = str(servers.ssh_config)
        plain_argv = ["ssh", "-F", config, "-o", "BatchMode=yes", "host0", "true"]
        with cmdrun.Remote("host0", ssh_config=config) as remote:
            remote.connect()

            def ours() -> None:
                remote.run(["true"])

            def plain() -> None:
                subprocess.run(plain_argv, stdin=subprocess.DEVNULL, check=True)

            ours()
            plain()
            return rotated_rounds(
                {
                    "cmdrun": per_command(ours, s.commands),
                    "plain": per_command(plain, s.slow_commands),
                },
                s.command_rounds,
            )


def bench_commands(s: SshSettings) -> list[Row]:
    """Short commands on one host: a shared connection against one per command."""
    with hosts() as servers:
        config = str(servers.ssh_config)
        plain_argv = ["ssh", "-F", config, "-o", "BatchMode=yes", "host0", "true"]
        remote = cmdrun.Remote("host0", ssh_config=config)
        connection = fabric.Connection("host0", config=fabric_config(servers))
        check_host_keys(connection, servers)
        machine = SshMachine("host0", ssh_opts=["-F", config])
        try:
            remote.connect()
            connection.open()
            floor_argv = [*remote.ssh_argv(False), "true"]

            # Each raises if the exit status is not 0.
            def ours() -> None:
                remote.run(["true"])

            def plain() -> None:
                subprocess.run(plain_argv, stdin=subprocess.DEVNULL, check=True)

            def with_fabric() -> None:
                connection.run("true", hide=True)

            def with_plumbum() -> None:
                machine["true"]()  # the lookup is part of the idiom, so it is timed too

            def floor() -> None:
                subprocess.run(floor_argv, stdin=subprocess.DEVNULL, check=True)

            ones: dict[str, Callable[[], None]] = {
                "cmdrun": ours,
                "plain": plain,
                "fabric": with_fabric,
                "plumbum": with_plumbum,
            }
            if s.floor:
                ones["floor"] = floor
            calls = dict.fromkeys(ones, s.commands)
            calls["plain"] = calls["plumbum"] = s.slow_commands
            for one in ones.values():
                one()  # warm up: the page cache, plumbum's lookup, fabric's first channel
            t = rotated_rounds(
                {name: per_command(one, calls[name]) for name, one in ones.items()},
                s.command_rounds,
            )
        finally:
            machine.close()
            connection.close()
            remote.close()
        shell = login_shell_startup(lean_shell=True, repeats=s.shell_repeats)
    heavy = bashrc_times(s) if s.floor else None

    def details(top: str, bottom: str) -> str:
        v = Versus(t[top], t[bottom])
        return (
            f"{statistics.median(t[top]) * 1e3:.1f} vs {statistics.median(t[bottom]) * 1e3:.1f} "
            f"ms per command; per-round ratio IQR {v.per_round}; {s.command_rounds} rounds x "
            f"{calls[top]} / {calls[bottom]} commands"
        )

    where = "short commands on one host (`true`)"
    rows = [
        ratio_row(
            f'{where}: plain `subprocess.run(["ssh", "-F", CONFIG, "-o", "BatchMode=yes", '
            f'"host0", "true"])` / `Remote.run(["true"])`',
            Versus(t["plain"], t["cmdrun"]).ratio,
            ">=",
            COMMANDS_LIMIT,
            "a connection per command against the Remote's shared one (opened before the "
            "clock); " + details("plain", "cmdrun"),
        ),
        Row(
            f'context: {where}: fabric `Connection("host0").run("true", hide=True)` / cmdrun',
            f"{Versus(t['fabric'], t['cmdrun']).ratio:.2f}",
            details=f"one paramiko connection, opened before the clock; {FABRIC_HOW}; "
            + details("fabric", "cmdrun"),
        ),
        Row(
            f'context: {where}: plumbum `SshMachine("host0", ssh_opts=["-F", CONFIG])` '
            '`machine["true"]()` / cmdrun',
            f"{Versus(t['plumbum'], t['cmdrun']).ratio:.2f}",
            details="an ssh process and connection per command (the machine's own session, "
            "made before the clock, serves the lookup); " + details("plumbum", "cmdrun"),
        ),
    ]
    if s.floor:
        rows.append(
            Row(
                f"context: {where}: cmdrun / the floor (a bare `ssh` client over the Remote's "
                "own master connection)",
                f"{Versus(t['cmdrun'], t['floor']).ratio:.2f}",
                details="what cmdrun adds to a shared connection's cost: its remote script, "
                "a stat of the master's socket; " + details("cmdrun", "floor"),
            )
        )
    per_run = statistics.median(t["cmdrun"])
    rows.append(
        Row(
            f"context: {where}: the hosts' login shell, `{LOGIN_SHELL} -c true` as sshd starts it",
            f"{shell * 1e3:.1f} ms",
            details="paid on the host by every command of every contestant above (sshd runs "
            "each through it; SHLVL=1 keeps Debian's bash from reading ~/.bashrc); "
            f"{per_run * 1e3:.1f} ms per `Remote.run` in all; with this image's ~/.bashrc "
            f"(pyenv init): "
            f"{login_shell_startup(lean_shell=False, repeats=s.shell_repeats) * 1e3:.1f} ms",
        )
    )
    if heavy is not None:
        rows.append(
            Row(
                f"context: {where}: plain ssh / `Remote.run`, the login shell reading this "
                "image's ~/.bashrc (pyenv init) for every command",
                f"{Versus(heavy['plain'], heavy['cmdrun']).ratio:.2f}",
                details="the same contestants on servers without SetEnv SHLVL=1: both sides "
                f"pay the .bashrc; {statistics.median(heavy['plain']) * 1e3:.1f} vs "
                f"{statistics.median(heavy['cmdrun']) * 1e3:.1f} ms per command; "
                f"{s.command_rounds} rounds x {s.slow_commands} / {s.commands} commands",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 17b. Fan-out of one command to 30 targets


def all_zero(name: str, statuses: dict[str, Any], wanted: list[str]) -> None:
    """Raise WrongAnswer unless ``statuses`` gives exit status 0 for every host wanted."""
    if sorted(statuses) != sorted(wanted):
        raise WrongAnswer(
            f"{name} answered for {len(statuses)} of the {len(wanted)} hosts "
            f"({', '.join(sorted(map(str, statuses))[:4])}...)"
        )
    bad = {host: status for host, status in statuses.items() if status != 0}
    if bad:
        raise WrongAnswer(f"{name}: exit status not 0 on {len(bad)} hosts: {bad}"[:200])


#: The key exchange paramiko (fabric) and libssh2 (parallel-ssh) negotiate here, where
#: OpenSSH 9 prefers the post-quantum sntrup761x25519-sha512@openssh.com.
PEERS_KEX = "curve25519-sha256"


def cmdrun_fanout(servers: sshd.Servers, options: dict[str, str] | None = None) -> float:
    names = targets(servers)
    start = time.perf_counter()
    results = cmdrun.run_on(
        names,
        ["true"],
        jobs=len(names),
        remote_options={"ssh_config": servers.ssh_config, "options": options},
    )
    elapsed = time.perf_counter() - start
    all_zero("cmdrun", {str(r.host): r.returncode for r in results}, names)
    return elapsed


def cmdrun_peers_kex_fanout(servers: sshd.Servers) -> float:
    return cmdrun_fanout(servers, {"KexAlgorithms": PEERS_KEX})


def fabric_group_fanout(servers: sshd.Servers) -> float:
    names = targets(servers)
    start = time.perf_counter()
    group = fabric.ThreadingGroup(*names, config=fabric_config(servers))
    for connection in group:
        check_host_keys(connection, servers)
    try:
        results = group.run("true", hide=True)
    finally:
        group.close()
    elapsed = time.perf_counter() - start
    if len(results) != len(names):
        raise WrongAnswer(
            f"its GroupResult holds {len(results)} results for {len(names)} hosts: it maps "
            "each Connection to its result, and Connections are equal when (host, user, "
            "port) are, the host being the config's HostName, so the ten names of each "
            "server make one key (the other results are lost)"
        )
    all_zero("fabric", {c.original_host: r.exited for c, r in results.items()}, names)
    return elapsed


def fabric_pool_fanout(servers: sshd.Servers) -> float:
    names = targets(servers)
    config = fabric_config(servers)

    def one(name: str) -> int:
        with fabric.Connection(name, config=config) as connection:
            check_host_keys(connection, servers)
            status: int = connection.run("true", hide=True, warn=True).exited
            return status

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        statuses = dict(zip(names, pool.map(one, names), strict=True))
    elapsed = time.perf_counter() - start
    all_zero("fabric pool", statuses, names)
    return elapsed


def pssh_fanout(servers: sshd.Servers) -> float:
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    names = targets(servers)
    port = {f"{s.name}-{i}": s.port for s in servers.servers for i in range(servers.aliases)}
    configs = [
        HostConfig(port=port[name], user=USER, private_key=str(servers.key), alias=name)
        for name in names
    ]
    start = time.perf_counter()
    client = ParallelSSHClient(
        ["127.0.0.1"] * len(names),
        host_config=configs,
        pool_size=len(names),
        allow_agent=False,
        identity_auth=False,
    )
    output = client.run_command("true", stop_on_errors=False)
    client.join(output)
    statuses = {o.alias: o.exit_code if o.exception is None else o.exception for o in output}
    del client, output  # no close(): its host clients disconnect when dropped
    elapsed = time.perf_counter() - start
    all_zero("parallel-ssh", statuses, names)
    return elapsed


def pssh_problem() -> str:
    """Why parallel-ssh cannot be measured here, or "" (its import, gevent's, is done here,
    before the clock)."""
    try:
        from pssh.clients import ParallelSSHClient  # noqa: F401
    except Exception as exc:
        return f"cannot import pssh.clients: {type(exc).__name__}: {exc}"[:200]
    return ""


def bench_fanout(s: SshSettings) -> list[Row]:
    """One command to 30 targets: run_on against fabric's group and parallel-ssh."""
    contestants: dict[str, Callable[[sshd.Servers], float]] = {
        "cmdrun": cmdrun_fanout,
        "fabric": fabric_group_fanout,
    }
    problems = {"parallel-ssh": pssh_problem()}
    if not problems["parallel-ssh"]:
        contestants["parallel-ssh"] = pssh_fanout
    if s.fanout_context:
        contestants["fabric pool"] = fabric_pool_fanout
        contestants["cmdrun, peers' kex"] = cmdrun_peers_kex_fanout
    wrong: dict[str, str] = {}

    def guarded(name: str, servers: sshd.Servers) -> Callable[[], float]:
        """The contestant, reporting NaN once it gave a wrong answer or failed."""

        def measure() -> float:
            if name in wrong or problems.get(name):
                return math.nan
            try:
                return contestants[name](servers)
            except WrongAnswer as exc:
                wrong[name] = str(exc)
            except Exception as exc:  # a broken peer must not sink the benchmark
                if name == "cmdrun":
                    raise
                problems[name] = f"fails here: {type(exc).__name__}: {exc}"[:300]
            return math.nan

        return measure

    with hosts() as servers:
        n = len(targets(servers))
        t = rotated_rounds({name: guarded(name, servers) for name in contestants}, s.fanout_rounds)

    def beside_peers(name: str) -> str:
        """For cmdrun with the peers' key exchange: each peer's time against it."""
        if name != "cmdrun, peers' kex":
            return ""
        fair = [
            f"{peer} {Versus(t[peer], t[name]).ratio:.2f}"
            for peer in ("parallel-ssh", "fabric pool")
            if peer in t and peer not in wrong and not problems.get(peer)
        ]
        return f"; each peer / this: {', '.join(fair)}" if fair else ""

    def versus(name: str) -> str:
        v = Versus(t[name], t["cmdrun"])
        return (
            f"{statistics.median(t[name]):.2f} vs {statistics.median(t['cmdrun']):.2f} s per "
            f"fan-out; per-round ratio IQR {v.per_round}; {s.fanout_rounds} rounds"
        )

    where = f"fan-out of `true` to {n} targets ({SERVERS} sshd x {ALIASES} Host names)"
    median = statistics.median(t["cmdrun"]) if "cmdrun" not in wrong else math.nan
    rows = [
        Row(
            f"{where}: `cmdrun.run_on(targets, ['true'], jobs={n}, remote_options="
            '{"ssh_config": CONFIG})`: wall time',
            "wrong" if "cmdrun" in wrong else f"{median:.2f} s",
            details=wrong.get("cmdrun", "")
            or f"connections included (fresh Remotes: opened, then closed, by the call); "
            f"wall IQR {spread(t['cmdrun'])}; {s.fanout_rounds} rounds",
        )
    ]
    peers = {
        "fabric": (
            "fabric `ThreadingGroup(*targets, config=...).run('true', hide=True)` / cmdrun",
            f"{FABRIC_HOW}; the group made, run and closed inside the clock",
        ),
        "parallel-ssh": (
            "parallel-ssh `ParallelSSHClient(hosts, host_config=...)` `run_command('true')` + "
            "`join()` / cmdrun",
            "pssh.clients (libssh2, gevent), hosts 127.0.0.1 with a HostConfig each (port "
            f"from the server, user {USER}, the client key, alias = the target), "
            f"pool_size={n}, no agent, no other keys; no host key check (pssh makes none); "
            "client made and dropped inside the clock",
        ),
        "fabric pool": (
            f"fabric `Connection(target).run('true', hide=True)` in a {n}-thread pool / cmdrun",
            f"what the group should cost, each result kept; {FABRIC_HOW}",
        ),
        "cmdrun, peers' kex": (
            f"cmdrun with the peers' key exchange, `options={{'KexAlgorithms': '{PEERS_KEX}'}}`"
            " / cmdrun",
            "what OpenSSH's default post-quantum key exchange (sntrup761x25519) costs: the "
            "peers negotiate curve25519; cmdrun keeps the system's defaults on purpose",
        ),
    }
    for name, (label, how) in peers.items():
        if name not in contestants and not problems.get(name):
            continue  # not measured this time (the pool: --quick)
        context = "context: " if name in {"fabric pool", "cmdrun, peers' kex"} else ""
        if problems.get(name):
            rows.append(Row(f"{context}{where}: {label}", "not measured", details=problems[name]))
        elif name in wrong:
            rows.append(Row(f"{context}{where}: {label}", "wrong", details=f"{how}; {wrong[name]}"))
        elif "cmdrun" in wrong:
            rows.append(Row(f"{context}{where}: {label}", "n/a", details="cmdrun was wrong"))
        else:
            rows.append(
                Row(
                    f"{context}{where}: {label}",
                    f"{Versus(t[name], t['cmdrun']).ratio:.2f}",
                    details=f"{how}; {versus(name)}{beside_peers(name)}",
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# 17c-d. Timeouts: what is left on the hosts


def marker() -> str:
    """A sleep length no other process uses, ``30.NNNNNN``: found with ``pgrep -f``."""
    return f"30.{random.randrange(10**6):06d}"


def sleeper(mark: str) -> str:
    """The shell line of the timeout parts: a background sleep and a foreground one."""
    return f"sleep {mark} & sleep {mark}"


def left_alive(mark: str) -> tuple[list[str], list[str]]:
    """The names of the processes whose command line holds ``sleep MARK``: those on the
    hosts (every host is this machine), and local ``ssh`` clients."""
    found = subprocess.run(
        ["pgrep", "-f", f"sleep {re.escape(mark)}"], capture_output=True, text=True, check=False
    )
    on_hosts: list[str] = []
    clients: list[str] = []
    for pid in found.stdout.split():
        try:
            with open(f"/proc/{pid}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue  # gone meanwhile
        (clients if name == "ssh" else on_hosts).append(name)
    return on_hosts, clients


def kill_marked(mark: str) -> None:
    """Kill what is left of a contestant (found by its marker), so the next starts clean."""
    subprocess.run(["pkill", "-KILL", "-f", f"sleep {re.escape(mark)}"], check=False)


@dataclass(frozen=True)
class Aftermath:
    """What a call under a timeout did: how long it took to return, what it raised, and
    what it left (on the hosts and local ssh clients) when it returned and later."""

    seconds: float
    outcome: str
    left: list[str]
    left_later: list[str]
    clients: list[str]
    clients_later: list[str]
    later: float  # seconds between the two counts

    def shown(self) -> str:
        return f"{self.seconds:.2f} s, {len(self.left)} left ({len(self.left_later)} later)"

    def details(self) -> str:
        clients = ""
        if self.clients or self.clients_later:
            clients = (
                f"; local ssh clients left: {len(self.clients)} ({len(self.clients_later)} "
                f"{self.later:g} s later)"
            )
        names = ", ".join(sorted(self.left)) or "none"
        return (
            f"{self.outcome}; processes left on the host when it returned: {len(self.left)} "
            f"({names}), {self.later:g} s later: {len(self.left_later)}{clients}"
        )


def aftermath(call: Callable[[], str], mark: str, later: float) -> Aftermath:
    """Run ``call`` (which returns what it raised, in words) in a thread, and count what it
    left when it returns and ``later`` seconds after. A call that has not returned within
    :data:`HANG` seconds is reported as hung; its processes are killed so that it can
    return."""
    outcome: list[str] = []

    def worker() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(f"raised {type(exc).__name__}: {exc}"[:160])

    thread = threading.Thread(target=worker, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(HANG)
    seconds = time.perf_counter() - start
    if thread.is_alive():
        kill_marked(mark)
        thread.join(HANG)
        outcome.insert(0, f"HUNG: had not returned after {HANG:.0f} s")
    left, clients = left_alive(mark)
    time.sleep(later)
    left_later, clients_later = left_alive(mark)
    kill_marked(mark)
    return Aftermath(seconds, "; ".join(outcome), left, left_later, clients, clients_later, later)


def bench_fanout_timeout(s: SshSettings) -> list[Row]:
    """run_on with a timeout: how long, and whether anything is left on the 30 targets."""
    runs: list[Aftermath] = []
    with hosts() as servers:
        names = targets(servers)
        for _ in range(s.fanout_timeouts):
            mark = marker()

            def fan_out(mark: str = mark) -> str:
                results = cmdrun.run_on(
                    names,
                    ["sh", "-c", sleeper(mark)],
                    timeout=TIMEOUT,
                    jobs=len(names),
                    remote_options={"ssh_config": servers.ssh_config},
                )
                timed_out = sum(r.timed_out for r in results)
                if timed_out != len(names):
                    return f"WRONG: {timed_out} of {len(names)} Results say timed_out"
                return f"every Result says timed_out ({timed_out})"

            runs.append(aftermath(fan_out, mark, s.later))
    n = len(names)
    worst = max(len(a.left) + len(a.left_later) + len(a.clients) for a in runs)
    passed = worst == 0 and not any("WRONG" in a.outcome or "HUNG" in a.outcome for a in runs)
    call = f"`run_on({n} targets, ['sh', '-c', 'sleep 30 & sleep 30'], timeout=1, jobs={n})`"
    per_run = ", ".join(f"{len(a.left)}/{len(a.left_later)}" for a in runs)
    left = sorted(name for a in runs for name in a.left + a.left_later)
    clients = sum(len(a.clients) + len(a.clients_later) for a in runs)
    return [
        Row(
            f"no survivor after a fan-out timeout: processes left on the hosts after {call}",
            f"{max(len(a.left) for a in runs)} ({max(len(a.left_later) for a in runs)} "
            f"{s.later:g} s later)",
            "0",
            passed,
            f"worst of {len(runs)} runs; left when it returned / {s.later:g} s later, per run: "
            + per_run
            + (f" ({', '.join(left)})" if left else "")
            + (f"; local ssh clients left: {clients}" if clients else "")
            + "; "
            + "; ".join(sorted({a.outcome for a in runs})),
        ),
        Row(
            f"context: fan-out timeout: seconds until {call} returns",
            f"{statistics.median(a.seconds for a in runs):.2f} s",
            details=f"median of {len(runs)} runs ({', '.join(f'{a.seconds:.2f}' for a in runs)}"
            " s); opening and closing the 30 connections included (see the fan-out row)",
        ),
    ]


def bench_timeouts(s: SshSettings) -> list[Row]:
    """A 1 s timeout on one host through fabric, plumbum and cmdrun, side by side."""
    rows = []
    with hosts() as servers:
        config = str(servers.ssh_config)

        def through_fabric(mark: str) -> tuple[Callable[[], str], Callable[[], None]]:
            connection = fabric.Connection("host0", config=fabric_config(servers))
            check_host_keys(connection, servers)
            connection.open()

            def call() -> str:
                try:
                    connection.run(f"sh -c '{sleeper(mark)}'", timeout=TIMEOUT, hide=True)
                except invoke.exceptions.CommandTimedOut as exc:
                    return f"raised invoke's {type(exc).__name__}"
                return "returned without a timeout"

            return call, connection.close

        def through_plumbum(mark: str) -> tuple[Callable[[], str], Callable[[], None]]:
            machine = SshMachine("host0", ssh_opts=["-F", config])
            command = machine["sh"]["-c", sleeper(mark)]

            def call() -> str:
                try:
                    command.run(timeout=TIMEOUT)
                except ProcessTimedOut as exc:
                    return f"raised plumbum's {type(exc).__name__}"
                return "returned without a timeout"

            return call, machine.close

        def through_cmdrun(mark: str) -> tuple[Callable[[], str], Callable[[], None]]:
            remote = cmdrun.Remote("host0", ssh_config=config)
            remote.connect()

            def call() -> str:
                try:
                    remote.run(["sh", "-c", sleeper(mark)], timeout=TIMEOUT)
                except cmdrun.CommandTimedOut as exc:
                    return f"raised cmdrun's {type(exc).__name__}"
                return "returned without a timeout"

            return call, remote.close

        contestants = {
            f"fabric `Connection.run(..., timeout={TIMEOUT:g})` ({FABRIC_HOW})": through_fabric,
            f'plumbum `SshMachine("host0", ssh_opts=["-F", CONFIG])` `machine["sh"]["-c", '
            f"...].run(timeout={TIMEOUT:g})`": through_plumbum,
            f"cmdrun `Remote.run(['sh', '-c', ...], timeout={TIMEOUT:g})`": through_cmdrun,
        }
        for label, contestant in contestants.items():
            mark = marker()
            call, close = contestant(mark)  # connected before the clock starts
            try:
                after = aftermath(call, mark, s.later)  # one run each: facts, not ratios
            finally:
                close()
                kill_marked(mark)
            rows.append(
                Row(
                    "remote timeout side by side (`sh -c 'sleep 30 & sleep 30'`, timeout "
                    f"{TIMEOUT:g} s, one host): {label}",
                    after.shown(),
                    details=f"seconds until the call returned; {after.details()}",
                )
            )
    return rows


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    rows = (
        bench_commands(settings)
        + bench_fanout(settings)
        + bench_fanout_timeout(settings)
        + bench_timeouts(settings)
    )
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(f"{row.name}: {row.shown} {row.target} {verdict} ({row.details})")
    return 1 if args.check and any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
