"""Exports: contacts to CSV that is safe to open in a spreadsheet (streamed in id order), one person's data, erasure."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select, true

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.kernel.jobs import JobHandle
from app.modules.contacts import store
from app.modules.contacts.addresses import email_hash, email_key
from app.modules.contacts.api import Audience, audience_clause
from app.modules.contacts.messages import ContactErased, ContactsChanged
from app.modules.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactTag,
    CustomField,
    MailingList,
    Subscription,
    Suppression,
    Tag,
)

STANDARD_COLUMNS = ("id", "email", "first_name", "last_name", "language", "time_zone", "created_at", "updated_at",
                    "last_sent_at", "last_open_at", "last_click_at")
DEFAULT_COLUMNS = ("email", "first_name", "last_name", "language", "time_zone", "created_at")
# A spreadsheet reads a cell starting with one of these as a formula (or strips it and then does).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")
SEPARATOR = "; "  # inside the tags and lists cells; the importer splits on it

Selection = Audience | Mapping[str, Any] | None


class ExportError(ValueError):
    """An export that cannot be made, with a message naming the column or file."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    columns: tuple[str, ...]


def neutralise(value: object) -> str:
    """A cell a spreadsheet shows as text: NUL removed, and a leading formula character escaped with a quote.

    Real numbers are left alone (a negative number is not a formula); every string is checked.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value)
    cleaned = text.replace("\x00", "")
    return f"'{cleaned}" if text.startswith(FORMULA_STARTS) else cleaned


def resolve_columns(db: Database, names: Sequence[str] | None) -> list[str]:
    """Column names for an export: standard ones, custom field keys (``plan`` or ``field:plan``), tags, lists.

    With no names: the usual contact columns, every custom field, tags and lists.
    """
    with db.read() as session:
        keys = list(session.scalars(select(CustomField.key).order_by(CustomField.id)))
    if not names:
        return [*DEFAULT_COLUMNS, *(f"field:{key}" for key in keys), "tags", "lists"]
    columns: list[str] = []
    unknown: list[str] = []
    for raw in names:
        name = raw.strip()
        bare = name.removeprefix("field:")
        if name in (*STANDARD_COLUMNS, "tags", "lists") and not name.startswith("field:"):
            column = name
        elif bare in keys:
            column = f"field:{bare}"
        else:
            unknown.append(name)
            continue
        if column not in columns:
            columns.append(column)
    if unknown:
        known = ", ".join([*STANDARD_COLUMNS, *keys, "tags", "lists"])
        raise ExportError(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                          f"(known: {known})")
    if not columns:
        raise ExportError("choose at least one column to export")
    return columns


def selection_clause(db: Database, selection: Selection, now: dt.datetime | None = None) -> ColumnElement[bool]:
    """Everyone (None), an audience (subscribed members of lists), or segment rules."""
    if selection is None:
        return true()
    if isinstance(selection, Audience):
        return audience_clause(db, selection)
    from app.modules.contacts.segments import compile_rules

    return compile_rules(selection, now)


def export_csv(db: Database, path: Path | str, audience_or_rules: Selection = None,
               fields: Sequence[str] | None = None, handle: JobHandle | None = None, *, excel: bool = False,
               batch_size: int = 2000, now: dt.datetime | None = None) -> ExportResult:
    """Write the selected contacts to ``path`` in id order, one short read per batch.

    ``excel`` adds a UTF-8 BOM so Excel reads accents correctly. The file appears only when complete: a
    cancelled or failed export leaves no half file behind (and an earlier file of that name untouched).
    """
    target = Path(path)
    columns = resolve_columns(db, fields)
    clause = selection_clause(db, audience_or_rules, now)
    with db.read() as session:
        total = int(session.scalar(select(func.count()).select_from(Contact).where(clause)) or 0)
    partial = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with partial.open("w", encoding="utf-8-sig" if excel else "utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([neutralise(_header(column)) for column in columns])
            for batch in _batches(db, clause, columns, batch_size):
                if handle is not None:
                    handle.check()
                writer.writerows([[neutralise(row.get(column)) for column in columns] for row in batch])
                written += len(batch)
                if handle is not None:
                    handle.report(written, total, f"{written:,} of {total:,} contacts")
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportResult(target, written, tuple(columns))


def _header(column: str) -> str:
    return column.removeprefix("field:")


def _batches(db: Database, clause: ColumnElement[bool], columns: list[str],
             batch_size: int) -> Any:
    standard = [c for c in STANDARD_COLUMNS if c in columns]
    wanted = [getattr(Contact, c) for c in standard if c != "id"]
    last = 0
    while True:
        with db.read() as session:
            rows = session.execute(select(Contact.id, Contact.fields, *wanted)
                                   .where(Contact.id > last, clause).order_by(Contact.id).limit(batch_size)).all()
            if not rows:
                return
            ids = [row[0] for row in rows]
            tags = _names(session, ids, Tag.name, ContactTag, Tag.id == ContactTag.tag_id) \
                if "tags" in columns else {}
            lists = _names(session, ids, MailingList.name, Subscription, MailingList.id == Subscription.list_id,
                           Subscription.status == "subscribed") if "lists" in columns else {}
        batch = []
        for row in rows:
            record: dict[str, Any] = {"id": row[0], **dict(zip([c for c in standard if c != "id"], row[2:],
                                                             strict=True))}
            record.update({f"field:{key}": value for key, value in (row[1] or {}).items()})
            record["tags"] = SEPARATOR.join(tags.get(row[0], []))
            record["lists"] = SEPARATOR.join(lists.get(row[0], []))
            batch.append(record)
        yield batch
        last = rows[-1][0]


def _names(session: Any, ids: list[int], name: Any, link: Any, join: Any, *where: Any) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = select(link.contact_id, name).join_from(link, name.class_, join) \
        .where(link.contact_id.in_(ids), *where).order_by(link.contact_id, name)
    for contact_id, text in session.execute(query):
        found.setdefault(contact_id, []).append(text)
    return found


# -- one person ---------------------------------------------------------------------------------------


def find_contact_id(db: Database, email: str) -> int | None:
    with db.read() as session:
        return session.scalar(select(Contact.id).where(Contact.email_key == email_key(email)))


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def export_contact(db: Database, contact_id: int) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready data (a data-subject access request)."""
    with db.read() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise store.ContactsError(f"no contact with id {contact_id}")
        defs = {f.key: f for f in session.scalars(select(CustomField))}
        list_names = {row[0]: row[1] for row in session.execute(select(MailingList.id, MailingList.name))}
        suppression = session.scalar(select(Suppression).where(Suppression.email_hash == email_hash(contact.email_key)))
        subscriptions = session.scalars(select(Subscription).where(Subscription.contact_id == contact_id)
                                        .order_by(Subscription.list_id))
        tags = session.scalars(select(Tag.name).join(ContactTag, ContactTag.tag_id == Tag.id)
                               .where(ContactTag.contact_id == contact_id).order_by(Tag.name))
        consents = session.scalars(select(Consent).where(Consent.contact_id == contact_id).order_by(Consent.given_at))
        timeline = session.scalars(select(Activity).where(Activity.contact_id == contact_id)
                                   .order_by(Activity.occurred_at, Activity.id))
        return {
            "exported_at": _iso(utcnow()),
            "contact": {
                "id": contact.id, "email": contact.email, "first_name": contact.first_name,
                "last_name": contact.last_name, "language": contact.language, "time_zone": contact.time_zone,
                "created_at": _iso(contact.created_at), "updated_at": _iso(contact.updated_at),
                "last_sent_at": _iso(contact.last_sent_at), "last_open_at": _iso(contact.last_open_at),
                "last_click_at": _iso(contact.last_click_at),
            },
            "fields": {key: {"label": defs[key].label if key in defs else key,
                             "type": defs[key].type if key in defs else "unknown", "value": value}
                       for key, value in sorted((contact.fields or {}).items())},
            "lists": [{"list": list_names.get(s.list_id, f"list {s.list_id}"), "status": s.status,
                       "since": _iso(s.created_at), "changed_at": _iso(s.updated_at)} for s in subscriptions],
            "tags": list(tags),
            "consents": [{"list": list_names.get(c.list_id) if c.list_id else None, "purpose": c.purpose,
                          "given_at": _iso(c.given_at), "source": c.source, "method": c.method,
                          "text_version": c.text_version, "evidence": c.evidence,
                          "withdrawn_at": _iso(c.withdrawn_at)} for c in consents],
            "suppression": {"suppressed": suppression is not None,
                            "reason": suppression.reason if suppression else None,
                            "since": _iso(suppression.created_at) if suppression else None,
                            "detail": suppression.detail if suppression else None},
            "timeline": [{"kind": a.kind, "name": a.name, "occurred_at": _iso(a.occurred_at),
                          "campaign_id": a.campaign_id, "properties": dict(a.properties or {}), "value": a.value}
                         for a in timeline],
        }


def erase(db: Database, bus: MessageBus, contact_id: int) -> str:
    """Delete a person and all they left here, keeping only the hash that stops them being mailed again.

    Returns the address (for the caller to confirm to the user); the address itself is not put on the bus.
    """
    with db.transaction() as session:
        address = store.erase_contact(session, contact_id)
    bus.publish(ContactErased(contact_id=contact_id))
    bus.publish(ContactsChanged(contact_ids=(contact_id,)))
    return address
