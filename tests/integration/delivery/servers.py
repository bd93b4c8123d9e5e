"""Real SMTP servers on 127.0.0.1 for the delivery tests: a scriptable aiosmtpd server and a raw server that drops
the connection in the middle of DATA."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Reply = str | None  # None: accept; "hang": never answer; "drop": close without answering; else the reply line


@dataclass
class Delivered:
    mail_from: str
    rcpt_to: str
    raw: bytes
    at: float
    mail_options: tuple[str, ...] = ()


@dataclass
class Script:
    """What the server answers. ``rcpt(address, tries)`` and ``data(address, tries)`` see how often that address
    was tried before (0 the first time)."""

    mail: Callable[[int], Reply] = lambda _n: None
    rcpt: Callable[[str, int], Reply] = lambda _a, _n: None
    data: Callable[[str, int], Reply] = lambda _a, _n: None


@dataclass
class _State:
    script: Script
    delivered: list[Delivered] = field(default_factory=list)
    rcpt_tries: Counter[str] = field(default_factory=Counter)
    data_tries: Counter[str] = field(default_factory=Counter)
    mails: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, state: _State, release: asyncio.Event, pipelining: bool) -> None:
        self.state = state
        self.release = release
        self.pipelining = pipelining

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        # aiosmtpd reads commands one line at a time, so it copes with pipelining; say so when asked to.
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.state.lock:
            n = self.state.mails
            self.state.mails += 1
        reply = self.state.script.mail(n)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.state.lock:
            tries = self.state.rcpt_tries[address]
            self.state.rcpt_tries[address] += 1
        reply = self.state.script.rcpt(address, tries)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        with self.state.lock:
            tries = self.state.data_tries[address]
            self.state.data_tries[address] += 1
        reply = self.state.script.data(address, tries)
        if reply == "hang":
            await self.release.wait()
            return "451 4.3.0 shutting down"
        if reply == "drop":
            server.transport.close()
            return "250 OK"
        if reply:
            return reply
        with self.state.lock:
            self.state.delivered.append(Delivered(envelope.mail_from, address, envelope.original_content,
                                                  time.time(), tuple(envelope.mail_options)))
        return "250 2.0.0 OK queued"


class ScriptedSmtpServer:
    """aiosmtpd on 127.0.0.1 (a port the OS picks) on its own thread; use as a context manager."""

    def __init__(self, script: Script | None = None, *, pipelining: bool = True, smtputf8: bool = False,
                 password: str | None = None) -> None:
        """``smtputf8``: offer SMTPUTF8 (RFC 6531); ``password``: offer AUTH and accept only that password."""
        self.state = _State(script or Script())
        self.pipelining = pipelining
        self.smtputf8 = smtputf8
        self.password = password
        self.logins: list[tuple[str, bool]] = []
        self.port = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def script(self) -> Script:
        return self.state.script

    @script.setter
    def script(self, value: Script) -> None:
        self.state.script = value

    @property
    def delivered(self) -> list[Delivered]:
        with self.state.lock:
            return list(self.state.delivered)

    def count(self, address: str) -> int:
        return sum(1 for d in self.delivered if d.rcpt_to == address)

    def __enter__(self) -> ScriptedSmtpServer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="test-smtp")
        self._thread.start()
        self._ready.wait(10)
        return self

    async def _serve(self) -> None:
        from aiosmtpd.smtp import SMTP

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        release = asyncio.Event()
        handler = _Handler(self.state, release, self.pipelining)
        sessions: list[Any] = []

        def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
            from aiosmtpd.smtp import AuthResult, LoginPassword

            ok = isinstance(data, LoginPassword) and data.password.decode() == self.password
            self.logins.append((data.login.decode() if isinstance(data, LoginPassword) else "", ok))
            return AuthResult(success=ok, handled=False)

        auth: dict[str, Any] = {}
        if self.password is not None:
            auth = {"authenticator": authenticate, "auth_require_tls": False}

        def factory() -> Any:
            protocol = SMTP(handler, hostname="test-smtp", decode_data=False, enable_SMTPUTF8=self.smtputf8,
                            **auth)
            sessions.append(protocol)
            return protocol

        server = await self._loop.create_server(factory, host="127.0.0.1", port=0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        release.set()
        server.close()
        for protocol in sessions:
            if protocol.transport is not None:
                protocol.transport.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        assert self._thread is not None
        self._thread.join(10)


class DroppingServer:
    """Speaks just enough SMTP to accept MAIL, RCPT and DATA, then closes mid-message after ``after`` bytes."""

    def __init__(self, after: int = 200) -> None:
        self.after = after
        self.port = 0
        self.dropped = 0
        self._ready = threading.Event()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 dropper ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-dropper\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    await reader.readexactly(self.after)
                    self.dropped += 1
                    break
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        writer.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        await server.wait_closed()

    def __enter__(self) -> DroppingServer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="test-dropper")
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
