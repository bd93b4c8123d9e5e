"""A real kernel with every module a campaign needs (contacts, editor, stats, delivery, campaigns) on a temp folder:
contacts in several time zones, a template, and the built-in outbox as the default account."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.campaigns import api
from app.modules.campaigns.messages import CampaignAudience, SaveCampaign
from app.modules.campaigns.module import MODULE as CAMPAIGNS
from app.modules.contacts import store as contacts_store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.models import Contact
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery import api as delivery_api
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.editor.messages import ImportHtmlTemplate
from app.modules.editor.module import MODULE as EDITOR
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring

MODULES = [CONTACTS, EDITOR, STATS, DELIVERY, CAMPAIGNS]
FAST = {"delivery.worker": "thread", "delivery.batch_size": 10, "delivery.in_flight": 40,
        "delivery.retry_base_seconds": 0.2, "delivery.retry_max_seconds": 0.5, "editor.starters_seeded": True}
HTML = ('<html><body><p>Hello {{ contact.first_name }}</p><p><a href="https://shop.example/sale">Sale</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ sender.postal_address }}</p></body></html>')


def boot(folder: Path, keyring: MemoryKeyring, *, services: bool = False,
         settings: dict[str, Any] | None = None) -> Kernel:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.json"
    if not path.exists():
        path.write_text(json.dumps({**FAST, **(settings or {})}))
    kernel = start_kernel(AppPaths.inside(folder), modules=MODULES, secrets_backend=keyring, log_to_file=False,
                          services=services)
    assert all(s.state == "started" for s in kernel.statuses), kernel.statuses
    return kernel


def add_people(kernel: Kernel, people: list[tuple[str, str, str]], list_name: str = "News") -> int:
    """(email, first name, time zone) subscribed to ``list_name``; returns the list id."""
    with kernel.db.transaction() as session:
        mailing_list = contacts_store.get_or_create_list(session, list_name)
        for email, first, zone in people:
            address = parse_address(email)
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              first_name=first, time_zone=zone)
            session.add(contact)
            session.flush()
            contacts_store.subscribe(session, contact.id, mailing_list.id, "subscribed")
        return mailing_list.id


def template(kernel: Kernel, name: str = "Sale", html: str = HTML) -> int:
    return int(kernel.bus.execute(ImportHtmlTemplate(name=name, html=html)).template_id)


def campaign(kernel: Kernel, list_id: int, template_id: int, name: str = "Spring sale",
             subject: str = "Spring sale for {{ contact.first_name }}", **options: Any) -> int:
    return int(kernel.bus.execute(SaveCampaign(name=name, audience=CampaignAudience(lists=(list_id,)),
                                               template_id=template_id, subject=subject, **options)))


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(0.05)


def wait_campaign_runs(kernel: Kernel, campaign_id: int, timeout: float = 30.0) -> api.CampaignInfo:
    """Until every run of the campaign has finished; returns the campaign."""
    def done() -> bool:
        info = api.get_campaign(kernel.db, campaign_id)
        assert info is not None
        states = [delivery_api.run_status(kernel.db, r) for r in info.run_ids]
        return bool(states) and all(s is not None and s.state == "finished" for s in states)

    wait_for(done, timeout, "the campaign's runs finishing")
    info = api.get_campaign(kernel.db, campaign_id)
    assert info is not None
    return info


def outbox_by_recipient(kernel: Kernel) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for message in delivery_api.list_outbox(kernel.db, limit=10_000):
        found.setdefault(message.recipients, []).append(message)
    return found

