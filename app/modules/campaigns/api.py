"""Public read API of the campaigns module: campaigns, their sends and schedules, as plain dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.kernel.database import Database
from app.modules.campaigns import scheduling
from app.modules.campaigns.automation_reads import (
    AutomationInfo,
    AutomationStats,
    StepCount,
    automation_stats,
    find_automation,
    get_automation,
    list_automations,
)
from app.modules.campaigns.models import Campaign, CampaignSend

__all__ = [
    "AutomationInfo", "AutomationStats", "CampaignInfo", "Results", "SendInfo", "StepCount", "automation_stats",
    "campaign_of_run", "find_automation", "find_campaign", "get_automation", "get_campaign", "list_automations",
    "list_campaigns", "preflight_command", "results", "upcoming",
]


@dataclass(frozen=True)
class SendInfo:
    run_id: int | None
    variant: str
    slot: str
    due_at: dt.datetime | None
    started_at: dt.datetime
    error: str


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    state: str
    state_reason: str
    lists: tuple[int, ...]
    segments: tuple[int, ...]
    exclude_lists: tuple[int, ...]
    exclude_segments: tuple[int, ...]
    template_id: int | None
    subject: str
    preheader: str
    identity_id: int | None
    account_ids: tuple[int, ...]
    track_opens: bool
    track_clicks: bool
    utm: dict[str, str]
    schedule_kind: str
    send_at: dt.datetime | None
    time_zone: str
    rrule: str
    dtstart: dt.datetime | None
    local_time: str
    local_date: dt.date | None
    default_time_zone: str
    next_run_at: dt.datetime | None
    missed_at: dt.datetime | None
    ab: dict[str, Any]
    resend: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    sends: tuple[SendInfo, ...] = field(default=())

    @property
    def run_ids(self) -> tuple[int, ...]:
        return tuple(s.run_id for s in self.sends if s.run_id is not None)

    @property
    def editable(self) -> bool:
        """Content and audience can change until the first message goes."""
        return self.state in ("draft", "scheduled") and not self.run_ids

    def schedule_text(self) -> str:
        """The schedule in a sentence, with times in the zone they were set in."""
        if self.schedule_kind == "at" and self.send_at:
            local = scheduling.to_local(self.send_at, self.time_zone)
            return f"{local:%a %d %b %Y %H:%M} ({self.time_zone})"
        if self.schedule_kind == "recurring":
            return f"{scheduling.describe_rule(self.rrule)} ({self.time_zone})"
        if self.schedule_kind == "local" and self.local_date:
            return (f"{self.local_date:%a %d %b %Y} {self.local_time} in each recipient's time zone "
                    f"(default {self.default_time_zone})")
        if self.schedule_kind == "now":
            return "now"
        return "not scheduled"


def _info(row: Campaign, sends: list[CampaignSend]) -> CampaignInfo:
    audience = row.audience or {}
    return CampaignInfo(
        id=row.id, name=row.name, state=row.state, state_reason=row.state_reason,
        lists=tuple(audience.get("lists", ())), segments=tuple(audience.get("segments", ())),
        exclude_lists=tuple(audience.get("exclude_lists", ())),
        exclude_segments=tuple(audience.get("exclude_segments", ())),
        template_id=row.template_id, subject=row.subject, preheader=row.preheader, identity_id=row.identity_id,
        account_ids=tuple(row.account_ids or ()), track_opens=row.track_opens, track_clicks=row.track_clicks,
        utm=dict(row.utm or {}), schedule_kind=row.schedule_kind, send_at=row.send_at, time_zone=row.time_zone,
        rrule=row.rrule, dtstart=row.dtstart, local_time=row.local_time, local_date=row.local_date,
        default_time_zone=row.default_time_zone, next_run_at=row.next_run_at, missed_at=row.missed_at,
        ab=dict(row.ab or {}), resend=dict(row.resend or {}), created_at=row.created_at, updated_at=row.updated_at,
        sends=tuple(SendInfo(s.run_id, s.variant, s.slot, s.due_at, s.started_at, s.error) for s in sends),
    )


def list_campaigns(db: Database, search: str = "") -> list[CampaignInfo]:
    """Every campaign, newest first, with its sends."""
    with db.read() as session:
        query = select(Campaign).order_by(Campaign.id.desc())
        if search:
            query = query.where(Campaign.name_key.contains(search.casefold()))
        rows = list(session.scalars(query))
        sends: dict[int, list[CampaignSend]] = {}
        if rows:
            for send in session.scalars(select(CampaignSend).where(
                    CampaignSend.campaign_id.in_([r.id for r in rows])).order_by(CampaignSend.id)):
                sends.setdefault(send.campaign_id, []).append(send)
        return [_info(r, sends.get(r.id, [])) for r in rows]


def get_campaign(db: Database, campaign_id: int) -> CampaignInfo | None:
    with db.read() as session:
        row = session.get(Campaign, campaign_id)
        if row is None:
            return None
        sends = list(session.scalars(select(CampaignSend).where(CampaignSend.campaign_id == campaign_id)
                                     .order_by(CampaignSend.id)))
        return _info(row, sends)


def find_campaign(db: Database, name_or_id: str) -> CampaignInfo | None:
    """A campaign by its name (any case) or its id."""
    with db.read() as session:
        found = session.scalar(select(Campaign.id).where(Campaign.name_key == name_or_id.strip().casefold()))
    if found is None and name_or_id.strip().isdigit():
        found = int(name_or_id.strip())
    return get_campaign(db, found) if found is not None else None


def campaign_of_run(db: Database, run_id: int) -> tuple[int, str] | None:
    """The campaign (id, variant) that started a delivery run, if any."""
    with db.read() as session:
        row = session.execute(select(CampaignSend.campaign_id, CampaignSend.variant)
                              .where(CampaignSend.run_id == run_id)).first()
    return (int(row[0]), str(row[1])) if row else None


def upcoming(info: CampaignInfo, now: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """The next times (UTC) the campaign will send, as the user should see them before confirming."""
    if info.schedule_kind == "at" and info.send_at:
        return [info.send_at] if info.next_run_at else []
    if info.schedule_kind == "recurring" and info.dtstart:
        start = max(now, info.next_run_at - dt.timedelta(seconds=1)) if info.next_run_at else now
        return scheduling.recurrences(info.rrule, info.dtstart, info.time_zone, start, count)
    if info.schedule_kind == "local" and info.next_run_at:
        return [info.next_run_at]
    return []


@dataclass(frozen=True)
class Results:
    """Key results across a campaign's runs for its list: rates are on messages sent, machine traffic left out (the
    stats module's report, which hears of bounces, has rates on delivered messages)."""

    sent: int = 0
    failed: int = 0
    open: int = 0  # recipients not settled yet
    unique_opens: int = 0
    unique_clicks: int = 0

    @property
    def open_rate(self) -> float:
        return self.unique_opens / self.sent if self.sent else 0.0

    @property
    def click_rate(self) -> float:
        return self.unique_clicks / self.sent if self.sent else 0.0


def results(db: Database, info: CampaignInfo) -> Results:
    from app.modules.delivery import api as delivery_api
    from app.modules.stats import api as stats_api

    run_ids = list(info.run_ids)
    if not run_ids:
        return Results()
    # One read for every run of the campaign (not one per run).
    statuses = [r for r in delivery_api.list_runs(db, campaign_id=info.id, limit=10_000) if r.id in set(run_ids)]
    sent = sum(r.counts.get("sent", 0) for r in statuses)
    failed = sum(r.counts.get("failed", 0) for r in statuses)
    pending = sum(r.open for r in statuses)
    engagement = stats_api.run_engagement(db, run_ids)
    return Results(sent=sent, failed=failed, open=pending,
                   unique_opens=sum(e.unique_opens for e in engagement.values()),
                   unique_clicks=sum(e.unique_clicks for e in engagement.values()))


def preflight_command(info: CampaignInfo) -> Any:
    """Delivery's ``RunPreflight`` for this campaign: every A/B variant, its audience, sender and account."""
    from app.modules.delivery.messages import AudienceSpec, MessageContent, RunPreflight

    def content(subject: str = "", from_name: str = "", template_id: int | None = None) -> MessageContent:
        return MessageContent(subject=subject or info.subject, campaign_name=info.name, preheader=info.preheader,
                              template_id=template_id or info.template_id, from_name=from_name,
                              track_opens=info.track_opens, track_clicks=info.track_clicks, utm=dict(info.utm))

    variants = tuple(content(v.get("subject", ""), v.get("from_name", ""), v.get("template_id"))
                     for v in info.ab.get("variants", []))
    return RunPreflight(content=content(), variants=variants,
                        audience=AudienceSpec(lists=info.lists, segments=info.segments,
                                              exclude_lists=info.exclude_lists, exclude_segments=info.exclude_segments),
                        identity_id=info.identity_id, account_id=info.account_ids[0] if info.account_ids else None)
