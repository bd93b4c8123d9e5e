"""The campaigns module's command handlers and its scheduler.

A campaign's sends are delivery runs. Each send is first recorded in ``campaigns_send`` under a slot unique per
campaign ("main", "r:<instant>", "local:<zone>", "ab:A", "ab:winner", "resend") in the same transaction that
moves the schedule on, and only then started, so a due time is never started twice. A row left without a run by
a crash between the two is matched to the run at the next start, or offered again as a missed send.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.kernel.database import utcnow
from app.kernel.registry import ModuleContext
from app.modules.campaigns import abtest, api, scheduling
from app.modules.campaigns.messages import (
    CampaignDeleted,
    CampaignError,
    CampaignRunStarted,
    CampaignSaved,
    CancelCampaign,
    ConfirmMissedSend,
    DeleteCampaign,
    DuplicateCampaign,
    PauseCampaign,
    PickWinner,
    ResumeCampaign,
    RunSchedules,
    SaveCampaign,
    ScheduleCampaign,
    SendCampaign,
    SetAbTest,
    SetResend,
)
from app.modules.campaigns.models import Campaign, CampaignSend
from app.modules.delivery import api as delivery_api
from app.modules.delivery.messages import (
    AudienceSpec,
    CancelRun,
    MessageContent,
    PauseRun,
    ResumeRun,
    RunStateChanged,
    StartRun,
)

log = logging.getLogger(__name__)

MISSED_GRACE = dt.timedelta(minutes=2)  # a due time older than this at start was missed while the app was closed
TICK_SECONDS = 20.0
OPEN_RUN_STATES = ("queued", "sending")


class CampaignService:
    def __init__(self, context: ModuleContext, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.context = context
        self.db = context.db
        self.bus = context.bus
        self.clock = clock or utcnow
        self._tick_lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, context: ModuleContext) -> None:
        context.handle(SaveCampaign, self.save)
        context.handle(DuplicateCampaign, self.duplicate)
        context.handle(DeleteCampaign, self.delete)
        context.handle(ScheduleCampaign, self.schedule)
        context.handle(SendCampaign, self.send_now)
        context.handle(PauseCampaign, lambda c: self._each_run(c.campaign_id, PauseRun, ("sending", "queued")))
        context.handle(ResumeCampaign, lambda c: self._each_run(c.campaign_id, ResumeRun, ("paused",)))
        context.handle(CancelCampaign, self.cancel)
        context.handle(ConfirmMissedSend, self.confirm_missed)
        context.handle(SetAbTest, self.set_ab_test)
        context.handle(PickWinner, self.pick_winner)
        context.handle(SetResend, self.set_resend)
        context.handle(RunSchedules, lambda c: self.tick(c.now))
        context.subscribe(RunStateChanged, self._on_run_state)

    # -- the scheduler loop (only in the app, or a `campaigns send --wait`)

    def start(self) -> None:
        """Mark sends that fell due while the app was closed as missed (they wait for the user), then tick."""
        self.recover()
        self.mark_missed()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="postroom-campaigns", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("the campaign scheduler failed; it tries again")
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    def mark_missed(self) -> int:
        now = self.clock()
        changed: list[Campaign] = []
        with self.db.transaction() as session:
            for row in session.scalars(select(Campaign).where(
                    Campaign.state.in_(("scheduled", "sending")), Campaign.missed_at.is_(None),
                    Campaign.next_run_at < now - MISSED_GRACE)):
                row.missed_at = row.next_run_at
                row.state_reason = "due while Postroom was closed: send it now or skip it?"
                changed.append(row)
            events = [CampaignSaved(campaign_id=r.id, name=r.name, state=r.state) for r in changed]
        for event in events:
            self.bus.publish(event)
        return len(events)

    def recover(self) -> None:
        """Sends recorded without a run (a crash between the two): link the run if it was started, else the due
        time is offered again as missed."""
        with self.db.read() as session:
            orphans = list(session.execute(select(CampaignSend.id, CampaignSend.campaign_id, CampaignSend.due_at,
                                                  CampaignSend.started_at)
                                           .where(CampaignSend.run_id.is_(None), CampaignSend.error == "")))
        for send_id, campaign_id, due_at, started_at in orphans:
            info = api.get_campaign(self.db, campaign_id)
            linked = {s.run_id for s in info.sends} if info else set()
            runs = [r for r in delivery_api.list_runs(self.db, campaign_id=campaign_id, limit=200)
                    if r.id not in linked and r.created_at >= started_at - dt.timedelta(seconds=1)]
            with self.db.transaction() as session:
                send = session.get(CampaignSend, send_id)
                if send is None:
                    continue
                if runs:
                    send.run_id = min(r.id for r in runs)
                    continue
                session.delete(send)
                row = session.get(Campaign, campaign_id)
                if row is not None and due_at is not None:
                    row.state = "scheduled"
                    row.next_run_at = min(due_at, row.next_run_at or due_at)
                    row.missed_at = row.next_run_at

    def tick(self, now: dt.datetime | None = None) -> int:
        """Start whatever is due: scheduled sends, delayed A/B groups, A/B winners, resends. Returns sends started."""
        with self._tick_lock:
            now = now or self.clock()
            started = 0
            with self.db.read() as session:
                # "sending" too: the next time zone's group (or recurrence) is due while the last one still sends.
                due = list(session.scalars(select(Campaign.id).where(
                    Campaign.state.in_(("scheduled", "sending")), Campaign.missed_at.is_(None),
                    Campaign.next_run_at <= now)))
                active = list(session.scalars(select(Campaign.id).where(Campaign.state.in_(("sending", "sent")))))
            for campaign_id in due:
                started += self._fire_due(campaign_id, now)
            for campaign_id in active:
                started += self._follow_ups(campaign_id, now)
            return started

    # -- commands

    def save(self, command: SaveCampaign) -> int:
        name = " ".join(command.name.split())
        if not name:
            raise CampaignError("a campaign needs a name")
        for key, _value in command.utm:
            if not key.startswith("utm_"):
                raise CampaignError(f"{key!r} is not a UTM parameter (utm_source, utm_medium, utm_campaign...)")
        audience = {k: list(getattr(command.audience, k))
                    for k in ("lists", "segments", "exclude_lists", "exclude_segments")}
        try:
            with self.db.transaction() as session:
                if command.campaign_id is None:
                    row = Campaign(name=name, name_key=name.casefold())
                    session.add(row)
                else:
                    found = session.get(Campaign, command.campaign_id)
                    if found is None:
                        raise CampaignError(f"no campaign with id {command.campaign_id}")
                    row = found
                    if row.state not in ("draft", "scheduled"):
                        raise CampaignError(f"“{row.name}” is {row.state}: duplicate it to send a changed copy")
                    row.name, row.name_key = name, name.casefold()
                row.audience = audience
                row.template_id = command.template_id
                row.subject = command.subject
                row.preheader = command.preheader
                row.identity_id = command.identity_id
                row.account_ids = list(command.account_ids)
                row.track_opens = command.track_opens
                row.track_clicks = command.track_clicks
                row.utm = dict(command.utm)
                session.flush()
                campaign_id, state = row.id, row.state
        except IntegrityError:
            raise CampaignError(f"there is already a campaign called “{name}”") from None
        self.bus.publish(CampaignSaved(campaign_id=campaign_id, name=name, state=state))
        return campaign_id

    def duplicate(self, command: DuplicateCampaign) -> int:
        with self.db.transaction() as session:
            row = self._row(session, command.campaign_id)
            base = f"{row.name} (copy)"
            taken = set(session.scalars(select(Campaign.name_key).where(Campaign.name_key.startswith(
                base.casefold()))))
            name, n = base, 2
            while name.casefold() in taken:
                name, n = f"{row.name} (copy {n})", n + 1
            ab = dict(row.ab or {})
            for key in ("winner", "decided_at", "verdict"):
                ab.pop(key, None)
            resend = {k: v for k, v in (row.resend or {}).items() if k != "done"}
            copy = Campaign(name=name, name_key=name.casefold(), audience=dict(row.audience or {}),
                            identity_id=row.identity_id, account_ids=list(row.account_ids or []),
                            template_id=row.template_id, subject=row.subject, preheader=row.preheader,
                            track_opens=row.track_opens, track_clicks=row.track_clicks, utm=dict(row.utm or {}),
                            ab=ab, resend=resend, time_zone=row.time_zone, default_time_zone=row.default_time_zone)
            session.add(copy)
            session.flush()
            new_id = copy.id
        self.bus.publish(CampaignSaved(campaign_id=new_id, name=name, state="draft"))
        return new_id

    def delete(self, command: DeleteCampaign) -> bool:
        with self.db.transaction() as session:
            row = session.get(Campaign, command.campaign_id)
            if row is None:
                return False
            if row.state in ("sending", "paused"):
                raise CampaignError(f"“{row.name}” is {row.state}: cancel it before deleting it")
            session.delete(row)
        self.bus.publish(CampaignDeleted(campaign_id=command.campaign_id))
        return True

    def schedule(self, command: ScheduleCampaign) -> dt.datetime | None:
        now = self.clock()
        kind = command.kind
        values, next_at = self._schedule_values(command, now)
        with self.db.transaction() as session:
            row = self._row(session, command.campaign_id)
            if row.state not in ("draft", "scheduled"):
                if row.state in ("sending", "paused"):
                    raise CampaignError(f"“{row.name}” is {row.state}; its schedule cannot change now")
                raise CampaignError(f"“{row.name}” was {row.state}: duplicate it to send it again")
            if (row.ab or {}).get("variants") and kind in ("recurring", "local"):
                raise CampaignError("an A/B test needs one send time: remove the test or send once")
            for key, value in values.items():
                setattr(row, key, value)
            row.missed_at = None
            row.state_reason = ""
            name = row.name
            audience = self._audience(row)
        if kind == "local":
            next_at = self._next_local(command.campaign_id, audience, now)
        self._set(command.campaign_id, state="draft" if kind == "none" else "scheduled", next_run_at=next_at)
        self.bus.publish(CampaignSaved(campaign_id=command.campaign_id, name=name,
                                       state="draft" if kind == "none" else "scheduled"))
        if kind == "now":
            self.tick()
        else:
            self.wake()
        return next_at

    def _schedule_values(self, command: ScheduleCampaign, now: dt.datetime) -> tuple[dict[str, Any],
                                                                                  dt.datetime | None]:
        """The columns a schedule sets, and its first due instant (None for "local": it depends on the zones)."""
        kind = command.kind
        if kind not in ("none", "now", "at", "recurring", "local"):
            raise CampaignError(f"unknown schedule {kind!r}")
        if kind in ("at", "recurring", "local") and command.at is None:
            raise CampaignError("give the date and time to send at")
        zone_name = command.time_zone or "UTC"
        values: dict[str, Any] = {"schedule_kind": kind, "time_zone": zone_name, "rrule": "", "dtstart": None,
                                  "send_at": None, "local_time": "", "local_date": None,
                                  "default_time_zone": command.default_time_zone or "UTC"}
        next_at: dt.datetime | None = None
        try:
            scheduling.zone(zone_name)
            scheduling.zone(values["default_time_zone"])
            if kind == "now":
                next_at = now
            elif kind == "at" and command.at is not None:
                next_at = self._instant(command.at, zone_name)
                if next_at < now - dt.timedelta(minutes=1):
                    raise CampaignError("that time has passed; choose a later one or send now")
                values["send_at"] = next_at
            elif kind == "recurring" and command.at is not None:
                local_start = self._wall(command.at, zone_name)
                values.update(rrule=command.rrule.strip(), dtstart=local_start)
                found = scheduling.recurrences(command.rrule, local_start, zone_name,
                                               now - dt.timedelta(seconds=1), 1)
                if not found:
                    raise CampaignError("the recurrence rule has no future occurrence")
                next_at = found[0]
            elif kind == "local" and command.at is not None:
                local = self._wall(command.at, zone_name)
                values.update(local_date=local.date(), local_time=f"{local:%H:%M}")
        except scheduling.ScheduleError as exc:
            raise CampaignError(str(exc)) from None
        return values, next_at

    def send_now(self, command: SendCampaign) -> tuple[int, ...]:
        self.schedule(ScheduleCampaign(campaign_id=command.campaign_id, kind="now"))
        return self._info(command.campaign_id).run_ids

    def cancel(self, command: CancelCampaign) -> bool:
        info = self._info(command.campaign_id)
        for run_id in info.run_ids:
            status = delivery_api.run_status(self.db, run_id)
            if status is not None and status.state in ("sending", "queued", "paused"):
                self.bus.execute(CancelRun(run_id=run_id))
        self._set(command.campaign_id, state="cancelled", next_run_at=None, missed_at=None,
                  state_reason="cancelled by you")
        self.bus.publish(CampaignSaved(campaign_id=info.id, name=info.name, state="cancelled"))
        return True

    def confirm_missed(self, command: ConfirmMissedSend) -> bool:
        now = self.clock()
        info = self._info(command.campaign_id)
        if info.missed_at is None:
            return False
        if command.send:
            self._set(info.id, missed_at=None, state_reason="")
            self.tick()
            return True
        # Skip: a one-off goes back to draft; a recurrence moves to its next time; local slots due are skipped.
        next_at: dt.datetime | None = None
        state = "draft"
        if info.schedule_kind == "recurring" and info.dtstart:
            found = scheduling.recurrences(info.rrule, info.dtstart, info.time_zone, now, 1)
            next_at, state = (found[0], "scheduled") if found else (None, "sent")
        elif info.schedule_kind == "local":
            with self.db.read() as session:
                row = self._row(session, info.id)
                audience = self._audience(row)
            for slot in self._local_slots(info.id, audience):
                if slot.due_at <= now:
                    self._record_skip(info.id, f"local:{slot.zone}", slot.due_at)
            next_at = self._next_local(info.id, audience, now)
            state = "scheduled" if next_at else ("sent" if info.run_ids else "draft")
        self._set(info.id, missed_at=None, next_run_at=next_at, state=state,
                  state_reason="the missed send was skipped")
        self.bus.publish(CampaignSaved(campaign_id=info.id, name=info.name, state=state))
        return True

    def set_ab_test(self, command: SetAbTest) -> bool:
        if command.variants:
            keys = [v.key.strip() for v in command.variants]
            if len(set(keys)) != len(keys) or not all(keys):
                raise CampaignError("each variant needs its own name (A, B, C...)")
            if command.metric not in abtest.METRICS:
                raise CampaignError("the winner is chosen by opens, clicks, or by you (manual)")
            if command.wait_hours < 0:
                raise CampaignError("the wait cannot be negative")
            try:
                abtest.split(command.test_share, len(command.variants))
            except ValueError as exc:
                raise CampaignError(str(exc)) from None
            ab: dict[str, Any] = {
                "variants": [{"key": v.key.strip(), "subject": v.subject, "from_name": v.from_name,
                              "template_id": v.template_id, "delay_hours": float(v.delay_hours)}
                             for v in command.variants],
                "test_share": float(command.test_share), "metric": command.metric,
                "wait_hours": float(command.wait_hours)}
        else:
            ab = {}
        with self.db.transaction() as session:
            row = self._row(session, command.campaign_id)
            if row.state not in ("draft", "scheduled"):
                raise CampaignError(f"“{row.name}” is {row.state}: its test cannot change now")
            if ab and row.schedule_kind in ("recurring", "local"):
                raise CampaignError("an A/B test needs one send time: this campaign repeats or follows time zones")
            row.ab = ab
            name, state = row.name, row.state
        self.bus.publish(CampaignSaved(campaign_id=command.campaign_id, name=name, state=state))
        return True

    def set_resend(self, command: SetResend) -> bool:
        if command.enabled and not command.subject.strip():
            raise CampaignError("a resend to non-openers needs its own subject")
        if command.after_hours < 1:
            raise CampaignError("wait at least an hour before resending, so opens can arrive")
        with self.db.transaction() as session:
            row = self._row(session, command.campaign_id)
            if (row.resend or {}).get("done"):
                raise CampaignError("the resend was already sent")
            row.resend = ({"after_hours": float(command.after_hours), "subject": command.subject.strip()}
                          if command.enabled else {})
            name, state = row.name, row.state
        self.bus.publish(CampaignSaved(campaign_id=command.campaign_id, name=name, state=state))
        return True

    def pick_winner(self, command: PickWinner) -> str:
        info = self._info(command.campaign_id)
        ab = info.ab
        if not ab.get("variants"):
            raise CampaignError(f"“{info.name}” has no A/B test")
        if ab.get("winner"):
            return str(ab["winner"])
        keys = [v["key"] for v in ab["variants"]]
        started = {s.variant: s for s in info.sends if s.slot.startswith("ab:") and s.run_id}
        if any(k not in started for k in keys):
            raise CampaignError("every variant's test group must be sent before a winner is chosen")
        verdict = self.verdict(info)
        if command.variant:
            if command.variant not in keys:
                raise CampaignError(f"no variant {command.variant!r}")
            winner = command.variant
            note = f"{winner} chosen by you"
        else:
            if ab.get("metric") == "manual":
                raise CampaignError("this test's winner is chosen by you: name the variant")
            winner = verdict.winner or keys[0]
            note = verdict.note
        with self.db.transaction() as session:
            row = self._row(session, info.id)
            new_ab = dict(row.ab or {})
            new_ab.update(winner=winner, decided_at=self.clock().isoformat(), verdict=note,
                          rates=verdict.rates, p_value=verdict.p_value, probability_best=verdict.probability_best)
            row.ab = new_ab
        variant = next(v for v in ab["variants"] if v["key"] == winner)
        _groups, rest = abtest.split(ab["test_share"], len(keys))
        self._start(info.id, "ab:winner", "winner", self.clock(), buckets=rest, variant=variant)
        return winner

    def verdict(self, info: api.CampaignInfo) -> abtest.Verdict:
        """The test's standing now: rates on delivered messages (sent), machine traffic left out."""
        from app.modules.stats import api as stats_api

        ab = info.ab
        runs = {s.variant: s.run_id for s in info.sends if s.slot.startswith("ab:") and s.run_id
                and s.variant != "winner"}
        keys = [v["key"] for v in ab.get("variants", [])]
        engagement = stats_api.run_engagement(self.db, [r for r in runs.values() if r is not None])
        results = []
        for key in keys:
            run_id = runs.get(key)
            status = delivery_api.run_status(self.db, run_id) if run_id else None
            sent = status.counts.get("sent", 0) if status else 0
            figures = engagement.get(run_id) if run_id else None
            hits = 0
            if figures is not None:
                hits = figures.unique_clicks if ab.get("metric") == "clicks" else figures.unique_opens
            results.append(abtest.VariantResult(key, sent, hits))
        return abtest.decide(results)

    # -- internals

    def _fire_due(self, campaign_id: int, now: dt.datetime) -> int:
        with self.db.read() as session:
            row = session.get(Campaign, campaign_id)
            if row is None or row.next_run_at is None:
                return 0
            kind, due, audience = row.schedule_kind, row.next_run_at, self._audience(row)
            ab = dict(row.ab or {})
            rule, dtstart, zone_name = row.rrule, row.dtstart, row.time_zone
        try:
            if kind == "local":
                started = 0
                for slot in self._local_slots(campaign_id, audience):
                    if slot.due_at <= now:
                        started += self._start(campaign_id, f"local:{slot.zone}", "", slot.due_at,
                                               time_zones=slot.zones)
                next_at = self._next_local(campaign_id, audience, now)
                self._set(campaign_id, next_run_at=next_at, state="scheduled" if next_at else "sending")
                return started
            if kind == "recurring" and dtstart is not None:
                found = scheduling.recurrences(rule, dtstart, zone_name, max(now, due), 1)
                started = self._start(campaign_id, f"r:{due:%Y%m%dT%H%M}", "", due,
                                      next_run_at=found[0] if found else None)
                self._set(campaign_id, state="scheduled" if found else "sending")
                return started
            if ab.get("variants"):
                groups, _rest = abtest.split(ab["test_share"], len(ab["variants"]))
                started = 0
                for variant, buckets in zip(ab["variants"], groups, strict=True):
                    if not variant.get("delay_hours"):
                        started += self._start(campaign_id, f"ab:{variant['key']}", variant["key"], due,
                                               buckets=buckets, variant=variant, next_run_at=None)
                self._set(campaign_id, next_run_at=None)
                return started
            return self._start(campaign_id, "main", "", due, next_run_at=None)
        except CampaignError as exc:
            self._set(campaign_id, state="draft", next_run_at=None, state_reason=str(exc))
            info = self._info(campaign_id)
            self.bus.publish(CampaignSaved(campaign_id=campaign_id, name=info.name, state="draft"))
            if kind == "now":
                raise
            return 0

    def _follow_ups(self, campaign_id: int, now: dt.datetime) -> int:
        """Delayed A/B groups, the automatic winner once the wait is over, and the resend to non-openers."""
        info = self._info(campaign_id)
        started = 0
        ab = info.ab
        slots = {s.slot: s for s in info.sends}
        if ab.get("variants") and not ab.get("winner"):
            first = min((s.started_at for s in info.sends if s.slot.startswith("ab:")), default=None)
            if first is not None:
                groups, _rest = abtest.split(ab["test_share"], len(ab["variants"]))
                for variant, buckets in zip(ab["variants"], groups, strict=True):
                    slot = f"ab:{variant['key']}"
                    if slot not in slots and first + dt.timedelta(hours=variant.get("delay_hours", 0)) <= now:
                        started += self._start(campaign_id, slot, variant["key"], now, buckets=buckets,
                                               variant=variant)
                info = self._info(campaign_id)
                tests = [s for s in info.sends if s.slot.startswith("ab:") and s.run_id]
                if (ab.get("metric") != "manual" and len(tests) == len(ab["variants"])
                        and max(s.started_at for s in tests) + dt.timedelta(hours=ab.get("wait_hours", 0)) <= now):
                    self.pick_winner(PickWinner(campaign_id=campaign_id))
                    started += 1
        resend = info.resend
        if resend.get("subject") and not resend.get("done") and "resend" not in slots:
            main = [s for s in info.sends if s.run_id and s.slot != "resend"]
            if main and min(s.started_at for s in main) + dt.timedelta(hours=resend["after_hours"]) <= now:
                started += self._resend(info, [s.run_id for s in main if s.run_id is not None])
        if started:
            self._refresh_state(campaign_id)
        return started

    def _resend(self, info: api.CampaignInfo, run_ids: list[int]) -> int:
        from app.modules.stats import api as stats_api

        openers = stats_api.engaged_contact_ids(self.db, run_ids, "open")
        targets: list[int] = []
        after = 0
        while True:
            page = delivery_api.sent_contact_ids(self.db, run_ids, after_id=after)
            if not page:
                break
            targets.extend(c for c in page if c not in openers)
            after = page[-1]
        with self.db.transaction() as session:
            row = self._row(session, info.id)
            row.resend = {**(row.resend or {}), "done": True, "count": len(targets)}
        if not targets:
            self._record_skip(info.id, "resend", self.clock(), "everyone opened: nothing to resend")
            return 0
        return self._start(info.id, "resend", "resend", self.clock(), contacts=tuple(targets),
                           variant={"subject": info.resend["subject"]})

    def _start(self, campaign_id: int, slot: str, variant_key: str, due: dt.datetime | None, *,
               buckets: tuple[int, int] | None = None, time_zones: tuple[str, ...] = (),
               contacts: tuple[int, ...] = (), variant: dict[str, Any] | None = None,
               next_run_at: Any = ...) -> int:
        """Record the send under its slot (with the schedule's next step), then start its delivery run."""
        variant = variant or {}
        try:
            with self.db.transaction() as session:
                row = self._row(session, campaign_id)
                if not row.template_id and not variant.get("template_id"):
                    raise CampaignError(f"“{row.name}” has no template: choose one")
                if not (row.subject or variant.get("subject")):
                    raise CampaignError(f"“{row.name}” has no subject")
                audience = row.audience or {}
                if not (audience.get("lists") or audience.get("segments")):
                    raise CampaignError(f"“{row.name}” has no audience: choose lists or segments")
                send = CampaignSend(campaign_id=campaign_id, slot=slot, variant=variant_key, due_at=due)
                session.add(send)
                if next_run_at is not ...:
                    row.next_run_at = next_run_at
                row.state, row.state_reason = "sending", ""
                session.flush()
                send_id = send.id
                utm = dict(row.utm or {})
                if utm and "utm_campaign" in utm and not utm["utm_campaign"]:
                    utm["utm_campaign"] = row.name
                content = MessageContent(
                    subject=variant.get("subject") or row.subject, campaign_name=row.name,
                    track_opens=row.track_opens, track_clicks=row.track_clicks, preheader=row.preheader,
                    template_id=variant.get("template_id") or row.template_id,
                    from_name=variant.get("from_name", ""), utm=utm)
                spec = AudienceSpec(
                    lists=() if contacts else tuple(audience.get("lists", ())),
                    segments=() if contacts else tuple(audience.get("segments", ())),
                    exclude_lists=tuple(audience.get("exclude_lists", ())),
                    exclude_segments=tuple(audience.get("exclude_segments", ())),
                    contacts=contacts, time_zones=time_zones, buckets=tuple(buckets) if buckets else ())
                identity_id, account_ids, name = row.identity_id, tuple(row.account_ids or ()), row.name
        except IntegrityError:
            return 0  # this slot was started already
        try:
            run_id = self.bus.execute(StartRun(audience=spec, content=content, campaign_id=campaign_id,
                                               identity_id=identity_id, account_ids=account_ids))
        except Exception as exc:
            with self.db.transaction() as session:
                found = session.get(CampaignSend, send_id)
                if found is not None:
                    session.delete(found)
            raise CampaignError(f"“{name}” could not start: {exc}") from None
        with self.db.transaction() as session:
            found = session.get(CampaignSend, send_id)
            if found is not None:
                found.run_id = run_id
        self.bus.publish(CampaignRunStarted(campaign_id=campaign_id, run_id=run_id, variant=variant_key,
                                            at=self.clock()))
        self.bus.publish(CampaignSaved(campaign_id=campaign_id, name=name, state="sending"))
        return 1

    def _record_skip(self, campaign_id: int, slot: str, due: dt.datetime, why: str = "skipped") -> None:
        try:
            with self.db.transaction() as session:
                session.add(CampaignSend(campaign_id=campaign_id, slot=slot, due_at=due, error=why))
        except IntegrityError:
            pass

    def _local_slots(self, campaign_id: int, audience: AudienceSpec) -> list[scheduling.LocalSlot]:
        from app.modules.contacts import api as contacts_api

        with self.db.read() as session:
            row = self._row(session, campaign_id)
            day, at, default = row.local_date, row.local_time, row.default_time_zone
        if day is None or not at:
            return []
        zones = contacts_api.audience_time_zones(self.db, contacts_api.Audience(
            lists=audience.lists, segments=audience.segments, exclude_lists=audience.exclude_lists,
            exclude_segments=audience.exclude_segments))
        return scheduling.local_slots(day, scheduling.parse_hhmm(at), zones, default)

    def _next_local(self, campaign_id: int, audience: AudienceSpec, now: dt.datetime) -> dt.datetime | None:
        done = {s.slot for s in self._info(campaign_id).sends}
        pending = [s for s in self._local_slots(campaign_id, audience) if f"local:{s.zone}" not in done]
        return min((s.due_at for s in pending), default=None)

    def _on_run_state(self, event: RunStateChanged) -> None:
        if event.campaign_id is not None:
            self._refresh_state(event.campaign_id)
            self.wake()

    def _refresh_state(self, campaign_id: int) -> None:
        """The campaign's state from its runs: sending while one sends, paused when one is paused, else sent
        (or still scheduled when more sends are due, or sending while an A/B test waits for its winner)."""
        info = api.get_campaign(self.db, campaign_id)
        if info is None or info.state in ("cancelled", "draft"):
            return
        states = [s.state for s in (delivery_api.run_status(self.db, r) for r in info.run_ids) if s is not None]
        if not states:
            return
        waiting_ab = bool(info.ab.get("variants")) and not info.ab.get("winner")
        waiting_resend = bool(info.resend.get("subject")) and not info.resend.get("done")
        if any(s in OPEN_RUN_STATES for s in states):
            state, reason = "sending", ""
        elif "paused" in states:
            state, reason = "paused", ""
        elif info.next_run_at is not None:
            state, reason = "scheduled", ""
        elif waiting_ab:
            state, reason = "sending", "test groups sent: waiting to choose the winner"
        elif all(s == "cancelled" for s in states):
            state, reason = "cancelled", ""
        else:
            state = "sent"
            reason = "resend to non-openers pending" if waiting_resend else ""
        if (state, reason) != (info.state, info.state_reason):
            self._set(campaign_id, state=state, state_reason=reason)
            self.bus.publish(CampaignSaved(campaign_id=campaign_id, name=info.name, state=state))

    def _each_run(self, campaign_id: int, command: Any, only: tuple[str, ...]) -> bool:
        info = self._info(campaign_id)
        changed = False
        for run_id in info.run_ids:
            status = delivery_api.run_status(self.db, run_id)
            if status is not None and status.state in only:
                changed = bool(self.bus.execute(command(run_id=run_id))) or changed
        self._refresh_state(campaign_id)
        return changed

    def _set(self, campaign_id: int, **values: Any) -> None:
        with self.db.transaction() as session:
            row = self._row(session, campaign_id)
            for key, value in values.items():
                setattr(row, key, value)

    def _info(self, campaign_id: int) -> api.CampaignInfo:
        info = api.get_campaign(self.db, campaign_id)
        if info is None:
            raise CampaignError(f"no campaign with id {campaign_id}")
        return info

    @staticmethod
    def _row(session: Any, campaign_id: int) -> Campaign:
        row: Campaign | None = session.get(Campaign, campaign_id)
        if row is None:
            raise CampaignError(f"no campaign with id {campaign_id}")
        return row

    @staticmethod
    def _audience(row: Campaign) -> AudienceSpec:
        audience = row.audience or {}
        return AudienceSpec(lists=tuple(audience.get("lists", ())), segments=tuple(audience.get("segments", ())),
                            exclude_lists=tuple(audience.get("exclude_lists", ())),
                            exclude_segments=tuple(audience.get("exclude_segments", ())))

    @staticmethod
    def _instant(value: dt.datetime, zone_name: str) -> dt.datetime:
        """An aware time as UTC; a naive one is wall time in ``zone_name``."""
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return scheduling.to_utc(value, zone_name)

    @staticmethod
    def _wall(value: dt.datetime, zone_name: str) -> dt.datetime:
        if value.tzinfo is not None:
            return value.astimezone(scheduling.zone(zone_name)).replace(tzinfo=None)
        return value

