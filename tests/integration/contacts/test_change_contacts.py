"""ChangeContact(s): tags, fields and lists of contacts in one unit of work, idempotent, with the events automations
start on; a suppressed contact is never subscribed again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.messages import Event
from app.kernel.paths import AppPaths
from app.modules.contacts import store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.messages import (
    ChangeContact,
    ChangeContacts,
    ContactTagged,
    SubscriptionChanged,
    SuppressAddress,
)
from app.modules.contacts.models import Contact, Subscription
from app.modules.contacts.module import MODULE
from tests.conftest import MemoryKeyring


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


def people(kernel: Kernel, count: int) -> tuple[int, list[int]]:
    with kernel.db.transaction() as session:
        list_id = store.get_or_create_list(session, "News").id
        ids = []
        for i in range(count):
            address = parse_address(f"c{i}@example.com")
            row = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                          fields={"plan": "free"})
            session.add(row)
            session.flush()
            ids.append(row.id)
        return list_id, ids


def test_many_contacts_change_at_once_and_again_changes_nothing(kernel: Kernel) -> None:
    list_id, ids = people(kernel, 3)
    kernel.bus.execute(SuppressAddress(email="c2@example.com", reason="manual"))
    seen: list[Event] = []
    kernel.bus.subscribe(Event, seen.append)
    command = ChangeContacts(contact_ids=tuple(ids), add_tags=("vip",), fields={"plan": "pro"},
                             join_lists=(list_id,))
    assert kernel.bus.execute(command) == tuple(ids)  # c2 got the tag and the field, not the list
    tagged = [e for e in seen if isinstance(e, ContactTagged)]
    assert [(e.tag, e.contact_ids) for e in tagged] == [("vip", tuple(ids))]
    assert sorted(e.contact_id for e in seen if isinstance(e, SubscriptionChanged)) == ids[:2]
    with kernel.db.read() as session:
        assert set(session.scalars(select(Subscription.contact_id))) == set(ids[:2])
        assert {c.fields["plan"] for c in session.scalars(select(Contact))} == {"pro"}
    seen.clear()
    assert kernel.bus.execute(command) == ()
    assert not [e for e in seen if isinstance(e, ContactTagged | SubscriptionChanged)]
    assert kernel.bus.execute(ChangeContacts(contact_ids=tuple(ids), remove_tags=("vip",))) == tuple(ids)
    assert kernel.bus.execute(ChangeContact(contact_id=ids[0], leave_lists=(list_id,)))
    with pytest.raises(ValueError, match="suppression list"):
        kernel.bus.execute(ChangeContact(contact_id=ids[2], join_lists=(list_id,)))
