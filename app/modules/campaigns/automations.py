"""Automations at run time: the commands, the triggers that enrol contacts, and the engine that moves each
contact through the steps, durably.

Why nothing is repeated or skipped: an enrollment names the step it does next (``step_id``) and how many it
has done (``step_seq``). Carrying out a step inserts ``EnrollmentStep(enrollment, step_seq + 1)`` (unique) and
moves the enrollment on in ONE transaction, guarded by the ``step_seq`` it read. A kill before the commit
leaves the step to do again (its effect on the contact is idempotent: a tag, a field, a list); a kill after it
leaves the step done. An email is the one effect that must not repeat: its step row is committed first as
"starting" (phase 1), then ``StartRun`` is executed once for every contact due at that step (phase 2), then the
run id is recorded and the contacts move on (phase 3). After a kill between 1 and 3 the engine looks for the
run it may have started (a run with that subject, created after the "starting" row and not claimed by any
step) and adopts it instead of starting another.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from app.kernel.database import utcnow
from app.kernel.locks import ExclusiveFileLock
from app.kernel.registry import ModuleContext
from app.modules.campaigns import automation_graph as ag
from app.modules.campaigns.messages import (
    AutomationDeleted,
    AutomationEmailStarted,
    AutomationSaved,
    AutomationsProgressed,
    CampaignError,
    DeleteAutomation,
    DuplicateAutomation,
    RunAutomations,
    SaveAutomation,
    SetAutomationState,
    TestAutomation,
    TestedStep,
)
from app.modules.campaigns.models import Automation, Enrollment, EnrollmentStep
from app.modules.contacts import api as contacts_api
from app.modules.contacts.messages import ChangeContact, ContactTagged, SubscriptionChanged
from app.modules.delivery import api as delivery_api
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from app.modules.stats.messages import EventReceived, LinkClicked, MessageOpened

log = logging.getLogger("app.modules.campaigns.automations")

BATCH = 500  # enrollments read per round
IDLE_SECONDS = 60.0  # the loop looks again at least this often (anniversaries, missed wake-ups)
RETRY_SECONDS = 600.0  # a send that could not start is tried again after this


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


@dataclass
class _Due:
    enrollment_id: int
    automation_id: int
    contact_id: int
    step_id: str
    step_seq: int
    test: bool


class AutomationService:
    """Commands, triggers and the loop. ``clock`` (epoch seconds) is injected so tests can move time."""

    def __init__(self, context: ModuleContext, clock: Callable[[], float] = time.time) -> None:
        self.db = context.db
        self.bus = context.bus
        self.clock = clock
        self._file_lock = ExclusiveFileLock(context.paths.data_dir / "campaigns-automations.lock")
        self._round = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._anniversary_done: dict[int, dt.date] = {}
        # Tests only: called after each step is committed, to crash the process at a chosen point.
        self.after_step: Callable[[int, str], None] | None = None

    # -- wiring -------------------------------------------------------------------------------------------

    def register(self, context: ModuleContext) -> None:
        context.handle(SaveAutomation, self.save)
        context.handle(SetAutomationState, self.set_state)
        context.handle(DuplicateAutomation, self.duplicate)
        context.handle(DeleteAutomation, self.delete)
        context.handle(TestAutomation, self.test)
        context.handle(RunAutomations, lambda _command: self.run_due())
        context.subscribe(SubscriptionChanged, self.on_subscription)
        context.subscribe(ContactTagged, self.on_tagged)
        context.subscribe(EventReceived, self.on_event)
        context.subscribe(LinkClicked, self.on_click)
        context.subscribe(MessageOpened, self.on_open)

    def start(self) -> None:
        """The loop, only in the running app."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="postroom-automations", daemon=False)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._file_lock.release()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check_anniversaries()
                self.run_due()
            except Exception:
                log.exception("an automation round failed; trying again shortly")
            self._wake.wait(self._sleep_for())
            self._wake.clear()

    def _sleep_for(self) -> float:
        with self.db.read() as session:
            soonest = session.scalar(select(func.min(Enrollment.wake_at)).join(
                Automation, Automation.id == Enrollment.automation_id).where(
                Enrollment.state == "active", Enrollment.test.is_(False), Automation.state == "active"))
        if soonest is None:
            return IDLE_SECONDS
        return max(0.05, min(IDLE_SECONDS, float(soonest) - self.clock()))

    # -- commands -----------------------------------------------------------------------------------------

    def save(self, command: SaveAutomation) -> int:
        name = command.name.strip()
        if not name:
            raise CampaignError("An automation needs a name.")
        if command.reentry not in ("once", "again"):
            raise CampaignError("Entry is “once” or “again”.")
        if command.reentry == "again" and command.reentry_days < 1:
            raise CampaignError("Say after how many days a contact may enter again (1 or more).")
        try:
            graph = ag.Graph.from_json(command.graph)
        except ag.GraphError as exc:
            raise CampaignError(str(exc)) from exc
        trigger = graph.trigger
        with self.db.transaction() as session:
            clash = session.scalar(select(Automation.id).where(Automation.name_key == name.casefold()))
            if clash is not None and clash != command.automation_id:
                raise CampaignError(f"An automation named “{name}” already exists.")
            if command.automation_id is None:
                row = Automation(name=name, name_key=name.casefold(), state="draft")
                session.add(row)
            else:
                found = session.get(Automation, command.automation_id)
                if found is None:
                    raise CampaignError("This automation was deleted.")
                row = found
                if row.state == "active":
                    _require_valid(graph, self.db)
            row.name, row.name_key = name, name.casefold()
            row.graph = graph.to_json()
            row.trigger = dict(trigger.props) if trigger else {}
            row.reentry, row.reentry_days = command.reentry, command.reentry_days
            row.updated_at = utcnow()
            session.flush()
            automation_id, state = row.id, row.state
        self.bus.publish(AutomationSaved(automation_id=automation_id, name=name, state=state))
        return automation_id

    def set_state(self, command: SetAutomationState) -> bool:
        if command.state not in ("active", "paused"):
            raise CampaignError("An automation is activated or paused.")
        with self.db.transaction() as session:
            row = session.get(Automation, command.automation_id)
            if row is None:
                raise CampaignError("This automation was deleted.")
            if row.state == command.state:
                return False
            if command.state == "active":
                _require_valid(ag.Graph.from_json(row.graph), self.db)
            row.state = command.state
            row.updated_at = utcnow()
            name = row.name
        self.bus.publish(AutomationSaved(automation_id=command.automation_id, name=name, state=command.state))
        self.wake()
        return True

    def duplicate(self, command: DuplicateAutomation) -> int:
        with self.db.read() as session:
            row = session.get(Automation, command.automation_id)
            if row is None:
                raise CampaignError("This automation was deleted.")
            graph, reentry, days, base = dict(row.graph), row.reentry, row.reentry_days, row.name
            taken = {k.casefold() for k in session.scalars(select(Automation.name_key))}
        name = command.name.strip()
        if not name:
            name, n = f"{base} (copy)", 2
            while name.casefold() in taken:
                name, n = f"{base} (copy {n})", n + 1
        return self.save(SaveAutomation(name=name, graph=graph, reentry=reentry, reentry_days=days))

    def delete(self, command: DeleteAutomation) -> bool:
        with self.db.transaction() as session:
            row = session.get(Automation, command.automation_id)
            if row is None:
                return False
            ids = select(Enrollment.id).where(Enrollment.automation_id == command.automation_id)
            session.execute(delete(EnrollmentStep).where(EnrollmentStep.enrollment_id.in_(ids)))
            session.execute(delete(Enrollment).where(Enrollment.automation_id == command.automation_id))
            session.delete(row)
        self.bus.publish(AutomationDeleted(automation_id=command.automation_id))
        return True

    def test(self, command: TestAutomation) -> tuple[TestedStep, ...]:
        """One contact through the whole automation now, waits skipped; see ``TestAutomation``."""
        with self.db.read() as session:
            row = session.get(Automation, command.automation_id)
            if row is None:
                raise CampaignError("This automation was deleted.")
            graph, name = ag.Graph.from_json(row.graph), row.name
        _require_valid(graph, self.db)
        if contacts_api.contact_email(self.db, command.contact_id) is None:
            raise CampaignError("This contact no longer exists.")
        enrollment_id = self._enroll(command.automation_id, graph, command.contact_id,
                                     f"test:{command.contact_id}:{uuid.uuid4().hex}", test=True)
        assert enrollment_id is not None
        for _ in range(len(graph.nodes) * 4 + 10):  # a loop through a Wait could go on forever in test mode
            due = self._read_due([enrollment_id])
            if not due:
                break
            item = due[0]
            node = graph.node(item.step_id)
            if node is not None and node.kind == "send_email":
                self._send_group(command.automation_id, name, node, [item])
            else:
                self._advance(item, graph)
        with self.db.read() as session:
            steps = session.execute(select(EnrollmentStep).where(EnrollmentStep.enrollment_id == enrollment_id)
                                    .order_by(EnrollmentStep.seq)).scalars().all()
            return tuple(TestedStep(step_id=s.step_id, kind=s.kind, result=_result_text(s.kind, s.result),
                                    run_id=s.run_id) for s in steps)

    # -- triggers -------------------------------------------------------------------------------------------

    def _active(self, trigger_type: str) -> list[Automation]:
        with self.db.read() as session:
            rows = session.scalars(select(Automation).where(Automation.state == "active")).all()
            for row in rows:
                session.expunge(row)
        return [row for row in rows if (row.trigger or {}).get("type") == trigger_type]

    def _enter(self, automations: Iterable[Automation], contact_ids: Iterable[int], source: str) -> int:
        entered, touched = 0, []
        ids = list(contact_ids)
        for row in automations:
            graph = ag.Graph.from_json(row.graph)
            for contact_id in ids:
                key = f"c{contact_id}" if row.reentry == "once" else f"c{contact_id}:{source}"
                if self._enroll(row.id, graph, contact_id, key, reentry=row.reentry, days=row.reentry_days) is not None:
                    entered += 1
                    touched.append(row.id)
        if entered:
            self.bus.publish(AutomationsProgressed(automation_ids=tuple(sorted(set(touched)))))
            self.wake()
        return entered

    def on_subscription(self, event: SubscriptionChanged) -> None:
        if event.status != "subscribed":
            return
        matching = [a for a in self._active("list_joined") if a.trigger.get("list_id") == event.list_id]
        if matching:
            self._enter(matching, [event.contact_id], f"list{event.list_id}:{int(self.clock() // 60)}")

    def on_tagged(self, event: ContactTagged) -> None:
        tag = event.tag.strip().casefold()
        matching = [a for a in self._active("tag_added") if str(a.trigger.get("tag", "")).strip().casefold() == tag]
        if matching:
            self._enter(matching, event.contact_ids, f"tag:{tag}:{int(self.clock() // 60)}")

    def on_event(self, event: EventReceived) -> None:
        candidates = [a for a in self._active("event")
                      if str(a.trigger.get("name", "")).strip() == event.name.strip()]
        if not candidates:
            return
        recipient = contacts_api.find_recipient(self.db, event.email)
        if recipient is None:
            log.info("event %s for %s: no such contact, nobody enters", event.name, event.email)
            return
        properties = {**event.properties, "value": event.value, "currency": event.currency}
        matching = [a for a in candidates
                    if ag.event_matches(ag.parse_filters(a.trigger.get("filters") or []), properties)]
        uid = event.event_uid or f"{event.name}:{event.at.isoformat()}"
        if matching:
            self._enter(matching, [recipient.contact_id], f"event:{uid}")

    def on_click(self, event: LinkClicked) -> None:
        if event.machine:
            return
        self._record_engagement(event.run_id, event.contact_id, "clicked_at", event.at)
        candidates = self._active("link_clicked")
        if not candidates:
            return
        status = delivery_api.run_status(self.db, event.run_id)
        if status is None or status.campaign_id is None:
            return
        matching = [a for a in candidates if a.trigger.get("campaign_id") == status.campaign_id
                    and str(a.trigger.get("url_contains") or "") in event.url]
        if matching:
            self._enter(matching, [event.contact_id], f"click:{event.event_uid or event.run_id}")

    def on_open(self, event: MessageOpened) -> None:
        if not event.machine:
            self._record_engagement(event.run_id, event.contact_id, "opened_at", event.at)

    def _record_engagement(self, run_id: int, contact_id: int, key: str, at: dt.datetime) -> None:
        """An automation email was opened or clicked: noted on its step, for conditions and the counts."""
        with self.db.transaction() as session:
            steps = session.scalars(select(EnrollmentStep).join(
                Enrollment, Enrollment.id == EnrollmentStep.enrollment_id).where(
                EnrollmentStep.run_id == run_id, Enrollment.contact_id == contact_id)).all()
            for step in steps:
                data = _json(step.result)
                if not data.get(key):
                    data[key] = at.replace(tzinfo=None).isoformat()
                    step.result = json.dumps(data)
        if steps:
            self.bus.publish(AutomationsProgressed(automation_ids=()))

    def check_anniversaries(self) -> int:
        """Contacts whose date field has its anniversary today (in the trigger's zone), once the chosen hour
        has come; each day's check is idempotent (the entry key names the day)."""
        now = self.clock()
        entered = 0
        for row in self._active("anniversary"):
            trigger = row.trigger
            zone = _zone(str(trigger.get("time_zone") or "UTC"))
            local = dt.datetime.fromtimestamp(now, zone)
            if local.hour < int(trigger.get("hour", 9)) or self._anniversary_done.get(row.id) == local.date():
                continue
            key = str(trigger.get("field"))
            rules = {"field": key if key == "created_at" else f"field:{key}", "op": "anniversary_today"}
            after = 0
            while True:
                try:
                    ids = contacts_api.matching_contacts(self.db, rules, now=local.replace(tzinfo=None),
                                                         after_id=after, limit=1000)
                except ValueError as exc:
                    log.warning("automation %s: the anniversary of %s cannot be checked (%s)", row.id, key, exc)
                    break
                if not ids:
                    break
                entered += self._enter([row], ids, f"anniversary:{local.date().isoformat()}")
                after = ids[-1]
            self._anniversary_done[row.id] = local.date()
        return entered

    def _enroll(self, automation_id: int, graph: ag.Graph, contact_id: int, key: str, *, reentry: str = "once",
                days: int = 0, test: bool = False) -> int | None:
        """A new enrollment at the trigger's first step, or None when the entry rules say no (or it exists)."""
        trigger = graph.trigger
        first = graph.next_step(trigger.id) if trigger else None
        now = self.clock()
        try:
            with self.db.transaction() as session:
                if not test:
                    current = session.execute(select(Enrollment.state, Enrollment.entered_at).where(
                        Enrollment.automation_id == automation_id, Enrollment.contact_id == contact_id,
                        Enrollment.test.is_(False)).order_by(Enrollment.id.desc()).limit(1)).first()
                    if current is not None and (reentry == "once" or current[0] == "active"
                                                or current[1] > _utc(now) - dt.timedelta(days=days)):
                        return None
                row = Enrollment(automation_id=automation_id, contact_id=contact_id, trigger_key=key[:200],
                                 test=test, step_id=first or "", state="active" if first else "done",
                                 wake_at=now, entered_at=_utc(now), finished_at=None if first else _utc(now))
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            return None  # the same trigger, seen twice

    # -- the engine -----------------------------------------------------------------------------------------

    def run_due(self, limit: int = BATCH) -> int:
        """Carry out every step due now, round after round until nothing is due; returns how many steps."""
        if not self._round.acquire(blocking=False):
            return 0
        try:
            if not self._file_lock.acquire():
                return 0  # another Postroom on this data folder runs the automations
            try:
                done = 0
                while not self._stopping.is_set():
                    count = self._one_round(limit)
                    done += count
                    if count == 0:
                        break
                return done
            finally:
                self._file_lock.release()
        finally:
            self._round.release()

    def _one_round(self, limit: int) -> int:
        now = self.clock()
        with self.db.read() as session:
            rows = session.execute(
                select(Enrollment.id, Enrollment.automation_id, Enrollment.contact_id, Enrollment.step_id,
                       Enrollment.step_seq, Enrollment.test)
                .join(Automation, Automation.id == Enrollment.automation_id)
                .where(Enrollment.state == "active", Enrollment.test.is_(False), Enrollment.wake_at <= now,
                       Automation.state == "active")
                .order_by(Enrollment.wake_at, Enrollment.id).limit(limit)).all()
            automations = {a.id: (a.name, ag.Graph.from_json(a.graph)) for a in session.scalars(
                select(Automation).where(Automation.id.in_({r[1] for r in rows})))}
        if not rows:
            return 0
        done = 0
        sends: dict[tuple[int, str], list[_Due]] = {}
        for raw in rows:
            item = _Due(*raw)
            graph = automations[item.automation_id][1]
            node = graph.node(item.step_id)
            if node is not None and node.kind == "send_email":
                sends.setdefault((item.automation_id, node.id), []).append(item)
            else:
                done += self._advance(item, graph)
        for (automation_id, step_id), items in sends.items():
            name, graph = automations[automation_id]
            node = graph.node(step_id)
            assert node is not None
            done += self._send_group(automation_id, name, node, items)
        if done:
            self.bus.publish(AutomationsProgressed(automation_ids=tuple(sorted({r[1] for r in rows}))))
        return done

    def _read_due(self, enrollment_ids: list[int]) -> list[_Due]:
        with self.db.read() as session:
            rows = session.execute(
                select(Enrollment.id, Enrollment.automation_id, Enrollment.contact_id, Enrollment.step_id,
                       Enrollment.step_seq, Enrollment.test)
                .where(Enrollment.id.in_(enrollment_ids), Enrollment.state == "active")).all()
        return [_Due(*r) for r in rows]

    def _advance(self, item: _Due, graph: ag.Graph) -> int:
        """Carry out one enrollment's steps until it must wait, send, or ends; returns how many were done."""
        done = 0
        while True:
            node = graph.node(item.step_id)
            if node is None:  # the step was removed by an edit: the contact leaves rather than guessing
                self._commit_step(item, item.step_id, "removed", result="the step no longer exists", wake=0.0,
                                  state="exited")
                return done + 1
            if node.kind == "send_email":
                return done
            now = self.clock()
            branch, result, wake, state = "", "", now, "active"
            if node.kind == "wait":
                wake = now if item.test else self._wake_time(node, item.contact_id, now)
                result = f"until {_utc(wake).isoformat(timespec='seconds')}"
            elif node.kind == "branch":
                branch = result = "yes" if self._condition(node, item, now) else "no"
            elif node.kind in ("add_tag", "remove_tag", "update_field", "move_list"):
                result = self._change_contact(node, item.contact_id)
            elif node.kind == "exit":
                state = "exited"
            next_id = graph.next_step(node.id, branch) if state == "active" else None
            if not self._commit_step(item, next_id or "", node.kind, result=result, wake=wake,
                                     state=state if next_id or state != "active" else "done", step_id=node.id):
                return done
            done += 1
            if next_id is None or wake > now:
                return done
            item.step_id, item.step_seq = next_id, item.step_seq + 1

    def _commit_step(self, item: _Due, next_id: str, kind: str, *, result: str, wake: float, state: str,
                     step_id: str | None = None) -> bool:
        """Record the step and move the enrollment on in one transaction; False if someone else moved it."""
        now = _utc(self.clock())
        try:
            with self.db.transaction() as session:
                moved = session.execute(update(Enrollment).where(
                    Enrollment.id == item.enrollment_id, Enrollment.step_seq == item.step_seq,
                    Enrollment.state == "active").values(
                    step_id=next_id, step_seq=item.step_seq + 1, wake_at=wake, state=state,
                    finished_at=now if state != "active" else None))
                if not getattr(moved, "rowcount", 0):
                    return False
                session.add(EnrollmentStep(enrollment_id=item.enrollment_id, seq=item.step_seq + 1,
                                           step_id=step_id or item.step_id, kind=kind, result=result[:2000],
                                           done_at=now))
        except IntegrityError:
            return False
        if self.after_step is not None:
            self.after_step(item.enrollment_id, step_id or item.step_id)
        return True

    def _wake_time(self, node: ag.Node, contact_id: int, now: float) -> float:
        if node.props.get("mode") == "until":
            zone = ""
            if not node.props.get("time_zone"):
                email = contacts_api.contact_email(self.db, contact_id)
                recipient = contacts_api.find_recipient(self.db, email) if email else None
                zone = recipient.time_zone if recipient else ""
            return ag.wait_until(node.props, now, zone)
        return now + ag.wait_seconds(node.props)

    def _condition(self, node: ag.Node, item: _Due, now: float) -> bool:
        p = node.props
        moment = _utc(now)
        if p.get("condition") == "engagement":
            days = int(p.get("days") or 0)
            key = "clicked_at" if p.get("what") == "clicked" else "opened_at"
            if p.get("step_id"):
                since = moment - dt.timedelta(days=days)
                with self.db.read() as session:
                    results = session.scalars(select(EnrollmentStep.result).join(
                        Enrollment, Enrollment.id == EnrollmentStep.enrollment_id).where(
                        Enrollment.automation_id == item.automation_id, Enrollment.contact_id == item.contact_id,
                        EnrollmentStep.step_id == p["step_id"])).all()
                for result in results:
                    data = _json(result)
                    stamp = data.get(key) or (data.get("clicked_at") if key == "opened_at" else None)
                    if stamp and dt.datetime.fromisoformat(stamp) >= since:
                        return True
                return False
            op = "clicked_in_last_days" if key == "clicked_at" else "opened_in_last_days"
            rules: dict[str, Any] | None = {"field": "engagement", "op": op, "value": days}
        elif p.get("condition") == "segment":
            rules = contacts_api.segment_rules(self.db, int(p.get("segment_id") or 0))
        else:
            rules = p.get("rules") or None
        if not rules:
            return False
        try:
            return bool(contacts_api.matching_contacts(self.db, rules, contact_ids=(item.contact_id,), now=moment))
        except ValueError as exc:
            log.warning("condition %s cannot be evaluated (%s): taking the no path", node.id, exc)
            return False

    def _change_contact(self, node: ag.Node, contact_id: int) -> str:
        p = node.props
        change: dict[str, Any] = {"contact_id": contact_id, "source": f"automation step {node.id}"}
        if node.kind == "add_tag":
            change["add_tags"] = (str(p.get("tag")),)
        elif node.kind == "remove_tag":
            change["remove_tags"] = (str(p.get("tag")),)
        elif node.kind == "update_field":
            change["fields"] = {str(p.get("field")): p.get("value")}
        elif p.get("action", "add") == "add":
            change["join_lists"] = (int(p.get("list_id") or 0),)
        else:
            change["leave_lists"] = (int(p.get("list_id") or 0),)
        try:
            return "changed" if self.bus.execute(ChangeContact(**change)) else "unchanged"
        except ValueError as exc:  # ContactsError: e.g. a suppressed contact cannot join a list
            return f"skipped: {exc}"

    # -- sending -------------------------------------------------------------------------------------------

    def _send_group(self, automation_id: int, name: str, node: ag.Node, items: list[_Due]) -> int:
        """One StartRun for every contact due at this email step (see the module docstring)."""
        started = utcnow()
        fresh, pending = [], []
        with self.db.transaction() as session:
            for item in items:
                step = session.scalar(select(EnrollmentStep).where(
                    EnrollmentStep.enrollment_id == item.enrollment_id, EnrollmentStep.seq == item.step_seq + 1))
                if step is None:
                    session.add(EnrollmentStep(enrollment_id=item.enrollment_id, seq=item.step_seq + 1,
                                               step_id=node.id, kind="send_email", result="starting",
                                               done_at=started))
                    fresh.append(item)
                elif step.run_id is None:
                    pending.append((item, step.done_at))
        if self.after_step is not None and fresh:
            self.after_step(fresh[0].enrollment_id, "send_email:starting")
        done = 0
        if pending:  # a round that was killed between "starting" and recording its run
            since = min(at for _, at in pending)
            run_id = self._find_started_run(node, since, test=pending[0][0].test)
            done += self._start_and_record(automation_id, name, node, [i for i, _ in pending], run_id)
        if fresh:
            done += self._start_and_record(automation_id, name, node, fresh, None)
        return done

    def _subject(self, node: ag.Node, test: bool) -> str:
        subject = str(node.props.get("subject") or "")
        return f"[Test] {subject}" if test else subject

    def _find_started_run(self, node: ag.Node, since: dt.datetime, *, test: bool) -> int | None:
        subject = self._subject(node, test)
        with self.db.read() as session:
            claimed = set(session.scalars(select(EnrollmentStep.run_id).where(EnrollmentStep.run_id.is_not(None))))
        for run in delivery_api.list_runs(self.db, limit=200):
            if (run.campaign_id is None and run.subject == subject and run.created_at >= since - dt.timedelta(seconds=2)
                    and run.id not in claimed):
                log.info("automation step %s: adopting run %s started before a crash", node.id, run.id)
                return run.id
        return None

    def _start_and_record(self, automation_id: int, name: str, node: ag.Node, items: list[_Due],
                          run_id: int | None) -> int:
        test = items[0].test
        contact_ids = tuple(sorted({i.contact_id for i in items}))
        if run_id is None:
            p = node.props
            content = MessageContent(subject=self._subject(node, test), preheader=str(p.get("preheader") or ""),
                                     template_id=int(p["template_id"]) if p.get("template_id") else None,
                                     campaign_name=name)
            identity = int(p["identity_id"]) if p.get("identity_id") else None
            try:
                run_id = int(self.bus.execute(StartRun(audience=AudienceSpec(contacts=contact_ids), content=content,
                                                       identity_id=identity)))
            except Exception as exc:
                log.warning("automation %s step %s could not start its email (%s); trying again later",
                            automation_id, node.id, exc)
                self._postpone(items, str(exc))
                if test:
                    raise CampaignError(f"The email of step “{ag.node_title(node)}” could not be sent: {exc}") from exc
                return 0
            if self.after_step is not None:
                self.after_step(items[0].enrollment_id, "send_email:started")
        done = 0
        now = self.clock()
        graph_next = self._next_of(automation_id, node.id)
        with self.db.transaction() as session:
            for item in items:
                step = session.scalar(select(EnrollmentStep).where(
                    EnrollmentStep.enrollment_id == item.enrollment_id, EnrollmentStep.seq == item.step_seq + 1))
                moved = session.execute(update(Enrollment).where(
                    Enrollment.id == item.enrollment_id, Enrollment.step_seq == item.step_seq).values(
                    step_id=graph_next or "", step_seq=item.step_seq + 1, wake_at=now,
                    state="active" if graph_next else "done", finished_at=None if graph_next else _utc(now)))
                if step is not None and getattr(moved, "rowcount", 0):
                    step.run_id, step.result = run_id, json.dumps({"run_id": run_id})
                    done += 1
        if self.after_step is not None:
            self.after_step(items[0].enrollment_id, node.id)
        if not test:
            self.bus.publish(AutomationEmailStarted(automation_id=automation_id, run_id=run_id, step_id=node.id,
                                                    contact_ids=contact_ids))
        return done

    def _next_of(self, automation_id: int, node_id: str) -> str | None:
        with self.db.read() as session:
            row = session.get(Automation, automation_id)
            return ag.Graph.from_json(row.graph).next_step(node_id) if row is not None else None

    def _postpone(self, items: list[_Due], reason: str) -> None:
        """Nothing was started: forget the "starting" rows and try again later."""
        with self.db.transaction() as session:
            for item in items:
                session.execute(delete(EnrollmentStep).where(
                    EnrollmentStep.enrollment_id == item.enrollment_id, EnrollmentStep.seq == item.step_seq + 1,
                    EnrollmentStep.run_id.is_(None)))
                session.execute(update(Enrollment).where(Enrollment.id == item.enrollment_id).values(
                    wake_at=self.clock() + (0 if item.test else RETRY_SECONDS)))
        log.info("postponed %d contacts: %s", len(items), reason)


def install(context: ModuleContext, clock: Callable[[], float] = time.time) -> AutomationService:
    """The service with its handlers and subscriptions; its loop runs with the app's services, stops at teardown."""
    service = AutomationService(context, clock)
    service.register(context)
    context.on_services(service.start)
    context.on_teardown(service.stop)
    return service


def _require_valid(graph: ag.Graph, db: Any = None) -> None:
    problems = ag.validate(graph)
    if db is not None and not problems:
        for node in graph.nodes:  # the contacts module judges its own rule language
            if node.kind == "branch" and node.props.get("condition") == "rules":
                try:
                    contacts_api.matching_contacts(db, node.props.get("rules") or {}, contact_ids=())
                except ValueError as exc:
                    problems.append(ag.Problem(f"“{ag.node_title(node)}”: {exc}", node.id))
    if problems:
        raise CampaignError("This automation cannot run yet: " + " ".join(p.message for p in problems[:5]))


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _result_text(kind: str, result: str) -> str:
    if kind == "send_email":
        data = _json(result)
        return f"run {data['run_id']}" if data.get("run_id") else result
    return result


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
