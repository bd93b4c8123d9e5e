"""Tables of the campaigns module (internal: other modules use messages.py and api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.kernel.database import Base, utcnow

CAMPAIGN_STATES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")
SCHEDULE_KINDS = ("none", "now", "at", "recurring", "local")


class Campaign(Base):
    """A campaign: who, from whom, what, when. Sends become delivery runs (``campaigns_send``)."""

    __tablename__ = "campaigns_campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)  # case-folded, for unique names
    state: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    state_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Lists and segments to include and to exclude, as ids under those four keys.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    identity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    template_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="", server_default="")
    preheader: Mapped[str] = mapped_column(Text, default="", server_default="")
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"source":..., "medium":..., "campaign":...}
    # Schedule: kind none|now|at|recurring|local; times are stored as UTC (naive) plus the zone they were set in.
    schedule_kind: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    send_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # "at": the UTC instant
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    rrule: Mapped[str] = mapped_column(Text, default="", server_default="")  # "recurring": RFC 5545 rule
    dtstart: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # recurring: local wall time
    local_time: Mapped[str] = mapped_column(String(5), default="", server_default="")  # "local": "09:00"
    local_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # "local": the day
    default_time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The next due instant (UTC), maintained by the scheduler; None when nothing is scheduled.
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    # A due time passed while the app was closed: waits for the user's yes before it is sent.
    missed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # A/B/n test: {"variants": [{"key": "A", "subject":..., "from_name":..., "template_id":..., "send_at":...}],
    # "test_share": 20, "metric": "opens|clicks|manual", "wait_hours": 4, "winner": "A"|None, "decided_at":...}
    ab: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Resend to non-openers: {"after_hours": 48, "subject": "...", "done": false}
    resend: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CampaignSend(Base):
    """One delivery run started for a campaign: the send, an A/B variant, the winner, a resend, a recurrence."""

    __tablename__ = "campaigns_send"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns_campaign.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    variant: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # What this send is for, unique per campaign so a due time is never started twice (even after a crash
    # between the insert and StartRun: the row exists with run_id NULL and is completed on the next pass).
    slot: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("campaign_id", "slot"),)


class Automation(Base):
    """An automation: a trigger and a graph of steps (nodes with positions, edges between them)."""

    __tablename__ = "campaigns_automation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="draft", server_default="draft")  # draft|active|paused
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    graph: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"nodes": [...], "edges": [...]}
    reentry: Mapped[str] = mapped_column(String(10), default="once", server_default="once")  # once|again
    reentry_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Enrollment(Base):
    """One contact's way through one automation: where it is and when it wakes. Durable, so a restart resumes."""

    __tablename__ = "campaigns_enrollment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("campaigns_automation.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="active", server_default="active")  # active|done|exited
    step_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    step_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # steps completed so far
    wake_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # epoch seconds (UTC)
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    trigger_key: Mapped[str] = mapped_column(String(200), default="", server_default="")

    __table_args__ = (
        Index("ix_campaigns_enrollment_due", "state", "wake_at"),
        Index("ix_campaigns_enrollment_contact", "automation_id", "contact_id"),
        UniqueConstraint("automation_id", "trigger_key"),
    )


class EnrollmentStep(Base):
    """A step an enrollment carried out (unique per enrollment and sequence number: never done twice)."""

    __tablename__ = "campaigns_enrollment_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("campaigns_enrollment.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    result: Mapped[str] = mapped_column(Text, default="", server_default="")
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    done_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    # run_id: an open or click of an automation email finds its step (engagement conditions and counts).
    __table_args__ = (UniqueConstraint("enrollment_id", "seq"), Index("ix_campaigns_enrollment_step_run", "run_id"))
