"""Tables of the stats module (internal: other modules use messages.py and api.py).

The tracking endpoint writes only these tables, so the same schema serves the endpoint inside the app and a
standalone endpoint on a server with its own database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kernel.database import Base, utcnow

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid; PostgreSQL wants room for billions of events.
BigId = BigInteger().with_variant(Integer(), "sqlite")



class TrackingEvent(Base):
    """One open, click, unsubscribe, preference change, confirmation, web view or incoming shop event.

    ``id`` orders events for the ingest and sync cursors; ``uid`` is the event's identity everywhere (the
    endpoint makes it once), so an event pulled twice is stored once.
    """

    __tablename__ = "stats_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # open, click, unsubscribe, preferences, confirm, view, event
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contact_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    link_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user_agent: Mapped[str] = mapped_column(String(400), default="", server_default="")
    ip_class: Mapped[str] = mapped_column(String(64), default="", server_default="")  # a /24 or /48, never the IP
    machine: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    machine_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)  # incoming events only
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")  # incoming event's name
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_stats_event_kind_time", "kind", "occurred_at"),
        Index("ix_stats_event_run_kind", "run_id", "kind"),
    )


class TrackedLink(Base):
    """A link registered for one delivery run: the only places a click may redirect to."""

    __tablename__ = "stats_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    url_hash: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "url_hash", name="uq_stats_link_run_url"),)


class WebViewBase(Base):
    """A run's compression dictionary: the first recipient's HTML, so the others compress to their differences."""

    __tablename__ = "stats_webview_base"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dictionary: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebView(Base):
    """The HTML one recipient received, deflated against its run's dictionary."""

    __tablename__ = "stats_webview"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "contact_id", name="uq_stats_webview_run_contact"),)


class ListName(Base):
    """A list's name as the preference page shows it (names only: the endpoint never gets the contacts)."""

    __tablename__ = "stats_list_name"

    list_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AccessToken(Base):
    """A bearer token for event intake (a shop, a CRM) or for sync; only its SHA-256 is kept."""

    __tablename__ = "stats_access_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # events, sync
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Cursor(Base):
    """How far a reader got: the ingest, each remote pull and push. Moved in the same unit of work as its effect."""

    __tablename__ = "stats_cursor"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")


class RemoteKey(Base):
    """On a standalone endpoint only: the signing keys the app pushed, so it can check the app's links."""

    __tablename__ = "stats_remote_key"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds, as in the key ring
    retired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    current: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


# -- report aggregates (issue 7): kept by aggregate.py from ingest batches and bus events ----------------------


class ReportCampaign(Base):
    """A campaign's name as reports show it (from campaigns' ``CampaignSaved``)."""

    __tablename__ = "stats_campaign"

    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300), default="", server_default="")
    state: Mapped[str] = mapped_column(String(20), default="", server_default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReportAutomation(Base):
    """An automation's name (from campaigns' ``AutomationSaved``), for revenue per automation."""

    __tablename__ = "stats_automation"

    automation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300), default="", server_default="")


class ReportRun(Base):
    """One delivery run as reports see it: its campaign (or automation), A/B variant and send counts."""

    __tablename__ = "stats_run"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    automation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    variant: Mapped[str] = mapped_column(String(20), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(500), default="", server_default="")
    state: Mapped[str] = mapped_column(String(20), default="", server_default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # accepted by the receiving server
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)  # audience size once delivery counted it
    recipients_synced: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReportRecipient(Base):
    """One recipient of one run: engagement counts and firsts (unique counts, curves, attribution), domain.

    ``*_h`` columns count people only; ``*_any`` include machine traffic (scanners, prefetch, Apple MPP).
    """

    __tablename__ = "stats_recipient"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    domain: Mapped[str] = mapped_column(String(255), default="", server_default="")
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")  # delivery's, once synced
    opens_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opens_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_open_h: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    first_open_any: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    first_click_h: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    first_click_any: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_click_h: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_stats_recipient_contact_click", "contact_id", "last_click_h"),
                      {"sqlite_with_rowid": False})


class ReportHour(Base):
    """Opens and clicks of a run per hour (UTC), people and machines apart."""

    __tablename__ = "stats_hour"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hour: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)
    opens_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opens_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = ({"sqlite_with_rowid": False},)  # upserted by key only: one B-tree, not two



class ReportLink(Base):
    """Clicks per registered link of a run."""

    __tablename__ = "stats_link_clicks"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    link_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(Text, default="", server_default="")
    clicks_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = ({"sqlite_with_rowid": False},)  # upserted by key only: one B-tree, not two



class ReportLinkPerson(Base):
    """Who clicked a link (for unique clicks per link); ``human`` is 1 once a person (not a machine) clicked."""

    __tablename__ = "stats_link_person"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    link_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    human: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = ({"sqlite_with_rowid": False},)  # upserted by key only: one B-tree, not two



class ReportClient(Base):
    """Opens of a run by mail client and device (from the user agent, parsed with ua-parser)."""

    __tablename__ = "stats_client"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    client: Mapped[str] = mapped_column(String(60), primary_key=True)
    device: Mapped[str] = mapped_column(String(20), primary_key=True)
    opens_h: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opens_m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = ({"sqlite_with_rowid": False},)  # upserted by key only: one B-tree, not two



class ReportBounce(Base):
    """A bounce or complaint about one recipient of a run; one per (run, kind, who), whatever reported it."""

    __tablename__ = "stats_bounce"

    uid: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # hard, soft, complaint
    who: Mapped[str] = mapped_column(String(330))  # r<recipient id>, c<contact id> or the address
    domain: Mapped[str] = mapped_column(String(255), default="", server_default="")
    synchronous: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # refused while sending
    at: Mapped[dt.datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("run_id", "kind", "who", name="uq_stats_bounce_run_kind_who"),)


class ReportConversion(Base):
    """An ``order_completed`` (or other conversion event), attributed to the last campaign clicked in the window."""

    __tablename__ = "stats_conversion"

    uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    contact_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    automation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    value: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    currency: Mapped[str] = mapped_column(String(8), default="", server_default="")


class ReportListDay(Base):
    """List growth per day (UTC) from contacts' events: subscriptions and unsubscribes."""

    __tablename__ = "stats_list_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    subscribed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unsubscribed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
