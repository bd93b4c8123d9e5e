"""Routes for machines, each behind its own bearer token: event intake (a shop, a CRM) and sync with the app.

Errors are JSON objects with an ``error`` text (and ``field``/``index`` for a bad event), so a developer wiring a
shop sees at once what to fix.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.modules.stats import published, store
from app.modules.stats.tokens import KeyRing
from app.modules.stats.tracker.core import TrackerCore
from app.modules.stats.tracker.intake import IntakeError, event_row, parse_body

log = logging.getLogger(__name__)
MAX_PULL = 5000


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="postroom-tracker"'
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class MachineRoutes:
    def __init__(self, core: TrackerCore) -> None:
        self.core = core

    async def _token(self, request: Request, kind: str) -> int | JSONResponse:
        token = _bearer(request)
        if token is None:
            return _error(401, "missing bearer token: send 'Authorization: Bearer <token>'")
        token_id = await run_in_threadpool(self.core.token_id, kind, token)
        if token_id is None:
            return _error(401, f"this token is not valid for {kind} (unknown or revoked)")
        return token_id

    async def events(self, request: Request) -> JSONResponse:
        token_id = await self._token(request, "events")
        if isinstance(token_id, JSONResponse):
            return token_id
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        try:
            items = parse_body(await request.body())
            rows = [event_row(item, index, token_id, now) for index, item in enumerate(items)]
        except IntakeError as exc:
            status = 400 if exc.index is None and not exc.field else 422
            return _error(status, str(exc), **{k: v for k, v in exc.as_json().items() if k != "error"})
        try:
            await run_in_threadpool(self.core.recorder.record_now, rows)
        except Exception as exc:
            log.exception("incoming events were not stored")
            return _error(503, f"the events could not be stored, please retry: {type(exc).__name__}")
        return JSONResponse({"accepted": len(rows), "ids": [row["uid"] for row in rows]}, status_code=202)

    async def pull(self, request: Request) -> JSONResponse:
        allowed = await self._token(request, "sync")
        if isinstance(allowed, JSONResponse):
            return allowed
        try:
            after = int(request.query_params.get("after", "0"))
            limit = min(int(request.query_params.get("limit", "1000")), MAX_PULL)
        except ValueError:
            return _error(400, "after and limit must be whole numbers")
        if after < 0 or limit < 1:
            return _error(400, "after must be 0 or more and limit 1 or more")
        rows = await run_in_threadpool(store.events_after, self.core.db, after, limit + 1)
        events = [store.event_to_wire(row) for row in rows[:limit]]
        last = events[-1]["id"] if events else after
        return JSONResponse({"events": events, "last": last, "more": len(rows) > limit},
                            headers={"Cache-Control": "no-store"})

    async def push(self, request: Request) -> JSONResponse:
        allowed = await self._token(request, "sync")
        if isinstance(allowed, JSONResponse):
            return allowed
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return _error(400, f"the body is not valid JSON: {exc}")
        try:
            stored = await run_in_threadpool(self._store_push, data)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(422, f"the pushed data is not valid: {exc}")
        self.core.pushed()
        return JSONResponse({"stored": stored}, headers={"Cache-Control": "no-store"})

    def _store_push(self, data: dict[str, Any]) -> dict[str, int]:
        stored: dict[str, int] = {}
        ring = KeyRing.from_json(json.dumps(data["keys"])) if data.get("keys") else None
        with self.core.db.transaction() as session:
            if ring is not None:
                store.save_remote_ring(session, ring)
                stored["keys"] = len(ring.keys)
            if "links" in data:
                stored["links"] = published.store_links(session, data["links"])
            if "webviews" in data or "webview_bases" in data:
                stored["webviews"] = published.store_pushed_webviews(
                    session, data.get("webview_bases", []), data.get("webviews", []))
            if "lists" in data:
                published.replace_list_names(session, {int(item["id"]): str(item["name"])
                                                       for item in data["lists"]})
                stored["lists"] = len(data["lists"])
            if "event_tokens" in data:
                store.replace_event_tokens(session, data["event_tokens"])
                stored["event_tokens"] = len(data["event_tokens"])
        return stored
