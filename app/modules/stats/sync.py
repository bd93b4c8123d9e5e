"""Sync with a remote endpoint over HTTPS: push what it needs (keys, links, web views, list names, intake token
hashes; never the contacts), then pull new events after a cursor.

Pulling is idempotent twice over: events are stored by their uid (a repeat is skipped), and the cursor moves in
the same transaction as the events it covers, so a crash or a restart on either side resumes where it stopped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from app.kernel.database import Database
from app.modules.stats import store
from app.modules.stats.messages import SyncReport
from app.modules.stats.models import ListName, TrackedLink, TrackingEvent, WebView, WebViewBase
from app.modules.stats.tokens import KeyRing

log = logging.getLogger(__name__)

PULL_PAGE = 1000
PUSH_LINKS_PAGE = 5000
PUSH_BYTES = 8 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SyncError(RuntimeError):
    """The remote endpoint could not be reached or refused; the message says which and why."""


def check_remote_url(url: str) -> str:
    """HTTPS only (the sync token and the keys travel in these requests), except to this very machine."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SyncError(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise SyncError("the remote endpoint must use https:// (the sync token and link keys travel to it)")
    return url.strip().rstrip("/")


@dataclass
class Remote:
    url: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.url = check_remote_url(self.url)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        # The URL went through check_remote_url: http(s) only.
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={  # noqa: S310
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "User-Agent": "postroom-sync"})
        try:
            # The URL went through check_remote_url: http(s) only.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("error", detail)
            raise SyncError(f"{self.url} answered {exc.code} to {method} {path}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SyncError(f"cannot reach {self.url}: {reason}") from None
        except ValueError as exc:
            raise SyncError(f"{self.url} sent a reply that is not JSON: {exc}") from None


Progress = Callable[[str], None]


class TrackerSync:
    """One app's sync with one remote endpoint."""

    def __init__(self, db: Database, remote: Remote, ring: Callable[[], KeyRing],
                 list_names: Callable[[], dict[int, str]], *, push_webviews: bool = True) -> None:
        self.db = db
        self.remote = remote
        self.ring = ring
        self.list_names = list_names
        self.push_webviews = push_webviews
        self._lock = threading.Lock()

    def _cursor(self, what: str) -> str:
        return f"{what}:{self.remote.url}"

    def run(self, progress: Progress | None = None, check: Callable[[], None] | None = None) -> SyncReport:
        with self._lock:
            pushed = self.push(progress, check)
            pulled = self.pull(progress, check)
        log.info("tracker synced", extra={"remote": self.remote.url, "pulled": pulled, **pushed})
        return SyncReport(pulled=pulled, pushed=pushed)

    # -- push

    def push(self, progress: Progress | None = None, check: Callable[[], None] | None = None) -> dict[str, int]:
        with self.db.transaction() as session:
            # Sync the app's own list names into its table too, so the in-app endpoint shows the same page.
            from app.modules.stats.published import replace_list_names

            replace_list_names(session, self.list_names())
        with self.db.read() as session:
            lists = [{"id": int(i), "name": n} for i, n in session.execute(select(ListName.list_id, ListName.name))]
        ring = json.loads(self.ring().to_json())
        answer = self.remote.call("POST", "/sync/push", {"keys": ring, "lists": lists,
                                                         "event_tokens": store.event_token_hashes(self.db)})
        counts = {"keys": int(answer["stored"].get("keys", 0)), "lists": len(lists), "links": 0, "webviews": 0}
        counts["links"] = self._push_links(progress, check)
        if self.push_webviews:
            counts["webviews"] = self._push_webviews(progress, check)
        return counts

    def _push_links(self, progress: Progress | None, check: Callable[[], None] | None) -> int:
        total = 0
        while True:
            after = store.read_cursor(self.db, self._cursor("push-links"))
            with self.db.read() as session:
                rows = session.execute(select(TrackedLink.id, TrackedLink.run_id, TrackedLink.url)
                                       .where(TrackedLink.id > after).order_by(TrackedLink.id)
                                       .limit(PUSH_LINKS_PAGE)).all()
            if not rows:
                return total
            if check:
                check()
            self.remote.call("POST", "/sync/push", {"links": [{"id": r[0], "run_id": r[1], "url": r[2]} for r in rows]})
            with self.db.transaction() as session:
                store.move_cursor(session, self._cursor("push-links"), int(rows[-1][0]))
            total += len(rows)
            if progress:
                progress(f"pushed {total} links")

    def _push_webviews(self, progress: Progress | None, check: Callable[[], None] | None) -> int:
        total = 0
        sent_bases: set[int] = set()
        while True:
            after = store.read_cursor(self.db, self._cursor("push-webviews"))
            views: list[dict[str, Any]] = []
            size = 0
            with self.db.read() as session:
                for row in session.execute(select(WebView.id, WebView.run_id, WebView.contact_id, WebView.body)
                                           .where(WebView.id > after).order_by(WebView.id).limit(2000)):
                    views.append({"id": row[0], "run_id": row[1], "contact_id": row[2],
                                  "body": base64.b64encode(row[3]).decode("ascii")})
                    size += len(row[3])
                    if size > PUSH_BYTES:
                        break
                runs = {v["run_id"] for v in views} - sent_bases
                bases = [{"run_id": r, "dictionary": base64.b64encode(d).decode("ascii")} for r, d in
                         session.execute(select(WebViewBase.run_id, WebViewBase.dictionary)
                                         .where(WebViewBase.run_id.in_(runs or {-1})))]
            if not views:
                return total
            if check:
                check()
            self.remote.call("POST", "/sync/push", {"webview_bases": bases, "webviews": views})
            sent_bases |= runs
            with self.db.transaction() as session:
                store.move_cursor(session, self._cursor("push-webviews"), int(views[-1]["id"]))
            total += len(views)
            if progress:
                progress(f"pushed {total} web views")

    # -- pull

    def pull(self, progress: Progress | None = None, check: Callable[[], None] | None = None) -> int:
        """Fetch events after the cursor until none are left; returns how many were new here."""
        new = 0
        while True:
            if check:
                check()
            after = store.read_cursor(self.db, self._cursor("pull"))
            answer = self.remote.call("GET", f"/sync/events?after={after}&limit={PULL_PAGE}")
            events = answer.get("events", [])
            if not events:
                return new
            try:
                rows = [store.event_from_wire(event) for event in events]
            except (ValueError, TypeError) as exc:
                raise SyncError(f"{self.remote.url} sent an event that cannot be stored: {exc}") from None
            with self.db.transaction() as session:
                before = session.scalar(select(func.max(TrackingEvent.id))) or 0
                store.insert_events(session, rows)
                new += int(session.scalar(select(func.count()).select_from(TrackingEvent)
                                          .where(TrackingEvent.id > before)) or 0)
                store.move_cursor(session, self._cursor("pull"), int(answer["last"]))
            if progress:
                progress(f"pulled {new} new events")
            if not answer.get("more"):
                return new

