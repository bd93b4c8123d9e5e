"""The durable per-recipient outbox: copy the audience in, claim a batch as ``sending``, record outcomes.

Every function is one short unit of work. Claims and outcomes are batched so ``synchronous=FULL`` costs one
fsync per batch, not per message; after a crash at most the claimed batches are ``sending`` (then ``unknown``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select, update

from app.kernel.database import Database
from app.modules.delivery.models import Recipient, Run

R = cast(Table, Recipient.__table__)
RUN = cast(Table, Run.__table__)

FINAL_STATES = ("sent", "failed")


@dataclass(frozen=True)
class Claimed:
    """A recipient marked ``sending``: everything needed to build and send its message."""

    id: int
    contact_id: int
    email: str
    data: dict[str, Any] | None
    attempts: int
    first_attempt_at: float
    was_deferred: bool = False  # came from `deferred` (a retry, or a wait for a domain limit), not `queued`


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed recipient, to be written in the next outcome batch."""

    id: int
    state: str  # sent | deferred | failed | unknown | queued (handed back unsent)
    outcome: str = ""
    reply_code: int | None = None
    reply_text: str = ""
    next_attempt_at: float = 0.0
    message_id: str = ""
    report: bool = False


def _insert(db: Database) -> Any:
    if db.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(R).on_conflict_do_nothing(index_elements=["run_id", "contact_id"])
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(R).on_conflict_do_nothing(index_elements=["run_id", "contact_id"])


def materialise(db: Database, run_id: int, batches: Iterator[list[Any]]) -> tuple[int, bool]:
    """Copy the next audience batch in, moving the checkpoint in the same transaction.

    Returns (rows added, audience exhausted). Idempotent: a contact already in the run is not added twice.
    """
    batch = next(batches, None)
    if not batch:
        with db.transaction() as session:
            session.execute(update(RUN).where(RUN.c.id == run_id).values(audience_done=True))
        return 0, True
    rows = [{"run_id": run_id, "contact_id": r.contact_id, "email": r.email, "state": "queued",
             "data": {"first_name": r.first_name, "last_name": r.last_name, "language": r.language,
                      "time_zone": r.time_zone, "fields": r.fields},
             "attempts": 0, "next_attempt_at": 0.0} for r in batch]
    with db.transaction() as session:
        added = session.connection().execute(_insert(db), rows).rowcount
        session.execute(update(RUN).where(RUN.c.id == run_id).values(audience_checkpoint=batch[-1].contact_id))
    return int(added or 0), False


def recover(db: Database) -> int:
    """At start, anything still ``sending`` was in flight when the sender stopped: it becomes ``unknown``."""
    with db.transaction() as session:
        result = session.execute(update(R).where(R.c.state == "sending").values(
            state="unknown", reply_text="the sender stopped while this message was being sent; it may or may "
                                        "not have arrived"))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _sql(db: Database, statement: str) -> str:
    """Hot statements go straight to the driver (no compiling per call): adapt the placeholders to it."""
    return statement if db.is_sqlite else statement.replace("?", "%s")


def _data(value: Any) -> dict[str, Any] | None:
    return cast(dict[str, Any] | None, json.loads(value) if isinstance(value, str) else value)


def due(db: Database, run_id: int, limit: int, now: float) -> list[Claimed]:
    """Queued recipients in id order, then deferred ones whose retry time has come (a read; nothing changes)."""
    columns = "id, contact_id, email, data, attempts, first_attempt_at"
    with db.read() as session:
        connection = session.connection()
        rows = list(connection.exec_driver_sql(_sql(db,
            f"SELECT {columns} FROM delivery_recipient WHERE run_id = ? AND state = 'queued' "  # noqa: S608
            "AND next_attempt_at = 0 ORDER BY id LIMIT ?"), (run_id, limit)).all())
        queued = len(rows)
        if queued < limit:
            rows += connection.exec_driver_sql(_sql(db,
                f"SELECT {columns} FROM delivery_recipient WHERE run_id = ? AND state = 'deferred' "  # noqa: S608
                "AND next_attempt_at > 0 AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?"),
                (run_id, now, limit - queued)).all()
    return [Claimed(r[0], r[1], r[2], _data(r[3]), r[4], r[5] or now, i >= queued) for i, r in enumerate(rows)]


def claim(db: Database, claimed: Sequence[tuple[Claimed, int]], waiting: Sequence[tuple[int, float, str]],
          now: float) -> None:
    """Mark ``claimed`` (each with the account that will send it) as ``sending`` (durably, before any SMTP
    transaction starts) and push ``waiting`` (id, retry time, why) back without using an attempt."""
    with db.transaction() as session:
        connection = session.connection()
        if claimed:
            connection.exec_driver_sql(_sql(db,
                "UPDATE delivery_recipient SET state = 'sending', attempts = attempts + 1, account_id = ?, "
                "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ?"),
                [(account_id, now, c.id) for c, account_id in claimed])
        if waiting:
            connection.exec_driver_sql(_sql(db,
                "UPDATE delivery_recipient SET state = 'deferred', next_attempt_at = ?, reply_text = ? WHERE id = ?"),
                [(at, why, rid) for rid, at, why in waiting])


def record(db: Database, outcomes: Sequence[Outcome], now: float | None = None) -> None:
    """Write a batch of outcomes in one transaction. Merge data is dropped once a recipient is settled."""
    if not outcomes:
        return
    now = now or time.time()
    settled = [o for o in outcomes if o.state in FINAL_STATES]
    open_ = [o for o in outcomes if o.state not in FINAL_STATES]
    with db.transaction() as session:
        connection = session.connection()
        if settled:
            connection.exec_driver_sql(_sql(db,
                "UPDATE delivery_recipient SET state = ?, outcome = ?, reply_code = ?, reply_text = ?, "
                "message_id = ?, finished_at = ?, next_attempt_at = 0, report_pending = ?, data = NULL "
                "WHERE id = ?"),
                [(o.state, o.outcome, o.reply_code, o.reply_text, o.message_id, now,
                  (1 if o.state == "sent" else 2) if o.report else 0, o.id)
                 for o in settled])
        if open_:
            # A recipient handed back unsent ("queued") did not use its attempt.
            connection.exec_driver_sql(_sql(db,
                "UPDATE delivery_recipient SET state = ?, outcome = ?, reply_code = ?, reply_text = ?, "
                "message_id = ?, next_attempt_at = ?, attempts = attempts - ? WHERE id = ?"),
                [(o.state, o.outcome, o.reply_code, o.reply_text, o.message_id, o.next_attempt_at,
                  1 if o.state == "queued" else 0, o.id) for o in open_])


def counts(db: Database, run_id: int) -> dict[str, int]:
    with db.read() as session:
        rows = session.execute(select(R.c.state, func.count()).where(R.c.run_id == run_id)
                               .group_by(R.c.state)).all()
    return {state: int(n) for state, n in rows}


def next_due(db: Database, run_ids: Sequence[int]) -> float | None:
    """When the earliest deferred recipient of these runs may be retried."""
    if not run_ids:
        return None
    with db.read() as session:
        value = session.execute(select(func.min(R.c.next_attempt_at)).where(
            R.c.run_id.in_(run_ids), R.c.state.in_(("deferred", "queued")), R.c.next_attempt_at > 0)).scalar()
    return float(value) if value is not None else None


def sent_times(db: Database, account_id: int, since: float, limit: int) -> list[float]:
    """When this account's last messages went out (to seed hour and day limits after a restart)."""
    with db.read() as session:
        return [float(t) for t in session.execute(
            select(R.c.finished_at).where(R.c.account_id == account_id, R.c.finished_at > since,
                                          R.c.state == "sent").order_by(R.c.finished_at.desc()).limit(limit)
        ).scalars()]


def set_run_state(db: Database, run_id: int, state: str, reason: str = "",
                  only_from: Sequence[str] = ()) -> bool:
    """Change a run's state (when it is in ``only_from``, if given); True when it changed."""
    import datetime as dt

    values: dict[str, Any] = {"state": state, "pause_reason": reason}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if state in ("finished", "cancelled"):
        values["finished_at"] = now
    if state == "sending":
        values["started_at"] = func.coalesce(RUN.c.started_at, now)
        values["finished_at"] = None
    with db.transaction() as session:
        query = update(RUN).where(RUN.c.id == run_id)
        if only_from:
            query = query.where(RUN.c.state.in_(tuple(only_from)))
        return bool(session.execute(query.values(**values)).rowcount)  # type: ignore[attr-defined]


def run_state(db: Database, run_id: int) -> str | None:
    with db.read() as session:
        return session.execute(select(RUN.c.state).where(RUN.c.id == run_id)).scalar()


def sending_runs(db: Database) -> list[int]:
    with db.read() as session:
        return list(session.execute(select(RUN.c.id).where(RUN.c.state == "sending").order_by(RUN.c.id)).scalars())


@dataclass(frozen=True)
class PendingReport:
    id: int
    run_id: int
    campaign_id: int | None
    contact_id: int
    email: str
    state: str
    outcome: str
    reply: str
    finished_at: float | None


def pending_reports(db: Database, limit: int = 500) -> list[PendingReport]:
    """Outcomes not yet told to the contacts module: failures first (a hard bounce must be suppressed soon)."""
    query = (select(R.c.id, R.c.run_id, RUN.c.campaign_id, R.c.contact_id, R.c.email, R.c.state, R.c.outcome,
                    R.c.reply_code, R.c.reply_text, R.c.finished_at)
             .join(RUN, RUN.c.id == R.c.run_id).where(R.c.report_pending > 0).order_by(R.c.id))
    with db.read() as session:  # "> 0" repeats the partial index's condition so SQLite uses it
        rows = list(session.execute(query.where(R.c.report_pending == 2).limit(limit)).all())
        if len(rows) < limit:
            rows += session.execute(query.where(R.c.report_pending == 1).limit(limit - len(rows))).all()
    return [PendingReport(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                          f"{r[7] or ''} {r[8] or ''}".strip(), r[9]) for r in rows]


def mark_reported(db: Database, ids: Sequence[int]) -> None:
    with db.transaction() as session:
        for start in range(0, len(ids), 900):
            session.execute(update(R).where(R.c.id.in_(ids[start:start + 900])).values(report_pending=0))
