"""Ingest: stored tracking events become bus events and contact changes, in id order, behind a cursor.

Every effect is idempotent (timeline entries carry a dedupe key, unsubscribing twice changes nothing, a confirmed
subscription is not confirmed again), and the cursor moves only past events whose effects are done, so a crash
at any point repeats work instead of losing it. Bus events may then be seen twice; each carries ``event_uid``.
Machine traffic is published (flagged) but kept out of contacts' timelines and ``last_open_at``.
"""

from __future__ import annotations

import collections
import logging
import threading

from sqlalchemy.exc import OperationalError

from app.kernel.bus import MessageBus
from app.kernel.database import Database
from app.kernel.locks import ExclusiveFileLock
from app.kernel.messages import CommandNotHandled, Event
from app.modules.contacts.messages import ActivityItem, ConfirmSubscription, RecordActivity, UnsubscribeContact
from app.modules.stats import published, store
from app.modules.stats.aggregate import Aggregator
from app.modules.stats.messages import EventReceived, LinkClicked, MessageOpened, TrackingIngested
from app.modules.stats.store import StoredEvent

log = logging.getLogger(__name__)

CURSOR = "ingest"
# These cannot wait: the law and the person expect an unsubscribe to take effect promptly.
URGENT_KINDS = frozenset({"unsubscribe", "preferences", "confirm"})
_TRANSIENT = (OperationalError, CommandNotHandled)


def contact_email(db: Database, contact_id: int) -> str | None:
    """The address of a contact, to unsubscribe it through the contacts module's command."""
    from app.modules.contacts import api as contacts_api

    return contacts_api.contact_email(db, contact_id)


class Ingest:
    def __init__(self, db: Database, bus: MessageBus, lock_path: str | None = None, batch_size: int = 5000,
                 aggregator: Aggregator | None = None) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.aggregator = aggregator
        self._links: dict[int, str] = {}
        self._file_lock = ExclusiveFileLock(lock_path) if lock_path else None
        self._lock = threading.Lock()

    def run(self, max_batches: int | None = None, *, wait: bool = False) -> int:
        """Handle new events; returns how many. Returns 0 at once if another ingest is running in another
        process, or in this one unless ``wait``."""
        if not self._lock.acquire(blocking=wait):
            return 0
        try:
            if self._file_lock is not None and not self._file_lock.acquire():
                return 0
            try:
                return self._run(max_batches)
            finally:
                if self._file_lock is not None:
                    self._file_lock.release()
        finally:
            self._lock.release()

    def _run(self, max_batches: int | None) -> int:
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            after = store.read_cursor(self.db, CURSOR)
            rows = store.events_after(self.db, after, self.batch_size)
            if not rows:
                break
            self._load_links(rows)
            # Report aggregates are reduced first (parsing user agents) and move with the cursor in one unit of
            # work (see aggregate.py).
            prepared = self.aggregator.prepare(rows, self._links) if self.aggregator is not None else None
            done, events = self._handle(rows)
            if done:
                if self.aggregator is not None and len(done) < len(rows):
                    prepared = self.aggregator.prepare(done, self._links)
                with self.db.transaction() as session:
                    if self.aggregator is not None and prepared is not None:
                        self.aggregator.apply(session, done, prepared)
                    store.move_cursor(session, CURSOR, done[-1].id)
                for event in events:
                    self.bus.publish(event)
                kinds = collections.Counter(row.kind for row in done)
                self.bus.publish(TrackingIngested(count=len(done), kinds=dict(kinds)))
                total += len(done)
            batches += 1
            if len(done) < len(rows):  # a transient failure: the rest waits for the next round
                break
        return total

    def _load_links(self, rows: list[StoredEvent]) -> None:
        """The URLs of the batch's clicked links, in one query (a link's URL never changes: kept for the run)."""
        clicked = {int(row.link_id) for row in rows if row.kind == "click" and row.link_id is not None}
        wanted = clicked - set(self._links)
        if wanted:
            if len(self._links) > 50_000:
                self._links.clear()
            self._links.update(published.link_targets(self.db, wanted))

    def _handle(self, rows: list[StoredEvent]) -> tuple[list[StoredEvent], list[Event]]:
        done: list[StoredEvent] = []
        items: list[ActivityItem] = []
        events: list[Event] = []
        for row in rows:
            try:
                self._act(row)
            except _TRANSIENT as exc:
                log.warning("tracking ingest paused at event %s: %s", row.id, exc)
                break
            except Exception:
                # Bad data in one event (an address contacts refuses) must not block every later event.
                log.exception("tracking event %s (%s) could not be applied; skipped", row.id, row.kind)
            done.append(row)
            self._describe(row, items, events)
        if items:
            try:
                self.bus.execute(RecordActivity(items=tuple(items)))
            except _TRANSIENT as exc:
                log.warning("tracking ingest could not record timelines yet: %s", exc)
                return [], []
        return done, events

    def _act(self, row: StoredEvent) -> None:
        """The contact changes an event asks for (unsubscribe, preferences, confirmation)."""
        if row.kind not in URGENT_KINDS or row.contact_id is None:
            return
        if row.kind == "confirm":
            list_id = int((row.data or {}).get("list_id") or 0)
            evidence = (f"confirmation link pressed {row.occurred_at:%Y-%m-%d %H:%M} UTC from {row.ip_class or '?'}"
                        f" ({row.user_agent[:120] or 'no browser name'})")
            self.bus.execute(ConfirmSubscription(contact_id=row.contact_id, list_id=list_id, evidence=evidence))
            return
        email = contact_email(self.db, row.contact_id)
        if email is None:
            log.info("tracking event %s names contact %s, who no longer exists", row.id, row.contact_id)
            return
        data = row.data or {}
        if row.kind == "unsubscribe" or data.get("all"):
            source = f"{'one-click unsubscribe' if row.kind == 'unsubscribe' else 'preference page'}, run {row.run_id}"
            self.bus.execute(UnsubscribeContact(email=email, everywhere=True, source=source))
            return
        for list_id in data.get("leave", []):
            self.bus.execute(UnsubscribeContact(email=email, list_id=int(list_id), everywhere=False,
                                                source=f"preference page, run {row.run_id}"))

    def _describe(self, row: StoredEvent, items: list[ActivityItem], events: list[Event]) -> None:
        run_id, contact_id = int(row.run_id or 0), row.contact_id
        props = {"run_id": run_id} if run_id else {}
        if row.kind in ("open", "view") and contact_id is not None:
            if row.kind == "open":
                events.append(MessageOpened(run_id=run_id, contact_id=contact_id, at=row.occurred_at,
                                            machine=row.machine, machine_reason=row.machine_reason,
                                            event_uid=row.uid))
            if not row.machine:  # one "opened" per message in the timeline is enough
                items.append(ActivityItem(kind="opened", contact_id=contact_id, occurred_at=row.occurred_at,
                                          properties=props, dedupe_key=f"stats:open:{run_id}:{contact_id}"))
        elif row.kind == "click" and contact_id is not None and row.link_id is not None:
            url = self._links.get(int(row.link_id), "")
            events.append(LinkClicked(run_id=run_id, contact_id=contact_id, link_id=int(row.link_id), url=url,
                                      at=row.occurred_at, machine=row.machine, machine_reason=row.machine_reason,
                                      event_uid=row.uid))
            if not row.machine:
                items.append(ActivityItem(kind="clicked", contact_id=contact_id, occurred_at=row.occurred_at,
                                          properties={**props, "url": url[:500]},
                                          dedupe_key=f"stats:click:{run_id}:{contact_id}:{row.link_id}"))
        elif row.kind == "event" and row.email:
            data = row.data or {}
            value = data.get("value")
            events.append(EventReceived(email=row.email, name=row.name, at=row.occurred_at,
                                        properties=dict(data.get("properties") or {}),
                                        value=float(value) if value is not None else None,
                                        currency=data.get("currency"), event_uid=row.uid))
            items.append(ActivityItem(kind="event", email=row.email, name=row.name, occurred_at=row.occurred_at,
                                      properties={**dict(data.get("properties") or {}),
                                                  **({"currency": data["currency"]} if data.get("currency") else {})},
                                      value=float(value) if value is not None else None,
                                      dedupe_key=f"stats:event:{row.uid}"))
