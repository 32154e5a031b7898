"""The fake DNS server used by the examples, checked with the real nslookup binary.

Every query names the server and its port: this machine's own resolver is not on loopback, so
a bare ``nslookup NAME`` would leave the machine. nslookup prints errors on stdout.
"""

from __future__ import annotations

import errno
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from children import WWW_ANSWER

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import _dnsserver  # noqa: E402

# A broken server then fails in about a second instead of nslookup's default 15.
FAIL_FAST = ("-timeout=1", "-retry=1")

MX_ANSWER = """\
Non-authoritative answer:
python.org\tmail exchanger = 50 mail.python.org.
"""


def nslookup(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert shutil.which("nslookup"), (
        "nslookup is missing: install it with `apt-get install bind9-dnsutils`"
    )
    return subprocess.run(
        ["nslookup", *FAIL_FAST, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def asked(server: _dnsserver.DnsServer) -> str:
    """The header line showing that nslookup asked our server, not another one."""
    return f"Address:\t{server.host}#{server.port}\n"


@pytest.fixture(scope="module")
def dns() -> Iterator[_dnsserver.DnsServer]:
    with _dnsserver.serve() as server:
        yield server


def test_a_query_follows_the_cname_in_a_non_authoritative_answer(
    dns: _dnsserver.DnsServer,
) -> None:
    proc = nslookup(f"-port={dns.port}", "www.python.org", dns.host)
    assert proc.returncode == 0, proc.stdout
    assert asked(dns) in proc.stdout
    assert WWW_ANSWER in proc.stdout


def test_names_are_case_insensitive(dns: _dnsserver.DnsServer) -> None:
    proc = nslookup(f"-port={dns.port}", "WWW.Python.ORG", dns.host)
    assert proc.returncode == 0, proc.stdout
    assert "canonical name = dualstack.python.map.fastly.net." in proc.stdout


def test_mx_query_names_the_mail_exchanger(dns: _dnsserver.DnsServer) -> None:
    proc = nslookup("-type=mx", f"-port={dns.port}", "python.org", dns.host)
    assert proc.returncode == 0, proc.stdout
    assert MX_ANSWER in proc.stdout
    assert "mail.python.org\tinternet address = 203.0.113.25\n" in proc.stdout


def test_aaaa_query_returns_only_ipv6_addresses(dns: _dnsserver.DnsServer) -> None:
    proc = nslookup("-type=aaaa", f"-port={dns.port}", "python.org", dns.host)
    assert proc.returncode == 0, proc.stdout
    answer = proc.stdout.partition("Non-authoritative answer:\n")[2]
    addresses = [line for line in answer.splitlines() if line.startswith("Address:")]
    assert addresses == ["Address: 2001:db8::10", "Address: 2001:db8::11"]


def test_unknown_name_is_nxdomain_and_exits_non_zero(dns: _dnsserver.DnsServer) -> None:
    proc = nslookup(f"-port={dns.port}", "nosuch.python.org", dns.host)
    assert proc.returncode != 0
    assert asked(dns) in proc.stdout
    assert "** server can't find nosuch.python.org: NXDOMAIN" in proc.stdout


def test_interactive_session_over_pipes_prints_no_prompt(dns: _dnsserver.DnsServer) -> None:
    script = f"server {dns.host}\nset port={dns.port}\nset q=mx\npython.org\nexit\n"
    proc = nslookup(stdin=script)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.startswith(f"Default server: {dns.host}\n")
    assert asked(dns) in proc.stdout
    assert MX_ANSWER in proc.stdout
    assert "> " not in proc.stdout


def test_tcp_query_with_vc_gets_the_same_answer(dns: _dnsserver.DnsServer) -> None:
    proc = nslookup("-vc", f"-port={dns.port}", "www.python.org", dns.host)
    assert proc.returncode == 0, proc.stdout
    assert WWW_ANSWER in proc.stdout


def _port_is_taken(kind: socket.SocketKind, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            return True
        return False


def test_starts_fast_on_an_ephemeral_port_and_stop_releases_everything() -> None:
    threads = threading.active_count()
    start = time.monotonic()
    with _dnsserver.serve() as server:
        assert time.monotonic() - start < 0.5
        port = server.port
        assert port != 0
        assert _port_is_taken(socket.SOCK_DGRAM, port)
        assert _port_is_taken(socket.SOCK_STREAM, port)
    assert not _port_is_taken(socket.SOCK_DGRAM, port)
    assert not _port_is_taken(socket.SOCK_STREAM, port)
    assert threading.active_count() == threads
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port


def test_an_explicit_port_in_use_is_an_error(dns: _dnsserver.DnsServer) -> None:
    with pytest.raises(OSError, match="in use"), _dnsserver.serve(dns.port):
        pass


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8.8.8.8", ("8.8.8.8", 53)),
        ("127.0.0.1#5353", ("127.0.0.1", 5353)),
        ("::1#5353", ("::1", 5353)),
    ],
)
def test_parse_server_reads_host_and_optional_port(spec: str, expected: tuple[str, int]) -> None:
    assert _dnsserver.parse_server(spec) == expected


@pytest.mark.parametrize("spec", ["", "#53", "127.0.0.1#", "127.0.0.1#dns", "127.0.0.1#70000"])
def test_parse_server_rejects_malformed_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"HOST\[#PORT\]"):
        _dnsserver.parse_server(spec)


def test_resolver_args_finds_server_among_other_arguments() -> None:
    argv = ["-v", "--server", "127.0.0.1#5353", "python.org"]
    assert _dnsserver.resolver_args(argv) == ("127.0.0.1", 5353)
    assert _dnsserver.resolver_args(["--server=8.8.8.8"]) == ("8.8.8.8", 53)
    assert _dnsserver.resolver_args(["python.org"]) is None


def test_resolver_args_exits_with_usage_error_on_bad_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc_info:
        _dnsserver.resolver_args(["--server", "127.0.0.1#nope"])
    assert exc_info.value.code == 2
    assert "bad port in DNS server '127.0.0.1#nope'" in capsys.readouterr().err


def test_dns_server_for_uses_the_given_server_without_starting_one() -> None:
    threads = threading.active_count()
    with _dnsserver.dns_server_for(["--server", "192.0.2.53"]) as address:
        assert address == ("192.0.2.53", 53)
        assert threading.active_count() == threads


def test_dns_server_for_starts_a_local_server_by_default() -> None:
    with _dnsserver.dns_server_for([]) as (host, port):
        proc = nslookup("-type=mx", f"-port={port}", "python.org", host)
    assert host == "127.0.0.1"
    assert MX_ANSWER in proc.stdout


def test_standalone_script_prints_its_port_and_stops_on_sigterm() -> None:
    script = ROOT / "examples" / "_dnsserver.py"
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first, second = proc.stdout.readline(), proc.stdout.readline()
            assert first.startswith("serving DNS on 127.0.0.1 port "), first
            port = first.split()[5]
            assert second == f"try: nslookup -port={port} www.python.org 127.0.0.1\n"
            answer = nslookup(f"-port={port}", "www.python.org", "127.0.0.1")
            assert WWW_ANSWER in answer.stdout
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=5)
        finally:
            proc.kill()  # a no-op once it has exited
    assert (proc.returncode, out) == (0, ""), err
