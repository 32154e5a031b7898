"""A tiny DNS server on 127.0.0.1 so the DNS examples never leave the machine.

It answers over UDP and TCP, on one port, for a fake copy of python.org shaped like the real
one: ``python.org`` has A, AAAA and ``MX 50 mail.python.org.``; ``www.python.org`` is a CNAME
to ``dualstack.python.map.fastly.net.``, which has an A and an AAAA record; ``mail.python.org``
has an A and an AAAA record. Any other name is NXDOMAIN.

The addresses are deliberately *not* the real ones: they come from the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32, RFC 5737 and RFC 3849), so
an answer from this server can never be mistaken for one from the internet, nor routed.

The resolver behaves like a recursive server, which is what ``nslookup`` users normally talk
to: it follows CNAMEs into the answer section (the CNAME record, then the target's records)
and clears the AA flag, so nslookup prints "Non-authoritative answer:". dnslib's stock zone
resolver would instead mark answers authoritative and put the CNAME target in the additional
section.

Use it from code::

    with serve() as server:  # an ephemeral port chosen by the OS
        subprocess.run(["nslookup", f"-port={server.port}", "www.python.org", server.host])

or, in an example that also accepts ``--server HOST[#PORT]`` to ask a real resolver::

    parser = argparse.ArgumentParser()
    add_server_option(parser)
    args = parser.parse_args()
    with dns_server(args.server) as (host, port):
        ...

or standalone, for manual testing: ``python examples/_dnsserver.py [--port N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from dnslib import QTYPE, RCODE, RR  # type: ignore[import-untyped]
from dnslib.server import DNSHandler, DNSLogger  # type: ignore[import-untyped]

__all__ = [
    "PYTHON_ORG_ZONE",
    "DnsServer",
    "ZoneResolver",
    "add_server_option",
    "dns_server",
    "dns_server_for",
    "parse_server",
    "resolver_args",
    "serve",
]

LOOPBACK = "127.0.0.1"
DNS_PORT = 53

PYTHON_ORG_ZONE = """
python.org.                       3600 IN A     192.0.2.10
python.org.                       3600 IN A     192.0.2.11
python.org.                       3600 IN AAAA  2001:db8::10
python.org.                       3600 IN AAAA  2001:db8::11
python.org.                       3600 IN MX    50 mail.python.org.
www.python.org.                   3600 IN CNAME dualstack.python.map.fastly.net.
dualstack.python.map.fastly.net.    30 IN A     198.51.100.223
dualstack.python.map.fastly.net.    30 IN AAAA  2001:db8:fa57::223
mail.python.org.                  3600 IN A     203.0.113.25
mail.python.org.                  3600 IN AAAA  2001:db8:25::25
"""
"""The records served by default, in zone-file syntax (documentation-range addresses)."""

# Longer CNAME chains than this are treated as a loop and answered with SERVFAIL.
_MAX_CNAME_HOPS = 8
# A TCP client that connects and sends nothing must not hold up stop() for long.
_TCP_IDLE_TIMEOUT = 2.0
# How often the serve_forever loops look for a stop request: bounds the time stop() takes.
_POLL_INTERVAL = 0.05
# With port 0, UDP gets a free port first; TCP may find that same port taken, so retry.
_BIND_ATTEMPTS = 20


def _key(name: Any) -> str:
    """Case-insensitive lookup key of a dnslib label or a string: lower case, no final dot."""
    return str(name).lower().rstrip(".")


class ZoneResolver:
    """Answers from a fixed set of records, the way a recursive server would.

    Args:
        zone: records in zone-file syntax (one per line, absolute names).
    """

    def __init__(self, zone: str = PYTHON_ORG_ZONE) -> None:
        self._records: dict[str, list[Any]] = {}
        for rr in RR.fromZone(zone):
            self._records.setdefault(_key(rr.rname), []).append(rr)

    def resolve(self, request: Any, handler: Any) -> Any:
        """Build the reply to ``request`` (a dnslib ``DNSRecord``); dnslib's handler calls it."""
        reply = request.reply(ra=1, aa=0)
        if request.header.opcode != 0:  # only standard QUERY
            reply.header.rcode = RCODE.NOTIMP
        elif len(request.questions) != 1:
            reply.header.rcode = RCODE.FORMERR
        else:
            self._answer(reply, request.q.qname, request.q.qtype)
        return reply

    def _answer(self, reply: Any, qname: Any, qtype: int) -> None:
        name = _key(qname)
        if name not in self._records:
            reply.header.rcode = RCODE.NXDOMAIN
            return
        for _ in range(_MAX_CNAME_HOPS):
            records = self._records.get(name, [])
            cname = next((rr for rr in records if rr.rtype == QTYPE.CNAME), None)
            if cname is None or qtype in (QTYPE.CNAME, QTYPE.ANY):
                break
            reply.add_answer(cname)
            name = _key(cname.rdata.label)
        else:
            reply.header.rcode = RCODE.SERVFAIL
            return
        matches = [rr for rr in records if qtype in (rr.rtype, QTYPE.ANY)]
        reply.add_answer(*matches)
        if qtype == QTYPE.MX:
            self._add_mail_hosts(reply, matches)

    def _add_mail_hosts(self, reply: Any, mx_records: list[Any]) -> None:
        # Like a real server: the exchangers' addresses ride along in the additional section.
        for mx in mx_records:
            for rr in self._records.get(_key(mx.rdata.label), []):
                if rr.rtype in (QTYPE.A, QTYPE.AAAA):
                    reply.add_ar(rr)


class _Quiet(DNSLogger):  # type: ignore[misc]
    """dnslib's logger with every event switched off (it prints each query by default)."""

    def __init__(self) -> None:
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


class _UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    # No SO_REUSEADDR for UDP: on Linux it lets a second server bind the same port silently.
    allow_reuse_address = False
    daemon_threads = False  # so server_close() joins the handler threads
    block_on_close = True
    resolver: ZoneResolver
    logger: Any


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True  # a restart on a fixed port must not wait for TIME_WAIT
    daemon_threads = False
    block_on_close = True
    resolver: ZoneResolver
    logger: Any

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.settimeout(_TCP_IDLE_TIMEOUT)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or goes idle is its own problem, not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _bind_pair(host: str, port: int) -> tuple[_UDPServer, _TCPServer]:
    """Bind UDP and TCP servers on the same port; with port 0, one the OS picks."""
    for attempt in range(_BIND_ATTEMPTS):
        udp = _UDPServer((host, port), DNSHandler)
        try:
            tcp = _TCPServer((host, udp.server_address[1]), DNSHandler)
        except OSError as err:
            udp.server_close()
            if port != 0 or err.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                raise
            continue
        return udp, tcp
    raise AssertionError("unreachable")


class DnsServer:
    """A DNS server on ``host``, answering on one port over both UDP and TCP.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        port: the port to listen on; 0 (the default) lets the OS choose a free one, and
            :attr:`port` then tells which.
        host: the address to listen on.
        zone: the records to serve, in zone-file syntax.
    """

    def __init__(self, port: int = 0, *, host: str = LOOPBACK, zone: str = PYTHON_ORG_ZONE) -> None:
        self.host = host
        self._requested_port = port
        self._resolver = ZoneResolver(zone)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (UDP and TCP).

        Raises:
            RuntimeError: the server is not running.
        """
        if self._port is None:
            raise RuntimeError("the DNS server is not running")
        return self._port

    def start(self) -> DnsServer:
        """Bind the sockets and start answering in background threads.

        Raises:
            RuntimeError: the server is already running.
            OSError: the port is taken (only with an explicit port) or cannot be bound.
        """
        if self._servers:
            raise RuntimeError("the DNS server is already running")
        udp, tcp = _bind_pair(self.host, self._requested_port)
        for server in (udp, tcp):
            server.resolver = self._resolver
            server.logger = _Quiet()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name=f"dns-{type(server).__name__.strip('_')}",
                daemon=True,  # a forgotten stop() must not keep the interpreter alive
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self._port = udp.server_address[1]
        return self

    def stop(self) -> None:
        """Stop answering, join every thread and close the sockets. Safe to call twice."""
        for server in self._servers:
            server.shutdown()
        for server in self._servers:
            server.server_close()  # also joins the per-request threads
        for thread in self._threads:
            thread.join()
        self._servers.clear()
        self._threads.clear()
        self._port = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve(port: int = 0, *, zone: str = PYTHON_ORG_ZONE) -> Iterator[DnsServer]:
    """Run a :class:`DnsServer` on 127.0.0.1 for the duration of a ``with`` block.

    Args:
        port: the port for UDP and TCP; 0 (the default) picks a free one.
        zone: the records to serve, in zone-file syntax.

    Returns:
        A context manager giving the running server (``.host``, ``.port``).

    Raises:
        OSError: the port cannot be bound.
    """
    with DnsServer(port, zone=zone) as server:
        yield server


def parse_server(spec: str) -> tuple[str, int]:
    """Parse nslookup/dig's ``HOST[#PORT]`` server syntax; the port defaults to 53.

    Args:
        spec: e.g. ``"8.8.8.8"``, ``"127.0.0.1#5353"`` or ``"::1#5353"``.

    Returns:
        ``(host, port)``.

    Raises:
        ValueError: the host is empty or the port is not a number in 1-65535.
    """
    host, sep, port_text = spec.partition("#")
    if not host:
        raise ValueError(f"no host in DNS server {spec!r}; expected HOST[#PORT]")
    if not sep:
        return host, DNS_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in DNS server {spec!r}; expected HOST[#PORT]")
    return host, int(port_text)


def _server_type(spec: str) -> tuple[str, int]:
    try:
        return parse_server(spec)
    except ValueError as err:  # argparse prints this message instead of a generic one
        raise argparse.ArgumentTypeError(str(err)) from None


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """Give an example's parser ``--server HOST[#PORT]``, parsed to ``(host, port)`` or None.

    Args:
        parser: the example's argument parser.
    """
    parser.add_argument(
        "--server",
        type=_server_type,
        metavar="HOST[#PORT]",
        help="ask this DNS server instead of starting a local fake one on 127.0.0.1",
    )


def resolver_args(argv: Sequence[str]) -> tuple[str, int] | None:
    """Find ``--server HOST[#PORT]`` in a command line; other arguments are left alone.

    Args:
        argv: the arguments, without the program name (e.g. ``sys.argv[1:]``).

    Returns:
        ``(host, port)`` of the server to ask, or ``None`` when there is no ``--server``,
        meaning "start the local fake server".

    Raises:
        SystemExit: ``--server`` is malformed (argparse prints why, exit status 2).
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_server_option(parser)
    known, _ = parser.parse_known_args(list(argv))
    server: tuple[str, int] | None = known.server
    return server


@contextlib.contextmanager
def dns_server_for(argv: Sequence[str] | None = None) -> Iterator[tuple[str, int]]:
    """Give the DNS server an example should query: ``--server`` if given, else a local one.

    Args:
        argv: the arguments to search for ``--server HOST[#PORT]``; defaults to
            ``sys.argv[1:]``.

    Returns:
        A context manager giving ``(host, port)``; a local server runs until the block ends.

    Raises:
        SystemExit: ``--server`` is malformed.
        OSError: the local server cannot be started.
    """
    with dns_server(resolver_args(sys.argv[1:] if argv is None else argv)) as address:
        yield address


@contextlib.contextmanager
def dns_server(server: tuple[str, int] | None) -> Iterator[tuple[str, int]]:
    """Give ``server`` (from :func:`add_server_option`), or start a local one if it is None.

    Args:
        server: ``(host, port)`` of a real resolver, or None for the local fake server.

    Returns:
        A context manager giving ``(host, port)``; a local server runs until the block ends.

    Raises:
        OSError: the local server cannot be started.
    """
    if server is not None:
        yield server
        return
    with serve() as local:
        yield local.host, local.port


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, after printing where (for manual testing)."""
    parser = argparse.ArgumentParser(description="Serve a fake python.org on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked before the threads start, so they inherit the mask and sigwait() gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with serve(args.port) as server:
        print(f"serving DNS on {server.host} port {server.port} (UDP and TCP)", flush=True)
        print(f"try: nslookup -port={server.port} www.python.org {server.host}", flush=True)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
