"""Campaign reports as plain data, read from the aggregate tables (never from raw events).

A report covers every delivery run of a campaign (A/B variants, the winner, resends), of an automation, or one run
sent without a campaign. Keys: ``c<campaign id>``, ``a<automation id>``, ``r<run id>``. Machine traffic (security
scanners, prefetching, Apple Mail Privacy Protection) is left out unless ``include_machine``. Rates are on
delivered messages (sent minus bounces), except the bounce rate, which is on sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.orm import Session

from app.kernel.database import Database, utcnow
from app.modules.stats.models import (
    ReportAutomation,
    ReportBounce,
    ReportCampaign,
    ReportClient,
    ReportConversion,
    ReportHour,
    ReportLink,
    ReportLinkPerson,
    ReportListDay,
    ReportRecipient,
    ReportRun,
)

HOURLY_FOR = 48  # hours of hourly buckets before the timeline switches to days
SENT_OUTCOMES = ("sent", "hard", "failed", "content", "expired")
BOUNCE_OUTCOMES = ("hard", "failed", "content", "expired")
RATE_BASIS = "delivered"
COMPLAINT_LIMIT = 0.003  # Gmail and Yahoo ask bulk senders to stay under 0.3% spam complaints


def _rate(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


@dataclass(frozen=True)
class Figures:
    """The headline numbers of a report. Rates are fractions (0.25 = 25%) on ``delivered``, bounce rate on sent."""

    sent: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    unique_opens: int = 0
    total_opens: int = 0
    unique_clicks: int = 0
    total_clicks: int = 0
    unsubscribes: int = 0
    complaints: int = 0
    conversions: int = 0
    revenue: float = 0.0
    currency: str = ""
    rate_basis: str = RATE_BASIS

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @property
    def delivered(self) -> int:
        return max(0, self.sent - self.bounced)

    @property
    def open_rate(self) -> float:
        return _rate(self.unique_opens, self.delivered)

    @property
    def click_rate(self) -> float:
        """Click-through rate (CTR): people who clicked, of delivered."""
        return _rate(self.unique_clicks, self.delivered)

    @property
    def click_to_open_rate(self) -> float:
        """CTOR: people who clicked, of people who opened."""
        return _rate(self.unique_clicks, self.unique_opens)

    @property
    def bounce_rate(self) -> float:
        return _rate(self.bounced, self.sent)

    @property
    def unsubscribe_rate(self) -> float:
        return _rate(self.unsubscribes, self.delivered)

    @property
    def complaint_rate(self) -> float:
        return _rate(self.complaints, self.delivered)

    @property
    def conversion_rate(self) -> float:
        return _rate(self.conversions, self.delivered)

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "sent": self.sent, "delivered": self.delivered, "bounced_hard": self.bounced_hard,
            "bounced_soft": self.bounced_soft, "unique_opens": self.unique_opens, "total_opens": self.total_opens,
            "unique_clicks": self.unique_clicks, "total_clicks": self.total_clicks,
            "unsubscribes": self.unsubscribes, "complaints": self.complaints, "conversions": self.conversions,
            "revenue": round(self.revenue, 2), "currency": self.currency,
            "open_rate": round(self.open_rate, 6), "click_rate": round(self.click_rate, 6),
            "click_to_open_rate": round(self.click_to_open_rate, 6), "bounce_rate": round(self.bounce_rate, 6),
            "unsubscribe_rate": round(self.unsubscribe_rate, 6), "complaint_rate": round(self.complaint_rate, 6),
            "conversion_rate": round(self.conversion_rate, 6), "rate_basis": self.rate_basis}


# The rows of a report's table: (label, value as text); one list so the page, the CSV and the PDF agree.
def figure_rows(f: Figures) -> list[tuple[str, str]]:
    def pct(value: float) -> str:
        return f"{value * 100:.1f}%"

    money = f"{f.revenue:,.2f} {f.currency}".strip()
    return [
        ("Sent", f"{f.sent:,}"),
        ("Delivered", f"{f.delivered:,}"),
        ("Bounced (hard / soft)", f"{f.bounced_hard:,} / {f.bounced_soft:,} ({pct(f.bounce_rate)} of sent)"),
        ("Opened (people / all opens)", f"{f.unique_opens:,} / {f.total_opens:,}"),
        ("Open rate (of delivered)", pct(f.open_rate)),
        ("Clicked (people / all clicks)", f"{f.unique_clicks:,} / {f.total_clicks:,}"),
        ("Click-through rate, CTR (of delivered)", pct(f.click_rate)),
        ("Click-to-open rate, CTOR (of opened)", pct(f.click_to_open_rate)),
        ("Unsubscribed (of delivered)", f"{f.unsubscribes:,} ({pct(f.unsubscribe_rate)})"),
        ("Complaints (of delivered)", f"{f.complaints:,} ({f.complaint_rate * 100:.2f}%)"),
        ("Conversions (of delivered)", f"{f.conversions:,} ({pct(f.conversion_rate)})"),
        ("Revenue", money),
    ]


@dataclass(frozen=True)
class ReportEntry:
    """One report in the list: a campaign, an automation, or a run sent without a campaign."""

    key: str
    kind: str  # campaign, automation, run
    title: str
    started_at: dt.datetime | None
    sent: int
    runs: int


@dataclass(frozen=True)
class Timeline:
    """Opens and clicks per bucket: hours for the first 48 hours after the send, then days (UTC)."""

    starts: tuple[dt.datetime, ...] = ()
    hours: tuple[int, ...] = ()  # each bucket's length in hours (1, then 24)
    opens: tuple[int, ...] = ()
    clicks: tuple[int, ...] = ()
    first_opens: tuple[int, ...] = ()  # people opening for the first time in the bucket
    first_clicks: tuple[int, ...] = ()

    def cumulative(self, series: Sequence[int]) -> list[int]:
        total, out = 0, []
        for value in series:
            total += value
            out.append(total)
        return out


@dataclass(frozen=True)
class LinkRow:
    url: str
    clicks: int
    unique_clicks: int
    link_ids: tuple[int, ...] = ()

    def share(self, total: int) -> float:
        return _rate(self.clicks, total)


@dataclass(frozen=True)
class ClientRow:
    client: str
    device: str
    opens: int


@dataclass(frozen=True)
class DomainRow:
    domain: str
    sent: int
    bounced: int
    opened: int
    clicked: int

    @property
    def delivered(self) -> int:
        return max(0, self.sent - self.bounced)

    @property
    def open_rate(self) -> float:
        return _rate(self.opened, self.delivered)

    @property
    def click_rate(self) -> float:
        return _rate(self.clicked, self.delivered)

    @property
    def bounce_rate(self) -> float:
        return _rate(self.bounced, self.sent)


@dataclass(frozen=True)
class VariantRow:
    variant: str  # "", "A", "B", "winner", "resend", or "run <id>"
    run_ids: tuple[int, ...]
    figures: Figures


@dataclass(frozen=True)
class Report:
    key: str
    kind: str
    title: str
    subject: str
    started_at: dt.datetime | None
    include_machine: bool
    run_ids: tuple[int, ...]
    figures: Figures
    variants: tuple[VariantRow, ...] = ()
    timeline: Timeline = field(default_factory=Timeline)
    links: tuple[LinkRow, ...] = ()
    clients: tuple[ClientRow, ...] = ()
    domains: tuple[DomainRow, ...] = ()
    generated_at: dt.datetime = field(default_factory=utcnow)

    def by_client(self) -> list[tuple[str, int]]:
        totals: dict[str, int] = {}
        for row in self.clients:
            totals[row.client] = totals.get(row.client, 0) + row.opens
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def by_device(self) -> list[tuple[str, int]]:
        totals: dict[str, int] = {}
        for row in self.clients:
            totals[row.device] = totals.get(row.device, 0) + row.opens
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


class ReportNotFound(LookupError):  # noqa: N818 - what happened, in the user's words
    """No campaign, automation or run matches what was asked for."""


# -- the list of reports ---------------------------------------------------------------------------------


def list_reports(db: Database, limit: int = 300) -> list[ReportEntry]:
    """Campaigns, automations and runs without a campaign, newest first."""
    entries: list[ReportEntry] = []
    # Sent as reports count it: accepted, plus refused while sending (a bounce that delivery never counted sent).
    refused = (select(ReportBounce.run_id, func.count().label("n")).where(ReportBounce.synchronous.is_(True),
                                                                         ReportBounce.kind != "complaint")
               .group_by(ReportBounce.run_id).subquery())
    sent_total = func.sum(ReportRun.sent + func.coalesce(refused.c.n, 0))
    with db.read() as session:
        names = dict(session.execute(select(ReportCampaign.campaign_id, ReportCampaign.name)).all())
        seen: set[int] = set()
        for cid, started, sent, runs in session.execute(
                select(ReportRun.campaign_id, func.min(ReportRun.started_at), sent_total, func.count())
                .outerjoin(refused, refused.c.run_id == ReportRun.run_id)
                .where(ReportRun.campaign_id.is_not(None)).group_by(ReportRun.campaign_id)):
            campaign_id = int(cid or 0)
            seen.add(campaign_id)
            entries.append(ReportEntry(f"c{campaign_id}", "campaign", names.get(campaign_id) or
                                       f"Campaign {campaign_id}", started, int(sent or 0), int(runs)))
        entries += [ReportEntry(f"c{campaign_id}", "campaign", name or f"Campaign {campaign_id}", None, 0, 0)
                    for campaign_id, name in names.items() if campaign_id not in seen]
        automations = dict(session.execute(select(ReportAutomation.automation_id, ReportAutomation.name)).all())
        for aid, started, sent, runs in session.execute(
                select(ReportRun.automation_id, func.min(ReportRun.started_at), sent_total, func.count())
                .outerjoin(refused, refused.c.run_id == ReportRun.run_id)
                .where(ReportRun.automation_id.is_not(None), ReportRun.campaign_id.is_(None))
                .group_by(ReportRun.automation_id)):
            automation_id = int(aid or 0)
            entries.append(ReportEntry(f"a{automation_id}", "automation", automations.get(automation_id) or
                                       f"Automation {automation_id}", started, int(sent or 0), int(runs)))
        for run in session.execute(select(ReportRun.run_id, ReportRun.subject, ReportRun.started_at,
                                          (ReportRun.sent + func.coalesce(refused.c.n, 0)).label("sent"))
                                   .outerjoin(refused, refused.c.run_id == ReportRun.run_id)
                                   .where(ReportRun.campaign_id.is_(None), ReportRun.automation_id.is_(None))
                                   .order_by(ReportRun.run_id.desc()).limit(limit)):
            entries.append(ReportEntry(f"r{run.run_id}", "run", run.subject or f"Send {run.run_id}",
                                       run.started_at, int(run.sent or 0), 1))
    entries.sort(key=lambda e: (e.started_at or dt.datetime.max, e.key), reverse=True)
    return entries[:limit]


def resolve(db: Database, text: str) -> ReportEntry:
    """A report by key (``c12``, ``r5``, ``a3``), campaign id, or campaign/automation name (any case)."""
    wanted = text.strip()
    entries = list_reports(db, limit=100_000)
    by_key = {e.key: e for e in entries}
    if wanted in by_key:
        return by_key[wanted]
    if wanted.isdigit():
        for key in (f"c{wanted}", f"r{wanted}"):
            if key in by_key:
                return by_key[key]
    named = [e for e in entries if e.title.strip().lower() == wanted.lower()]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ReportNotFound(f"{len(named)} reports are called {wanted!r}: use a key ("
                             + ", ".join(e.key for e in named[:5]) + ")")
    raise ReportNotFound(f"no campaign, automation or send called {wanted!r} (see 'postroom stats list')")


def run_ids_for(session: Session, key: str) -> list[int]:
    kind, number = key[:1], int(key[1:]) if key[1:].isdigit() else -1
    if kind == "r":
        return [number]
    column = ReportRun.campaign_id if kind == "c" else ReportRun.automation_id if kind == "a" else None
    if column is None:
        raise ReportNotFound(f"{key!r} is not a report key (c<campaign>, a<automation>, r<run>)")
    return [int(r) for r in session.scalars(select(ReportRun.run_id).where(column == number)
                                            .order_by(ReportRun.run_id))]


# -- figures ---------------------------------------------------------------------------------------------


def _opened(machine: bool) -> ColumnElement[bool]:
    return (ReportRecipient.opens_h + ReportRecipient.opens_m > 0) if machine else ReportRecipient.opens_h > 0


def _clicked(machine: bool) -> ColumnElement[bool]:
    return (ReportRecipient.clicks_h + ReportRecipient.clicks_m > 0) if machine else ReportRecipient.clicks_h > 0


def figures_for(session: Session, run_ids: Sequence[int], include_machine: bool = False) -> Figures:
    """The headline numbers over ``run_ids``; a person who opened two runs of a campaign counts once."""
    if not run_ids:
        return Figures()
    runs = list(run_ids)
    sent = int(session.scalar(select(func.sum(ReportRun.sent)).where(ReportRun.run_id.in_(runs))) or 0)
    bounces = {(kind, bool(sync)): int(n) for kind, sync, n in session.execute(
        select(ReportBounce.kind, ReportBounce.synchronous, func.count()).where(ReportBounce.run_id.in_(runs))
        .group_by(ReportBounce.kind, ReportBounce.synchronous))}
    # Refused while sending: never counted as sent by delivery, but they were sent to and bounced.
    sent += bounces.get(("hard", True), 0) + bounces.get(("soft", True), 0)
    hard = bounces.get(("hard", True), 0) + bounces.get(("hard", False), 0)
    soft = bounces.get(("soft", True), 0) + bounces.get(("soft", False), 0)
    person = ReportRecipient.contact_id
    if len(runs) == 1:
        def people(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.sum(case((condition, 1), else_=0))
    else:
        def people(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.count(distinct(case((condition, person), else_=None)))
    opens = ReportRecipient.opens_h + ReportRecipient.opens_m if include_machine else ReportRecipient.opens_h
    clicks = ReportRecipient.clicks_h + ReportRecipient.clicks_m if include_machine else ReportRecipient.clicks_h
    row = session.execute(select(people(_opened(include_machine)), func.sum(opens),
                                 people(_clicked(include_machine)), func.sum(clicks),
                                 people(ReportRecipient.unsubscribed_at.is_not(None)))
                          .where(ReportRecipient.run_id.in_(runs))).one()
    conversions = session.execute(select(ReportConversion.currency, func.count(), func.sum(ReportConversion.value))
                                  .where(ReportConversion.run_id.in_(runs))
                                  .group_by(ReportConversion.currency)).all()
    count = sum(int(n) for _c, n, _v in conversions)
    main = max(conversions, key=lambda c: float(c[2] or 0), default=None)
    return Figures(sent=sent, bounced_hard=hard, bounced_soft=soft, unique_opens=int(row[0] or 0),
                   total_opens=int(row[1] or 0), unique_clicks=int(row[2] or 0), total_clicks=int(row[3] or 0),
                   unsubscribes=int(row[4] or 0), complaints=bounces.get(("complaint", False), 0),
                   conversions=count, revenue=float(main[2] or 0) if main else 0.0,
                   currency=str(main[0] or "") if main else "")


def _hour_text(session: Session, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.substr(column, 1, 13)


def timeline_for(session: Session, run_ids: Sequence[int], include_machine: bool,
                 start: dt.datetime | None) -> Timeline:
    runs = list(run_ids)
    hourly: dict[dt.datetime, list[int]] = {}
    for hour, oh, om, ch, cm in session.execute(
            select(ReportHour.hour, func.sum(ReportHour.opens_h), func.sum(ReportHour.opens_m),
                   func.sum(ReportHour.clicks_h), func.sum(ReportHour.clicks_m))
            .where(ReportHour.run_id.in_(runs)).group_by(ReportHour.hour)):
        opens = int(oh or 0) + (int(om or 0) if include_machine else 0)
        clicks = int(ch or 0) + (int(cm or 0) if include_machine else 0)
        hourly[hour] = [opens, clicks, 0, 0]
    for index, column in ((2, ReportRecipient.first_open_any if include_machine else ReportRecipient.first_open_h),
                          (3, ReportRecipient.first_click_any if include_machine else ReportRecipient.first_click_h)):
        bucket = _hour_text(session, column)
        for text, n in session.execute(select(bucket, func.count()).where(ReportRecipient.run_id.in_(runs),
                                                                           column.is_not(None)).group_by(bucket)):
            hour = dt.datetime.strptime(str(text)[:13], "%Y-%m-%d %H")
            hourly.setdefault(hour, [0, 0, 0, 0])[index] += int(n)
    if not hourly:
        return Timeline()
    first = min(hourly)
    origin = (start or first).replace(minute=0, second=0, microsecond=0)
    origin = min(origin, first)
    last = max(hourly)
    starts: list[dt.datetime] = []
    lengths: list[int] = []
    at = origin
    while at <= last:
        length = 1 if at < origin + dt.timedelta(hours=HOURLY_FOR) else 24
        starts.append(at)
        lengths.append(length)
        at += dt.timedelta(hours=length)
    series = [[0] * len(starts) for _ in range(4)]
    index = 0
    for hour in sorted(hourly):
        while index + 1 < len(starts) and starts[index + 1] <= hour:
            index += 1
        for s in range(4):
            series[s][index] += hourly[hour][s]
    return Timeline(tuple(starts), tuple(lengths), *(tuple(s) for s in series))


def links_for(session: Session, run_ids: Sequence[int], include_machine: bool) -> tuple[LinkRow, ...]:
    runs = list(run_ids)
    rows: dict[str, list[int]] = {}
    ids: dict[int, str] = {}
    for link_id, stored_url, ch, cm in session.execute(
            select(ReportLink.link_id, ReportLink.url, ReportLink.clicks_h, ReportLink.clicks_m)
            .where(ReportLink.run_id.in_(runs))):
        url = stored_url or f"link {link_id}"
        ids[int(link_id)] = url
        entry = rows.setdefault(url, [0, 0])
        entry[0] += int(ch) + (int(cm) if include_machine else 0)
    floor = 0 if include_machine else 1
    for link_id, n in session.execute(
            select(ReportLinkPerson.link_id, func.count()).where(ReportLinkPerson.run_id.in_(runs),
                                                                  ReportLinkPerson.human >= floor)
            .group_by(ReportLinkPerson.link_id)):
        known = ids.get(int(link_id))
        if known is not None:
            rows[known][1] += int(n)
    by_url: dict[str, list[int]] = {}
    for link_id, url in ids.items():
        by_url.setdefault(url, []).append(link_id)
    out = [LinkRow(url, c[0], c[1], tuple(sorted(by_url[url]))) for url, c in rows.items()]
    return tuple(sorted(out, key=lambda r: (-r.clicks, r.url)))


def clients_for(session: Session, run_ids: Sequence[int], include_machine: bool) -> tuple[ClientRow, ...]:
    rows = []
    for client, device, oh, om in session.execute(
            select(ReportClient.client, ReportClient.device, func.sum(ReportClient.opens_h),
                   func.sum(ReportClient.opens_m)).where(ReportClient.run_id.in_(list(run_ids)))
            .group_by(ReportClient.client, ReportClient.device)):
        opens = int(oh or 0) + (int(om or 0) if include_machine else 0)
        if opens:
            rows.append(ClientRow(client, device, opens))
    return tuple(sorted(rows, key=lambda r: (-r.opens, r.client, r.device)))


def domains_for(session: Session, run_ids: Sequence[int], include_machine: bool, top: int = 10,
                ) -> tuple[DomainRow, ...]:
    runs = list(run_ids)
    sent = ReportRecipient.outcome.in_(SENT_OUTCOMES)
    rows = session.execute(
        select(ReportRecipient.domain, func.sum(case((sent, 1), else_=0)),
               func.sum(case((ReportRecipient.outcome.in_(BOUNCE_OUTCOMES), 1), else_=0)),
               func.sum(case((_opened(include_machine), 1), else_=0)),
               func.sum(case((_clicked(include_machine), 1), else_=0)))
        .where(ReportRecipient.run_id.in_(runs), ReportRecipient.domain != "")
        .group_by(ReportRecipient.domain)).all()
    late = dict(session.execute(select(ReportBounce.domain, func.count()).where(
        ReportBounce.run_id.in_(runs), ReportBounce.synchronous.is_(False), ReportBounce.kind != "complaint",
        ReportBounce.domain != "").group_by(ReportBounce.domain)).all())
    domains = [DomainRow(str(d), int(s or 0), int(b or 0) + int(late.get(d, 0)), int(o or 0), int(c or 0))
               for d, s, b, o, c in rows]
    domains.sort(key=lambda r: (-r.sent, r.domain))
    if len(domains) > top:
        rest = domains[top:]
        domains = [*domains[:top], DomainRow("other domains", sum(r.sent for r in rest),
                                             sum(r.bounced for r in rest), sum(r.opened for r in rest),
                                             sum(r.clicked for r in rest))]
    return tuple(domains)


def build_report(db: Database, key: str, include_machine: bool = False) -> Report:
    """Everything a report page, an export or ``postroom stats show`` needs, in one read session."""
    with db.read() as session:
        run_ids = run_ids_for(session, key)
        entry_title, subject = _titles(session, key, run_ids)
        runs = session.execute(select(ReportRun.run_id, ReportRun.variant, ReportRun.started_at)
                               .where(ReportRun.run_id.in_(run_ids)).order_by(ReportRun.run_id)).all()
        if key.startswith("r") and not runs:
            raise ReportNotFound(f"no send {key[1:]} is known to the reports")
        started = min((r.started_at for r in runs if r.started_at is not None), default=None)
        figures = figures_for(session, run_ids, include_machine)
        variants: list[VariantRow] = []
        if key.startswith("c") and len(runs) > 1:
            groups: dict[str, list[int]] = {}
            for run in runs:
                groups.setdefault(run.variant or f"send {run.run_id}", []).append(int(run.run_id))
            variants = [VariantRow(name, tuple(ids), figures_for(session, ids, include_machine))
                        for name, ids in groups.items()]
        return Report(key=key, kind={"c": "campaign", "a": "automation"}.get(key[:1], "run"), title=entry_title,
                      subject=subject, started_at=started, include_machine=include_machine,
                      run_ids=tuple(run_ids), figures=figures, variants=tuple(variants),
                      timeline=timeline_for(session, run_ids, include_machine, started),
                      links=links_for(session, run_ids, include_machine),
                      clients=clients_for(session, run_ids, include_machine),
                      domains=domains_for(session, run_ids, include_machine))


def _titles(session: Session, key: str, run_ids: Sequence[int]) -> tuple[str, str]:
    subject = str(session.scalar(select(ReportRun.subject).where(ReportRun.run_id.in_(list(run_ids)),
                                                                  ReportRun.subject != "").limit(1)) or "")
    number = int(key[1:])
    if key.startswith("c"):
        name = session.scalar(select(ReportCampaign.name).where(ReportCampaign.campaign_id == number))
        return name or f"Campaign {number}", subject
    if key.startswith("a"):
        name = session.scalar(select(ReportAutomation.name).where(ReportAutomation.automation_id == number))
        return name or f"Automation {number}", subject
    return subject or f"Send {number}", subject


# -- comparisons and the dashboard ---------------------------------------------------------------------------


def compare(db: Database, keys: Sequence[str], include_machine: bool = False) -> list[tuple[str, Figures]]:
    """Headline figures of several reports side by side (the comparison chart)."""
    out = []
    with db.read() as session:
        for key in keys:
            run_ids = run_ids_for(session, key)
            title, _subject = _titles(session, key, run_ids)
            out.append((title, figures_for(session, run_ids, include_machine)))
    return out


def recent(db: Database, count: int = 8, include_machine: bool = False) -> list[tuple[ReportEntry, Figures]]:
    """The newest campaigns and sends with their figures, oldest first (dashboard trends)."""
    entries = [e for e in list_reports(db) if e.kind != "automation" and e.runs][:count]
    with db.read() as session:
        out = [(e, figures_for(session, run_ids_for(session, e.key), include_machine)) for e in entries]
    return list(reversed(out))


@dataclass(frozen=True)
class ListGrowth:
    days: tuple[dt.date, ...] = ()
    subscribed: tuple[int, ...] = ()
    unsubscribed: tuple[int, ...] = ()

    @property
    def net(self) -> list[int]:
        total, out = 0, []
        for plus, minus in zip(self.subscribed, self.unsubscribed, strict=True):
            total += plus - minus
            out.append(total)
        return out


def list_growth(db: Database, days: int = 30, today: dt.date | None = None) -> ListGrowth:
    """Subscriptions and unsubscribes per day over the last ``days`` days (from contacts' events)."""
    end = today or utcnow().date()
    start = end - dt.timedelta(days=days - 1)
    with db.read() as session:
        stored = {row.day: (int(row.subscribed), int(row.unsubscribed)) for row in session.execute(
            select(ReportListDay.day, ReportListDay.subscribed, ReportListDay.unsubscribed)
            .where(ReportListDay.day >= start, ReportListDay.day <= end))}
    span = [start + dt.timedelta(days=i) for i in range(days)]
    return ListGrowth(tuple(span), tuple(stored.get(d, (0, 0))[0] for d in span),
                      tuple(stored.get(d, (0, 0))[1] for d in span))
