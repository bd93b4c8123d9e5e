"""What the endpoint knows besides HTTP: its database, its keys, the event recorder and small caches."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.kernel.database import Database
from app.modules.stats import bots, published, store
from app.modules.stats.tokens import BadToken, KeyRing, TokenClaims, TokenSigner
from app.modules.stats.tracker.recorder import EventRecorder


@dataclass
class TrackerOptions:
    prefetch_seconds: float = bots.DEFAULT_PREFETCH_SECONDS
    access_log: bool = True
    key_refresh_seconds: float = 10.0
    cache_seconds: float = 10.0
    max_body: int = 64 * 1024  # forms and single events
    max_events_body: int = 1024 * 1024  # POST /events with a batch
    max_push_body: int = 64 * 1024 * 1024  # POST /sync/push (links, web views)
    title: str = "Postroom"


def merge_rings(own: KeyRing | None, pushed: KeyRing | None) -> KeyRing | None:
    """The app's own ring first (its current key signs pages' links), plus keys pushed from elsewhere."""
    if own is None or pushed is None:
        return own or pushed
    known = {key.key_id for key in own.keys}
    return KeyRing(own.current_id, (*own.keys, *(k for k in pushed.keys if k.key_id not in known)))


class KeySource:
    """The keys that check tokens: the app's own ring (in the app) and keys the app pushed (on a server)."""

    def __init__(self, db: Database, own: Callable[[], KeyRing | None] | None, refresh_seconds: float) -> None:
        self._db = db
        self._own = own
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._signer: TokenSigner | None = None
        self._ring: KeyRing | None = None
        self._loaded = 0.0

    def invalidate(self) -> None:
        self._loaded = 0.0

    def signer(self) -> TokenSigner | None:
        now = time.monotonic()
        if now - self._loaded > self._refresh:
            with self._lock:
                ring = merge_rings(self._own() if self._own else None, store.remote_ring(self._db))
                if ring != self._ring:
                    self._ring, self._signer = ring, TokenSigner(ring) if ring else None
                self._loaded = now
        return self._signer


class TtlCache:
    """A small bounded cache whose entries expire (links, list names, token checks)."""

    def __init__(self, seconds: float, size: int = 100_000) -> None:
        self.seconds = seconds
        self.size = size
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            return item[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def new_uid(now: float) -> str:
    """Time first, then 64 random bits: unique, and new ids land at the end of the uid index instead of
    scattering writes over it."""
    return f"{int(now * 1000):012x}{os.urandom(8).hex()}"


def utc_from(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).replace(tzinfo=None)


@dataclass
class TrackerCore:
    """Shared by every request of one endpoint."""

    db: Database
    keys: KeySource
    recorder: EventRecorder
    options: TrackerOptions = field(default_factory=TrackerOptions)
    # Links never change once registered, so they are cached for long; misses are not cached (a push may
    # bring the link a moment later).
    links: TtlCache = field(default_factory=lambda: TtlCache(3600.0))
    short: TtlCache = field(default_factory=lambda: TtlCache(10.0, 1000))

    def claims(self, purpose: str, token: str) -> TokenClaims | None:
        signer = self.keys.signer()
        if signer is None:
            return None
        try:
            return signer.verify(purpose, token)
        except BadToken:
            return None

    def sign(self, purpose: str, claims: TokenClaims) -> str | None:
        """A sibling link for the same message (the unsubscribe page links to the preference page)."""
        signer = self.keys.signer()
        if signer is None:
            return None
        return signer.sign(purpose, claims.run_id, claims.recipient_id, 0, claims.issued_at)

    def event(self, kind: str, claims: TokenClaims | None, *, method: str, user_agent: str, address: str | None,
              link_id: int | None = None, data: dict[str, Any] | None = None, judge: bool = True) -> dict[str, Any]:
        """An event row; ``judge`` flags machine traffic (deliberate form posts are never machines)."""
        now = time.time()
        agent = user_agent[:400]
        reason = ""
        if judge:
            reason = bots.machine_reason(method=method, user_agent=agent, address=address, kind=kind,
                                         issued_at=claims.issued_at if claims else 0, now=now,
                                         prefetch_seconds=self.options.prefetch_seconds)
        return {
            "uid": new_uid(now), "kind": kind,
            "run_id": claims.run_id if claims else None, "contact_id": claims.recipient_id if claims else None,
            "link_id": link_id, "occurred_at": utc_from(now), "user_agent": agent,
            "ip_class": bots.ip_class(address), "machine": bool(reason), "machine_reason": reason,
            "email": None, "name": "", "data": data or {},
        }

    def link(self, link_id: int) -> tuple[int, str] | None:
        found = self.links.get(link_id)
        if found is None:
            found = published.link_target(self.db, link_id)
            if found is not None:
                self.links.put(link_id, found)
        return found  # type: ignore[no-any-return]

    def list_names(self) -> list[tuple[int, str]]:
        found = self.short.get("lists")
        if found is None:
            found = published.list_names(self.db)
            self.short.put("lists", found)
        return found  # type: ignore[no-any-return]

    def token_id(self, kind: str, token: str) -> int | None:
        key = (kind, store.token_hash(token))
        found = self.short.get(key)
        if found is None:
            found = store.token_allowed(self.db, kind, token) or 0
            self.short.put(key, found)
        return int(found) or None

    def pushed(self) -> None:
        """New keys, lists or tokens arrived: forget what was cached."""
        self.keys.invalidate()
        self.short.clear()
