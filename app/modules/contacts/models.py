"""Tables of the contacts module (internal: other modules use messages.py and api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kernel.database import Base, utcnow


class Contact(Base):
    """A person. ``email_key`` (lower-cased normalised address) is what makes two rows the same person."""

    __tablename__ = "contacts_contact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    # SHA-256 of email_key: how an audience query leaves out suppressed addresses (suppressions keep only hashes).
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    first_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    language: Mapped[str] = mapped_column(String(35), default="", server_default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Maintained from the activity timeline so engagement segments need no scan of millions of events.
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_open_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_click_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        Index("ix_contacts_contact_last_open_at", "last_open_at"),
        Index("ix_contacts_contact_last_click_at", "last_click_at"),
        Index("ix_contacts_contact_created_at", "created_at"),
    )


FIELD_TYPES = ("text", "number", "date", "boolean", "choice")


class CustomField(Base):
    """A user-defined, typed field; values live in ``Contact.fields[key]``."""

    __tablename__ = "contacts_field"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MailingList(Base):
    __tablename__ = "contacts_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


SUBSCRIPTION_STATES = ("subscribed", "unconfirmed", "unsubscribed")


class Subscription(Base):
    __tablename__ = "contacts_subscription"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contact.id", ondelete="CASCADE"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contacts_list.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_contacts_subscription_list_status", "list_id", "status", "contact_id"),)


class Tag(Base):
    __tablename__ = "contacts_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class ContactTag(Base):
    __tablename__ = "contacts_contact_tag"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contact.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("contacts_tag.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_contacts_contact_tag_tag", "tag_id", "contact_id"),)


class Consent(Base):
    """Evidence that a person agreed to receive mail: who, when, how, what they were told, and withdrawal."""

    __tablename__ = "contacts_consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contact.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_list.id", ondelete="SET NULL"), nullable=True)
    purpose: Mapped[str] = mapped_column(String(200), default="", server_default="")
    given_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(200), default="", server_default="")  # e.g. "import: leads.csv"
    method: Mapped[str] = mapped_column(String(64), default="", server_default="")  # import, form, double-opt-in
    text_version: Mapped[str] = mapped_column(String(200), default="", server_default="")
    evidence: Mapped[str] = mapped_column(Text, default="", server_default="")
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


SUPPRESSION_REASONS = ("unsubscribed", "hard_bounce", "complaint", "manual")


class Suppression(Base):
    """An address that must never be mailed again. After erasure only the hash remains."""

    __tablename__ = "contacts_suppression"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


ACTIVITY_KINDS = ("sent", "opened", "clicked", "bounced", "unsubscribed", "complained", "event")


class Activity(Base):
    """The timeline of one contact, fed by other modules through RecordActivity."""

    __tablename__ = "contacts_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contact.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")  # event name, e.g. order_completed
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)

    __table_args__ = (
        Index("ix_contacts_activity_contact_time", "contact_id", "occurred_at"),
        Index("ix_contacts_activity_kind_name", "kind", "name", "contact_id", "occurred_at"),
    )


class Segment(Base):
    """Saved, dynamic segment: ``rules`` is JSON data compiled to one SQL query when used."""

    __tablename__ = "contacts_segment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImportRun(Base):
    """One import: what it was asked, how far it got, and its counts (so a killed import can say what it kept)."""

    __tablename__ = "contacts_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # running, done, cancelled, failed, interrupted (the process died while it ran)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_committed: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")

