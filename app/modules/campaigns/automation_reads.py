"""Reads of automations for pages, the command line and other modules: plain dataclasses, never ORM objects.

``campaigns.api`` re-exports ``list_automations``, ``get_automation`` and ``automation_stats``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from app.kernel.database import Database
from app.modules.campaigns.automation_graph import Graph, trigger_summary
from app.modules.campaigns.models import Automation, Enrollment, EnrollmentStep


@dataclass(frozen=True)
class AutomationInfo:
    id: int
    name: str
    state: str  # draft | active | paused
    trigger: dict[str, Any]
    graph: dict[str, Any]
    reentry: str
    reentry_days: int
    active_contacts: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def trigger_text(self) -> str:
        return trigger_summary(self.trigger)


@dataclass(frozen=True)
class StepCount:
    step_id: str
    kind: str
    waiting: int  # contacts whose next step this is (or who wait before it)
    passed: int  # contacts who carried it out (test runs not counted)
    results: dict[str, int] = field(default_factory=dict)  # a condition's yes/no, an email's opened/clicked


@dataclass(frozen=True)
class AutomationStats:
    automation_id: int
    entered: int
    active: int
    done: int
    exited: int
    steps: tuple[StepCount, ...]

    def step(self, step_id: str) -> StepCount | None:
        return next((s for s in self.steps if s.step_id == step_id), None)


def _active_counts(db: Database) -> dict[int, int]:
    with db.read() as session:
        return dict(session.execute(select(Enrollment.automation_id, func.count()).where(
            Enrollment.state == "active", Enrollment.test.is_(False)).group_by(Enrollment.automation_id)).all())


def _info(row: Automation, active: int) -> AutomationInfo:
    return AutomationInfo(row.id, row.name, row.state, dict(row.trigger or {}), dict(row.graph or {}), row.reentry,
                          row.reentry_days, active, row.created_at, row.updated_at)


def list_automations(db: Database) -> list[AutomationInfo]:
    active = _active_counts(db)
    with db.read() as session:
        return [_info(row, int(active.get(row.id, 0)))
                for row in session.scalars(select(Automation).order_by(func.lower(Automation.name)))]


def get_automation(db: Database, automation_id: int) -> AutomationInfo | None:
    with db.read() as session:
        row = session.get(Automation, automation_id)
        if row is None:
            return None
        active = session.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.automation_id == automation_id, Enrollment.state == "active",
            Enrollment.test.is_(False))) or 0
        return _info(row, int(active))


def find_automation(db: Database, name: str) -> AutomationInfo | None:
    with db.read() as session:
        found = session.scalar(select(Automation.id).where(Automation.name_key == name.strip().casefold()))
    return get_automation(db, found) if found is not None else None


def step_result_kind(kind: str, result: str) -> str:
    """A step's recorded result in one word for the counts (an email's engagement, a condition's answer)."""
    if kind == "send_email":
        try:
            data = json.loads(result or "{}")
        except ValueError:
            return "sent"
        if not isinstance(data, dict):
            return "sent"
        return "clicked" if data.get("clicked_at") else "opened" if data.get("opened_at") else "sent"
    if kind == "branch":
        return result if result in ("yes", "no") else ""
    return ""


def automation_stats(db: Database, automation_id: int, now: float | None = None) -> AutomationStats:
    """Per step: how many contacts wait at it, and how many carried it out (with a condition's yes/no and an
    email's opened/clicked); and the automation's totals. Test runs are left out.

    A contact in a Wait (its next step is not due before ``now``, epoch seconds) is counted at the Wait; one whose
    next step is due, at that step."""
    now = time.time() if now is None else now
    with db.read() as session:
        row = session.get(Automation, automation_id)
        graph = Graph.from_json(row.graph if row is not None else {})
        states = dict(session.execute(select(Enrollment.state, func.count()).where(
            Enrollment.automation_id == automation_id, Enrollment.test.is_(False)).group_by(Enrollment.state)).all())
        active = (Enrollment.automation_id == automation_id, Enrollment.state == "active",
                  Enrollment.test.is_(False))
        waiting: dict[str, int] = dict(session.execute(select(Enrollment.step_id, func.count()).where(
            *active, Enrollment.wake_at <= now).group_by(Enrollment.step_id)).all())
        for step_id, count in session.execute(select(EnrollmentStep.step_id, func.count()).join(
                Enrollment, (Enrollment.id == EnrollmentStep.enrollment_id)
                & (EnrollmentStep.seq == Enrollment.step_seq)).where(
                *active, Enrollment.wake_at > now).group_by(EnrollmentStep.step_id)).all():
            waiting[step_id] = waiting.get(step_id, 0) + int(count)
        passed_rows = session.execute(
            select(EnrollmentStep.step_id, EnrollmentStep.kind, EnrollmentStep.result, EnrollmentStep.run_id)
            .join(Enrollment, Enrollment.id == EnrollmentStep.enrollment_id)
            .where(Enrollment.automation_id == automation_id, Enrollment.test.is_(False))).all()
    passed: dict[str, int] = {}
    results: dict[str, dict[str, int]] = {}
    for step_id, kind, result, run_id in passed_rows:
        if kind == "send_email" and run_id is None:
            continue  # being started: not passed yet
        passed[step_id] = passed.get(step_id, 0) + 1
        word = step_result_kind(kind, result)
        if word:
            bucket = results.setdefault(step_id, {})
            bucket[word] = bucket.get(word, 0) + 1
            if word == "clicked":  # a click implies the email was opened
                bucket["opened"] = bucket.get("opened", 0) + 1
    steps = tuple(StepCount(n.id, n.kind, int(waiting.get(n.id, 0)), passed.get(n.id, 0), results.get(n.id, {}))
                  for n in graph.order() if n.kind != "trigger")
    return AutomationStats(automation_id, sum(int(v) for v in states.values()), int(states.get("active", 0)),
                           int(states.get("done", 0)), int(states.get("exited", 0)), steps)
