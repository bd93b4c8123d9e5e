"""The automation engine: moves enrollments through their steps, durably, a group of contacts at a time.

Why nothing is repeated or skipped: an enrollment names the step it does next (``step_id``) and how many it has
done (``step_seq``). Carrying out a step inserts ``EnrollmentStep(enrollment, step_seq + 1)`` (unique) and moves
the enrollment on in ONE transaction, guarded by the ``step_seq`` it read. Contacts due at the same step of the same
automation are carried together: their effect is one command (contacts' ``ChangeContacts``, one condition query)
and their records one transaction. A kill before the commit leaves the step to do again (its effect on the contact is
idempotent: a tag, a field, a list); a kill after it leaves the step done.

An email is the one effect that must not repeat: the group's step rows are committed first as "starting" (phase
1), then ``StartRun`` is executed once for all of them (phase 2), then the run id is recorded and the contacts move
on (phase 3). After a kill between 1 and 3 the engine looks for the run it may have started (a run with no
campaign, that subject, created after the "starting" rows and not claimed by any step) and adopts it instead of
starting another.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.modules.campaigns import automation_graph as ag
from app.modules.campaigns.messages import AutomationEmailStarted, AutomationsProgressed, CampaignError
from app.modules.campaigns.models import Automation, Enrollment, EnrollmentStep
from app.modules.contacts import api as contacts_api
from app.modules.contacts.messages import ChangeContacts
from app.modules.delivery import api as delivery_api
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun

log = logging.getLogger("app.modules.campaigns.automations")

RETRY_SECONDS = 600.0  # a send that could not start is tried again after this
CHANGE_KINDS = ("add_tag", "remove_tag", "update_field", "move_list")


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


@dataclass
class Due:
    enrollment_id: int
    automation_id: int
    contact_id: int
    step_id: str
    step_seq: int
    test: bool


@dataclass
class _Done:
    """What carrying out one step gave for one contact, before it is recorded."""

    item: Due
    result: str = ""
    branch: str = ""
    wake: float = 0.0
    state: str = "active"


class AutomationEngine:
    def __init__(self, db: Database, bus: MessageBus, clock: Callable[[], float]) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        # Tests only: called after each commit, to crash the process at a chosen point.
        self.after_step: Callable[[int, str], None] | None = None

    # -- rounds ---------------------------------------------------------------------------------------------

    def round(self, limit: int) -> int:
        """Carry out the steps of up to ``limit`` due enrollments of active automations; returns how many."""
        now = self.clock()
        with self.db.read() as session:
            rows = session.execute(
                select(Enrollment.id, Enrollment.automation_id, Enrollment.contact_id, Enrollment.step_id,
                       Enrollment.step_seq, Enrollment.test)
                .join(Automation, Automation.id == Enrollment.automation_id)
                .where(Enrollment.state == "active", Enrollment.test.is_(False), Enrollment.wake_at <= now,
                       Automation.state == "active")
                .order_by(Enrollment.wake_at, Enrollment.id).limit(limit)).all()
        if not rows:
            return 0
        done = self.carry([Due(*r) for r in rows])
        if done:
            self.bus.publish(AutomationsProgressed(automation_ids=tuple(sorted({r[1] for r in rows}))))
        return done

    def due(self, enrollment_ids: list[int]) -> list[Due]:
        with self.db.read() as session:
            rows = session.execute(
                select(Enrollment.id, Enrollment.automation_id, Enrollment.contact_id, Enrollment.step_id,
                       Enrollment.step_seq, Enrollment.test)
                .where(Enrollment.id.in_(enrollment_ids), Enrollment.state == "active",
                       Enrollment.wake_at <= self.clock())).all()
        return [Due(*r) for r in rows]

    def carry(self, items: list[Due]) -> int:
        """Steps of ``items`` until each must wait, reaches an email, or ends; then the emails, one run per step."""
        automations = self._graphs({i.automation_id for i in items})
        done = 0
        sends: dict[tuple[int, str], list[Due]] = {}
        frontier = [i for i in items if i.automation_id in automations]
        for _ in range(1000):  # each pass moves every contact one step; a graph is never this deep
            if not frontier:
                break
            groups: dict[tuple[int, str], list[Due]] = {}
            for item in frontier:
                groups.setdefault((item.automation_id, item.step_id), []).append(item)
            frontier = []
            for (automation_id, step_id), group in groups.items():
                graph = automations[automation_id][1]
                node = graph.node(step_id)
                if node is not None and node.kind == "send_email":
                    sends.setdefault((automation_id, step_id), []).extend(group)
                    continue
                count, onward = self._step_group(graph, node, step_id, group)
                done += count
                frontier.extend(onward)
        for (automation_id, step_id), group in sends.items():
            name, graph = automations[automation_id]
            node = graph.node(step_id)
            assert node is not None
            done += self.send_group(automation_id, name, node, graph.next_step(step_id), group)
        return done

    def _graphs(self, automation_ids: set[int]) -> dict[int, tuple[str, ag.Graph]]:
        with self.db.read() as session:
            return {a.id: (a.name, ag.Graph.from_json(a.graph)) for a in session.scalars(
                select(Automation).where(Automation.id.in_(automation_ids)))}

    # -- one step for a group ------------------------------------------------------------------------------

    def _step_group(self, graph: ag.Graph, node: ag.Node | None, step_id: str,
                    group: list[Due]) -> tuple[int, list[Due]]:
        now = self.clock()
        if node is None:  # the step was removed by an edit: the contacts leave rather than guessing
            outcomes = [_Done(i, "the step no longer exists", state="exited") for i in group]
            return self._record(graph, step_id, "removed", outcomes, now)
        outcomes = [_Done(i, wake=now) for i in group]
        if node.kind == "wait":
            zones = self._zones([i.contact_id for i in group]) if node.props.get("mode") == "until" else {}
            for out in outcomes:
                if not out.item.test:
                    out.wake = (ag.wait_until(node.props, now, zones.get(out.item.contact_id, ""))
                                if node.props.get("mode") == "until" else now + ag.wait_seconds(node.props))
                out.result = f"until {utc(out.wake).isoformat(timespec='seconds')}"
        elif node.kind == "branch":
            yes = self._condition(node, group, now)
            for out in outcomes:
                out.branch = out.result = "yes" if out.item.contact_id in yes else "no"
        elif node.kind in CHANGE_KINDS:
            results = self._change_contacts(node, [i.contact_id for i in group])
            for out in outcomes:
                out.result = results.get(out.item.contact_id, "unchanged")
        elif node.kind == "exit":
            for out in outcomes:
                out.state = "exited"
        return self._record(graph, node.id, node.kind, outcomes, now)

    def _record(self, graph: ag.Graph, step_id: str, kind: str, outcomes: list[_Done],
                now: float) -> tuple[int, list[Due]]:
        """One transaction: each contact's step row and its move to the next step (guarded by its step_seq)."""
        moment = utc(now)
        onward: list[Due] = []
        try:
            with self.db.transaction() as session:
                recorded = self._write(session, graph, step_id, kind, outcomes=outcomes, moment=moment)
        except IntegrityError:  # another engine moved some of them (never with the file lock): one by one
            recorded = []
            for out in outcomes:
                try:
                    with self.db.transaction() as session:
                        recorded += self._write(session, graph, step_id, kind, outcomes=[out], moment=moment)
                except IntegrityError:
                    continue
        for out, next_id in recorded:
            if next_id and out.state == "active" and out.wake <= now:
                onward.append(Due(out.item.enrollment_id, out.item.automation_id, out.item.contact_id, next_id,
                                  out.item.step_seq + 1, out.item.test))
        if recorded and self.after_step is not None:
            self.after_step(recorded[0][0].item.enrollment_id, step_id)
        return len(recorded), onward

    @staticmethod
    def _write(session: Any, graph: ag.Graph, step_id: str, kind: str, *, outcomes: list[_Done],
               moment: dt.datetime) -> list[tuple[_Done, str | None]]:
        """The group's moves and step rows as two executemany statements (the ORM costs a millisecond a row).
        Only enrollments still at the step_seq they were read with move: the transaction holds the write lock."""
        ids = [o.item.enrollment_id for o in outcomes]
        current: dict[int, int] = {}
        for start in range(0, len(ids), 900):
            current.update(session.execute(select(Enrollment.id, Enrollment.step_seq).where(
                Enrollment.id.in_(ids[start:start + 900]), Enrollment.state == "active")).all())
        recorded, moves, rows = [], [], []
        for out in outcomes:
            item = out.item
            if current.get(item.enrollment_id) != item.step_seq:
                continue
            next_id = graph.next_step(step_id, out.branch) if out.state == "active" else None
            state = out.state if next_id or out.state != "active" else "done"
            moves.append({"eid": item.enrollment_id, "old_seq": item.step_seq, "new_step": next_id or "",
                          "new_seq": item.step_seq + 1, "new_wake": out.wake, "new_state": state,
                          "new_finished": moment if state != "active" else None})
            rows.append({"enrollment_id": item.enrollment_id, "seq": item.step_seq + 1, "step_id": step_id,
                         "kind": kind, "result": out.result[:2000], "run_id": None, "done_at": moment})
            recorded.append((out, next_id))
        if moves:
            table: Any = Enrollment.__table__
            connection = session.connection()
            connection.execute(update(table).where(table.c.id == bindparam("eid"),
                                                   table.c.step_seq == bindparam("old_seq")).values(
                step_id=bindparam("new_step"), step_seq=bindparam("new_seq"), wake_at=bindparam("new_wake"),
                state=bindparam("new_state"), finished_at=bindparam("new_finished")), moves)
            connection.execute(insert(EnrollmentStep.__table__), rows)  # type: ignore[arg-type]
        return recorded

    def _zones(self, contact_ids: list[int]) -> dict[int, str]:
        """Each contact's own time zone (for "wait until 09:00" in the contact's zone)."""
        zones: dict[int, str] = {}
        audience = contacts_api.Audience(contacts=tuple(contact_ids))
        for batch in contacts_api.recipient_batches(self.db, audience, batch_size=1000):
            zones.update((r.contact_id, r.time_zone) for r in batch)
        return zones

    def _condition(self, node: ag.Node, group: list[Due], now: float) -> set[int]:
        """The contacts of ``group`` for whom the condition is true."""
        p = node.props
        moment = utc(now)
        ids = tuple(sorted({i.contact_id for i in group}))
        if p.get("condition") == "engagement":
            days = int(p.get("days") or 0)
            key = "clicked_at" if p.get("what") == "clicked" else "opened_at"
            if p.get("step_id"):
                return self._engaged(group[0].automation_id, str(p["step_id"]), ids, key,
                                     moment - dt.timedelta(days=days))
            op = "clicked_in_last_days" if key == "clicked_at" else "opened_in_last_days"
            rules: dict[str, Any] | None = {"field": "engagement", "op": op, "value": days}
        elif p.get("condition") == "segment":
            rules = contacts_api.segment_rules(self.db, int(p.get("segment_id") or 0))
        else:
            rules = p.get("rules") or None
        if not rules:
            return set()
        try:
            return set(contacts_api.matching_contacts(self.db, rules, contact_ids=ids, now=moment,
                                                      limit=len(ids) + 1))
        except ValueError as exc:
            log.warning("condition %s cannot be evaluated (%s): taking the no path", node.id, exc)
            return set()

    def _engaged(self, automation_id: int, step_id: str, ids: tuple[int, ...], key: str,
                 since: dt.datetime) -> set[int]:
        """Contacts who opened (or clicked) the email of ``step_id`` in this automation since ``since``."""
        with self.db.read() as session:
            rows = session.execute(select(Enrollment.contact_id, EnrollmentStep.result).join(
                Enrollment, Enrollment.id == EnrollmentStep.enrollment_id).where(
                Enrollment.automation_id == automation_id, Enrollment.contact_id.in_(ids),
                EnrollmentStep.step_id == step_id)).all()
        engaged = set()
        for contact_id, result in rows:
            data = read_json(result)
            stamp = data.get(key) or (data.get("clicked_at") if key == "opened_at" else None)
            if stamp and dt.datetime.fromisoformat(stamp) >= since:
                engaged.add(contact_id)
        return engaged

    def _change_contacts(self, node: ag.Node, contact_ids: list[int]) -> dict[int, str]:
        p = node.props
        change: dict[str, Any] = {"contact_ids": tuple(contact_ids), "source": f"automation step {node.id}"}
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
        changed = set(self.bus.execute(ChangeContacts(**change)))  # type: ignore[arg-type]
        return {c: "changed" if c in changed else "unchanged" for c in contact_ids}

    # -- sending -------------------------------------------------------------------------------------------

    def send_group(self, automation_id: int, name: str, node: ag.Node, next_id: str | None,
                   items: list[Due]) -> int:
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
            done += self._start_and_record(automation_id, name, node, next_id, [i for i, _ in pending], run_id)
        if fresh:
            done += self._start_and_record(automation_id, name, node, next_id, fresh, None)
        return done

    @staticmethod
    def subject(node: ag.Node, test: bool) -> str:
        subject = str(node.props.get("subject") or "")
        return f"[Test] {subject}" if test else subject

    def _find_started_run(self, node: ag.Node, since: dt.datetime, *, test: bool) -> int | None:
        subject = self.subject(node, test)
        with self.db.read() as session:
            claimed = set(session.scalars(select(EnrollmentStep.run_id).where(EnrollmentStep.run_id.is_not(None))))
        for run in delivery_api.list_runs(self.db, limit=200):
            if (run.campaign_id is None and run.subject == subject and run.created_at >= since - dt.timedelta(seconds=2)
                    and run.id not in claimed):
                log.info("automation step %s: adopting run %s started before a crash", node.id, run.id)
                return run.id
        return None

    def _start_and_record(self, automation_id: int, name: str, node: ag.Node, next_id: str | None,  # noqa: PLR0917
                          items: list[Due], run_id: int | None) -> int:
        test = items[0].test
        contact_ids = tuple(sorted({i.contact_id for i in items}))
        if run_id is None:
            run_id = self._start(automation_id, name, node, items, contact_ids)
            if run_id is None:
                return 0
        done = 0
        now = self.clock()
        with self.db.transaction() as session:
            for item in items:
                step = session.scalar(select(EnrollmentStep).where(
                    EnrollmentStep.enrollment_id == item.enrollment_id, EnrollmentStep.seq == item.step_seq + 1))
                moved = session.execute(update(Enrollment).where(
                    Enrollment.id == item.enrollment_id, Enrollment.step_seq == item.step_seq).values(
                    step_id=next_id or "", step_seq=item.step_seq + 1, wake_at=now,
                    state="active" if next_id else "done", finished_at=None if next_id else utc(now)))
                if step is not None and getattr(moved, "rowcount", False):
                    step.run_id, step.result = run_id, json.dumps({"run_id": run_id})
                    done += 1
        if self.after_step is not None:
            self.after_step(items[0].enrollment_id, node.id)
        if not test:
            self.bus.publish(AutomationEmailStarted(automation_id=automation_id, run_id=run_id, step_id=node.id,
                                                    contact_ids=contact_ids))
        return done

    def _start(self, automation_id: int, name: str, node: ag.Node, items: list[Due],
               contact_ids: tuple[int, ...]) -> int | None:
        test = items[0].test
        p = node.props
        content = MessageContent(subject=self.subject(node, test), preheader=str(p.get("preheader") or ""),
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
            return None
        if self.after_step is not None:
            self.after_step(items[0].enrollment_id, "send_email:started")
        return run_id

    def _postpone(self, items: list[Due], reason: str) -> None:
        """Nothing was started: forget the "starting" rows and try again later."""
        with self.db.transaction() as session:
            for item in items:
                session.execute(delete(EnrollmentStep).where(
                    EnrollmentStep.enrollment_id == item.enrollment_id, EnrollmentStep.seq == item.step_seq + 1,
                    EnrollmentStep.run_id.is_(None)))
                session.execute(update(Enrollment).where(Enrollment.id == item.enrollment_id).values(
                    wake_at=self.clock() + (0 if item.test else RETRY_SECONDS)))
        log.info("postponed %d contacts: %s", len(items), reason)


def read_json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
