"""Public messages of the contacts module: what other modules may execute, and the events it publishes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from app.kernel.messages import Command, Event

# -- commands other modules execute ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnsubscribeContact(Command[bool]):
    """Unsubscribe ``email`` from ``list_id`` (or from every list when None) and add it to the suppression
    list when ``everywhere``. Returns False when no such contact exists (the address is still suppressed
    when ``everywhere``)."""

    email: str
    list_id: int | None = None
    everywhere: bool = True
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class SuppressAddress(Command[bool]):
    """Never mail this address again (hard bounce, complaint, manual). Returns False if it already was."""

    email: str
    reason: str  # "unsubscribed", "hard_bounce", "complaint", "manual"
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ConfirmSubscription(Command[bool]):
    """Double opt-in: turn an unconfirmed subscription into a subscribed one, with a consent record."""

    contact_id: int
    list_id: int
    evidence: str = ""


@dataclass(frozen=True, kw_only=True)
class ActivityItem:
    """One entry for a contact's timeline. ``dedupe_key`` makes recording it twice a no-op."""

    kind: str  # sent, opened, clicked, bounced, unsubscribed, complained, event
    contact_id: int | None = None
    email: str | None = None
    name: str = ""
    occurred_at: dt.datetime | None = None
    campaign_id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordActivity(Command[int]):
    """Record engagement and incoming events in contacts' timelines; returns how many were new."""

    items: tuple[ActivityItem, ...]


@dataclass(frozen=True, kw_only=True)
class ChangeContact(Command[bool]):
    """One contact's tags, custom fields and lists, changed in one unit of work (an automation step).

    Tags are named (created when new); ``fields`` are custom values by key (None clears one); a list joined is
    subscribed (a suppressed contact is refused with ``ContactsError``), a list left is unsubscribed. Every part
    is idempotent, so repeating the command changes nothing. Returns True when anything changed.
    """

    contact_id: int
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    join_lists: tuple[int, ...] = ()
    leave_lists: tuple[int, ...] = ()
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeContacts(Command[tuple[int, ...]]):
    """``ChangeContact`` for many contacts in one unit of work (an automation step that many reach at once).

    Contacts that no longer exist, or that are suppressed when a list is to be joined, are skipped for that part
    instead of failing the rest. Returns the ids of the contacts that changed.
    """

    contact_ids: tuple[int, ...]
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    join_lists: tuple[int, ...] = ()
    leave_lists: tuple[int, ...] = ()
    source: str = ""


# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContactsChanged(Event):
    """Contacts were created, changed or deleted; views re-query. ``contact_ids`` empty means "many"."""

    contact_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ContactsImported(Event):
    import_id: int
    file_name: str
    created: int
    updated: int
    list_id: int | None


@dataclass(frozen=True, kw_only=True)
class SubscriptionChanged(Event):
    contact_id: int
    list_id: int
    status: str  # subscribed, unconfirmed, unsubscribed


@dataclass(frozen=True, kw_only=True)
class ContactUnsubscribed(Event):
    contact_id: int | None
    email: str
    list_id: int | None  # None: from everything


@dataclass(frozen=True, kw_only=True)
class ContactSuppressed(Event):
    email: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ContactErased(Event):
    contact_id: int


@dataclass(frozen=True, kw_only=True)
class ListsChanged(Event):
    """Lists, tags, fields or segments were added, renamed or removed."""


@dataclass(frozen=True, kw_only=True)
class ContactsJoinedList(Event):
    """Many contacts were subscribed to a list at once (a bulk action past the per-contact events' limit):
    automations that start on joining that list enter them all."""

    list_id: int
    contact_ids: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ContactTagged(Event):
    """A tag was put on contacts that did not have it (a bulk action or ``ChangeContact``): automations start."""

    tag: str
    contact_ids: tuple[int, ...]
