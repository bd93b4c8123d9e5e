"""Read side of the contacts browser: plain rows and details for views, the filters, and the filter panel's counts.

The windows over a million contacts that the table scrolls through are in ``contact_window.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from app.kernel.database import Database
from app.modules.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactTag,
    CustomField,
    MailingList,
    Segment,
    Subscription,
    Suppression,
    Tag,
)

STATUSES = ("subscribed", "unconfirmed", "unsubscribed")


class QueryProblem(ValueError):  # noqa: N818 - the user's words
    """A filter that cannot be applied (a missing segment, a segment engine that is not installed)."""


# -- plain data handed to views ---------------------------------------------------------------------


@dataclass(frozen=True)
class ContactFilter:
    """What the browser shows: every field narrows the set; the empty filter is every contact."""

    search: str = ""
    list_id: int | None = None
    tag_id: int | None = None
    status: str | None = None  # subscribed, unconfirmed, unsubscribed (on the chosen list, else on any list)
    suppressed: bool = False
    segment_id: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == ContactFilter()


SORT_KEYS = ("created", "email", "last_open")


@dataclass(frozen=True)
class ContactSort:
    key: str = "created"
    descending: bool = True


@dataclass(frozen=True, slots=True)  # tens of thousands are cached: no per-row __dict__
class ContactRow:
    id: int
    email: str
    name: str
    lists: tuple[str, ...]
    tags: tuple[str, ...]
    status: str  # suppressed, subscribed, unconfirmed, unsubscribed, or "" (on no list)
    created_at: dt.datetime
    last_open_at: dt.datetime | None


@dataclass(frozen=True)
class Membership:
    list_id: int
    list_name: str
    status: str
    since: dt.datetime


@dataclass(frozen=True)
class ConsentEntry:
    given_at: dt.datetime
    list_name: str
    purpose: str
    source: str
    method: str
    text_version: str
    evidence: str
    withdrawn_at: dt.datetime | None


@dataclass(frozen=True)
class SuppressionInfo:
    reason: str
    detail: str
    since: dt.datetime


@dataclass(frozen=True)
class ActivityEntry:
    kind: str
    name: str
    occurred_at: dt.datetime
    campaign_id: int | None
    properties: dict[str, Any]
    value: float | None


@dataclass(frozen=True)
class ContactDetail:
    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    time_zone: str
    fields: tuple[tuple[str, str], ...]  # (label, value) in the order the fields were defined
    created_at: dt.datetime
    updated_at: dt.datetime
    last_sent_at: dt.datetime | None
    last_open_at: dt.datetime | None
    last_click_at: dt.datetime | None
    memberships: tuple[Membership, ...]
    tags: tuple[str, ...]
    consents: tuple[ConsentEntry, ...]
    suppression: SuppressionInfo | None
    activities: tuple[ActivityEntry, ...]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class ListCount:
    id: int
    name: str
    members: int
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TagCount:
    id: int
    name: str
    contacts: int


@dataclass(frozen=True)
class SegmentRef:
    id: int
    name: str


@dataclass(frozen=True)
class FilterOptions:
    """What the filter panel lists, with counts."""

    total: int
    suppressed: int
    lists: tuple[ListCount, ...]
    tags: tuple[TagCount, ...]
    segments: tuple[SegmentRef, ...]


# -- filters ---------------------------------------------------------------------------------------


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(text: str, dialect: str = "sqlite") -> ColumnElement[bool] | None:
    """Prefix search on the address and on first, last or full name; ``@domain`` searches the domain."""
    term = text.replace("\x00", "").strip()
    if not term:
        return None
    low = term.lower()
    if low.startswith("@"):
        return Contact.email_key.like(f"%{_escape_like(low)}%", escape="\\")

    def starts(column: Any, prefix: str) -> ColumnElement[bool]:
        pattern = f"{_escape_like(prefix)}%"
        # SQLite's LIKE already ignores ASCII case; lower() on both sides would cost a call per row.
        if dialect == "sqlite":
            return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
        return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]

    # A range on the unique index rather than LIKE: SQLite uses an index for LIKE only in odd configurations.
    options: list[ColumnElement[bool]] = [
        and_(Contact.email_key >= low, Contact.email_key < low + "\U0010ffff"),
        starts(Contact.first_name, low),
        starts(Contact.last_name, low),
    ]
    first, _, last = low.partition(" ")
    if last.strip():
        options.append(and_(starts(Contact.first_name, first), starts(Contact.last_name, last.strip())))
    return or_(*options)


def _segment_rules_clause(session: Session, segment_id: int) -> ColumnElement[bool]:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise QueryProblem(f"the segment with id {segment_id} no longer exists")
    try:
        from app.modules.contacts.segments import compile_rules
    except ImportError as exc:
        raise QueryProblem(f"segments cannot be used in this build ({exc})") from None
    try:
        clause: ColumnElement[bool] = compile_rules(segment.rules)
    except Exception as exc:
        raise QueryProblem(f"the segment {segment.name!r} has rules that cannot be applied: {exc}") from None
    return clause


def suppressed_clause() -> ColumnElement[bool]:
    # IN over the (small) suppression table lets SQLite probe the contacts' hash index instead of
    # running a correlated subquery per contact (11 ms instead of 380 ms over a million).
    return Contact.email_hash.in_(select(Suppression.email_hash))


def filter_clause(session: Session, flt: ContactFilter, *, counting: bool = False) -> ColumnElement[bool]:
    """The WHERE clause over contacts for ``flt`` (raises :class:`QueryProblem` for an unusable segment).

    ``counting`` phrases membership as IN (drive from the small side, good for one COUNT) rather than
    EXISTS (probe per contact, good for reading a sorted window a few hundred rows at a time).
    """
    parts: list[ColumnElement[bool]] = []
    found = search_clause(flt.search, session.get_bind().dialect.name)
    if found is not None:
        parts.append(found)
    member: list[ColumnElement[bool]] = []
    if flt.list_id is not None:
        member.append(Subscription.list_id == flt.list_id)
    if flt.status in STATUSES:
        member.append(Subscription.status == flt.status)
    if member:
        parts.append(Contact.id.in_(select(Subscription.contact_id).where(*member)) if counting
                     else exists().where(Subscription.contact_id == Contact.id, *member))
    if flt.tag_id is not None:
        parts.append(Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag_id == flt.tag_id))
                     if counting else
                     exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == flt.tag_id))
    if flt.suppressed:
        parts.append(suppressed_clause())
    if flt.segment_id is not None:
        parts.append(_segment_rules_clause(session, flt.segment_id))
    return and_(true(), *parts) if parts else true()


_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_MEMBERSHIPS = (select(Subscription.contact_id, MailingList.name, Subscription.status, Subscription.list_id)
                .join(MailingList, MailingList.id == Subscription.list_id)
                .where(Subscription.contact_id.in_(_IDS)).order_by(MailingList.name))
_TAGS = (select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
         .where(ContactTag.contact_id.in_(_IDS)).order_by(Tag.name))
_SUPPRESSED = select(Suppression.email_hash).where(Suppression.email_hash.in_(bindparam("hashes", expanding=True)))


def decorate(session: Session, bare: Sequence[Any], flt: ContactFilter) -> list[ContactRow]:
    """Add lists, tags and status to bare contact rows with three small indexed reads."""
    if not bare:
        return []
    connection = session.connection()
    ids = [row[0] for row in bare]
    memberships: dict[int, list[tuple[str, str, int]]] = {}
    for contact_id, name, status, list_id in connection.execute(_MEMBERSHIPS, {"ids": ids}):
        memberships.setdefault(contact_id, []).append((name, status, list_id))
    tags: dict[int, list[str]] = {}
    for contact_id, name in connection.execute(_TAGS, {"ids": ids}):
        tags.setdefault(contact_id, []).append(name)
    suppressed = set(connection.execute(_SUPPRESSED, {"hashes": [row[6] for row in bare]}).scalars())
    rows = []
    for contact_id, email, first, last, created, last_open, digest in bare:
        subs = memberships.get(contact_id, [])
        rows.append(ContactRow(
            id=contact_id, email=email, name=f"{first} {last}".strip(),
            lists=tuple(name for name, status, _ in subs if status != "unsubscribed"),
            tags=tuple(tags.get(contact_id, ())),
            status="suppressed" if digest in suppressed else _status_of(subs, flt.list_id),
            created_at=created, last_open_at=last_open))
    return rows


def _status_of(subs: list[tuple[str, str, int]], list_id: int | None) -> str:
    if list_id is not None:
        return next((status for _, status, lid in subs if lid == list_id), "")
    states = {status for _, status, _ in subs}
    return next((status for status in STATUSES if status in states), "")


# -- panel and detail ------------------------------------------------------------------------------


def filter_options(db: Database) -> FilterOptions:
    """Lists, tags and segments with their counts (about 0.1 s over a million contacts)."""
    with db.read() as session:
        total = int(session.scalar(select(func.count()).select_from(Contact)) or 0)
        suppressed = int(session.scalar(select(func.count()).select_from(Contact).where(suppressed_clause())) or 0)
        by_list: dict[int, dict[str, int]] = {}
        for list_id, status, n in session.execute(select(Subscription.list_id, Subscription.status, func.count())
                                                  .group_by(Subscription.list_id, Subscription.status)):
            by_list.setdefault(list_id, {})[status] = int(n)
        lists = tuple(ListCount(row.id, row.name, sum(by_list.get(row.id, {}).values()), by_list.get(row.id, {}))
                      for row in session.scalars(select(MailingList).order_by(func.lower(MailingList.name))))
        tag_counts = dict(session.execute(select(ContactTag.tag_id, func.count()).group_by(ContactTag.tag_id)).all())
        tags = tuple(TagCount(row.id, row.name, int(tag_counts.get(row.id, 0)))
                     for row in session.scalars(select(Tag).order_by(func.lower(Tag.name))))
        segments = tuple(SegmentRef(row.id, row.name)
                         for row in session.scalars(select(Segment).order_by(func.lower(Segment.name))))
    return FilterOptions(total, suppressed, lists, tags, segments)


def find_contact_id(db: Database, email: str) -> int | None:
    from app.modules.contacts.addresses import email_key

    with db.read() as session:
        return session.scalar(select(Contact.id).where(Contact.email_key == email_key(email)))


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    return str(value)


def contact_detail(db: Database, contact_id: int, activity_limit: int = 50) -> ContactDetail | None:
    """Everything the detail panel and ``contacts show`` display about one contact."""
    with db.read() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return None
        defined = session.scalars(select(CustomField).order_by(CustomField.id)).all()
        values = dict(contact.fields or {})
        fields = [(f.label, _field_text(values.pop(f.key))) for f in defined if f.key in values]
        fields.extend((key, _field_text(value)) for key, value in sorted(values.items()))
        memberships = tuple(
            Membership(list_id, name, status, since) for list_id, name, status, since in session.execute(
                select(Subscription.list_id, MailingList.name, Subscription.status, Subscription.updated_at)
                .join(MailingList, MailingList.id == Subscription.list_id)
                .where(Subscription.contact_id == contact_id).order_by(func.lower(MailingList.name))))
        tags = tuple(session.scalars(select(Tag.name).join(ContactTag, ContactTag.tag_id == Tag.id)
                                     .where(ContactTag.contact_id == contact_id).order_by(func.lower(Tag.name))))
        list_names = dict(session.execute(select(MailingList.id, MailingList.name)).all())
        consents = tuple(
            ConsentEntry(c.given_at, list_names.get(c.list_id, "") if c.list_id else "", c.purpose, c.source,
                         c.method, c.text_version, c.evidence, c.withdrawn_at)
            for c in session.scalars(select(Consent).where(Consent.contact_id == contact_id)
                                     .order_by(Consent.given_at.desc(), Consent.id.desc())))
        row = session.scalar(select(Suppression).where(Suppression.email_hash == contact.email_hash))
        suppression = SuppressionInfo(row.reason, row.detail, row.created_at) if row is not None else None
        activities = tuple(
            ActivityEntry(a.kind, a.name, a.occurred_at, a.campaign_id, dict(a.properties or {}), a.value)
            for a in session.scalars(select(Activity).where(Activity.contact_id == contact_id)
                                     .order_by(Activity.occurred_at.desc(), Activity.id.desc())
                                     .limit(activity_limit)))
        return ContactDetail(
            id=contact.id, email=contact.email, first_name=contact.first_name, last_name=contact.last_name,
            language=contact.language, time_zone=contact.time_zone, fields=tuple(fields),
            created_at=contact.created_at, updated_at=contact.updated_at, last_sent_at=contact.last_sent_at,
            last_open_at=contact.last_open_at, last_click_at=contact.last_click_at, memberships=memberships,
            tags=tags, consents=consents, suppression=suppression, activities=activities)
