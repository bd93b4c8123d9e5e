"""Automations at run time: the commands, the triggers that enrol contacts (with the entry rules), the loop, and
test mode. The steps themselves are carried out by ``automation_engine`` (which explains why nothing repeats)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.kernel.database import utcnow
from app.kernel.locks import ExclusiveFileLock
from app.kernel.registry import ModuleContext
from app.modules.campaigns import automation_graph as ag
from app.modules.campaigns.automation_engine import AutomationEngine, read_json
from app.modules.campaigns.messages import (
    AutomationDeleted,
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
from app.modules.campaigns.scheduling import zone_or_utc
from app.modules.contacts import api as contacts_api
from app.modules.contacts.messages import ContactsImported, ContactsJoinedList, ContactTagged, SubscriptionChanged
from app.modules.delivery import api as delivery_api
from app.modules.stats.messages import EventReceived, LinkClicked, MessageOpened

log = logging.getLogger("app.modules.campaigns.automations")

BATCH = 500  # enrollments read per round
IDLE_SECONDS = 60.0  # the loop looks again at least this often (anniversaries, missed wake-ups)
RETRY_SECONDS = 600.0  # a send that could not start is tried again after this
ENTER_CHUNK = 500  # contacts enrolled per transaction


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


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
        self.engine = AutomationEngine(self.db, self.bus, lambda: self.clock())  # noqa: PLW0108 - follows a swapped clock

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
        context.subscribe(ContactsImported, self.on_imported)
        context.subscribe(ContactsJoinedList, self.on_joined_many)
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
            graph = ag.Graph.from_json(row.graph)
        _require_valid(graph, self.db)
        if contacts_api.contact_email(self.db, command.contact_id) is None:
            raise CampaignError("This contact no longer exists.")
        enrollment_id = self._enroll(command.automation_id, graph, command.contact_id,
                                     f"test:{command.contact_id}:{uuid.uuid4().hex}", test=True)
        assert enrollment_id is not None
        for _ in range(len(graph.nodes) * 4 + 10):  # a loop through a Wait could go on forever in test mode
            due = self.engine.due([enrollment_id])
            if not due:
                break
            self.engine.carry(due)
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
        ids = list(dict.fromkeys(contact_ids))
        for row in automations:
            graph = ag.Graph.from_json(row.graph)
            for start in range(0, len(ids), ENTER_CHUNK):
                chunk = ids[start:start + ENTER_CHUNK]
                try:
                    count = self._enroll_many(row, graph, chunk, source)
                except IntegrityError:  # entered meanwhile by another writer: one by one, the key decides
                    count = sum(self._enroll(row.id, graph, c, (f"c{c}" if row.reentry == "once" else f"c{c}:{source}"),
                                             reentry=row.reentry, days=row.reentry_days) is not None for c in chunk)
                entered += count
                if count:
                    touched.append(row.id)
        if entered:
            self.bus.publish(AutomationsProgressed(automation_ids=tuple(sorted(set(touched)))))
            self.wake()
        return entered

    def _enroll_many(self, row: Automation, graph: ag.Graph, contact_ids: list[int], source: str) -> int:
        """Enrol a chunk of contacts in one transaction (a bulk tag of 100,000 contacts is 200 commits, not
        100,000), applying the entry rule; returns how many entered."""
        trigger = graph.trigger
        first = graph.next_step(trigger.id) if trigger else None
        now = self.clock()
        keys = {c: (f"c{c}" if row.reentry == "once" else f"c{c}:{source}")[:200] for c in contact_ids}
        with self.db.transaction() as session:
            taken = set(session.scalars(select(Enrollment.trigger_key).where(
                Enrollment.automation_id == row.id, Enrollment.trigger_key.in_(list(keys.values())))))
            wanted = [c for c in contact_ids if keys[c] not in taken]
            if row.reentry != "once" and wanted:
                since = _utc(now) - dt.timedelta(days=row.reentry_days)
                blocked = set(session.scalars(select(Enrollment.contact_id).where(
                    Enrollment.automation_id == row.id, Enrollment.contact_id.in_(wanted),
                    Enrollment.test.is_(False),
                    (Enrollment.state == "active") | (Enrollment.entered_at > since))))
                wanted = [c for c in wanted if c not in blocked]
            for contact_id in wanted:
                session.add(Enrollment(automation_id=row.id, contact_id=contact_id, trigger_key=keys[contact_id],
                                       step_id=first or "", state="active" if first else "done", wake_at=now,
                                       entered_at=_utc(now), finished_at=None if first else _utc(now)))
        return len(wanted)

    def on_subscription(self, event: SubscriptionChanged) -> None:
        if event.status != "subscribed":
            return
        matching = [a for a in self._active("list_joined") if a.trigger.get("list_id") == event.list_id]
        if matching:
            self._enter(matching, [event.contact_id], f"list{event.list_id}:{int(self.clock() // 60)}")

    def on_joined_many(self, event: ContactsJoinedList) -> None:
        """A bulk action subscribed many contacts to a list at once (no per-contact events past its limit)."""
        matching = [a for a in self._active("list_joined") if a.trigger.get("list_id") == event.list_id]
        if matching:
            self._enter(matching, event.contact_ids, f"list{event.list_id}:{int(self.clock() // 60)}")

    def on_imported(self, event: ContactsImported) -> None:
        """An import into a list: the contacts it subscribed there joined the list (no per-contact events)."""
        if event.list_id is None:
            return
        matching = [a for a in self._active("list_joined") if a.trigger.get("list_id") == event.list_id]
        after = 0
        while matching:
            ids = contacts_api.subscribed_by_import(self.db, event.import_id, event.list_id, after_id=after)
            if not ids:
                break
            self._enter(matching, ids, f"import{event.import_id}")
            after = ids[-1]

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
        with self.db.read() as session:  # most opens are of campaigns: look (by the run_id index) before writing
            if session.scalar(select(EnrollmentStep.id).where(EnrollmentStep.run_id == run_id).limit(1)) is None:
                return
        with self.db.transaction() as session:
            steps = session.scalars(select(EnrollmentStep).join(
                Enrollment, Enrollment.id == EnrollmentStep.enrollment_id).where(
                EnrollmentStep.run_id == run_id, Enrollment.contact_id == contact_id)).all()
            for step in steps:
                data = read_json(step.result)
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

    @property
    def after_step(self) -> Callable[[int, str], None] | None:
        return self.engine.after_step

    @after_step.setter
    def after_step(self, hook: Callable[[int, str], None] | None) -> None:
        self.engine.after_step = hook

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
                    count = self.engine.round(limit)
                    done += count
                    if count == 0:
                        break
                return done
            finally:
                self._file_lock.release()
        finally:
            self._round.release()


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


def _result_text(kind: str, result: str) -> str:
    if kind == "send_email":
        data = read_json(result)
        return f"run {data['run_id']}" if data.get("run_id") else result
    return result


def _zone(name: str) -> ZoneInfo:
    return zone_or_utc(name)
