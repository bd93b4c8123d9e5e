"""The stats module at run time: the embedded endpoint, the ingest and sync loop, keys and the public URL."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from app.kernel.registry import ModuleContext
from app.modules.stats import store
from app.modules.stats.aggregate import Aggregator
from app.modules.stats.api import TrackingLinks
from app.modules.stats.ingest import URGENT_KINDS, Ingest
from app.modules.stats.keystore import SYNC_SECRET, TrackingSecrets
from app.modules.stats.messages import (
    GetTrackingLinks,
    IngestTracking,
    RecordEvents,
    RotateTrackingKey,
    SyncReport,
    SyncTracker,
    TrackerStateChanged,
    TrackerSynced,
)
from app.modules.stats.tokens import KeyRing
from app.modules.stats.tracker.core import TrackerOptions
from app.modules.stats.tracker.server import EmbeddedTracker, make_core

log = logging.getLogger(__name__)

DEFAULT_PORT = 8089


@dataclass(frozen=True)
class TrackerStatus:
    """What the Tracking page and ``postroom tracker status`` show."""

    public_url: str
    embedded_url: str
    running: bool
    problem: str
    remote_url: str
    last_sync_at: dt.datetime | None
    last_sync_note: str
    keys_stored_in: str
    key_ids: tuple[str, ...]
    today: dict[str, dict[str, int]]
    ingested_up_to: int
    newest_event: int


class StatsService:
    def __init__(self, context: ModuleContext) -> None:
        self.context = context
        self.db = context.db
        self.bus = context.bus
        self.settings = context.settings
        self.secrets = TrackingSecrets(context.secrets, context.paths.data_dir)
        self._ring: KeyRing | None = None  # read on first use: the keyring costs ~0.1 s of start-up
        self.aggregator = Aggregator(self.db, self.settings)
        self.ingest = Ingest(self.db, self.bus, str(context.paths.data_dir / "stats-ingest.lock"),
                             aggregator=self.aggregator)
        self.tracker: EmbeddedTracker | None = None
        self.problem = ""
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._loop: threading.Thread | None = None
        self._sync_lock = threading.Lock()
        self._last_sync = 0.0

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            self._ring = self.secrets.ring()
        return self._ring

    def register(self, context: ModuleContext) -> None:
        context.handle(GetTrackingLinks, lambda _command: self.links())
        context.handle(SyncTracker, lambda _command: self.sync())
        context.handle(IngestTracking, lambda _command: self.ingest.run(wait=True))
        context.handle(RotateTrackingKey, lambda _command: self.rotate())
        context.handle(RecordEvents, self.record_events)
        from app.modules.contacts.messages import ListsChanged

        context.subscribe(ListsChanged, lambda _event: self.refresh_list_names())
        self._subscribe_reports(context)

    def record_events(self, command: RecordEvents) -> int:
        """Events from a file (``postroom events import``) take the endpoint's path: stored, then ingested."""
        from sqlalchemy import func, select

        from app.modules.stats.models import TrackingEvent

        if any(not 8 <= len(e.uid) <= 64 for e in command.events):
            raise store.StatsError("an event's uid must be 8 to 64 characters")
        rows: list[dict[str, Any]] = [
            {"uid": e.uid, "kind": "event", "run_id": None, "contact_id": None, "link_id": None, "occurred_at": e.at,
             "user_agent": "", "ip_class": "", "machine": False, "machine_reason": "",
             "email": e.email.strip()[:320], "name": e.name[:100],
             "data": {"properties": dict(e.properties), "value": e.value, "currency": e.currency}}
            for e in command.events]
        uids = [row["uid"] for row in rows]
        with self.db.transaction() as session:
            known = sum(int(session.scalar(select(func.count()).select_from(TrackingEvent).where(
                TrackingEvent.uid.in_(uids[i:i + 900]))) or 0) for i in range(0, len(uids), 900))
            store.insert_events(session, rows)
        new = len(set(uids)) - known
        if new:
            self.ingest.run(wait=True)
        return new

    def _subscribe_reports(self, context: ModuleContext) -> None:
        """Report aggregates from other modules' public events (each module may be absent: then nothing comes)."""
        from app.modules.campaigns.messages import (
            AutomationEmailStarted,
            AutomationSaved,
            CampaignRunStarted,
            CampaignSaved,
        )
        from app.modules.contacts.messages import ContactsImported, ContactUnsubscribed, SubscriptionChanged
        from app.modules.delivery.messages import BounceReceived, RecipientFailed, RunProgress, RunStateChanged

        aggregator = self.aggregator
        context.subscribe(BounceReceived, aggregator.on_bounce)
        context.subscribe(RecipientFailed, aggregator.on_failed)
        context.subscribe(RunProgress, aggregator.on_progress)
        context.subscribe(RunStateChanged, aggregator.on_run_state)
        context.subscribe(CampaignSaved, aggregator.on_campaign_saved)
        context.subscribe(CampaignRunStarted, aggregator.on_campaign_run)
        context.subscribe(AutomationSaved, aggregator.on_automation_saved)
        context.subscribe(AutomationEmailStarted, aggregator.on_automation_email)
        context.subscribe(ContactUnsubscribed, lambda event: aggregator.on_list_change(0, 1))
        context.subscribe(SubscriptionChanged, lambda event: aggregator.on_list_change(
            1 if event.status == "subscribed" else 0, 0))
        context.subscribe(ContactsImported, lambda event: aggregator.on_list_change(
            event.created if event.list_id is not None else 0, 0))

    # -- settings

    def _number(self, key: str, default: float) -> float:
        value = self.settings.get_optional(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default

    @property
    def port(self) -> int:
        return int(self._number("stats.tracker_port", DEFAULT_PORT))

    def public_url(self) -> str:
        configured = str(self.settings.get("stats.public_url", "") or "").strip().rstrip("/")
        if configured:
            return configured
        if self.tracker is not None and self.tracker.port:
            return self.tracker.url
        return f"http://127.0.0.1:{self.port}"

    def links(self) -> TrackingLinks:
        return TrackingLinks(self.public_url(), self.ring)

    def rotate(self) -> str:
        self._ring = self.secrets.rotate(int(self._number("stats.key_retention_days", 400)))
        if self.tracker is not None:
            self.tracker.core.keys.invalidate()
        self._last_sync = 0.0  # push the new key at the next round
        self._wake.set()
        return self.ring.current_id

    # -- start and stop

    def start(self) -> None:
        self.refresh_list_names()
        if self.settings.get("stats.tracker_enabled", True):
            self.start_tracker()
        self._loop = threading.Thread(target=self._run_loop, name="postroom-stats", daemon=False)
        self._loop.start()

    def start_tracker(self) -> None:
        options = TrackerOptions(prefetch_seconds=self._number("stats.prefetch_seconds", 10),
                                 access_log=bool(self.settings.get("stats.tracker_access_log", False)))
        core = make_core(self.db, own_keys=lambda: self.ring, options=options, on_commit=self._committed)
        host = str(self.settings.get("stats.tracker_host", "127.0.0.1"))
        tracker = EmbeddedTracker(core, host=host, port=self.port)
        try:
            tracker.start()
        except OSError as exc:
            self.problem = (f"the tracking endpoint could not listen on {host}:{self.port} ({exc.strerror or exc}); "
                            "another program (or another Postroom) may be using that port: "
                            "change stats.tracker_port")
            log.warning(self.problem)
            self.bus.publish(TrackerStateChanged(running=False, url="", error=self.problem))
            return
        self.tracker, self.problem = tracker, ""
        log.info("tracking endpoint running", extra={"url": tracker.url})
        self.bus.publish(TrackerStateChanged(running=True, url=tracker.url))

    def stop_tracker(self) -> None:
        tracker, self.tracker = self.tracker, None
        if tracker is not None:
            tracker.stop()
            self.bus.publish(TrackerStateChanged(running=False, url=""))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(30)
            self._loop = None
        self.stop_tracker()
        self.aggregator.close()

    def _committed(self, kinds: set[str]) -> None:
        if kinds & URGENT_KINDS:
            self._wake.set()

    # -- the loop: ingest often, sync when due

    def _run_loop(self) -> None:
        # The first round comes at once only if there is something to do (events stored while the app was
        # closed, or a remote to sync); otherwise it waits its interval like every other round.
        if self.settings.get("stats.remote_url", "") or \
                store.read_cursor(self.db, "ingest") < store.last_event_id(self.db):
            self._wake.set()
        while not self._stopping.is_set():
            self._wake.wait(self._number("stats.ingest_seconds", 15))
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if self._sync_due():
                    self.sync()
                self.ingest.run()
                self.aggregator.flush()
            except Exception:
                log.exception("tracking ingest or sync failed; retrying later")

    def _sync_due(self) -> bool:
        if not self.settings.get("stats.remote_url", ""):
            return False
        return time.monotonic() - self._last_sync >= self._number("stats.sync_interval_seconds", 30)

    # -- sync

    def remote_token(self) -> str | None:
        return self.secrets.get(SYNC_SECRET)

    def connect(self, url: str, token: str) -> None:
        from app.modules.stats.sync import check_remote_url

        url = check_remote_url(url)
        self.secrets.set(SYNC_SECRET, token.strip())
        self.settings.set("stats.remote_url", url)
        self._last_sync = 0.0
        self._wake.set()

    def disconnect(self) -> None:
        self.settings.remove("stats.remote_url")
        self.secrets.delete(SYNC_SECRET)

    def sync(self, progress: Any = None, check: Any = None) -> SyncReport:
        """Push, then pull, now; the outcome is also noted for the status page and announced."""
        from app.modules.stats.sync import Remote, SyncError, TrackerSync

        url = str(self.settings.get("stats.remote_url", "") or "")
        token = self.remote_token() if url else None
        if not url or not token:
            return SyncReport(error="no remote endpoint is set up (postroom tracker connect URL --token T)")
        with self._sync_lock:
            self._last_sync = time.monotonic()
            syncer = TrackerSync(self.db, Remote(url, token), lambda: self.ring, self._list_names,
                                 push_webviews=bool(self.settings.get("stats.push_webviews", True)))
            try:
                report = syncer.run(progress, check)
            except SyncError as exc:
                report = SyncReport(error=str(exc))
                log.warning("tracker sync failed: %s", exc)
            with self.db.transaction() as session:
                store.move_cursor(session, f"sync-status:{url}", 0, report.error or "ok")
        self.bus.publish(TrackerSynced(pulled=report.pulled, pushed=report.pushed, error=report.error))
        if report.pulled:
            self._wake.set()  # pulled unsubscribes reach contacts at once
        return report

    # -- list names for the preference page

    def _list_names(self) -> dict[int, str]:
        from app.modules.contacts.api import lists

        return {item.id: item.name for item in lists(self.db)}

    def refresh_list_names(self) -> None:
        from app.modules.stats.published import replace_list_names

        try:
            names = self._list_names()
            with self.db.transaction() as session:
                replace_list_names(session, names)
        except Exception:
            log.exception("could not refresh the list names of the preference page")

    # -- status

    def status(self) -> TrackerStatus:
        url = str(self.settings.get("stats.remote_url", "") or "")
        sync = next((c for c in store.cursors(self.db, "sync-status:") if c.name == f"sync-status:{url}"), None)
        midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        return TrackerStatus(
            public_url=self.public_url(), embedded_url=self.tracker.url if self.tracker else "",
            running=bool(self.tracker and self.tracker.running), problem=self.problem or (
                self.tracker.error if self.tracker else ""),
            remote_url=url, last_sync_at=sync.updated_at if sync else None, last_sync_note=sync.note if sync else "",
            keys_stored_in=self.secrets.where, key_ids=tuple(k.key_id for k in self.ring.keys),
            today=store.counts_since(self.db, midnight), ingested_up_to=store.read_cursor(self.db, "ingest"),
            newest_event=store.last_event_id(self.db))
