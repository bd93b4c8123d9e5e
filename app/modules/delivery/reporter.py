"""Tells the contacts module what happened to each recipient (suppress hard bounces, timeline entries), from
the durable ``report_pending`` flag, on its own paced thread so the window's thread keeps the interpreter."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from app.kernel.bus import MessageBus
from app.kernel.database import Database
from app.modules.contacts.messages import ActivityItem, RecordActivity, SuppressAddress
from app.modules.delivery import store

log = logging.getLogger(__name__)


def report_outcomes(db: Database, bus: MessageBus, budget: int | None = None, chunk: int = 200) -> int:
    """Report at most ``budget`` outcomes, failures first. Safe to repeat after a crash: suppressing is
    idempotent and timeline entries carry a dedupe key."""
    told = 0
    while budget is None or told < budget:
        pending = store.pending_reports(db, chunk if budget is None else min(chunk, budget - told))
        if not pending:
            return told
        items: list[ActivityItem] = []
        for row in pending:
            key = f"delivery:{row.run_id}:{row.contact_id}"
            at = dt.datetime.fromtimestamp(row.finished_at, dt.UTC) if row.finished_at else None
            if row.state == "sent":
                items.append(ActivityItem(kind="sent", contact_id=row.contact_id, campaign_id=row.campaign_id,
                                          occurred_at=at, dedupe_key=f"{key}:sent",
                                          properties={"run_id": row.run_id}))
                continue
            if row.outcome == "hard":
                bus.execute(SuppressAddress(email=row.email, reason="hard_bounce", detail=row.reply))
            if row.outcome in ("hard", "failed", "expired"):
                items.append(ActivityItem(kind="bounced", contact_id=row.contact_id, campaign_id=row.campaign_id,
                                          occurred_at=at, dedupe_key=f"{key}:bounced",
                                          properties={"run_id": row.run_id, "type": row.outcome,
                                                      "reply": row.reply}))
        if items:
            bus.execute(RecordActivity(items=tuple(items)))
        store.mark_reported(db, [row.id for row in pending])
        told += len(pending)
    return told


class Reporter:
    """A thread that reports in chunks, slowly while a run sends and faster when idle, then ends.

    ``busy()`` says whether the sender is running (then the pace leaves the machine to it).
    """

    # Recording a timeline entry costs the contacts module about 0.03 ms of this process's interpreter (batched
    # writes), so a chunk holds it for ~30 ms at most; the pause keeps the window's thread first while sending.
    CHUNK = 1000
    PAUSE_BUSY = 1.0  # seconds between chunks while sending: the sender and the window come first
    PAUSE_IDLE = 0.25

    def __init__(self, db: Database, bus: MessageBus, busy: Callable[[], bool]) -> None:
        self.db = db
        self.bus = bus
        self.busy = busy
        self._wake = threading.Event()  # new outcomes may be pending
        self._stop = threading.Event()
        self._closing = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """There may be something to report: start the thread if it is not running."""
        with self._lock:
            if self._closing:
                return
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="postroom-delivery-reporter")
                self._thread.start()

    def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                told = report_outcomes(self.db, self.bus, budget=self.CHUNK, chunk=self.CHUNK)
            except Exception:
                log.exception("reporting delivery outcomes failed; they stay pending and are retried")
                told = 0
            if told == 0:
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            self._stop.wait(self.PAUSE_BUSY if self.busy() else self.PAUSE_IDLE)

    def close(self) -> None:
        """Stop between chunks; what is left stays pending and is reported at the next start."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._stop.set()
        if thread is not None:
            thread.join(timeout=30)
