"""Opens and clicks, served as plain ASGI: nearly all of the endpoint's traffic, so they skip the web
framework's request objects and routing (half the CPU per request) while keeping the same rules."""

from __future__ import annotations

import logging
from urllib.parse import quote

from app.modules.stats.tracker import pages
from app.modules.stats.tracker.core import TrackerCore
from app.modules.stats.tracker.middleware import Asgi, Receive, Scope, Send

log = logging.getLogger(__name__)

PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
         b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
NO_CACHE = [(b"cache-control", b"no-store, no-cache, must-revalidate, private, max-age=0"),
            (b"pragma", b"no-cache"), (b"expires", b"0")]
_PIXEL_HEADERS = [(b"content-type", b"image/gif"), (b"content-length", str(len(PIXEL)).encode()), *NO_CACHE]
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
_PAGE_HEADERS = [(name.lower().encode(), value.encode()) for name, value in pages.PAGE_HEADERS.items()]


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _html(body: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    data = body.encode()
    return [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(data)).encode()),
            *_PAGE_HEADERS], data


class HotPaths:
    """``GET|HEAD /o/<token>.gif`` and ``GET|HEAD /c/<token>``; everything else goes on to ``app``."""

    def __init__(self, app: Asgi, core: TrackerCore) -> None:
        self.app = app
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if path.startswith("/o/") and path.count("/") == 2:
                await self.open_pixel(scope, send, path[3:].removesuffix(".gif"))
                return
            if path.startswith("/c/") and path.count("/") == 2:
                await self.click(scope, send, path[3:])
                return
        await self.app(scope, receive, send)

    def _row(self, scope: Scope, kind: str, claims: object, link_id: int | None = None) -> dict[str, object]:
        agent = next((value for name, value in scope["headers"] if name == b"user-agent"), b"")
        client = scope.get("client")
        return self.core.event(kind, claims, method=scope["method"],  # type: ignore[arg-type]
                               user_agent=agent.decode("latin-1"), address=client[0] if client else None,
                               link_id=link_id)

    async def _store(self, row: dict[str, object]) -> None:
        try:
            await self.core.recorder.record(row)
        except Exception:
            log.exception("a %s event was not stored", row["kind"])

    async def open_pixel(self, scope: Scope, send: Send, token: str) -> None:
        head = scope["method"] == "HEAD"
        claims = self.core.claims("open", token)
        if claims is None:
            await _send(send, 404, [(b"content-length", b"0"), *NO_CACHE], b"", head)
            return
        await self._store(self._row(scope, "open", claims))  # the image is shown even if storing failed
        await _send(send, 200, _PIXEL_HEADERS, PIXEL, head)

    async def click(self, scope: Scope, send: Send, token: str) -> None:
        from starlette.concurrency import run_in_threadpool

        head = scope["method"] == "HEAD"
        claims = self.core.claims("click", token)
        if claims is None:
            headers, body = _html(pages.invalid_link("click"))
            await _send(send, 404, headers, body, head)
            return
        target = self.core.links.get(claims.extra) or await run_in_threadpool(self.core.link, claims.extra)
        if target is None or target[0] != claims.run_id:  # only a link registered for this very run
            headers, body = _html(pages.not_available("link"))
            await _send(send, 404, headers, body, head)
            return
        await self._store(self._row(scope, "click", claims, claims.extra))
        location = quote(target[1], safe=_URL_SAFE).encode("ascii")
        await _send(send, 302, [(b"location", location), (b"content-length", b"0"), (b"cache-control", b"no-store"),
                                (b"referrer-policy", b"no-referrer")], b"", head)
