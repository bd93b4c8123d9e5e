"""Write-side operations on contacts inside a caller's unit of work (lists, tags, suppression, timeline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.kernel.database import utcnow
from app.modules.contacts.addresses import email_hash, email_key
from app.modules.contacts.messages import ActivityItem
from app.modules.contacts.models import (
    ACTIVITY_KINDS,
    SUPPRESSION_REASONS,
    Activity,
    Consent,
    Contact,
    ContactTag,
    MailingList,
    Subscription,
    Suppression,
    Tag,
)


class ContactsError(ValueError):
    """A request the contacts module refuses, with a message for the user."""


def list_by_name(session: Session, name: str) -> MailingList | None:
    return session.scalar(select(MailingList).where(func.lower(MailingList.name) == name.strip().lower()))


def get_or_create_list(session: Session, name: str) -> MailingList:
    name = name.strip()
    if not name:
        raise ContactsError("a list needs a name")
    found = list_by_name(session, name)
    if found is None:
        found = MailingList(name=name)
        session.add(found)
        session.flush()
    return found


def get_or_create_tags(session: Session, names: Iterable[str]) -> list[Tag]:
    wanted = {name.strip(): None for name in names if name.strip()}
    if not wanted:
        return []
    existing = {t.name.lower(): t for t in session.scalars(
        select(Tag).where(func.lower(Tag.name).in_([n.lower() for n in wanted])))}
    tags = []
    for name in wanted:
        tag = existing.get(name.lower())
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            existing[name.lower()] = tag
        tags.append(tag)
    return tags


def suppressed_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these identity keys are suppressed (by hash, so erased people stay suppressed)."""
    if not keys:
        return set()
    hashes = {email_hash(key): key for key in keys}
    found: set[str] = set()
    items = list(hashes)
    for start in range(0, len(items), 900):
        chunk = items[start:start + 900]
        for (h,) in session.execute(select(Suppression.email_hash).where(Suppression.email_hash.in_(chunk))):
            found.add(hashes[h])
    return found


def is_suppressed(session: Session, email: str) -> bool:
    return bool(suppressed_keys(session, [email_key(email)]))


def suppress(session: Session, email: str, reason: str, detail: str = "") -> bool:
    """Add to the suppression list; returns False when it was already there. Unsubscribes from every list."""
    if reason not in SUPPRESSION_REASONS:
        raise ContactsError(f"unknown suppression reason {reason!r}")
    key = email_key(email)
    digest = email_hash(key)
    already = session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    if already is None:
        session.add(Suppression(email_hash=digest, email=email.strip(), reason=reason, detail=detail))
    contact = session.scalar(select(Contact).where(Contact.email_key == key))
    if contact is not None:
        _set_status(session, contact.id, None, "unsubscribed")
    session.flush()
    return already is None


def unsuppress(session: Session, email: str) -> bool:
    """Remove a *manual* suppression; bounces, complaints and unsubscribes cannot be undone here."""
    row = session.scalar(select(Suppression).where(Suppression.email_hash == email_hash(email)))
    if row is None:
        return False
    if row.reason != "manual":
        raise ContactsError(f"{email} is suppressed because of a {row.reason.replace('_', ' ')}; "
                            "that cannot be undone, only the person can subscribe again")
    session.delete(row)
    return True


def _set_status(session: Session, contact_id: int, list_id: int | None, status: str) -> list[int]:
    """Set the status of one subscription, or of all of them when ``list_id`` is None; returns changed lists."""
    query = select(Subscription).where(Subscription.contact_id == contact_id)
    if list_id is not None:
        query = query.where(Subscription.list_id == list_id)
    changed = []
    now = utcnow()
    for sub in session.scalars(query):
        if sub.status != status:
            sub.status = status
            sub.updated_at = now
            changed.append(sub.list_id)
    if status == "unsubscribed" and changed:
        withdraw = update(Consent).where(Consent.contact_id == contact_id, Consent.withdrawn_at.is_(None))
        if list_id is not None:
            withdraw = withdraw.where(Consent.list_id == list_id)
        session.execute(withdraw.values(withdrawn_at=now))
    return changed


def subscribe(session: Session, contact_id: int, list_id: int, status: str = "subscribed") -> bool:
    """Add or change a subscription; returns True if anything changed. A suppressed contact is refused."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ContactsError(f"no contact with id {contact_id}")
    if status != "unsubscribed" and is_suppressed(session, contact.email_key):
        raise ContactsError(f"{contact.email} is on the suppression list and cannot be subscribed")
    sub = session.get(Subscription, (contact_id, list_id))
    if sub is None:
        session.add(Subscription(contact_id=contact_id, list_id=list_id, status=status))
        return True
    if sub.status == status:
        return False
    sub.status = status
    sub.updated_at = utcnow()
    return True


def unsubscribe(session: Session, email: str, list_id: int | None) -> tuple[Contact | None, list[int]]:
    contact = session.scalar(select(Contact).where(Contact.email_key == email_key(email)))
    if contact is None:
        return None, []
    return contact, _set_status(session, contact.id, list_id, "unsubscribed")


def insert_ignoring_duplicates(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as make_insert
    else:
        make_insert = sqlite_insert  # type: ignore[assignment]
    if rows:
        # One cached statement run as executemany: a multi-VALUES statement per chunk defeats the cache.
        session.execute(make_insert(table).on_conflict_do_nothing(), list(rows))


def add_tags(session: Session, contact_ids: Sequence[int], tag_ids: Sequence[int]) -> None:
    insert_ignoring_duplicates(session, ContactTag, [{"contact_id": c, "tag_id": t}
                                                      for c in contact_ids for t in tag_ids])


def _naive_utc(moment: dt.datetime | None) -> dt.datetime:
    if moment is None:
        return utcnow()
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _existing_contacts(session: Session, items: Sequence[ActivityItem]) -> tuple[dict[str, int], set[int]]:
    """Contact ids by address for items that name an address, and which of the given ids still exist."""
    by_key: dict[str, int] = {}
    keys = sorted({email_key(i.email) for i in items if i.contact_id is None and i.email})
    for start in range(0, len(keys), 900):
        query = select(Contact.email_key, Contact.id).where(Contact.email_key.in_(keys[start:start + 900]))
        # A Result has keys(), so update(result) reads it as a mapping (and tuples() is deprecated): take rows.
        by_key.update(session.execute(query).all())
    # Ids given directly are checked too: a timeline row for a contact that is gone (erased) would fail
    # the whole batch on its foreign key.
    given = sorted({i.contact_id for i in items if i.contact_id is not None})
    known: set[int] = set()
    for start in range(0, len(given), 900):
        known.update(session.scalars(select(Contact.id).where(Contact.id.in_(given[start:start + 900]))))
    return by_key, known


def record_activity(session: Session, items: Sequence[ActivityItem]) -> int:
    """Append to timelines and keep the ``last_*_at`` columns current; duplicates by dedupe_key are skipped."""
    by_key, known = _existing_contacts(session, items)
    dedupe = [i.dedupe_key for i in items if i.dedupe_key]
    seen: set[str] = set()
    for start in range(0, len(dedupe), 900):
        query_keys = select(Activity.dedupe_key).where(Activity.dedupe_key.in_(dedupe[start:start + 900]))
        seen.update(key for key in session.scalars(query_keys) if key)
    latest: dict[tuple[int, str], dt.datetime] = {}
    rows: list[dict[str, Any]] = []
    for item in items:
        if item.kind not in ACTIVITY_KINDS:
            raise ContactsError(f"unknown activity kind {item.kind!r}")
        if item.contact_id is not None:
            contact_id = item.contact_id if item.contact_id in known else None
        else:
            contact_id = by_key.get(email_key(item.email or ""))
        if contact_id is None or (item.dedupe_key and item.dedupe_key in seen):
            continue
        if item.dedupe_key:
            seen.add(item.dedupe_key)
        at = _naive_utc(item.occurred_at)
        rows.append({"contact_id": contact_id, "kind": item.kind, "name": item.name, "occurred_at": at,
                     "campaign_id": item.campaign_id, "properties": dict(item.properties), "value": item.value,
                     "dedupe_key": item.dedupe_key})
        column = {"sent": "last_sent_at", "opened": "last_open_at", "clicked": "last_click_at"}.get(item.kind)
        if column and at > latest.get((contact_id, column), dt.datetime.min):
            latest[(contact_id, column)] = at
    if rows:
        # Core executemany on the table itself: the ORM costs about a millisecond per timeline entry here, and
        # even its bulk path (insert(Activity)) prepares each row for the mapper first.
        session.connection().execute(insert(Activity.__table__), rows)
    table = Contact.__table__
    for column in ("last_sent_at", "last_open_at", "last_click_at"):
        moves = [{"cid": cid, "at": at} for (cid, name), at in latest.items() if name == column]
        if moves:
            target = table.c[column]
            statement = (update(table).where(table.c.id == bindparam("cid"),
                                             target.is_(None) | (target < bindparam("at")))
                         .values({column: bindparam("at")}))
            session.connection().execute(statement, moves)
    return len(rows)


def erase_contact(session: Session, contact_id: int) -> str:
    """Delete a person and everything about them, keeping only the suppression hash. Returns the address."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ContactsError(f"no contact with id {contact_id}")
    address = contact.email
    digest = email_hash(contact.email_key)
    existing = session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    if existing is None:
        session.add(Suppression(email_hash=digest, email=None, reason="manual", detail="erased on request"))
    else:
        existing.email = None  # keep the reason, forget the address
    session.execute(delete(Contact).where(Contact.id == contact_id))  # cascades to the timeline and consent
    return address
