"""The tracking endpoint as an ASGI app (Starlette): the routes a recipient's mail client and browser use.

Every route checks its token for its own purpose before anything else; a bad token gets a 404 page and changes
nothing. GET and HEAD never change a subscription: only a POST does.
"""

from __future__ import annotations

import logging
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from app import __version__
from app.modules.stats.tokens import TokenClaims
from app.modules.stats.tracker import pages
from app.modules.stats.tracker.core import TrackerCore
from app.modules.stats.tracker.middleware import Limits

log = logging.getLogger(__name__)

WEBVIEW_HEADERS = {
    **pages.PAGE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; font-src *; "
                               "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
}


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=pages.PAGE_HEADERS)


def _form(body: bytes, content_type: str) -> dict[str, list[str]]:
    """Fields of an urlencoded or multipart form (RFC 8058 allows both); anything else reads as empty."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        if kind in ("", "application/x-www-form-urlencoded"):
            return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if kind == "multipart/form-data":
            message = BytesParser(policy=policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
            fields: dict[str, list[str]] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    content = part.get_content()
                    text = content if isinstance(content, str) else bytes(content).decode("utf-8", "replace")
                    fields.setdefault(name, []).append(text.strip())
            return fields
    except Exception:
        log.info("unreadable form body", extra={"content_type": content_type[:100]})
    return {}


class RecipientRoutes:
    def __init__(self, core: TrackerCore) -> None:
        self.core = core

    def _event(self, request: Request, kind: str, claims: TokenClaims, **kwargs: Any) -> dict[str, Any]:
        return self.core.event(kind, claims, method=request.method, user_agent=request.headers.get("user-agent", ""),
                               address=request.client.host if request.client else None, **kwargs)

    async def _store(self, row: dict[str, Any]) -> bool:
        try:
            await self.core.recorder.record(row)
        except Exception:
            log.exception("a %s event was not stored", row["kind"])
            return False
        return True

    async def home(self, _request: Request) -> Response:
        return Response(f"{self.core.options.title} tracking endpoint\n", media_type="text/plain")

    async def health(self, _request: Request) -> Response:
        try:
            await run_in_threadpool(self.core.db.check)
        except Exception as exc:
            return JSONResponse({"status": "error", "error": str(exc)}, status_code=503)
        signer = self.core.keys.signer()
        return JSONResponse({"status": "ok", "service": "postroom-tracker", "version": __version__,
                             "keys": len(signer.ring.keys) if signer else 0,
                             "backlog": self.core.recorder.backlog}, headers={"Cache-Control": "no-store"})

    async def unsubscribe(self, request: Request) -> Response:
        claims = self.core.claims("unsubscribe", request.path_params["token"])
        if claims is None:
            return _html(pages.invalid_link("unsubscribe"), 404)
        if request.method != "POST":
            preferences = self.core.sign("preferences", claims)
            return _html(pages.unsubscribe_form(f"../p/{preferences}" if preferences else None))
        form = _form(await request.body(), request.headers.get("content-type", ""))
        if "One-Click" not in [value.strip() for value in form.get("List-Unsubscribe", [])]:
            return _html(pages.not_one_click(), 400)
        if not await self._store(self._event(request, "unsubscribe", claims, judge=False)):
            return _html(pages.unavailable(), 503)
        return _html(pages.unsubscribed())  # 200 and no redirect (RFC 8058)

    async def preferences(self, request: Request) -> Response:
        claims = self.core.claims("preferences", request.path_params["token"])
        if claims is None:
            return _html(pages.invalid_link("preferences"), 404)
        lists = await run_in_threadpool(self.core.list_names)
        if request.method != "POST":
            return _html(pages.preferences_form(lists))
        form = _form(await request.body(), request.headers.get("content-type", ""))
        everything = "leave-all" in form.get("action", [])
        keep = {value for value in form.get("keep", []) if value.isdigit()}
        leaving = [(list_id, name) for list_id, name in lists if str(list_id) not in keep]
        if not everything and not leaving:
            return _html(pages.preferences_saved([], everything=False))
        data = {"all": everything, "leave": [list_id for list_id, _ in leaving]}
        if not await self._store(self._event(request, "preferences", claims, data=data, judge=False)):
            return _html(pages.unavailable(), 503)
        return _html(pages.preferences_saved([name for _, name in leaving], everything))

    async def confirm(self, request: Request) -> Response:
        claims = self.core.claims("confirm", request.path_params["token"])
        if claims is None:
            return _html(pages.invalid_link("confirmation"), 404)
        if request.method != "POST":  # scanners open links; only the button confirms
            return _html(pages.confirm_form())
        row = self._event(request, "confirm", claims, data={"list_id": claims.extra}, judge=False)
        if not await self._store(row):
            return _html(pages.unavailable(), 503)
        return _html(pages.confirmed())

    async def webview(self, request: Request) -> Response:
        claims = self.core.claims("view", request.path_params["token"])
        if claims is None:
            return _html(pages.invalid_link("web view"), 404)
        from app.modules.stats.published import webview_html

        html = await run_in_threadpool(webview_html, self.core.db, claims.run_id, claims.recipient_id)
        if html is None:
            return _html(pages.not_available("email"), 404)
        await self._store(self._event(request, "view", claims))
        return HTMLResponse(html, headers=WEBVIEW_HEADERS)


def build_app(core: TrackerCore) -> Limits:
    """The whole endpoint: recipient routes, event intake and sync, behind size limits and access logs."""
    from app.modules.stats.tracker.hot_paths import HotPaths
    from app.modules.stats.tracker.machine_routes import MachineRoutes

    people = RecipientRoutes(core)
    machines = MachineRoutes(core)
    routes = [
        Route("/", people.home, methods=["GET"]),
        Route("/health", people.health, methods=["GET"]),
        Route("/u/{token}", people.unsubscribe, methods=["GET", "POST"]),
        Route("/p/{token}", people.preferences, methods=["GET", "POST"]),
        Route("/confirm/{token}", people.confirm, methods=["GET", "POST"]),
        Route("/v/{token}", people.webview, methods=["GET"]),
        Route("/events", machines.events, methods=["POST"]),
        Route("/sync/events", machines.pull, methods=["GET"]),
        Route("/sync/push", machines.push, methods=["POST"]),
    ]
    options = core.options
    return Limits(HotPaths(Starlette(routes=routes), core), default=options.max_body,
                  per_prefix={"/events": options.max_events_body, "/sync/push": options.max_push_body},
                  log_requests=options.access_log)
