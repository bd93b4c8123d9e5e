"""Bulk changes to many contacts at once (tag, add to list, unsubscribe, suppress, delete), chunk by chunk in a job."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.kernel.jobs import JobHandle
from app.modules.contacts import store
from app.modules.contacts.contact_window import ContactWindow
from app.modules.contacts.export import neutralise
from app.modules.contacts.messages import (
    ContactsChanged,
    ContactsJoinedList,
    ContactSuppressed,
    ContactTagged,
    ContactUnsubscribed,
    ListsChanged,
    SubscriptionChanged,
)
from app.modules.contacts.models import (
    Consent,
    Contact,
    ContactTag,
    CustomField,
    Subscription,
    Suppression,
    Tag,
)
from app.modules.contacts.queries import ContactFilter, decorate, filter_clause, suppressed_clause

CHUNK = 1000  # contacts per transaction: a cancel or a crash keeps every chunk already committed
EVENTS_UP_TO = 1000  # per-contact events for small selections; a bigger one announces ContactsChanged once
ACTIONS = ("tag", "list", "unsubscribe", "suppress", "delete")


@dataclass(frozen=True)
class BulkTarget:
    """Which contacts: rows ``ranges`` (first, count) of ``window``, or, when None, everything it matches."""

    window: ContactWindow
    count: int
    ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def everything(self) -> bool:
        return self.ranges is None


@dataclass(frozen=True)
class BulkAction:
    kind: str  # one of ACTIONS
    name: str = ""  # the tag or list name for "tag" and "list"
    list_id: int | None = None  # "unsubscribe" from this list only; None: from every list


@dataclass
class BulkOutcome:
    action: BulkAction
    done: int = 0
    skipped: int = 0
    created_name: bool = False
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        verbs = {"tag": f"Tagged {self.done:,} contacts “{self.action.name}”",
                 "list": f"Added {self.done:,} contacts to {self.action.name}",
                 "unsubscribe": f"Unsubscribed {self.done:,} contacts",
                 "suppress": f"Suppressed {self.done:,} contacts",
                 "delete": f"Deleted {self.done:,} contacts"}
        text = verbs[self.action.kind]
        if self.skipped:
            why = {"list": "already on the list or suppressed", "unsubscribe": "not subscribed",
                   "suppress": "already suppressed"}.get(self.action.kind, "unchanged")
            text += f"; {self.skipped:,} skipped ({why})"
        return text + "."


def _chunks(db: Database, target: BulkTarget) -> Iterator[list[int]]:
    """Contact ids in chunks. "Everything" walks the filter by id, so rows the action changes or
    deletes never shift what comes next; explicit rows are resolved up front for the same reason."""
    if target.ranges is not None:
        ids: list[int] = []
        for first, count in target.ranges:
            for start in range(first, first + count, 5000):
                ids.extend(target.window.ids(start, min(5000, first + count - start)))
        for start in range(0, len(ids), CHUNK):
            yield ids[start:start + CHUNK]
        return
    last = 0
    while True:
        with db.read() as session:
            clause = filter_clause(session, target.window.filter)
            chunk = list(session.scalars(select(Contact.id).where(clause, Contact.id > last)
                                         .order_by(Contact.id).limit(CHUNK)))
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


@dataclass
class _Changes:
    """What the chunks changed, announced on the bus once the job ends (whether it finished or not)."""

    touched: list[int] = field(default_factory=list)
    subscribed: list[tuple[int, int]] = field(default_factory=list)
    unsubscribed: list[tuple[int, int, str]] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    tagged: list[int] = field(default_factory=list)  # contacts that did not have the tag before


def _named_target(db: Database, action: BulkAction) -> tuple[int | None, bool]:
    """The tag or list an action adds to (created if needed), and whether it was created."""
    if action.kind not in ("tag", "list"):
        return None, False
    with db.transaction() as session:
        if action.kind == "tag":
            known = session.scalar(select(Tag.id).where(func.lower(Tag.name) == action.name.strip().lower()))
            if known is not None:
                return known, False
            return store.get_or_create_tags(session, [action.name])[0].id, True
        found = store.list_by_name(session, action.name)
        if found is not None:
            return found.id, False
        return store.get_or_create_list(session, action.name).id, True


def run_bulk(db: Database, bus: MessageBus, target: BulkTarget, action: BulkAction,
             handle: JobHandle) -> BulkOutcome:
    """Apply ``action`` to ``target`` chunk by chunk, reporting progress; events are published at the end."""
    if action.kind not in ACTIONS:
        raise store.ContactsError(f"unknown bulk action {action.kind!r}")
    if action.kind in ("tag", "list") and not action.name.strip():
        raise store.ContactsError(f"a {'tag' if action.kind == 'tag' else 'list'} needs a name")
    outcome = BulkOutcome(action)
    named, outcome.created_name = _named_target(db, action)
    changes = _Changes()
    try:
        handle.report(0, target.count, "Starting", force=True)
        for ids in _chunks(db, target):
            handle.check()
            with db.transaction() as session:
                _apply(session, action, named, ids, outcome=outcome, changes=changes)
            changes.touched.extend(ids)
            handle.report(len(changes.touched), target.count, f"{len(changes.touched):,} of {target.count:,}")
    finally:
        _announce(bus, action, outcome, changes)
    return outcome


def _apply(session: Session, action: BulkAction, named: int | None, ids: list[int], *, outcome: BulkOutcome,
           changes: _Changes) -> None:
    if action.kind == "tag" and named is not None:
        had = set(session.scalars(select(ContactTag.contact_id).where(ContactTag.tag_id == named,
                                                                      ContactTag.contact_id.in_(ids))))
        store.add_tags(session, ids, [named])
        changes.tagged.extend(i for i in ids if i not in had)
        outcome.done += len(ids)
    elif action.kind == "list" and named is not None:
        added = _add_to_list(session, ids, named)
        changes.subscribed.extend((contact_id, named) for contact_id in added)
        outcome.done += len(added)
        outcome.skipped += len(ids) - len(added)
    elif action.kind == "unsubscribe":
        changed = _unsubscribe(session, ids, action.list_id)
        changes.unsubscribed.extend(changed)
        count = len({contact_id for contact_id, _, _ in changed})
        outcome.done += count
        outcome.skipped += len(ids) - count
    elif action.kind == "suppress":
        newly, changed = _suppress(session, ids)
        changes.suppressed.extend(newly)
        changes.unsubscribed.extend(changed)
        outcome.done += len(newly)
        outcome.skipped += len(ids) - len(newly)
    elif action.kind == "delete":
        session.execute(delete(Contact).where(Contact.id.in_(ids)))
        outcome.done += len(ids)


def _add_to_list(session: Session, ids: list[int], list_id: int) -> list[int]:
    """Subscribe the ones not on the list yet and not suppressed; someone who left the list stays out."""
    existing = set(session.scalars(select(Subscription.contact_id).where(
        Subscription.list_id == list_id, Subscription.contact_id.in_(ids))))
    blocked = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids), suppressed_clause())))
    added = [contact_id for contact_id in ids if contact_id not in existing and contact_id not in blocked]
    if added:
        now = utcnow()
        session.execute(insert(Subscription), [
            {"contact_id": c, "list_id": list_id, "status": "subscribed", "created_at": now, "updated_at": now}
            for c in added])
        session.execute(insert(Consent), [
            {"contact_id": c, "list_id": list_id, "given_at": now, "source": "added in the contacts page",
             "method": "manual", "purpose": "", "text_version": "", "evidence": ""} for c in added])
    return added


def _unsubscribe(session: Session, ids: list[int], list_id: int | None) -> list[tuple[int, int, str]]:
    """Unsubscribe and withdraw consent; returns (contact, list, address) for each subscription changed."""
    query = (select(Subscription.contact_id, Subscription.list_id, Contact.email)
             .join(Contact, Contact.id == Subscription.contact_id)
             .where(Subscription.contact_id.in_(ids), Subscription.status != "unsubscribed"))
    if list_id is not None:
        query = query.where(Subscription.list_id == list_id)
    changed = [(c, lst, email) for c, lst, email in session.execute(query)]
    if not changed:
        return []
    now = utcnow()
    change = update(Subscription).where(Subscription.contact_id.in_(ids), Subscription.status != "unsubscribed")
    withdraw = update(Consent).where(Consent.contact_id.in_(ids), Consent.withdrawn_at.is_(None))
    if list_id is not None:
        change = change.where(Subscription.list_id == list_id)
        withdraw = withdraw.where(Consent.list_id == list_id)
    session.execute(change.values(status="unsubscribed", updated_at=now))
    session.execute(withdraw.values(withdrawn_at=now))
    return changed


def _suppress(session: Session, ids: list[int]) -> tuple[list[str], list[tuple[int, int, str]]]:
    rows = session.execute(select(Contact.email_hash, Contact.email).where(Contact.id.in_(ids))).all()
    already = set(session.scalars(select(Suppression.email_hash).where(
        Suppression.email_hash.in_([digest for digest, _ in rows]))))
    fresh = [(digest, email) for digest, email in rows if digest not in already]
    now = utcnow()
    store.insert_ignoring_duplicates(session, Suppression, [
        {"email_hash": digest, "email": email, "reason": "manual", "detail": "suppressed in the contacts page",
         "created_at": now} for digest, email in fresh])
    return [email for _, email in fresh], _unsubscribe(session, ids, None)


def _announce(bus: MessageBus, action: BulkAction, outcome: BulkOutcome, changes: _Changes) -> None:
    if outcome.created_name:
        bus.publish(ListsChanged())
    if not changes.touched:
        return
    small = len(changes.touched) <= EVENTS_UP_TO
    if small:
        for contact_id, list_id in changes.subscribed:
            bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=list_id, status="subscribed"))
        for contact_id, list_id, _email in changes.unsubscribed:
            bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=list_id, status="unsubscribed"))
        if action.kind == "unsubscribe":
            for contact_id, email in sorted({(c, e) for c, _, e in changes.unsubscribed}):
                bus.publish(ContactUnsubscribed(contact_id=contact_id, email=email, list_id=action.list_id))
        for email in changes.suppressed:
            bus.publish(ContactSuppressed(email=email, reason="manual"))
    if not small and changes.subscribed:  # too many for one event each: one per list, for automations
        by_list: dict[int, list[int]] = {}
        for contact_id, list_id in changes.subscribed:
            by_list.setdefault(list_id, []).append(contact_id)
        for list_id, contact_ids in by_list.items():
            bus.publish(ContactsJoinedList(list_id=list_id, contact_ids=tuple(contact_ids)))
    if changes.tagged:  # automations start on a tag being added, however many contacts got it
        bus.publish(ContactTagged(tag=action.name.strip(), contact_ids=tuple(changes.tagged)))
    ids = tuple(changes.touched) if small and action.kind != "delete" else ()
    bus.publish(ContactsChanged(contact_ids=ids))


# -- export ----------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("email", "first_name", "last_name", "language", "time_zone", "status", "lists", "tags",
                  "created_at", "last_open_at")


@dataclass(frozen=True)
class ExportOutcome:
    path: Path
    rows: int

    def text(self) -> str:
        return f"Exported {self.rows:,} contacts to {self.path}."


def export_csv(db: Database, flt: ContactFilter, path: Path, handle: JobHandle,
               total: int | None = None) -> ExportOutcome:
    """Write the contacts matching ``flt`` to ``path`` (UTF-8 with BOM, so spreadsheets read accents).

    Written to a temporary file first: a cancelled or failed export never leaves half a file behind.
    """
    with db.read() as session:
        keys = list(session.scalars(select(CustomField.key).order_by(CustomField.id)))
    partial = path.with_name(path.name + ".part")
    written = 0
    try:
        with partial.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([*EXPORT_COLUMNS, *keys])
            last = 0
            while True:
                handle.check()
                with db.read() as session:
                    clause = filter_clause(session, flt)
                    contacts = session.execute(
                        select(Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.language,
                               Contact.time_zone, Contact.created_at, Contact.last_open_at, Contact.fields,
                               Contact.email_hash)
                        .where(clause, Contact.id > last).order_by(Contact.id).limit(2000)).all()
                    if not contacts:
                        break
                    decorated = {row.id: row for row in decorate(session, [
                        (c.id, c.email, c.first_name, c.last_name, c.created_at, c.last_open_at, c.email_hash)
                        for c in contacts], flt)}
                for c in contacts:
                    row = decorated[c.id]
                    fields = c.fields or {}
                    writer.writerow([neutralise(v) for v in (
                        c.email, c.first_name, c.last_name, c.language, c.time_zone, row.status or "no list",
                        "; ".join(row.lists), "; ".join(row.tags), c.created_at.isoformat(sep=" "),
                        c.last_open_at.isoformat(sep=" ") if c.last_open_at else "",
                        *(fields.get(key, "") for key in keys))])
                written += len(contacts)
                last = contacts[-1].id
                handle.report(written, total, f"{written:,} contacts written")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return ExportOutcome(path, written)
