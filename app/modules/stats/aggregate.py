"""Report aggregates: kept current from ingest batches (opens, clicks, unsubscribes, orders) and bus events
(delivery's bounces, failures and progress; campaigns' names, runs and automations; contacts' list changes).

Opens and clicks are applied inside the ingest's own unit of work, in one set of batched upserts per batch, and
the ``aggregate`` cursor moves in that same transaction: a batch applied twice (a crash, a replayed ingest cursor)
is skipped by event id. Bounces and complaints are unique per (run, kind, recipient) and by ``event_uid``;
conversions by the incoming event's uid. See docs/ARCHITECTURE.md (stats: reports).
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Table, func, select, update
from sqlalchemy.orm import Session

from app.kernel.database import Database, utcnow
from app.modules.stats import store
from app.modules.stats.clients import classify
from app.modules.stats.models import (
    ReportAutomation,
    ReportBounce,
    ReportCampaign,
    ReportClient,
    ReportConversion,
    ReportHour,
    ReportLink,
    ReportLinkPerson,
    ReportListDay,
    ReportRecipient,
    ReportRun,
)
from app.modules.stats.store import StoredEvent

log = logging.getLogger(__name__)

CURSOR = "aggregate"
CONVERSION_EVENTS = ("order_completed",)
DEFAULT_ATTRIBUTION_DAYS = 5.0
HARD_OUTCOMES = frozenset({"hard", "failed", "content"})  # delivery's permanent refusals while sending
SOFT_OUTCOMES = frozenset({"expired"})  # gave up after retries


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def upsert(session: Session, model: Any, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], *,
           add: Sequence[str] = (), least: Sequence[str] = (), greatest: Sequence[str] = (),
           replace: Sequence[str] = (), keep: Sequence[str] = ()) -> None:
    """INSERT rows, or on a key conflict: add ``add`` columns, keep the earliest of ``least``, the latest of
    ``greatest``, overwrite ``replace`` and fill ``keep`` only when empty (SQLite and PostgreSQL)."""
    if not rows:
        return
    table = _table(model)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upsert(session, table, rows, keys, add=add, least=least, greatest=greatest, replace=replace,
                       keep=keep)
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(table)
    new = statement.excluded
    values: dict[str, Any] = {}
    for column in add:
        values[column] = table.c[column] + new[column]
    for column in least:
        values[column] = func.coalesce(func.min(table.c[column], new[column]) if dialect != "postgresql" else
                                       func.least(table.c[column], new[column]), table.c[column], new[column])
    for column in greatest:
        values[column] = func.coalesce(func.max(table.c[column], new[column]) if dialect != "postgresql" else
                                       func.greatest(table.c[column], new[column]), table.c[column], new[column])
    for column in replace:
        values[column] = new[column]
    for column in keep:
        values[column] = func.coalesce(func.nullif(table.c[column], ""), new[column])
    if values:
        session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=values), list(rows))
    else:
        session.execute(statement.on_conflict_do_nothing(index_elements=list(keys)), list(rows))


def _datetime_text(value: dt.datetime) -> str:
    # SQLAlchemy's "%Y-%m-%d %H:%M:%S.%f"; isoformat is ten times cheaper than strftime (the slice drops an offset).
    return value.isoformat(" ", "microseconds")[:26]


def _converters(table: Table, columns: tuple[str, ...]) -> list[tuple[int, Any]]:
    """SQLAlchemy's storage for SQLite (what its DateTime, Date and Boolean read back), for the columns that need
    it: the ingest writes thousands of rows a batch, and SQLAlchemy's per-value processing cost a third of it."""
    out: list[tuple[int, Any]] = []
    for index, name in enumerate(columns):
        kind = table.c[name].type
        if isinstance(kind, DateTime):
            out.append((index, _datetime_text))
        elif isinstance(kind, Date):
            out.append((index, dt.date.isoformat))
        elif isinstance(kind, Boolean):
            out.append((index, int))
    return out


@functools.lru_cache(maxsize=64)
def _sqlite_statement(table: str, columns: tuple[str, ...], keys: tuple[str, ...], *, add: tuple[str, ...],
                      least: tuple[str, ...], greatest: tuple[str, ...], replace: tuple[str, ...],
                      keep: tuple[str, ...]) -> str:
    sets = [f"{c} = {c} + excluded.{c}" for c in add]
    sets += [f"{c} = coalesce(min({c}, excluded.{c}), {c}, excluded.{c})" for c in least]
    sets += [f"{c} = coalesce(max({c}, excluded.{c}), {c}, excluded.{c})" for c in greatest]
    sets += [f"{c} = excluded.{c}" for c in replace]
    sets += [f"{c} = coalesce(nullif({c}, ''), excluded.{c})" for c in keep]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(keys)}) {action}")


def _sqlite_upsert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], *,
                   add: Sequence[str], least: Sequence[str], greatest: Sequence[str], replace: Sequence[str],
                   keep: Sequence[str]) -> None:
    columns = tuple(rows[0])
    statement = _sqlite_statement(table.name, columns, tuple(keys), add=tuple(add), least=tuple(least),
                                  greatest=tuple(greatest), replace=tuple(replace), keep=tuple(keep))
    converters = _converters(table, columns)
    values = []
    for row in rows:
        line = [row[c] for c in columns]
        for index, convert in converters:
            if line[index] is not None:
                line[index] = convert(line[index])
        values.append(tuple(line))
    session.connection().exec_driver_sql(statement, values)


def insert_ignoring_conflicts(session: Session, model: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows, skipping any that breaks a unique constraint (a bounce reported twice, a replayed order)."""
    if not rows:
        return
    table = _table(model)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).on_conflict_do_nothing(), list(rows))
    else:
        session.execute(table.insert().prefix_with("OR IGNORE"), list(rows))


def domain_of(email: str | None) -> str:
    return (email or "").rpartition("@")[2].strip().lower()[:255]


def _hour(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)


class _Recipient:
    __slots__ = ("clicks_h", "clicks_m", "first_click_any", "first_click_h", "first_open_any", "first_open_h",
                 "last_click_h", "opens_h", "opens_m", "unsubscribed_at")

    def __init__(self) -> None:
        self.opens_h = self.opens_m = self.clicks_h = self.clicks_m = 0
        self.first_open_h: dt.datetime | None = None
        self.first_open_any: dt.datetime | None = None
        self.first_click_h: dt.datetime | None = None
        self.first_click_any: dt.datetime | None = None
        self.last_click_h: dt.datetime | None = None
        self.unsubscribed_at: dt.datetime | None = None


class BatchAggregate:
    """One ingest batch reduced to the rows it changes; ``write`` applies them in the caller's transaction."""

    def __init__(self) -> None:
        self.recipients: dict[tuple[int, int], _Recipient] = collections.defaultdict(_Recipient)
        self.hours: dict[tuple[int, dt.datetime], list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
        self.links: dict[tuple[int, int], list[int]] = collections.defaultdict(lambda: [0, 0])
        self.link_urls: dict[int, str] = {}
        self.link_people: dict[tuple[int, int, int], int] = {}
        self.clients: dict[tuple[int, str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
        self.orders: list[StoredEvent] = []
        self.runs: set[int] = set()

    def add(self, row: StoredEvent, link_url: str = "") -> None:
        run_id, contact_id, at = int(row.run_id or 0), row.contact_id, row.occurred_at
        if row.kind == "event":
            if row.name in CONVERSION_EVENTS and row.email:
                self.orders.append(row)
            return
        if not run_id or contact_id is None:
            return
        self.runs.add(run_id)
        person = not row.machine
        if row.kind == "open":
            r = self.recipients[(run_id, contact_id)]
            hour = self.hours[(run_id, _hour(at))]
            client = self.clients[(run_id, *classify(row.user_agent))]
            if person:
                r.opens_h += 1
                r.first_open_h = _earliest(r.first_open_h, at)
                hour[0] += 1
                client[0] += 1
            else:
                r.opens_m += 1
                hour[1] += 1
                client[1] += 1
            r.first_open_any = _earliest(r.first_open_any, at)
        elif row.kind == "click" and row.link_id is not None:
            link_id = int(row.link_id)
            r = self.recipients[(run_id, contact_id)]
            hour = self.hours[(run_id, _hour(at))]
            link = self.links[(run_id, link_id)]
            self.link_urls[link_id] = link_url
            key = (run_id, link_id, contact_id)
            self.link_people[key] = max(self.link_people.get(key, 0), 1 if person else 0)
            if person:
                r.clicks_h += 1
                r.first_click_h = _earliest(r.first_click_h, at)
                r.last_click_h = _latest(r.last_click_h, at)
                hour[2] += 1
                link[0] += 1
            else:
                r.clicks_m += 1
                hour[3] += 1
                link[1] += 1
            r.first_click_any = _earliest(r.first_click_any, at)
        elif row.kind == "unsubscribe" or (row.kind == "preferences" and (row.data or {}).get("all")):
            r = self.recipients[(run_id, contact_id)]
            r.unsubscribed_at = _earliest(r.unsubscribed_at, at)

    def write(self, session: Session, attribution_days: float, emails: Mapping[str, int | None]) -> None:
        upsert(session, ReportRun, [{"run_id": run_id, "updated_at": utcnow()} for run_id in sorted(self.runs)],
               ["run_id"])
        upsert(session, ReportRecipient, [
            {"run_id": run_id, "contact_id": contact_id, "opens_h": r.opens_h, "opens_m": r.opens_m,
             "clicks_h": r.clicks_h, "clicks_m": r.clicks_m, "first_open_h": r.first_open_h,
             "first_open_any": r.first_open_any, "first_click_h": r.first_click_h,
             "first_click_any": r.first_click_any, "last_click_h": r.last_click_h,
             "unsubscribed_at": r.unsubscribed_at}
            for (run_id, contact_id), r in self.recipients.items()],
            ["run_id", "contact_id"], add=("opens_h", "opens_m", "clicks_h", "clicks_m"),
            least=("first_open_h", "first_open_any", "first_click_h", "first_click_any", "unsubscribed_at"),
            greatest=("last_click_h",))
        upsert(session, ReportHour, [
            {"run_id": run_id, "hour": hour, "opens_h": c[0], "opens_m": c[1], "clicks_h": c[2], "clicks_m": c[3]}
            for (run_id, hour), c in self.hours.items()], ["run_id", "hour"],
            add=("opens_h", "opens_m", "clicks_h", "clicks_m"))
        upsert(session, ReportLink, [
            {"run_id": run_id, "link_id": link_id, "url": self.link_urls.get(link_id, ""), "clicks_h": c[0],
             "clicks_m": c[1]} for (run_id, link_id), c in self.links.items()], ["run_id", "link_id"],
            add=("clicks_h", "clicks_m"), keep=("url",))
        upsert(session, ReportLinkPerson, [
            {"run_id": run_id, "link_id": link_id, "contact_id": contact_id, "human": human}
            for (run_id, link_id, contact_id), human in self.link_people.items()],
            ["run_id", "link_id", "contact_id"], greatest=("human",))
        upsert(session, ReportClient, [
            {"run_id": run_id, "client": client, "device": device, "opens_h": c[0], "opens_m": c[1]}
            for (run_id, client, device), c in self.clients.items()], ["run_id", "client", "device"],
            add=("opens_h", "opens_m"))
        if self.orders:
            session.flush()
            insert_ignoring_conflicts(session, ReportConversion, [
                attribute(session, order, emails.get(order.email.strip().lower()) if order.email else None,
                          attribution_days) for order in self.orders])


def attribute(session: Session, order: StoredEvent, contact_id: int | None, days: float) -> dict[str, Any]:
    """The conversion row of an order: the run the person last clicked (as a person) within ``days`` before it."""
    data = order.data or {}
    value = data.get("value")
    row: dict[str, Any] = {"uid": order.uid, "at": order.occurred_at, "email": (order.email or "")[:320],
                           "contact_id": contact_id, "run_id": None, "campaign_id": None, "automation_id": None,
                           "value": float(value) if isinstance(value, int | float) else 0.0,
                           "currency": str(data.get("currency") or "")[:8]}
    if contact_id is None:
        return row
    since = order.occurred_at - dt.timedelta(days=days)
    # A click after the order cannot have caused it; the first click must be before it, the last within the window.
    found = session.execute(
        select(ReportRecipient.run_id, ReportRun.campaign_id, ReportRun.automation_id)
        .join(ReportRun, ReportRun.run_id == ReportRecipient.run_id, isouter=True)
        .where(ReportRecipient.contact_id == contact_id, ReportRecipient.last_click_h >= since,
               ReportRecipient.first_click_h <= order.occurred_at)
        .order_by(ReportRecipient.last_click_h.desc()).limit(1)).first()
    if found is not None:
        row.update(run_id=int(found[0]), campaign_id=found[1], automation_id=found[2])
    return row


class Aggregator:
    """Keeps the report tables current. ``apply`` runs inside the ingest's unit of work; bus handlers buffer
    delivery's bursts (thousands of failures a minute) and write them in batches."""

    def __init__(self, db: Database, settings: Any = None, *, contact_lookup: Any = None) -> None:
        self.db = db
        self.settings = settings
        self._lookup = contact_lookup
        self._lock = threading.Lock()
        self._bounces: list[dict[str, Any]] = []
        self._progress: dict[int, dict[str, Any]] = {}
        self._days: dict[dt.date, list[int]] = {}
        self._runs: ThreadPoolExecutor | None = None
        self._closed = False

    # -- settings

    @property
    def attribution_days(self) -> float:
        value = self.settings.get_optional("stats.attribution_days") if self.settings is not None else None
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 \
            else DEFAULT_ATTRIBUTION_DAYS

    # -- ingest batches

    def prepare(self, rows: Sequence[StoredEvent], link_urls: Mapping[int, str]) -> tuple[BatchAggregate, dict[str,
                                                                                                         int | None]]:
        """Reduce a batch (outside any transaction: address look-ups read contacts)."""
        batch = BatchAggregate()
        for row in rows:
            batch.add(row, link_urls.get(int(row.link_id), "") if row.link_id is not None else "")
        emails = {order.email.strip().lower(): self._contact_for(order.email) for order in batch.orders
                  if order.email}
        return batch, emails

    def _contact_for(self, email: str) -> int | None:
        if self._lookup is not None:
            found: int | None = self._lookup(email)
            return found
        from app.modules.contacts import api as contacts_api

        recipient = contacts_api.find_recipient(self.db, email)
        return recipient.contact_id if recipient is not None else None

    def apply(self, session: Session, rows: Sequence[StoredEvent], prepared: tuple[BatchAggregate,
                                                                                   dict[str, int | None]]) -> None:
        """Write a prepared batch and move the ``aggregate`` cursor, in the caller's transaction; events at or
        below the cursor were applied before and are skipped."""
        if not rows:
            return
        done_up_to = store.cursor(session, CURSOR)
        batch, emails = prepared
        if rows[0].id <= done_up_to:  # replayed: keep only what is new
            fresh = [row for row in rows if row.id > done_up_to]
            if not fresh:
                return
            batch = BatchAggregate()
            for row in fresh:
                batch.add(row)
        batch.write(session, self.attribution_days, emails)
        store.move_cursor(session, CURSOR, max(done_up_to, rows[-1].id))

    def apply_now(self, rows: Sequence[StoredEvent], link_urls: Mapping[int, str] | None = None) -> None:
        """``apply`` in a transaction of its own (tests, benchmarks, a rebuild)."""
        prepared = self.prepare(rows, link_urls or {})
        with self.db.transaction() as session:
            self.apply(session, rows, prepared)

    # -- bus events from delivery

    def on_bounce(self, event: Any) -> None:
        """delivery's ``BounceReceived``: hard, soft or complaint (``sender`` refusals are about us: not counted)."""
        if event.kind not in ("hard", "soft", "complaint") or not event.run_id:
            return
        who = (f"r{event.recipient_id}" if event.recipient_id else f"c{event.contact_id}" if event.contact_id
               else event.email.strip().lower())
        uid = event.event_uid or f"bounce:{event.run_id}:{event.kind}:{who}"
        self._buffer({"uid": uid[:100], "run_id": int(event.run_id), "kind": event.kind, "who": who[:330],
                      "domain": domain_of(event.email), "synchronous": False, "at": event.at or utcnow()},
                     event.run_id, event.campaign_id)

    def on_failed(self, event: Any) -> None:
        """delivery's ``RecipientFailed``: a refusal while sending is a bounce that never counted as sent."""
        kind = "hard" if event.outcome in HARD_OUTCOMES else "soft" if event.outcome in SOFT_OUTCOMES else None
        if kind is None:
            return
        who = f"r{event.recipient_id}"
        self._buffer({"uid": f"failed:{event.run_id}:{event.recipient_id}", "run_id": int(event.run_id),
                      "kind": kind, "who": who, "domain": "", "synchronous": True, "at": utcnow()},
                     event.run_id, event.campaign_id)

    def _buffer(self, row: dict[str, Any], run_id: int, campaign_id: int | None) -> None:
        with self._lock:
            self._bounces.append(row)
            entry = self._progress.setdefault(int(run_id), {"run_id": int(run_id)})
            if campaign_id is not None:
                entry["campaign_id"] = campaign_id
            full = len(self._bounces) >= 500
        if full:
            self.flush()

    def on_progress(self, event: Any) -> None:
        """delivery's ``RunProgress`` (twice a second while sending): the sent count, written with the buffer."""
        with self._lock:
            entry = self._progress.setdefault(int(event.run_id), {"run_id": int(event.run_id)})
            entry["sent"] = int(event.counts.get("sent", 0))
            if event.total is not None:
                entry["total"] = int(event.total)
            if event.campaign_id is not None:
                entry["campaign_id"] = event.campaign_id
        self.flush()

    def on_run_state(self, event: Any) -> None:
        """delivery's ``RunStateChanged``: note the state; a run that stopped sending gets its final counts and its
        recipients' domains from delivery's read API, off the publishing thread."""
        with self._lock:
            entry = self._progress.setdefault(int(event.run_id), {"run_id": int(event.run_id)})
            entry["state"] = event.state
            if event.campaign_id is not None:
                entry["campaign_id"] = event.campaign_id
        self.flush()
        if event.state in ("finished", "cancelled", "paused"):
            self._submit(self.refresh_run, int(event.run_id))

    def _submit(self, work: Any, *args: Any) -> None:
        with self._lock:
            if self._closed:
                return
            if self._runs is None:
                self._runs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postroom-stats-runs")
            self._runs.submit(self._guarded, work, *args)

    @staticmethod
    def _guarded(work: Any, *args: Any) -> None:
        try:
            work(*args)
        except Exception as exc:  # delivery absent or busy: the next change or report opening reads it again
            absent = "no such table" in str(exc) or "does not exist" in str(exc)
            log.log(logging.DEBUG if absent else logging.WARNING,
                    "stats could not refresh a run's figures from delivery: %s", str(exc).splitlines()[0])

    def flush(self) -> None:
        with self._lock:
            bounces, self._bounces = self._bounces, []
            progress, self._progress = self._progress, {}
            days, self._days = self._days, {}
        if not bounces and not progress and not days:
            return
        with self.db.transaction() as session:
            upsert(session, ReportListDay, [{"day": day, "subscribed": c[0], "unsubscribed": c[1]}
                                            for day, c in days.items()], ["day"], add=("subscribed", "unsubscribed"))
            for entry in progress.values():
                upsert(session, ReportRun, [{"run_id": entry["run_id"], "updated_at": utcnow()}], ["run_id"])
                changes = {k: v for k, v in entry.items() if k != "run_id"}
                if changes:
                    session.execute(update(ReportRun).where(ReportRun.run_id == entry["run_id"]).values(
                        **changes, updated_at=utcnow()))
            insert_ignoring_conflicts(session, ReportBounce, bounces)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._runs = self._runs, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)
        self.flush()

    # -- runs read from delivery's public API

    def refresh_run(self, run_id: int, *, recipients: bool = True) -> None:
        """A run's counts, subject and campaign from delivery; once it stopped sending, its recipients' domains
        and outcomes (for results by domain), read in pages."""
        from app.modules.delivery import api as delivery_api

        status = delivery_api.run_status(self.db, run_id)
        if status is None:
            return
        values = {"sent": int(status.counts.get("sent", 0)), "total": status.total, "state": status.state,
                  "subject": status.subject[:500], "started_at": status.started_at or status.created_at,
                  "updated_at": utcnow()}
        with self.db.transaction() as session:
            upsert(session, ReportRun, [{"run_id": run_id, "campaign_id": status.campaign_id, **values}],
                   ["run_id"], replace=tuple(values))
            if status.campaign_id is not None:
                session.execute(update(ReportRun).where(ReportRun.run_id == run_id, ReportRun.campaign_id.is_(None))
                                .values(campaign_id=status.campaign_id))
            synced = session.scalar(select(ReportRun.recipients_synced).where(ReportRun.run_id == run_id))
        if not recipients or synced or status.state not in ("finished", "cancelled"):
            return
        after = 0
        while True:
            page = delivery_api.recipient_log(self.db, run_id, after_id=after, limit=2000)
            if not page:
                break
            with self.db.transaction() as session:
                record_recipients(session, run_id, [(e.contact_id, e.email, e.outcome or e.state) for e in page])
            after = page[-1].id
        with self.db.transaction() as session:
            session.execute(update(ReportRun).where(ReportRun.run_id == run_id).values(recipients_synced=True))

    def refresh_open_runs(self, limit: int = 200) -> int:
        """Read the newest runs from delivery (the CLI and the Reports page do this before showing a report, so a
        run sent while the app was closed is counted too); returns how many."""
        from app.modules.delivery import api as delivery_api

        runs = delivery_api.list_runs(self.db, limit=limit)
        with self.db.read() as session:
            settled = set(session.scalars(select(ReportRun.run_id).where(ReportRun.recipients_synced.is_(True))))
        for run in runs:
            if run.id not in settled:
                self.refresh_run(run.id)
        return len(runs)

    # -- bus events from campaigns and contacts

    def on_campaign_saved(self, event: Any) -> None:
        with self.db.transaction() as session:
            upsert(session, ReportCampaign, [{"campaign_id": event.campaign_id, "name": event.name[:300],
                                              "state": event.state[:20], "updated_at": utcnow()}],
                   ["campaign_id"], replace=("name", "state", "updated_at"))

    def on_campaign_run(self, event: Any) -> None:
        with self.db.transaction() as session:
            upsert(session, ReportRun, [{"run_id": event.run_id, "campaign_id": event.campaign_id,
                                         "variant": (event.variant or "")[:20], "started_at": event.at,
                                         "updated_at": utcnow()}],
                   ["run_id"], replace=("campaign_id", "variant"), least=("started_at",))
            upsert(session, ReportCampaign, [{"campaign_id": event.campaign_id, "updated_at": utcnow()}],
                   ["campaign_id"])
        self._submit(self.refresh_run, int(event.run_id))

    def on_automation_saved(self, event: Any) -> None:
        with self.db.transaction() as session:
            upsert(session, ReportAutomation, [{"automation_id": event.automation_id, "name": event.name[:300]}],
                   ["automation_id"], replace=("name",))

    def on_automation_email(self, event: Any) -> None:
        with self.db.transaction() as session:
            upsert(session, ReportRun, [{"run_id": event.run_id, "automation_id": event.automation_id,
                                         "updated_at": utcnow()}], ["run_id"], replace=("automation_id",))
            # An order already attributed to this run (its click came first) now counts for the automation too.
            session.execute(update(ReportConversion).where(ReportConversion.run_id == event.run_id)
                            .values(automation_id=event.automation_id))

    def on_list_change(self, subscribed: int, unsubscribed: int, at: dt.datetime | None = None) -> None:
        """Counted in memory (a bulk change publishes one event per contact) and written with the next flush."""
        day = (at or utcnow()).date()
        with self._lock:
            counts = self._days.setdefault(day, [0, 0])
            counts[0] += subscribed
            counts[1] += unsubscribed


def record_recipients(session: Session, run_id: int, rows: Iterable[tuple[int, str, str]]) -> None:
    """Who a run went to, as (contact id, address, outcome): domain and outcome for results by domain."""
    upsert(session, ReportRecipient, [{"run_id": run_id, "contact_id": contact_id, "domain": domain_of(email),
                                       "outcome": (outcome or "")[:16]} for contact_id, email, outcome in rows],
           ["run_id", "contact_id"], replace=("domain", "outcome"))
