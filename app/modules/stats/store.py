"""Reading and writing the stats tables: events in id order, cursors, access tokens and pushed keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.kernel.database import Database, utcnow
from app.modules.stats.models import AccessToken, Cursor, RemoteKey, TrackingEvent
from app.modules.stats.published import insert_ignoring_duplicates
from app.modules.stats.tokens import KeyRing, SigningKey

EVENT_COLUMNS = ("uid", "kind", "run_id", "contact_id", "link_id", "occurred_at", "user_agent", "ip_class",
                 "machine", "machine_reason", "email", "name", "data")
TOKEN_KINDS = ("events", "sync")


class StatsError(Exception):
    """A stats operation cannot be done as asked; the message says why."""


# -- events ---------------------------------------------------------------------------------------------


_COLUMNS = ", ".join(EVENT_COLUMNS)
_MARKS = ", ".join("?" for _ in EVENT_COLUMNS)
SQLITE_INSERT = f"INSERT OR IGNORE INTO stats_event ({_COLUMNS}) VALUES ({_MARKS})"  # noqa: S608 - fixed names


def sqlite_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    # The storage SQLAlchemy's SQLite types use (text datetimes, JSON text, 0/1), written without its per-row
    # processing: the endpoint's writer spends its time here under load.
    values = [row[column] for column in EVENT_COLUMNS]
    values[5] = row["occurred_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
    values[8] = 1 if row["machine"] else 0
    values[12] = json.dumps(row["data"] or {}, separators=(",", ":"))
    return tuple(values)


def insert_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert events; one whose ``uid`` is already stored is skipped (pulling or posting twice is harmless)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql(SQLITE_INSERT, [sqlite_values(row) for row in rows])
        return
    insert_ignoring_duplicates(session, TrackingEvent.__table__, rows, ["uid"])  # type: ignore[arg-type]


def _iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def event_to_wire(row: Any) -> dict[str, Any]:
    data = {column: getattr(row, column) for column in EVENT_COLUMNS}
    data["occurred_at"] = _iso(row.occurred_at)
    data["id"] = int(row.id)
    return data


def event_from_wire(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event row from the sync wire format; raises ValueError naming the bad field."""
    row = {column: data.get(column) for column in EVENT_COLUMNS}
    if not isinstance(row["uid"], str) or not 8 <= len(row["uid"]) <= 64:
        raise ValueError(f"event uid {row['uid']!r} is not valid")
    if row["kind"] not in ("open", "click", "unsubscribe", "preferences", "confirm", "view", "event"):
        raise ValueError(f"event {row['uid']} has an unknown kind {row['kind']!r}")
    stamp = dt.datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00"))
    row["occurred_at"] = stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
    row["user_agent"] = str(row["user_agent"] or "")[:400]
    row["ip_class"] = str(row["ip_class"] or "")[:64]
    row["machine"] = bool(row["machine"])
    row["machine_reason"] = str(row["machine_reason"] or "")[:32]
    row["name"] = str(row["name"] or "")[:100]
    row["data"] = dict(row["data"] or {})
    return row


@dataclass(frozen=True)
class StoredEvent:
    """One stored event as plain data."""

    id: int
    uid: str
    kind: str
    run_id: int | None
    contact_id: int | None
    link_id: int | None
    occurred_at: dt.datetime
    user_agent: str
    ip_class: str
    machine: bool
    machine_reason: str
    email: str | None
    name: str
    data: dict[str, Any]


_STORED = (TrackingEvent.id, TrackingEvent.uid, TrackingEvent.kind, TrackingEvent.run_id, TrackingEvent.contact_id,
           TrackingEvent.link_id, TrackingEvent.occurred_at, TrackingEvent.user_agent, TrackingEvent.ip_class,
           TrackingEvent.machine, TrackingEvent.machine_reason, TrackingEvent.email, TrackingEvent.name,
           TrackingEvent.data)


_SQLITE_EVENTS = ("SELECT id, uid, kind, run_id, contact_id, link_id, occurred_at, user_agent, ip_class, machine, "
                  "machine_reason, email, name, data FROM stats_event WHERE id > ? ORDER BY id LIMIT ?")


def _data(text: Any) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    loaded = json.loads(text) if isinstance(text, str | bytes) else text
    return dict(loaded) if isinstance(loaded, dict) else {}


def events_after(db: Database, after: int, limit: int) -> list[StoredEvent]:
    # Columns, not ORM objects: the ingest reads tens of thousands of events a second (ORM rows cost ~50 us each);
    # on SQLite the storage format is read directly (what sqlite_values writes), without per-row processors.
    with db.read() as session:
        if session.get_bind().dialect.name == "sqlite":
            parse = dt.datetime.fromisoformat
            return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], parse(r[6]), r[7], r[8], bool(r[9]), r[10],
                                r[11], r[12], _data(r[13]))
                    for r in session.connection().exec_driver_sql(_SQLITE_EVENTS, (after, limit))]
        query = select(*_STORED).where(TrackingEvent.id > after).order_by(TrackingEvent.id).limit(limit)
        return [StoredEvent(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], r[11],
                            r[12], dict(r[13] or {})) for r in session.execute(query)]


def last_event_id(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.max(TrackingEvent.id))) or 0)


# -- cursors --------------------------------------------------------------------------------------------


def cursor(session: Session, name: str) -> int:
    return int(session.scalar(select(Cursor.position).where(Cursor.name == name)) or 0)


def read_cursor(db: Database, name: str) -> int:
    with db.read() as session:
        return cursor(session, name)


def move_cursor(session: Session, name: str, position: int, note: str = "") -> None:
    row = session.get(Cursor, name)
    if row is None:
        session.add(Cursor(name=name, position=position, updated_at=utcnow(), note=note[:500]))
    else:
        row.position, row.updated_at, row.note = position, utcnow(), note[:500]


@dataclass(frozen=True)
class CursorInfo:
    name: str
    position: int
    updated_at: dt.datetime
    note: str


def cursors(db: Database, prefix: str = "") -> list[CursorInfo]:
    with db.read() as session:
        query = select(Cursor).where(Cursor.name.startswith(prefix)).order_by(Cursor.name)
        return [CursorInfo(c.name, int(c.position), c.updated_at, c.note) for c in session.scalars(query)]


# -- access tokens --------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    kind: str
    name: str
    created_at: dt.datetime
    revoked: bool


def new_access_token(db: Database, kind: str, name: str = "") -> tuple[TokenInfo, str]:
    """Make a bearer token; the plain token is returned once and only its hash is stored."""
    if kind not in TOKEN_KINDS:
        raise StatsError(f"a token is for {' or '.join(TOKEN_KINDS)}, not {kind!r}")
    plain = f"pr{kind[0]}_{secrets.token_urlsafe(32)}"
    with db.transaction() as session:
        row = AccessToken(kind=kind, name=name.strip()[:100], token_hash=token_hash(plain), created_at=utcnow())
        session.add(row)
        session.flush()
        info = TokenInfo(row.id, kind, row.name, row.created_at, False)
    return info, plain


def access_tokens(db: Database) -> list[TokenInfo]:
    with db.read() as session:
        return [TokenInfo(t.id, t.kind, t.name, t.created_at, t.revoked_at is not None)
                for t in session.scalars(select(AccessToken).order_by(AccessToken.id))]


def revoke_access_token(db: Database, token_id: int) -> bool:
    with db.transaction() as session:
        result = session.execute(update(AccessToken).where(AccessToken.id == token_id,
                                                           AccessToken.revoked_at.is_(None))
                                 .values(revoked_at=utcnow()))
        return bool(getattr(result, "rowcount", 0))


def token_allowed(db: Database, kind: str, token: str) -> int | None:
    """The id of the live token of ``kind`` matching ``token``, or None."""
    with db.read() as session:
        found = session.scalar(select(AccessToken.id).where(
            AccessToken.token_hash == token_hash(token), AccessToken.kind == kind, AccessToken.revoked_at.is_(None)))
    return int(found) if found is not None else None


def event_token_hashes(db: Database) -> list[dict[str, Any]]:
    with db.read() as session:
        return [{"hash": t.token_hash, "name": t.name, "revoked": t.revoked_at is not None}
                for t in session.scalars(select(AccessToken).where(AccessToken.kind == "events"))]


def replace_event_tokens(session: Session, tokens: Sequence[Mapping[str, Any]]) -> None:
    """On a standalone endpoint: the intake tokens become exactly the app's (sync tokens stay)."""
    wanted = {str(t["hash"]): t for t in tokens}
    session.execute(delete(AccessToken).where(AccessToken.kind == "events",
                                              AccessToken.token_hash.not_in(list(wanted) or [""])))
    existing = {row.token_hash: row for row in session.scalars(select(AccessToken).where(
        AccessToken.token_hash.in_(list(wanted) or [""])))}
    for hashed, token in wanted.items():
        revoked = utcnow() if token.get("revoked") else None
        row = existing.get(hashed)
        if row is None:
            session.add(AccessToken(kind="events", name=str(token.get("name", ""))[:100], token_hash=hashed,
                                    created_at=utcnow(), revoked_at=revoked))
        elif row.kind == "events":
            row.revoked_at = row.revoked_at or revoked


# -- keys pushed to a standalone endpoint ---------------------------------------------------------------


def save_remote_ring(session: Session, ring: KeyRing) -> None:
    session.execute(delete(RemoteKey))
    for key in ring.keys:
        session.add(RemoteKey(key_id=key.key_id, secret=key.secret.hex(), created_at=key.created_at,
                              retired_at=key.retired_at, current=key.key_id == ring.current_id))


def remote_ring(db: Database) -> KeyRing | None:
    with db.read() as session:
        rows = session.execute(select(RemoteKey.key_id, RemoteKey.secret, RemoteKey.created_at,
                                      RemoteKey.retired_at, RemoteKey.current).order_by(RemoteKey.created_at)).all()
    if not rows:
        return None
    current = next((r.key_id for r in rows if r.current), rows[-1].key_id)
    keys = tuple(SigningKey(r.key_id, bytes.fromhex(r.secret), int(r.created_at),
                            int(r.retired_at) if r.retired_at is not None else None) for r in rows)
    return KeyRing(current, keys)


# -- figures for the status page ------------------------------------------------------------------------


def counts_since(db: Database, since: dt.datetime) -> dict[str, dict[str, int]]:
    """Events since ``since`` by kind: {"open": {"people": n, "machines": m}, ...}."""
    with db.read() as session:
        rows = session.execute(select(TrackingEvent.kind, TrackingEvent.machine, func.count())
                               .where(TrackingEvent.occurred_at >= since)
                               .group_by(TrackingEvent.kind, TrackingEvent.machine)).all()
    counts: dict[str, dict[str, int]] = {}
    for kind, machine, count in rows:
        counts.setdefault(kind, {"people": 0, "machines": 0})["machines" if machine else "people"] += int(count)
    return counts
