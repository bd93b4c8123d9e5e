"""A real kernel (contacts + delivery) on a temp folder, contacts to send to, and helpers to wait for a run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import store as contacts_store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.models import Contact
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery import api
from app.modules.delivery.messages import AudienceSpec, MessageContent, SaveAccount, StartRun
from app.modules.delivery.module import MODULE as DELIVERY
from tests.conftest import MemoryKeyring

FAST = {
    "delivery.worker": "thread",
    "delivery.retry_base_seconds": 0.2,
    "delivery.retry_max_seconds": 0.5,
    "delivery.batch_size": 10,
    "delivery.in_flight": 40,
    "delivery.max_consecutive_errors": 8,
    "delivery.slowdown_seconds": 0.2,
}

MakeKernel = Callable[..., Kernel]


@pytest.fixture
def make_kernel(tmp_path: Path) -> Iterator[MakeKernel]:
    kernels: list[Kernel] = []
    keyring = MemoryKeyring()

    def make(settings: dict[str, Any] | None = None, data_dir: Path | None = None, *,
             services: bool = False) -> Kernel:
        folder = data_dir or tmp_path / "data"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps({**FAST, **(settings or {})}))
        kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, DELIVERY], secrets_backend=keyring,
                              log_to_file=False, services=services)
        assert [s.state for s in kernel.statuses] == ["started", "started"], kernel.statuses
        kernels.append(kernel)
        return kernel

    yield make
    for kernel in kernels:
        kernel.close()


@pytest.fixture
def kernel(make_kernel: MakeKernel) -> Kernel:
    return make_kernel()


def add_contacts(kernel: Kernel, people: list[tuple[str, str]] | list[str], list_name: str = "News") -> int:
    """Contacts (email, first name) subscribed to ``list_name``; returns the list id."""
    with kernel.db.transaction() as session:
        mailing_list = contacts_store.get_or_create_list(session, list_name)
        for person in people:
            email, first = (person, "") if isinstance(person, str) else person
            address = parse_address(email)
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              first_name=first, fields={"city": "Lyon"})
            session.add(contact)
            session.flush()
            contacts_store.subscribe(session, contact.id, mailing_list.id, "subscribed")
        return mailing_list.id


def add_account(kernel: Kernel, port: int, **options: Any) -> int:
    return int(kernel.bus.execute(SaveAccount(name=options.pop("name", f"test {port}"), host="127.0.0.1", port=port,
                                              tls="none", **options)))


def start(kernel: Kernel, list_id: int, account_id: int | None = None, *,
          subject: str = "Hello {{ first_name }}", html: str = "<p>Hi {{ first_name }} from {{ city }}</p>",
          text: str = "") -> int:
    return int(kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), account_id=account_id,
                                           content=MessageContent(subject=subject, html=html, text=text))))


def wait_run(kernel: Kernel, run_id: int, until: tuple[str, ...] = ("finished", "paused", "cancelled"),
             timeout: float = 30.0) -> api.RunStatus:
    end = time.monotonic() + timeout
    while True:
        status = api.run_status(kernel.db, run_id)
        assert status is not None
        if status.state in until:
            return status
        if time.monotonic() > end:
            raise AssertionError(f"run {run_id} still {status.state} after {timeout} s: {status.counts}")
        time.sleep(0.05)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def by_email(kernel: Kernel, run_id: int) -> dict[str, api.RecipientEntry]:
    return {entry.email: entry for entry in api.recipient_log(kernel.db, run_id, limit=100_000)}
