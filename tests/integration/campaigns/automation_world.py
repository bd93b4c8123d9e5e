"""A real kernel for automation tests: contacts, editor, stats, delivery and the campaigns tables with the automation
service on an injected clock (the campaigns module's own migrations; the campaign scheduler is left out so only
the automations move), plus helpers to build graphs and read what happened."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.kernel.registry import ModuleContext, ModuleSpec
from app.modules.campaigns.automation_graph import Graph
from app.modules.campaigns.automations import AutomationService, install
from app.modules.campaigns.messages import SaveAutomation, SetAutomationState
from app.modules.campaigns.models import Enrollment, EnrollmentStep
from app.modules.campaigns.module import MODULE as CAMPAIGNS
from app.modules.contacts import store as contacts_store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.models import Contact
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.editor.messages import ImportHtmlTemplate
from app.modules.editor.module import MODULE as EDITOR
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring

FAST = {"delivery.worker": "thread", "delivery.batch_size": 20, "delivery.in_flight": 40,
        "delivery.retry_base_seconds": 0.2, "delivery.retry_max_seconds": 0.5, "editor.starters_seeded": True}
HTML = ('<html><body><p>Hello {{ contact.first_name }}</p><p><a href="https://shop.example/welcome">Shop</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ sender.postal_address }}</p></body></html>')
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 08:00 UTC
DAY = 86400.0


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    kernel: Kernel
    clock: FakeClock
    services: list[AutomationService] = field(default_factory=list)

    @property
    def automations(self) -> AutomationService:
        return self.services[0]


def automations_module(clock: FakeClock, services: list[AutomationService]) -> ModuleSpec:
    """The campaigns module's tables with only the automation service, on ``clock``."""

    def setup(context: ModuleContext) -> None:
        services.append(install(context, clock))

    return ModuleSpec(name="campaigns", title="Campaigns", setup=setup, requires=("contacts", "editor", "delivery"),
                      migrations=CAMPAIGNS.migrations)


def boot(folder: Path, keyring: MemoryKeyring, clock: FakeClock | None = None, *, services: bool = False,
         settings: dict[str, Any] | None = None) -> World:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.json"
    if not path.exists():
        path.write_text(json.dumps({**FAST, **(settings or {})}))
    clock = clock or FakeClock()
    started: list[AutomationService] = []
    kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, EDITOR, STATS, DELIVERY,
                                                            automations_module(clock, started)],
                          secrets_backend=keyring, log_to_file=False, services=services)
    assert all(s.state == "started" for s in kernel.statuses), kernel.statuses
    return World(kernel, clock, started)


def add_people(kernel: Kernel, count: int, *, list_name: str = "News", prefix: str = "p",
               fields: dict[str, Any] | None = None) -> tuple[int, list[int]]:
    """``count`` contacts subscribed to ``list_name``; returns the list id and the contact ids."""
    ids = []
    with kernel.db.transaction() as session:
        mailing_list = contacts_store.get_or_create_list(session, list_name)
        for i in range(count):
            address = parse_address(f"{prefix}{i}@example.com")
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              first_name=f"P{i}", fields=dict(fields or {}))
            session.add(contact)
            session.flush()
            contacts_store.subscribe(session, contact.id, mailing_list.id, "subscribed")
            ids.append(contact.id)
        return mailing_list.id, ids


def template(kernel: Kernel, name: str = "Welcome") -> int:
    return int(kernel.bus.execute(ImportHtmlTemplate(name=name, html=HTML)).template_id)


def save(kernel: Kernel, graph: Graph, name: str = "Welcome series", *, activate: bool = True,
         reentry: str = "once", reentry_days: int = 0) -> int:
    automation_id = int(kernel.bus.execute(SaveAutomation(name=name, graph=graph.to_json(), reentry=reentry,
                                                          reentry_days=reentry_days)))
    if activate:
        kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="active"))
    return automation_id


def steps_of(kernel: Kernel, contact_id: int, automation_id: int | None = None) -> list[tuple[str, str, str]]:
    """(step id, kind, result) the contact carried out, in order (every enrollment)."""
    with kernel.db.read() as session:
        query = (select(EnrollmentStep.step_id, EnrollmentStep.kind, EnrollmentStep.result)
                 .join(Enrollment, Enrollment.id == EnrollmentStep.enrollment_id)
                 .where(Enrollment.contact_id == contact_id, Enrollment.test.is_(False))
                 .order_by(Enrollment.id, EnrollmentStep.seq))
        if automation_id is not None:
            query = query.where(Enrollment.automation_id == automation_id)
        return [(a, b, c) for a, b, c in session.execute(query).all()]


def enrollments(kernel: Kernel, automation_id: int) -> list[Enrollment]:
    with kernel.db.read() as session:
        rows = session.scalars(select(Enrollment).where(Enrollment.automation_id == automation_id,
                                                        Enrollment.test.is_(False)).order_by(Enrollment.id)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)
