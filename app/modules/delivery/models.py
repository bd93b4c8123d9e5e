"""Tables of the delivery module (internal: other modules use messages.py and api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kernel.database import Base, utcnow

RUN_STATES = ("queued", "sending", "paused", "cancelled", "finished")
RECIPIENT_STATES = ("queued", "sending", "sent", "deferred", "failed", "unknown")
TLS_MODES = ("ssl", "starttls", "none")



class Identity(Base):
    """Who a message is from: the From name and address, the reply-to, and the postal address of the footer."""

    __tablename__ = "delivery_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    from_email: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str] = mapped_column(String(320), default="", server_default="")
    postal_address: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Envelope sender base ("bounces@example.com"); each message gets bounces+<run>-<recipient>-<check>@...
    bounce_address: Mapped[str] = mapped_column(String(320), default="", server_default="")
    dkim_selector: Mapped[str] = mapped_column(String(63), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DkimKey(Base):
    """A DKIM key per domain and selector; the private key lives in the keyring (``dkim:<domain>:<selector>``)."""

    __tablename__ = "delivery_dkim_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    selector: Mapped[str] = mapped_column(String(63))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("domain", "selector"),)


class Account(Base):
    """An SMTP account. The password is in the keyring under ``smtp:<id>``, never in this table."""

    __tablename__ = "delivery_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    tls: Mapped[str] = mapped_column(String(8))  # ssl | starttls | none (127.0.0.1 only)
    username: Mapped[str] = mapped_column(String(320), default="", server_default="")
    per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    connections: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    warmup_started_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # A new account's daily cap grows day by day from warmup_started_on (see throttle.WarmupRamp) when on.
    warmup: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Share of a run's messages when a run uses several accounts (smooth weighted round-robin).
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # When this account may send: {"days": [0..6 (Monday 0)], "start": "09:00", "end": "17:00", "time_zone": "..."}
    send_window: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # The built-in outbox: its port is chosen when the app starts, so the row keeps none.
    is_local_outbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Run(Base):
    """One send of one campaign (or of one variant): what is sent, to whom, and how far it got."""

    __tablename__ = "delivery_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("delivery_identity.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("delivery_account.id"))
    # Every account the run may use (weights and failover); None: only account_id.
    account_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    version_key: Mapped[str] = mapped_column(String(128), default="", server_default="")
    state: Mapped[str] = mapped_column(String(12), default="queued", server_default="queued")
    pause_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Last contact id copied into delivery_recipient, moved in the same transaction as the copy.
    audience_checkpoint: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    audience_done: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    audience_total: Mapped[int | None] = mapped_column(Integer, nullable=True)  # counted when the run starts
    nonce: Mapped[str] = mapped_column(String(16), default="", server_default="")

    __table_args__ = (Index("ix_delivery_run_state", "state", "id"),)


class Recipient(Base):
    """One person of one run. ``sending`` is committed before the SMTP transaction starts."""

    __tablename__ = "delivery_recipient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("delivery_run.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    # Merge data as it was when the run reached this contact; cleared once the recipient is sent or failed.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Seconds since the epoch (UTC): compared on every claim, so kept as plain numbers.
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    first_attempt_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reply_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")  # hard, soft, policy, ...
    message_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # An outcome other modules must hear about, not yet told: 2 a failure (a hard bounce must be suppressed
    # soon), 1 a sent message (timeline), 0 nothing. The order is the order they are told in.
    report_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("run_id", "contact_id"),
        Index("ix_delivery_recipient_run_state", "run_id", "state", "next_attempt_at", "id"),
        Index("ix_delivery_recipient_account_time", "account_id", "finished_at"),
        Index("ix_delivery_recipient_report", "report_pending", "id",
              # Partial on both databases (the migration says so for PostgreSQL too); the model names only SQLite's
              # condition, because naming PostgreSQL's loads that dialect, about 55 ms, at every start on SQLite.
              sqlite_where=text("report_pending > 0")),
    )


class OutboxMessage(Base):
    """A message the built-in outbox received (the raw bytes, zlib-compressed)."""

    __tablename__ = "delivery_outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    mail_from: Mapped[str] = mapped_column(String(512), default="", server_default="")
    rcpt_to: Mapped[str] = mapped_column(Text, default="", server_default="")
    subject: Mapped[str] = mapped_column(Text, default="", server_default="")
    size: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class Bounce(Base):
    """A bounce or complaint read from the bounce mailbox, once per report and recipient (``report_key`` is a
    hash of the report's Message-ID, or of its bytes): reading the same report again counts nothing twice."""

    __tablename__ = "delivery_bounce"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_key: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))  # lower case: soft bounces are counted per address
    kind: Mapped[str] = mapped_column(String(12))  # hard, soft, sender, complaint, unsubscribe (mailto)
    status: Mapped[str] = mapped_column(String(32), default="", server_default="")  # 5.1.1, or the feedback type
    action: Mapped[str] = mapped_column(String(16), default="", server_default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="", server_default="")
    matched_by: Mapped[str] = mapped_column(String(12), default="", server_default="")  # verp, message-id, address
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # it put it on the list
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)  # the report's date (UTC)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("report_key", "email"),
        Index("ix_delivery_bounce_email_kind", "email", "kind"),
    )
