"""The built-in outbox: an SMTP server on 127.0.0.1 (aiosmtpd, on its own thread) that keeps what it receives,
so a first campaign can be sent, and looked at, with no provider."""

from __future__ import annotations

import asyncio
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import delete, func, select

from app.kernel.database import Database
from app.modules.delivery.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes


def _subject(raw: bytes) -> str:
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw[:65536])
        return " ".join(str(headers.get("subject", "")).split())
    except Exception:  # a damaged header block is stored as it is, just without a subject
        return ""


class _Handler:
    """aiosmtpd handler: queue each message for the batch writer and answer once it is stored."""

    def __init__(self, outbox: LocalOutbox) -> None:
        self.outbox = outbox

    async def handle_EHLO(self, _server: Any, session: Any, _envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        # aiosmtpd reads one command line at a time, so pipelined commands are fine: say so.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.outbox._pending.append((Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw), future))
        self.outbox._wake.set()
        try:
            stored = await future
        except Exception as exc:
            log.exception("the outbox could not store a message")
            return f"451 4.3.0 could not store the message: {exc}"
        return f"250 2.0.0 stored in the Postroom outbox as #{stored}"


class LocalOutbox:
    """Start with :meth:`start` (returns the port), stop with :meth:`stop`."""

    def __init__(self, db: Database, *, port: int = 0, keep: int = 50_000,
                 on_stored: Callable[[int, str, tuple[str, ...]], None] | None = None) -> None:
        self.db = db
        self.requested_port = port
        self.keep = keep
        self.port = 0
        self._on_stored = on_stored
        self._pending: list[tuple[Received, asyncio.Future[int]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stored_since_prune = 0

    def start(self) -> int:
        self._thread = threading.Thread(target=self._run, name="postroom-outbox")
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"the built-in outbox could not start: {self._error}") from self._error
        return self.port

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())  # cancels whatever client sessions are left when it ends
        except BaseException as exc:  # pragma: no cover - reported to start() or logged
            self._error = exc
            self._ready.set()
            log.exception("the built-in outbox stopped on an error")

    async def _serve(self) -> None:
        from aiosmtpd.smtp import SMTP

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        handler = _Handler(self)
        sessions: list[Any] = []

        def session() -> Any:
            protocol = SMTP(handler, hostname="postroom-outbox", ident="Postroom outbox", decode_data=False,
                            data_size_limit=50 * 1024 * 1024, enable_SMTPUTF8=True)
            sessions[:] = [s for s in sessions if s.transport is not None]
            sessions.append(protocol)
            return protocol

        try:
            server = await self._loop.create_server(session, host="127.0.0.1", port=self.requested_port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        writer = asyncio.create_task(self._writer())
        await self._stop.wait()
        server.close()
        for protocol in sessions:
            if protocol.transport is not None:
                protocol.transport.close()
        await server.wait_closed()
        self._wake.set()
        await writer

    async def _writer(self) -> None:
        """Store received messages in batches: one transaction (and one fsync) for many messages."""
        while not (self._stop.is_set() and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.02)  # let concurrent connections add theirs to the same batch
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                ids = await asyncio.to_thread(self._store, [item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (item, future), stored in zip(batch, ids, strict=True):
                future.set_result(stored)
                if self._on_stored is not None:
                    try:
                        self._on_stored(stored, _subject(item.raw), item.rcpt_to)
                    except Exception:
                        log.exception("announcing an outbox message failed")

    def _store(self, items: list[Received]) -> list[int]:
        rows = [OutboxMessage(mail_from=item.mail_from[:512], rcpt_to=", ".join(item.rcpt_to),
                              subject=_subject(item.raw), size=len(item.raw), raw=zlib.compress(item.raw, 1))
                for item in items]
        with self.db.transaction() as session:
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
            self._stored_since_prune += len(rows)
            if self._stored_since_prune >= 500:
                self._stored_since_prune = 0
                total = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
                if total > self.keep:
                    cutoff = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())
                                            .offset(self.keep).limit(1))
                    if cutoff is not None:
                        session.execute(delete(OutboxMessage).where(OutboxMessage.id <= cutoff))
        return ids

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive() and hasattr(self, "_stop"):
            loop.call_soon_threadsafe(self._stop.set)
        if thread is not None:
            thread.join(timeout=10)
        self._thread = None


class BuiltInOutbox:
    """The app's outbox: started with the app's services, or on first need (a command-line send to it), once."""

    def __init__(self, db: Database, settings: Any, on_stored: Callable[[int, str, tuple[str, ...]], None]) -> None:
        self.db = db
        self.settings = settings
        self.on_stored = on_stored
        self._outbox: LocalOutbox | None = None
        self._lock = threading.Lock()

    def ensure(self) -> int | None:
        """The port it listens on, starting it if need be; None when it is switched off or cannot start."""
        with self._lock:
            if self._outbox is not None:
                return self._outbox.port
            if not self.settings.get("delivery.outbox.enabled", True):
                return None
            port = self.settings.get_optional("delivery.outbox.port")
            keep = self.settings.get_optional("delivery.outbox.keep")
            outbox = LocalOutbox(self.db, port=port if isinstance(port, int) else 0,
                                 keep=keep if isinstance(keep, int) else 50_000, on_stored=self.on_stored)
            try:
                outbox.start()
            except RuntimeError:
                log.exception("the built-in outbox did not start; sending to it is off")
                return None
            self._outbox = outbox
            return outbox.port

    def stop(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.stop()
