"""Public messages of the stats module: engagement events other modules consume, and commands they may execute."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.kernel.messages import Command, Event

if TYPE_CHECKING:
    from app.modules.stats.api import TrackingLinks  # noqa: F401 - named in a string below

# -- commands --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GetTrackingLinks(Command["TrackingLinks"]):
    """The link builder for messages being sent: the public base URL and the signing keys (picklable, so a
    sender process can take it along)."""


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    pulled: int = 0  # events new to the app
    pushed: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class SyncTracker(Command[SyncReport]):
    """Pull new events from the remote endpoint and push links, web views and list names to it, now."""


@dataclass(frozen=True, kw_only=True)
class IngestTracking(Command[int]):
    """Turn stored tracking events into bus events and contact changes now; returns how many were handled."""


@dataclass(frozen=True, kw_only=True)
class IncomingEvent:
    """Something a contact did, from a shop, a CRM or a file; ``uid`` is stable, so recording it twice is harmless."""

    uid: str  # 8 to 64 characters
    email: str
    name: str  # order_completed, cart_abandoned, ...
    at: dt.datetime  # UTC, naive
    properties: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    currency: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordEvents(Command[int]):
    """Store events as the endpoint's ``POST /events`` does and ingest them now (timelines, ``EventReceived``,
    revenue attribution); returns how many were new."""

    events: tuple[IncomingEvent, ...]


@dataclass(frozen=True, kw_only=True)
class RotateTrackingKey(Command[str]):
    """Sign new links with a new key (old links keep working for at least 400 days); returns the new key id."""


# -- events ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MessageOpened(Event):
    """A recipient's mail client loaded the open pixel. ``machine`` says it was likely not a person."""

    run_id: int
    contact_id: int
    at: dt.datetime  # UTC, naive
    machine: bool = False
    machine_reason: str = ""
    event_uid: str = ""


@dataclass(frozen=True, kw_only=True)
class LinkClicked(Event):
    run_id: int
    contact_id: int
    link_id: int
    url: str
    at: dt.datetime
    machine: bool = False
    machine_reason: str = ""
    event_uid: str = ""


@dataclass(frozen=True, kw_only=True)
class EventReceived(Event):
    """A shop or CRM reported something a contact did (``order_completed``...)."""

    email: str
    name: str
    at: dt.datetime
    properties: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    currency: str | None = None
    event_uid: str = ""


@dataclass(frozen=True, kw_only=True)
class TrackingIngested(Event):
    """A batch of tracking events was handled; views re-query. ``kinds`` counts them by kind."""

    count: int
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TrackerStateChanged(Event):
    running: bool
    url: str
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class TrackerSynced(Event):
    pulled: int
    pushed: dict[str, int] = field(default_factory=dict)
    error: str = ""
