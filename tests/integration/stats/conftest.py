"""A real kernel (contacts + stats) on a temp folder with its tracking endpoint on a free port, and a plain HTTP
client that never follows redirects (so a test sees exactly what the endpoint answered)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import store as contacts_store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.models import Contact
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.stats.api import TrackingLinks
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | str | None = None, headers: dict[str, str] | None = None) -> Reply:
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        sent = {"User-Agent": BROWSER, **(headers or {})}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=sent)
        reply = connection.getresponse()
        return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    finally:
        connection.close()


def one_click(url: str) -> Reply:
    return http("POST", url, "List-Unsubscribe=One-Click",
                {"Content-Type": "application/x-www-form-urlencoded"})


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def start_app(data_dir: Path, keyring: MemoryKeyring, **settings: Any) -> Kernel:
    paths = AppPaths.inside(data_dir)
    paths.ensure()
    values = {"stats.tracker_port": 0, "stats.ingest_seconds": 3600, **settings}
    if paths.settings_file.exists():
        values = {**json.loads(paths.settings_file.read_text()), **values}
    paths.settings_file.write_text(json.dumps(values))
    return start_kernel(paths, modules=[CONTACTS, STATS], secrets_backend=keyring, log_to_file=False,
                        services=True)


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def kernel(tmp_path: Path, keyring: MemoryKeyring) -> Iterator[Kernel]:
    started = start_app(tmp_path / "app", keyring)
    yield started
    started.close()


@pytest.fixture
def links(kernel: Kernel) -> TrackingLinks:
    return TrackingLinks.for_kernel(kernel)


def add_contacts(kernel: Kernel, emails: list[str], *lists: str, status: str = "subscribed") -> list[int]:
    """Contacts on each of ``lists`` (created as needed) with ``status``; returns their ids."""
    ids = []
    with kernel.db.transaction() as session:
        list_ids = [contacts_store.get_or_create_list(session, name).id for name in lists]
        for email in emails:
            address = parse_address(email)
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key))
            session.add(contact)
            session.flush()
            for list_id in list_ids:
                contacts_store.subscribe(session, contact.id, list_id, status)
            ids.append(contact.id)
    return ids


def subscriptions(kernel: Kernel, contact_id: int) -> dict[str, str]:
    from sqlalchemy import select

    from app.modules.contacts.models import MailingList, Subscription

    with kernel.db.read() as session:
        rows = session.execute(select(MailingList.name, Subscription.status)
                               .join(Subscription, Subscription.list_id == MailingList.id)
                               .where(Subscription.contact_id == contact_id)).all()
    return dict(rows)


def path_of(url: str) -> str:
    return urlsplit(url).path


from tests.integration.stats.report_events import campaign  # noqa: E402, F401 - a fixture for report tests
