"""Public messages of the campaigns module: commands the UI and other modules execute, and the events it publishes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.kernel.messages import Event

# -- events ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CampaignSaved(Event):
    """A campaign was created, renamed or changed (stats keeps the names for its reports)."""

    campaign_id: int
    name: str
    state: str  # draft, scheduled, sending, paused, sent, cancelled


@dataclass(frozen=True, kw_only=True)
class CampaignDeleted(Event):
    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class CampaignRunStarted(Event):
    """A delivery run was started for a campaign: the whole send, an A/B variant's test share, the winner for the
    rest, or a resend to non-openers (``variant`` names which: "", "A", "B", "winner", "resend")."""

    campaign_id: int
    run_id: int
    variant: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AutomationSaved(Event):
    automation_id: int
    name: str
    state: str  # draft, active, paused


@dataclass(frozen=True, kw_only=True)
class AutomationEmailStarted(Event):
    """An automation's "send email" step started a delivery run for one or a few contacts (revenue attribution
    counts it for the automation)."""

    automation_id: int
    run_id: int
    step_id: str
    contact_ids: tuple[int, ...] = ()
