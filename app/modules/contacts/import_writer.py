"""Writes one batch of parsed import rows in the caller's transaction: contacts, subscriptions, consent, tags."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, String, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from app.kernel.database import utcnow
from app.modules.contacts import store
from app.modules.contacts.addresses import is_role_address, suggest_domain
from app.modules.contacts.csvsource import pause
from app.modules.contacts.import_report import FlaggedRow, RejectedRow
from app.modules.contacts.models import Consent, Contact, ContactTag, Subscription, Suppression

CONTACTS = Contact.__table__
IN_CHUNK = 5000  # keys per IN (...): under SQLite's and PostgreSQL's parameter limits
SUPPRESS_REASONS = {"unsubscribed": "unsubscribed", "cleaned": "hard_bounce", "complained": "complaint"}
_PLAIN = ("first_name", "last_name", "language", "time_zone")
_CONTACT_COLUMNS = ("id", "email", "email_key", "email_hash", "first_name", "last_name", "language", "time_zone",
                    "fields", "created_at", "updated_at")
_SUBSCRIPTION_COLUMNS = ("contact_id", "list_id", "status", "created_at", "updated_at")
_CONSENT_COLUMNS = ("contact_id", "list_id", "purpose", "given_at", "source", "method", "text_version", "evidence")


class Record:
    """One contact as read from the file (after merging its duplicates in the same batch)."""

    __slots__ = ("email", "fields", "first_name", "key", "language", "last_name", "row", "status", "tags",
                 "time_zone", "values")

    def __init__(self, row: int, values: list[str], email: str, key: str) -> None:
        self.row, self.values, self.email, self.key = row, values, email, key
        self.first_name = self.last_name = self.language = self.time_zone = ""
        self.fields: dict[str, Any] = {}
        self.tags: list[str] = []
        self.status: str | None = None

    def fill_from(self, later: Record) -> None:
        """A later row of the same person fills what this one left blank; tags add up."""
        for name in _PLAIN:
            if not getattr(self, name) and getattr(later, name):
                setattr(self, name, getattr(later, name))
        for key, value in later.fields.items():
            self.fields.setdefault(key, value)
        for tag in later.tags:
            if tag not in self.tags:
                self.tags.append(tag)
        if later.status in SUPPRESS_REASONS or self.status is None:
            self.status = later.status


@dataclass
class BatchSettings:
    list_id: int | None
    mode: str
    subscribe_status: str
    file_status: str | None
    consent_source: str
    consent_method: str
    consent_text_version: str
    option_tags: list[str]
    file_name: str


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejects: list[RejectedRow] = field(default_factory=list)
    flags: list[FlaggedRow] = field(default_factory=list)
    written_keys: list[str] = field(default_factory=list)  # created, updated or unchanged
    skipped_keys: list[str] = field(default_factory=list)  # existing people left alone (skip mode)
    new_tags: bool = False


@dataclass
class _Touched:
    """The contacts of one batch that are written (created, or existing and updated), and what they asked for."""

    records: list[Record]
    contact_id: dict[str, int]
    status: dict[str, str | None]
    new_ids: set[int]
    hashes: dict[str, str]
    result: BatchResult


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()  # == addresses.email_hash(key): key is normalised


def _insert_ignoring(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING as one executemany (store.insert_ignoring_duplicates builds a new
    multi-row statement per chunk, which SQLAlchemy cannot cache: 20x slower at import sizes)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as make_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as make_insert
    session.execute(make_insert(table).on_conflict_do_nothing(), rows)


class _Bulk:
    """Executemany inserts for one batch. On SQLite the rows go to the driver as plain tuples, values converted once
    with SQLAlchemy's own processors (the Core's per-row parameter processing doubled the cost of an import);
    elsewhere they go through a Core insert."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.connection = session.connection()
        dialect = self.connection.dialect
        self.sqlite = dialect.name == "sqlite"
        self.moment = now
        self.now: Any = now
        self.json: Any = lambda value: value
        if self.sqlite:
            stamp = CONTACTS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            self.now = stamp(now) if stamp else now
            self.json = CONTACTS.c.fields.type.dialect_impl(dialect).bind_processor(dialect) or self.json

    def insert(self, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        pause()
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            # Table and column names come from our own models, never from the file.
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            self.connection.exec_driver_sql(sql, rows)
        else:
            self.connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _chunks(items: list[Any]) -> Any:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start:start + IN_CHUNK]


class BatchWriter:
    """Keeps what outlives one batch (tag ids) and writes batches; each call runs inside one transaction."""

    def __init__(self, settings: BatchSettings) -> None:
        self.s = settings
        self._tag_ids: dict[str, int] = {}
        self._suggestions: dict[str, str | None] = {}  # per import: a list has tens of thousands of domains

    @property
    def met_tags(self) -> bool:
        """Whether any tag was looked up or created (the tag list may have grown)."""
        return bool(self._tag_ids)

    def write(self, session: Session, records: list[Record], late: set[str]) -> BatchResult:
        """``late``: keys first seen in an earlier batch (already written): their rows only fill blanks."""
        result = BatchResult()
        now = utcnow()
        hashes = {r.key: _hash(r.key) for r in records}
        suppressed = self._suppressed(session, list(hashes.values()))
        existing = self._existing(session, [r.key for r in records])
        kept: list[Record] = []
        for record in records:
            if hashes[record.key] in suppressed:
                result.counts["suppressed"] += 1
                result.rejects.append(RejectedRow(record.row, record.values,
                                                  "the address is on the suppression list (unsubscribed, bounced "
                                                  "or erased); an import never subscribes or changes it"))
            else:
                kept.append(record)
        new = [r for r in kept if r.key not in existing]
        old = [r for r in kept if r.key in existing and (self.s.mode == "update" or r.key in late)]
        if self.s.mode != "update":
            skipped = [r for r in kept if r.key in existing and r.key not in late]
            result.counts["skipped"] += len(skipped)
            result.skipped_keys.extend(r.key for r in skipped)
        bulk = _Bulk(session, now)
        ids = self._insert(session, bulk, new, hashes)
        changed = self._update(session, old, existing, late, now)
        status = {r.key: self._status(r) for r in kept}
        contact_id = {**{r.key: ids[i] for i, r in enumerate(new)}, **{r.key: existing[r.key]["id"] for r in old}}
        touched = new + old
        batch = _Touched(touched, contact_id, status, set(ids), hashes, result)
        changed |= self._tags(session, bulk, batch)
        changed |= self._subscriptions(session, bulk, batch)
        changed |= self._suppress(session, batch)
        result.counts["created"] += len(new)
        for record in old:
            if record.key in late:
                continue  # counted as a duplicate when it was read
            result.counts["updated" if contact_id[record.key] in changed else "unchanged"] += 1
        for record in touched:
            self._flag(record, result)
        result.written_keys.extend(r.key for r in touched)
        return result

    # -- reads -------------------------------------------------------------------------------------------------

    @staticmethod
    def _suppressed(session: Session, hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(hashes):
            found.update(session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(chunk))))
        return found

    @staticmethod
    def _existing(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        columns = [CONTACTS.c.id, CONTACTS.c.email_key, *[CONTACTS.c[name] for name in _PLAIN], CONTACTS.c.fields]
        for chunk in _chunks(keys):
            for row in session.execute(select(*columns).where(CONTACTS.c.email_key.in_(chunk))).mappings():
                found[row["email_key"]] = dict(row)
        return found

    # -- contacts ---------------------------------------------------------------------------------------------

    def _insert(self, session: Session, bulk: _Bulk, records: list[Record], hashes: dict[str, str]) -> list[int]:
        if not records:
            return []
        now, dump = bulk.now, bulk.json
        if bulk.sqlite:
            # BEGIN IMMEDIATE holds the write lock, so numbering the rows ourselves is safe and spares RETURNING.
            start = (session.scalar(select(func.max(Contact.id))) or 0) + 1
            rows = [(start + n, r.email, r.key, hashes[r.key], r.first_name, r.last_name, r.language, r.time_zone,
                     dump(r.fields), now, now) for n, r in enumerate(records)]
            bulk.insert(CONTACTS, _CONTACT_COLUMNS, rows)
            return list(range(start, start + len(rows)))
        dicts = [dict(zip(_CONTACT_COLUMNS[1:], (r.email, r.key, hashes[r.key], r.first_name, r.last_name, r.language,
                                                 r.time_zone, r.fields, now, now), strict=True)) for r in records]
        returned = session.execute(insert(CONTACTS).returning(CONTACTS.c.id, sort_by_parameter_order=True), dicts)
        return [row[0] for row in returned]

    def _update(self, session: Session, records: list[Record], existing: dict[str, dict[str, Any]],
                late: set[str], now: dt.datetime) -> set[int]:
        changes = []
        for record in records:
            old = existing[record.key]
            fill_only = record.key in late
            values = {}
            for name in _PLAIN:
                mine = getattr(record, name)
                values[name] = (old[name] or mine) if fill_only else (mine or old[name])
            old_fields = old["fields"] or {}
            values["fields"] = {**record.fields, **old_fields} if fill_only else {**old_fields, **record.fields}
            if any(values[name] != old[name] for name in _PLAIN) or values["fields"] != old_fields:
                changes.append({"b_id": old["id"], **{f"b_{k}": v for k, v in values.items()}, "b_updated": now})
        if changes:
            statement = update(CONTACTS).where(CONTACTS.c.id == bindparam("b_id")).values(
                **{name: bindparam(f"b_{name}", type_=String()) for name in _PLAIN},
                fields=bindparam("b_fields", type_=JSON()), updated_at=bindparam("b_updated"))
            session.execute(statement, changes)
        return {change["b_id"] for change in changes}

    # -- status, lists, tags -------------------------------------------------------------------------------------

    def _status(self, record: Record) -> str | None:
        """The subscription this row asks for, or a suppression reason key; None: no subscription."""
        status = record.status or self.s.file_status
        if status in (None, "subscribed"):
            return self.s.subscribe_status
        return None if status == "none" else status

    def _subscriptions(self, session: Session, bulk: _Bulk, batch: _Touched) -> set[int]:
        records, contact_id, status, new_ids, result = (batch.records, batch.contact_id, batch.status,
                                                         batch.new_ids, batch.result)
        list_id = self.s.list_id
        if list_id is None:
            return set()
        wanted = {contact_id[r.key]: ("unsubscribed" if status[r.key] in SUPPRESS_REASONS else status[r.key], r)
                  for r in records if status[r.key] is not None}
        current: dict[int, str] = {}
        old_ids = [cid for cid in wanted if cid not in new_ids]
        for chunk in _chunks(old_ids):
            query = select(Subscription.contact_id, Subscription.status).where(
                Subscription.list_id == list_id, Subscription.contact_id.in_(chunk))
            current.update((cid, st) for cid, st in session.execute(query))
        now, s = bulk.now, self.s
        inserts, upgrades, consents = [], [], []
        for cid, (want, record) in wanted.items():
            have = current.get(cid)
            if have is None:
                inserts.append((cid, list_id, want, now, now))
            elif have == "unsubscribed" and want != "unsubscribed":
                result.counts["kept_unsubscribed"] += 1  # they left this list: an import does not bring them back
                continue
            elif have == "unconfirmed" and want == "subscribed" and s.mode == "update":
                upgrades.append({"b_contact": cid, "b_now": bulk.moment})
            else:
                continue
            if want == "subscribed":
                consents.append((cid, list_id, "", now, s.consent_source, s.consent_method, s.consent_text_version,
                                 f"row {record.row} of {s.file_name}"))
        bulk.insert(Subscription.__table__, _SUBSCRIPTION_COLUMNS, inserts)
        if upgrades:
            table = Subscription.__table__
            statement = update(table).where(table.c.list_id == list_id, table.c.contact_id == bindparam("b_contact"))
            session.execute(statement.values(status="subscribed", updated_at=bindparam("b_now")), upgrades)
        bulk.insert(Consent.__table__, _CONSENT_COLUMNS, consents)
        return {row[0] for row in inserts} | {row["b_contact"] for row in upgrades}

    def _suppress(self, session: Session, batch: _Touched) -> set[int]:
        """Rows an export marks unsubscribed, cleaned or complained go on the suppression list (never subscribed)."""
        records, contact_id, status, new_ids, hashes, result = (batch.records, batch.contact_id, batch.status,
                                                                batch.new_ids, batch.hashes, batch.result)
        rows, changed = [], set()
        detail = f"import: {self.s.file_name}"
        for record in records:
            reason = SUPPRESS_REASONS.get(status[record.key] or "")
            if reason is None:
                continue
            result.counts["newly_suppressed"] += 1
            cid = contact_id[record.key]
            changed.add(cid)
            if cid in new_ids:
                rows.append({"email_hash": hashes[record.key], "email": record.email, "reason": reason,
                             "detail": detail, "created_at": utcnow()})
            else:  # an existing person: also leave every list and withdraw consent
                store.suppress(session, record.email, reason, detail)
        _insert_ignoring(session, Suppression.__table__, rows)
        return changed

    def _tags(self, session: Session, bulk: _Bulk, batch: _Touched) -> set[int]:
        records, contact_id, new_ids = batch.records, batch.contact_id, batch.new_ids
        by_tag: dict[str, list[int]] = defaultdict(list)
        names: dict[str, str] = {}
        for record in records:
            cid = contact_id[record.key]
            for name in (*record.tags, *self.s.option_tags):
                lower = name.lower()
                names.setdefault(lower, name)
                by_tag[lower].append(cid)
        if not by_tag:
            return set()
        missing = [names[n] for n in by_tag if n not in self._tag_ids]
        if missing:
            for tag in store.get_or_create_tags(session, missing):
                self._tag_ids[tag.name.lower()] = tag.id
        pairs = {(cid, self._tag_ids[name]) for name, cids in by_tag.items() for cid in cids}
        fresh = sorted(pair for pair in pairs if pair[0] in new_ids)  # a new contact has no tags yet
        bulk.insert(ContactTag.__table__, ("contact_id", "tag_id"), fresh)
        old = pairs.difference(fresh)
        if not old:
            return set()
        have: set[tuple[int, int]] = set()
        old_ids = sorted({cid for cid, _ in old})
        tag_ids = {tag_id for _, tag_id in old}
        for chunk in _chunks(old_ids):
            query = select(ContactTag.contact_id, ContactTag.tag_id).where(
                ContactTag.contact_id.in_(chunk), ContactTag.tag_id.in_(tag_ids))
            have.update((cid, tid) for cid, tid in session.execute(query))
        added = sorted(old - have)
        _insert_ignoring(session, ContactTag.__table__, [{"contact_id": c, "tag_id": t} for c, t in added])
        return {cid for cid, _ in added}

    def _flag(self, record: Record, result: BatchResult) -> None:
        if is_role_address(record.key):
            result.counts["role_addresses"] += 1
            result.flags.append(FlaggedRow(record.row, record.email,
                                           "a role address (shared mailbox); such addresses complain more often"))
        domain = record.key.rpartition("@")[2]
        if domain in self._suggestions:
            better = self._suggestions[domain]
        else:
            better = self._suggestions[domain] = suggest_domain(domain)
        if better:
            result.counts["typo_suggestions"] += 1
            local = record.email.rpartition("@")[0]
            result.flags.append(FlaggedRow(record.row, record.email, f"did you mean {local}@{better}?"))
