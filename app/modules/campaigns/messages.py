"""Public messages of the campaigns module: commands the UI and other modules execute, and the events it publishes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.kernel.messages import Command, Event


class CampaignError(Exception):
    """A campaign action the user asked for cannot be done; the text says why, in the user's words."""


# -- commands --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CampaignAudience:
    lists: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    exclude_lists: tuple[int, ...] = ()
    exclude_segments: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SaveCampaign(Command[int]):
    """Create (``campaign_id`` None) or change a campaign that is not sending; returns its id."""

    name: str
    audience: CampaignAudience = CampaignAudience()
    template_id: int | None = None
    subject: str = ""
    preheader: str = ""
    identity_id: int | None = None
    account_ids: tuple[int, ...] = ()
    track_opens: bool = True
    track_clicks: bool = True
    utm: tuple[tuple[str, str], ...] = ()  # (("utm_source", "postroom"), ...); empty: no UTM parameters
    campaign_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DuplicateCampaign(Command[int]):
    """A draft copy ("<name> (copy)") with the same audience, content, test and resend settings."""

    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class DeleteCampaign(Command[bool]):
    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class ScheduleCampaign(Command["dt.datetime | None"]):
    """Set when the campaign goes; returns the next due instant (UTC) or None.

    ``kind``: "none" (back to draft), "now", "at" (``at`` is wall time in ``time_zone``), "recurring" (``rrule``
    from ``at`` in ``time_zone``), "local" (``at``'s date and time of day in each recipient's own zone;
    contacts without one use ``default_time_zone``).
    """

    campaign_id: int
    kind: str
    at: dt.datetime | None = None
    time_zone: str = "UTC"
    rrule: str = ""
    default_time_zone: str = "UTC"


@dataclass(frozen=True, kw_only=True)
class SendCampaign(Command[tuple[int, ...]]):
    """Send now (the test groups first when the campaign has an A/B test); returns the delivery run ids."""

    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class PauseCampaign(Command[bool]):
    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class ResumeCampaign(Command[bool]):
    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class CancelCampaign(Command[bool]):
    """Stop for good: the runs are cancelled, schedules cleared; nobody else is mailed."""

    campaign_id: int


@dataclass(frozen=True, kw_only=True)
class ConfirmMissedSend(Command[bool]):
    """A send fell due while the app was closed: ``send`` it now, or skip it (the next recurrence stays)."""

    campaign_id: int
    send: bool


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One arm of an A/B/n test: what differs from the campaign (empty fields keep the campaign's)."""

    key: str  # "A", "B", ...
    subject: str = ""
    from_name: str = ""
    template_id: int | None = None
    delay_hours: float = 0.0  # a send-time test: this group goes that long after the first


@dataclass(frozen=True, kw_only=True)
class SetAbTest(Command[bool]):
    """Give the campaign an A/B/n test (``variants`` empty removes it)."""

    campaign_id: int
    variants: tuple[Variant, ...] = ()
    test_share: float = 20.0  # percent of the audience, split evenly between the variants
    metric: str = "opens"  # opens | clicks | manual
    wait_hours: float = 4.0


@dataclass(frozen=True, kw_only=True)
class PickWinner(Command[str]):
    """Choose the winner now (``variant`` for a manual choice, else by the metric) and send it to the rest."""

    campaign_id: int
    variant: str = ""


@dataclass(frozen=True, kw_only=True)
class SetResend(Command[bool]):
    """Resend to those who did not open, ``after_hours`` after the send, with a new subject (enabled False: off)."""

    campaign_id: int
    enabled: bool = True
    after_hours: float = 48.0
    subject: str = ""


@dataclass(frozen=True, kw_only=True)
class RunSchedules(Command[int]):
    """Start whatever is due (the scheduler does this on its timer); returns how many sends started.

    ``now`` (UTC, naive) stands in for the clock: tests and a catch-up use it; None is the real time.
    """

    now: dt.datetime | None = None

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


# -- automations (commands; AutomationSaved and AutomationEmailStarted above) -------------------------------


@dataclass(frozen=True, kw_only=True)
class SaveAutomation(Command[int]):
    """Create (``automation_id`` None) or change an automation; returns its id. ``graph`` is
    ``{"nodes": [{"id", "kind", "props", "x", "y"}], "edges": [{"from", "to", "branch"}]}``. A draft may be
    incomplete; an active automation must pass validation (``CampaignError`` lists the problems)."""

    name: str
    graph: dict[str, Any]
    automation_id: int | None = None
    reentry: str = "once"  # once | again
    reentry_days: int = 0


@dataclass(frozen=True, kw_only=True)
class SetAutomationState(Command[bool]):
    """Activate (after validation) or pause an automation; contacts inside a paused one wait where they are."""

    automation_id: int
    state: str  # active | paused


@dataclass(frozen=True, kw_only=True)
class DuplicateAutomation(Command[int]):
    automation_id: int
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class DeleteAutomation(Command[bool]):
    automation_id: int


@dataclass(frozen=True, kw_only=True)
class TestedStep:
    step_id: str
    kind: str
    result: str
    run_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TestAutomation(Command[tuple[TestedStep, ...]]):
    """Run the automation now for one contact in test mode: waits are skipped, every step is carried out for
    real for that contact (emails go through the normal send path with "[Test] " before the subject); returns
    the path taken. Works on drafts and paused automations too."""

    __test__ = False  # not a pytest class
    automation_id: int
    contact_id: int


@dataclass(frozen=True, kw_only=True)
class RunAutomations(Command[int]):
    """Carry out every step that is due now (the app's loop does this by itself); returns how many."""


@dataclass(frozen=True, kw_only=True)
class AutomationDeleted(Event):
    automation_id: int


@dataclass(frozen=True, kw_only=True)
class AutomationsProgressed(Event):
    """Contacts entered or moved through automations; views re-query counts."""

    automation_ids: tuple[int, ...] = ()
