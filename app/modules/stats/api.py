"""Public API of the stats module: the link builder every sent message uses, link registration and web views.

Typical use by a sender, once per run and then per recipient::

    links = TrackingLinks.for_kernel(kernel)          # or bus.execute(GetTrackingLinks()); picklable
    run = RunTracking(links, db, run_id)
    urls = run.urls(contact_id, sent_at)              # unsubscribe, preferences, webview: for merge tags
    html = run.finish_html(rendered_html, contact_id, sent_at)   # tracked links + open pixel; keeps web view
    ...
    run.flush()                                        # before marking the batch sent
"""

from __future__ import annotations

import html as html_lib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.kernel.database import Database
from app.modules.stats import published
from app.modules.stats.tokens import MIN_RETENTION_DAYS, PURPOSES, BadToken, KeyRing, TokenClaims, TokenSigner

__all__ = [
    "MIN_RETENTION_DAYS",
    "PURPOSES",
    "BadToken",
    "Engagement",
    "RunTracking",
    "TokenClaims",
    "TrackingLinks",
    "engaged_contact_ids",
    "register_links",
    "run_engagement",
    "store_webviews",
]

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class TrackingLinks:
    """Builds signed tracking URLs for the public endpoint. Plain data (base URL and key ring), picklable."""

    def __init__(self, base_url: str, ring: KeyRing) -> None:
        self.base_url = base_url.rstrip("/")
        self.ring = ring
        self._signer: TokenSigner | None = None

    @classmethod
    def for_kernel(cls, kernel: Any) -> TrackingLinks:
        """From a running kernel (or a ModuleContext) whose stats module is started."""
        from app.modules.stats.messages import GetTrackingLinks

        links: TrackingLinks = kernel.bus.execute(GetTrackingLinks())
        return links

    def __getstate__(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "ring": self.ring}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.base_url, self.ring, self._signer = state["base_url"], state["ring"], None

    def __repr__(self) -> str:
        return f"TrackingLinks({self.base_url!r}, key {self.ring.current_id})"

    @property
    def signer(self) -> TokenSigner:
        if self._signer is None:
            self._signer = TokenSigner(self.ring)
        return self._signer

    def token(self, purpose: str, run_id: int, contact_id: int, extra: int = 0, sent_at: float | None = None) -> str:
        return self.signer.sign(purpose, run_id, contact_id, extra, sent_at)

    def verify(self, purpose: str, token: str) -> TokenClaims:
        """Check a token made for ``purpose`` (raises :class:`BadToken`)."""
        return self.signer.verify(purpose, token)

    def open_pixel_url(self, run_id: int, contact_id: int, sent_at: float | None = None) -> str:
        return f"{self.base_url}/o/{self.token('open', run_id, contact_id, 0, sent_at)}.gif"

    def click_url(self, run_id: int, contact_id: int, link_id: int, sent_at: float | None = None) -> str:
        """Redirects to the link registered under ``link_id`` for this run (see :func:`register_links`)."""
        return f"{self.base_url}/c/{self.token('click', run_id, contact_id, link_id, sent_at)}"

    def unsubscribe_url(self, run_id: int, contact_id: int) -> str:
        """For List-Unsubscribe (RFC 8058 one-click POST) and the visible link (a GET shows a confirm page)."""
        return f"{self.base_url}/u/{self.token('unsubscribe', run_id, contact_id)}"

    def preferences_url(self, run_id: int, contact_id: int) -> str:
        return f"{self.base_url}/p/{self.token('preferences', run_id, contact_id)}"

    def confirm_url(self, contact_id: int, list_id: int, run_id: int = 0) -> str:
        """Double opt-in: confirms ``contact_id`` on ``list_id`` (after a button press on the page)."""
        return f"{self.base_url}/confirm/{self.token('confirm', run_id, contact_id, list_id)}"

    def webview_url(self, run_id: int, contact_id: int) -> str:
        return f"{self.base_url}/v/{self.token('view', run_id, contact_id)}"

    def urls(self, run_id: int, contact_id: int) -> dict[str, str]:
        """The URLs a template's merge tags need: unsubscribe, preferences, webview."""
        return {"unsubscribe": self.unsubscribe_url(run_id, contact_id),
                "preferences": self.preferences_url(run_id, contact_id),
                "webview": self.webview_url(run_id, contact_id)}

    def check_code(self, purpose: str, *parts: Any) -> str:
        """An 8-character, case-blind check (bounce addresses, mailto unsubscribe); any kept key matches."""
        return self.signer.check_code(purpose, *parts)

    def code_matches(self, code: str, purpose: str, *parts: Any) -> bool:
        return self.signer.code_matches(code, purpose, *parts)

    def links_in(self, html: str) -> list[str]:
        """The http(s) links of ``html`` that would be tracked (not the endpoint's own, not mailto: and such)."""
        found: list[str] = []
        for match in _HREF.finditer(html):
            url = html_lib.unescape(match[3]).strip()
            if url.lower().startswith(("http://", "https://")) and not url.startswith(self.base_url + "/"):
                found.append(url)
        return found

    def track_html(self, html: str, run_id: int, contact_id: int, link_ids: Mapping[str, int],
                   sent_at: float | None = None, *, pixel: bool = True) -> str:
        """Point each registered link at its click URL and add the open pixel; other links stay as they are."""
        stamp = int(sent_at if sent_at is not None else time.time())

        def swap(match: re.Match[str]) -> str:
            link_id = link_ids.get(html_lib.unescape(match[3]).strip())
            if link_id is None:
                return match[0]
            return f"{match[1]}{match[2]}{self.click_url(run_id, contact_id, link_id, stamp)}{match[2]}"

        tracked = _HREF.sub(swap, html)
        if not pixel:
            return tracked
        image = (f'<img src="{self.open_pixel_url(run_id, contact_id, stamp)}" width="1" height="1" alt="" '
                 'style="display:block;border:0;width:1px;height:1px;overflow:hidden">')
        ends = list(_BODY_END.finditer(tracked))
        if ends:
            at = ends[-1].start()
            return tracked[:at] + image + tracked[at:]
        return tracked + image


def register_links(db: Database, run_id: int, urls: Iterable[str]) -> dict[str, int]:
    """Register the links of a run; returns url -> link id. Idempotent: a URL keeps its id. Clicks redirect
    only to links registered for the run in their token. Raises ValueError for a non-http(s) URL."""
    return published.register_links(db, run_id, urls)


def store_webviews(db: Database, run_id: int, items: Sequence[tuple[int, str]]) -> int:
    """Keep the HTML each recipient received, as ``(contact_id, html)``; the web view link shows it."""
    return published.store_webviews(db, run_id, items)


class RunTracking:
    """One run's tracking: registers links as they appear, rewrites each message, keeps its web view.

    Links that differ per recipient (personalised URLs) are registered as they come, up to ``max_links`` per
    run; beyond that they are left untracked rather than slowing the send.
    """

    def __init__(self, links: TrackingLinks, db: Database, run_id: int, *, opens: bool = True,
                 clicks: bool = True, webviews: bool = True, max_links: int = 5000, flush_every: int = 200) -> None:
        self.links = links
        self.db = db
        self.run_id = run_id
        self.opens = opens
        self.clicks = clicks
        self.webviews = webviews
        self.max_links = max_links
        self.flush_every = flush_every
        self._ids: dict[str, int] = {}
        self._pending: list[tuple[int, str]] = []

    def urls(self, contact_id: int) -> dict[str, str]:
        return self.links.urls(self.run_id, contact_id)

    def finish_html(self, html: str, contact_id: int, sent_at: float | None = None) -> str:
        """The HTML to send to ``contact_id``; its web view is kept (call :meth:`flush` before marking sent)."""
        if self.clicks:
            new = [url for url in dict.fromkeys(self.links.links_in(html)) if url not in self._ids]
            room = self.max_links - len(self._ids)
            if new and room > 0:
                registrable = [url for url in new[:room] if _registrable(url)]
                self._ids.update(register_links(self.db, self.run_id, registrable))
        ids = self._ids if self.clicks else {}
        viewed = self.links.track_html(html, self.run_id, contact_id, ids, sent_at, pixel=False)
        if self.webviews:
            self._pending.append((contact_id, viewed))
            if len(self._pending) >= self.flush_every:
                self.flush()
        if not self.opens:
            return viewed
        return self.links.track_html(viewed, self.run_id, contact_id, {}, sent_at, pixel=True)

    def flush(self) -> None:
        if self._pending:
            store_webviews(self.db, self.run_id, self._pending)
            self._pending = []


def _registrable(url: str) -> bool:
    try:
        published.check_url(url)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Engagement:
    """Opens and clicks of one run: unique counts people, total counts events (machine traffic per the flag)."""

    unique_opens: int = 0
    opens: int = 0
    unique_clicks: int = 0
    clicks: int = 0


def run_engagement(db: Database, run_ids: Sequence[int], *, include_machine: bool = False) -> dict[int, Engagement]:
    """Per run: unique and total opens and clicks recorded so far (machine traffic left out unless asked)."""
    from sqlalchemy import distinct, func, select

    from app.modules.stats.models import TrackingEvent

    out = {run_id: Engagement() for run_id in run_ids}
    if not run_ids:
        return out
    query = (select(TrackingEvent.run_id, TrackingEvent.kind, func.count(distinct(TrackingEvent.contact_id)),
                    func.count())
             .where(TrackingEvent.run_id.in_(list(run_ids)), TrackingEvent.kind.in_(("open", "click")))
             .group_by(TrackingEvent.run_id, TrackingEvent.kind))
    if not include_machine:
        query = query.where(TrackingEvent.machine.is_(False))
    values: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    with db.read() as session:
        for run_id, kind, unique, total in session.execute(query):
            values[int(run_id or 0)][f"unique_{kind}s"] = int(unique)
            values[int(run_id or 0)][f"{kind}s"] = int(total)
    return {run_id: Engagement(**v) for run_id, v in values.items()}


def engaged_contact_ids(db: Database, run_ids: Sequence[int], kind: str = "open", *,
                        include_machine: bool = False) -> set[int]:
    """Contacts who opened (``kind`` "open") or clicked ("click") any of the runs' messages."""
    from sqlalchemy import select

    from app.modules.stats.models import TrackingEvent

    if not run_ids:
        return set()
    query = select(TrackingEvent.contact_id).where(
        TrackingEvent.run_id.in_(list(run_ids)), TrackingEvent.kind == kind,
        TrackingEvent.contact_id.is_not(None)).distinct()
    if not include_machine:
        query = query.where(TrackingEvent.machine.is_(False))
    with db.read() as session:
        return {int(c) for c in session.scalars(query) if c is not None}
