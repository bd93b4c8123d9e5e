"""SMTP transactions on a connection aiosmtplib has already opened, secured and logged in.

aiosmtplib reads one reply per read, so it cannot pipeline (RFC 2920). Taking the transport over once the
session is set up lets MAIL, RCPT and DATA go out in one write and their replies come back in one read: half
the system calls and event-loop turns of a message, the largest cost left per message on this machine.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

MAX_REPLY = 64 * 1024


class Disconnected(ConnectionError):  # noqa: N818 - what happened
    """The server closed the connection (or it broke) while a reply was awaited."""


class Wire(asyncio.Protocol):
    """Collects complete replies (``code``, text) from the byte stream, any number per chunk."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._replies: collections.deque[tuple[int, str]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None

    @property
    def open(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            self._lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                try:
                    code = int(line[:3])
                except ValueError:
                    code = 0  # not SMTP: the reader treats 0 as a broken answer
                self._replies.append((code, "\n".join(self._lines)))
                self._lines = []
        if len(self._buffer) > MAX_REPLY:
            self._lost = Disconnected("the server sent a reply line that never ends")
            self.transport.close()
        self._wake()

    def eof_received(self) -> bool:
        self._lost = self._lost or Disconnected("the server closed the connection")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._lost or Disconnected(f"the connection was lost ({exc})" if exc else
                                                "the server closed the connection")
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def write(self, data: bytes) -> None:
        if not self.open:
            raise self._lost or Disconnected("the connection is closed")
        self.transport.write(data)

    async def reply(self, timeout: float) -> tuple[int, str]:
        """The next reply; raises :class:`Disconnected` or :class:`TimeoutError`."""
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            finally:
                self._waiter = None
        return self._replies.popleft()

    def close(self) -> None:
        self._lost = self._lost or Disconnected("closed by us")
        self.transport.close()


def take_over(client: Any) -> Wire:
    """Move an aiosmtplib connection's transport to a :class:`Wire`; the client is left disconnected."""
    transport = client.transport
    wire = Wire(transport)
    transport.set_protocol(wire)
    client.protocol = None
    client.transport = None
    return wire
