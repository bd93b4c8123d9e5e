"""Plain ASGI wrappers: request size limits (checked before the app sees a byte) and JSON access logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.modules.stats.bots import ip_class

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("app.modules.stats.tracker.access")


async def _reply(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _route(path: str) -> str:
    # Tokens are credentials of a sort (they unsubscribe someone): log the route, never the token.
    first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
    return f"/{first}" if first else "/"


class Limits:
    """Refuses bodies over the limit for their path with 413, and URLs over ``max_url`` with 414.

    A body is read whole here (bounded) and replayed to the app, so no handler can be fed more than allowed.
    """

    def __init__(self, app: Asgi, *, default: int, per_prefix: dict[str, int], max_url: int = 4096,
                 log_requests: bool = True) -> None:
        self.app = app
        self.default = default
        self.per_prefix = sorted(per_prefix.items(), key=lambda item: -len(item[0]))
        self.max_url = max_url
        self.log_requests = log_requests

    def _limit(self, path: str) -> int:
        return next((limit for prefix, limit in self.per_prefix if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._handle(scope, receive, sending)
        finally:
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                headers = dict(scope.get("headers") or ())
                client = scope.get("client")
                access_log.info("request", extra={
                    "method": scope.get("method", ""), "route": _route(scope.get("path", "")), "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "ip_class": ip_class(client[0] if client else None),
                    "user_agent": headers.get(b"user-agent", b"").decode("latin-1")[:200]})

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if len(path) + len(scope.get("query_string", b"")) > self.max_url:
            await _reply(send, 414, "the URL is too long")
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(path)
        declared = next((value for name, value in scope.get("headers", ()) if name == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply(send, 413, f"the request body is larger than {limit} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"the request body is larger than {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
