"""Real servers on 127.0.0.1 for the preflight tests: a DNS server built from dnspython's message parts (TXT and A
records of a test domain, NXDOMAIN for the rest, or silence), and an HTTP server with fixed answers per path."""

from __future__ import annotations

import http.server
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rrset


class DnsServer:
    """Answers UDP queries from ``txt`` (name -> values, each split into 255-byte strings) and ``a``
    (name -> IPv4 addresses); other names are NXDOMAIN. ``silent`` answers nothing at all (a dead resolver)."""

    def __init__(self, txt: dict[str, list[str]] | None = None, a: dict[str, list[str]] | None = None, *,
                 silent: bool = False) -> None:
        self.txt = {k.lower(): v for k, v in (txt or {}).items()}
        self.a = {k.lower(): v for k, v in (a or {}).items()}
        self.silent = silent
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns-server")

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._socket], [], [], 0.05)
            if not ready:
                continue
            data, peer = self._socket.recvfrom(4096)
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
            if self.silent:
                continue
            self._socket.sendto(self._answer(query, question, name).to_wire(), peer)

    def _answer(self, query: dns.message.Message, question: Any, name: str) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name not in self.txt and name not in self.a:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
        if question.rdtype == dns.rdatatype.TXT:
            for value in self.txt.get(name, []):
                strings = [value[i:i + 255].encode() for i in range(0, len(value), 255)] or [b""]
                rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings), 60)
        elif question.rdtype == dns.rdatatype.A:
            for address in self.a.get(name, []):
                rrset.add(dns.rdtypes.IN.A.A(dns.rdataclass.IN, dns.rdatatype.A, address), 60)
        if len(rrset):
            response.answer.append(rrset)
        return response


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, int] = {}
    no_head: set[str] = set()
    seen: list[tuple[str, str]] = []

    def _reply(self, with_body: bool) -> None:
        self.seen.append((self.command, self.path))
        refused = self.command == "HEAD" and self.path in self.no_head
        status = 405 if refused else self.routes.get(self.path, 404)
        body = b"<html><body>page</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._reply(False)

    def do_GET(self) -> None:
        self._reply(True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def http_server(routes: dict[str, int], no_head: set[str] = frozenset()) -> Iterator[tuple[str, list[Any]]]:
    """(base URL, requests seen) of a server answering ``routes`` (path -> status; others 404); paths in
    ``no_head`` refuse HEAD with 405 but answer GET."""
    handler = type("Handler", (_Handler,), {"routes": routes, "no_head": set(no_head), "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
