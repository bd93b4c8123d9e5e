"""The contacts module's commands through the real bus on a real kernel, and its public read API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.messages import Event
from app.kernel.paths import AppPaths
from app.modules.contacts import api, store
from app.modules.contacts.addresses import email_hash, parse_address
from app.modules.contacts.messages import (
    ActivityItem,
    ConfirmSubscription,
    ContactsChanged,
    ContactSuppressed,
    ContactUnsubscribed,
    RecordActivity,
    SubscriptionChanged,
    SuppressAddress,
    UnsubscribeContact,
)
from app.modules.contacts.models import Activity, Consent, Contact, Subscription, Suppression
from app.modules.contacts.module import MODULE
from tests.conftest import MemoryKeyring


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    assert [s.state for s in started.statuses] == ["started"], started.statuses
    yield started
    started.close()


@pytest.fixture
def events(kernel: Kernel) -> list[Event]:
    seen: list[Event] = []
    kernel.bus.subscribe(Event, seen.append)
    return seen


def add_contact(kernel: Kernel, email: str, lists: dict[str, str] | None = None, *, consent: bool = False) -> int:
    """A contact on ``lists`` (name -> status), with a consent record per list when asked."""
    address = parse_address(email)
    with kernel.db.transaction() as session:
        contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                          fields={})
        session.add(contact)
        session.flush()
        for name, status in (lists or {}).items():
            mailing_list = store.get_or_create_list(session, name)
            store.subscribe(session, contact.id, mailing_list.id, status)
            if consent:
                session.add(Consent(contact_id=contact.id, list_id=mailing_list.id, source="test", method="form"))
        return contact.id


def list_id(kernel: Kernel, name: str) -> int:
    with kernel.db.read() as session:
        found = store.list_by_name(session, name)
        assert found is not None
        return found.id


def statuses(kernel: Kernel, contact_id: int) -> dict[str, str]:
    with kernel.db.read() as session:
        rows = session.execute(select(Subscription.list_id, Subscription.status)
                               .where(Subscription.contact_id == contact_id)).all()
        names = {lst.id: lst.name for lst in api.lists(kernel.db)}
        return {names[lid]: status for lid, status in rows}


def of_type(events: list[Event], kind: type[Event]) -> list[Event]:
    return [event for event in events if isinstance(event, kind)]


# -- UnsubscribeContact ----------------------------------------------------------------------------


def test_unsubscribe_from_one_list_keeps_the_others_and_does_not_suppress(kernel: Kernel, events: list[Event]) -> None:
    contact = add_contact(kernel, "ada@example.com", {"News": "subscribed", "Offers": "subscribed"}, consent=True)
    news = list_id(kernel, "News")

    assert kernel.bus.execute(UnsubscribeContact(email="Ada@Example.com", list_id=news, everywhere=False)) is True

    assert statuses(kernel, contact) == {"News": "unsubscribed", "Offers": "subscribed"}
    assert not api.is_suppressed(kernel.db, "ada@example.com")
    with kernel.db.read() as session:
        withdrawn = {c.list_id: c.withdrawn_at is not None for c in session.scalars(select(Consent))}
    assert withdrawn == {news: True, list_id(kernel, "Offers"): False}
    assert [(e.list_id, e.status) for e in of_type(events, SubscriptionChanged)] == [(news, "unsubscribed")]
    assert [(e.contact_id, e.list_id) for e in of_type(events, ContactUnsubscribed)] == [(contact, news)]
    assert not of_type(events, ContactSuppressed)
    assert of_type(events, ContactsChanged)


def test_unsubscribe_everywhere_leaves_every_list_and_suppresses(kernel: Kernel, events: list[Event]) -> None:
    contact = add_contact(kernel, "grace@example.com", {"News": "subscribed", "Beta": "unconfirmed"})

    assert kernel.bus.execute(UnsubscribeContact(email="grace@example.com", source="footer link")) is True

    assert statuses(kernel, contact) == {"News": "unsubscribed", "Beta": "unsubscribed"}
    with kernel.db.read() as session:
        row = session.scalar(select(Suppression))
        assert row is not None
        assert (row.reason, row.detail, row.email) == ("unsubscribed", "footer link", "grace@example.com")
    assert sorted(e.list_id for e in of_type(events, SubscriptionChanged)) == sorted(
        [list_id(kernel, "News"), list_id(kernel, "Beta")])
    assert [(e.contact_id, e.list_id) for e in of_type(events, ContactUnsubscribed)] == [(contact, None)]
    assert [(e.email, e.reason) for e in of_type(events, ContactSuppressed)] == [("grace@example.com", "unsubscribed")]


def test_unsubscribe_everywhere_naming_a_list_still_leaves_every_list(kernel: Kernel, events: list[Event]) -> None:
    contact = add_contact(kernel, "alan@example.com", {"News": "subscribed", "Offers": "subscribed"})

    kernel.bus.execute(UnsubscribeContact(email="alan@example.com", list_id=list_id(kernel, "News")))

    assert statuses(kernel, contact) == {"News": "unsubscribed", "Offers": "unsubscribed"}
    # Every list that changed is announced, not only the one named.
    assert len(of_type(events, SubscriptionChanged)) == 2


def test_unsubscribing_an_unknown_address_still_suppresses_it(kernel: Kernel, events: list[Event]) -> None:
    assert kernel.bus.execute(UnsubscribeContact(email="stranger@example.org")) is False

    assert api.is_suppressed(kernel.db, "STRANGER@example.org")
    assert [(e.contact_id, e.email) for e in of_type(events, ContactUnsubscribed)] == [(None, "stranger@example.org")]
    assert len(of_type(events, ContactSuppressed)) == 1
    # An import later cannot subscribe the address.
    contact = add_contact(kernel, "stranger@example.org")
    with kernel.db.transaction() as session, pytest.raises(store.ContactsError, match="suppression list"):
        store.subscribe(session, contact, store.get_or_create_list(session, "News").id)


def test_unsubscribing_an_unknown_address_from_one_list_changes_nothing(kernel: Kernel,
                                                                         events: list[Event]) -> None:
    add_contact(kernel, "someone@example.com", {"News": "subscribed"})
    command = UnsubscribeContact(email="nobody@example.com", list_id=list_id(kernel, "News"), everywhere=False)
    assert kernel.bus.execute(command) is False
    assert not api.is_suppressed(kernel.db, "nobody@example.com")
    assert not of_type(events, ContactUnsubscribed)


def test_unsubscribing_something_that_is_not_an_address_is_refused(kernel: Kernel) -> None:
    with pytest.raises(store.ContactsError, match="not an email address"):
        kernel.bus.execute(UnsubscribeContact(email="just some words"))


def test_unsubscribing_twice_announces_once(kernel: Kernel, events: list[Event]) -> None:
    add_contact(kernel, "ken@example.com", {"News": "subscribed"})
    kernel.bus.execute(UnsubscribeContact(email="ken@example.com"))
    kernel.bus.execute(UnsubscribeContact(email="ken@example.com"))
    assert len(of_type(events, ContactUnsubscribed)) == 1
    assert len(of_type(events, ContactSuppressed)) == 1


# -- SuppressAddress -------------------------------------------------------------------------------


def test_hard_bounce_unsubscribes_from_every_list_and_twice_returns_false(kernel: Kernel,
                                                                          events: list[Event]) -> None:
    contact = add_contact(kernel, "linus@example.com", {"News": "subscribed", "Offers": "unconfirmed"})

    assert kernel.bus.execute(SuppressAddress(email="linus@example.com", reason="hard_bounce",
                                              detail="550 5.1.1 user unknown")) is True
    assert kernel.bus.execute(SuppressAddress(email="LINUS@example.com", reason="complaint")) is False

    assert statuses(kernel, contact) == {"News": "unsubscribed", "Offers": "unsubscribed"}
    with kernel.db.read() as session:
        rows = [(r.reason, r.detail) for r in session.scalars(select(Suppression))]
    assert rows == [("hard_bounce", "550 5.1.1 user unknown")]
    assert [(e.email, e.reason) for e in of_type(events, ContactSuppressed)] == [("linus@example.com", "hard_bounce")]
    assert len(of_type(events, SubscriptionChanged)) == 2
    changed = of_type(events, ContactsChanged)
    assert changed
    assert all(contact in e.contact_ids for e in changed)  # type: ignore[attr-defined]


def test_suppressing_an_address_that_is_no_contact_is_kept_as_written(kernel: Kernel) -> None:
    # A bounce may carry an address we would never import; it is still suppressed.
    assert kernel.bus.execute(SuppressAddress(email="weird..dots@example.com", reason="hard_bounce")) is True
    assert api.is_suppressed(kernel.db, "weird..dots@example.com")


def test_an_unknown_suppression_reason_is_refused(kernel: Kernel) -> None:
    with pytest.raises(store.ContactsError, match="unknown suppression reason"):
        kernel.bus.execute(SuppressAddress(email="x@example.com", reason="bored"))
    assert not api.is_suppressed(kernel.db, "x@example.com")


# -- ConfirmSubscription ---------------------------------------------------------------------------


def test_confirming_an_unconfirmed_subscription(kernel: Kernel, events: list[Event]) -> None:
    contact = add_contact(kernel, "margaret@example.com", {"Beta": "unconfirmed"})
    beta = list_id(kernel, "Beta")

    assert kernel.bus.execute(ConfirmSubscription(contact_id=contact, list_id=beta, evidence="ip 192.0.2.1")) is True

    assert statuses(kernel, contact) == {"Beta": "subscribed"}
    with kernel.db.read() as session:
        consent = session.scalars(select(Consent)).one()
        assert (consent.contact_id, consent.list_id, consent.method, consent.evidence) == (
            contact, beta, "double-opt-in", "ip 192.0.2.1")
    assert [(e.contact_id, e.list_id, e.status) for e in of_type(events, SubscriptionChanged)] == [
        (contact, beta, "subscribed")]

    # A second click on the link changes nothing and records nothing.
    assert kernel.bus.execute(ConfirmSubscription(contact_id=contact, list_id=beta)) is False
    with kernel.db.read() as session:
        assert len(session.scalars(select(Consent)).all()) == 1


def test_confirming_without_a_subscription_returns_false(kernel: Kernel) -> None:
    contact = add_contact(kernel, "frances@example.com", {"News": "unsubscribed"})
    assert kernel.bus.execute(ConfirmSubscription(contact_id=contact, list_id=list_id(kernel, "News"))) is False
    assert kernel.bus.execute(ConfirmSubscription(contact_id=contact, list_id=999)) is False
    assert statuses(kernel, contact) == {"News": "unsubscribed"}


# -- RecordActivity --------------------------------------------------------------------------------


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, 0)


def timeline(kernel: Kernel, contact_id: int) -> list[tuple[str, str, dt.datetime]]:
    with kernel.db.read() as session:
        return [(a.kind, a.name, a.occurred_at) for a in session.scalars(
            select(Activity).where(Activity.contact_id == contact_id).order_by(Activity.occurred_at))]


def last_open(kernel: Kernel, contact_id: int) -> dt.datetime | None:
    with kernel.db.read() as session:
        return session.scalar(select(Contact.last_open_at).where(Contact.id == contact_id))


def test_activity_lands_in_the_timeline_and_keeps_last_open(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    items = (ActivityItem(kind="sent", email="ADA@example.com", occurred_at=at(1), campaign_id=7),
             ActivityItem(kind="opened", contact_id=ada, occurred_at=at(3), campaign_id=7),
             ActivityItem(kind="opened", email="ada@example.com", occurred_at=at(2), campaign_id=7),
             ActivityItem(kind="event", email="ada@example.com", name="order_completed", occurred_at=at(4),
                          properties={"product": "Mug"}, value=24.0))

    assert kernel.bus.execute(RecordActivity(items=items)) == 4

    assert timeline(kernel, ada) == [("sent", "", at(1)), ("opened", "", at(2)), ("opened", "", at(3)),
                                     ("event", "order_completed", at(4))]
    assert last_open(kernel, ada) == at(3)
    with kernel.db.read() as session:
        assert session.scalar(select(Contact.last_sent_at).where(Contact.id == ada)) == at(1)


def test_last_open_never_moves_backwards(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    kernel.bus.execute(RecordActivity(items=(ActivityItem(kind="opened", contact_id=ada, occurred_at=at(10)),)))
    # A late report of an older open (a retried webhook) joins the timeline but keeps the newest open.
    kernel.bus.execute(RecordActivity(items=(ActivityItem(kind="opened", contact_id=ada, occurred_at=at(5)),)))
    assert last_open(kernel, ada) == at(10)
    assert len(timeline(kernel, ada)) == 2


def test_times_with_a_zone_are_stored_as_utc(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    paris = dt.timezone(dt.timedelta(hours=1))
    kernel.bus.execute(RecordActivity(items=(
        ActivityItem(kind="opened", contact_id=ada, occurred_at=dt.datetime(2025, 3, 1, 13, 0, tzinfo=paris)),)))
    assert last_open(kernel, ada) == at(1, 12)


def test_a_dedupe_key_makes_a_second_delivery_a_no_op(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    click = ActivityItem(kind="clicked", contact_id=ada, occurred_at=at(2), dedupe_key="click:7:ada:1")
    assert kernel.bus.execute(RecordActivity(items=(click,))) == 1
    assert kernel.bus.execute(RecordActivity(items=(click,))) == 0
    # The same key twice in one batch is also kept once.
    twice = ActivityItem(kind="opened", contact_id=ada, occurred_at=at(3), dedupe_key="open:7:ada")
    assert kernel.bus.execute(RecordActivity(items=(twice, twice))) == 1
    assert [kind for kind, _, _ in timeline(kernel, ada)] == ["clicked", "opened"]


def test_activity_for_unknown_people_is_ignored(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    items = (ActivityItem(kind="opened", email="ghost@example.com", occurred_at=at(1)),
             ActivityItem(kind="opened", contact_id=ada + 1000, occurred_at=at(1)),
             ActivityItem(kind="opened", contact_id=ada, occurred_at=at(1)))
    assert kernel.bus.execute(RecordActivity(items=items)) == 1
    assert len(timeline(kernel, ada)) == 1


def test_an_unknown_activity_kind_is_refused_and_records_nothing(kernel: Kernel) -> None:
    ada = add_contact(kernel, "ada@example.com")
    items = (ActivityItem(kind="opened", contact_id=ada, occurred_at=at(1)),
             ActivityItem(kind="teleported", contact_id=ada, occurred_at=at(1)))
    with pytest.raises(store.ContactsError, match="unknown activity kind 'teleported'"):
        kernel.bus.execute(RecordActivity(items=items))
    assert timeline(kernel, ada) == []


# -- lifting a suppression -------------------------------------------------------------------------


def test_a_manual_suppression_can_be_lifted_a_bounce_cannot(kernel: Kernel) -> None:
    kernel.bus.execute(SuppressAddress(email="by-hand@example.com", reason="manual"))
    kernel.bus.execute(SuppressAddress(email="bounced@example.com", reason="hard_bounce"))

    with kernel.db.transaction() as session:
        assert store.unsuppress(session, "By-Hand@example.com") is True
    with kernel.db.transaction() as session, pytest.raises(store.ContactsError, match="hard bounce"):
        store.unsuppress(session, "bounced@example.com")
    with kernel.db.transaction() as session:
        assert store.unsuppress(session, "never@example.com") is False

    assert not api.is_suppressed(kernel.db, "by-hand@example.com")
    assert api.is_suppressed(kernel.db, "bounced@example.com")


# -- the read API ----------------------------------------------------------------------------------


def test_recipient_batches_stream_the_audience_in_id_order(kernel: Kernel) -> None:
    wanted = [add_contact(kernel, f"reader{i:02d}@example.com", {"News": "subscribed"}) for i in range(23)]
    left = add_contact(kernel, "left@example.com", {"News": "unsubscribed"})
    bounced = add_contact(kernel, "bounced@example.com", {"News": "subscribed"})
    kernel.bus.execute(SuppressAddress(email="bounced@example.com", reason="hard_bounce"))
    pending = add_contact(kernel, "pending@example.com", {"News": "unconfirmed"})
    elsewhere = add_contact(kernel, "elsewhere@example.com", {"Offers": "subscribed"})
    # Subscribed to an included list and unsubscribed from another included list: still in.
    both = add_contact(kernel, "both@example.com", {"News": "subscribed", "Offers": "unsubscribed"})
    wanted.append(both)
    audience = api.Audience(lists=(list_id(kernel, "News"),))

    batches = list(api.recipient_batches(kernel.db, audience, batch_size=10))

    assert [len(batch) for batch in batches] == [10, 10, 4]
    ids = [r.contact_id for batch in batches for r in batch]
    assert ids == sorted(wanted)
    assert not {left, bounced, pending, elsewhere} & set(ids)
    assert batches[0][0].email == "reader00@example.com"
    # Resuming after a checkpoint gives exactly the rest.
    rest = [r.contact_id for batch in api.recipient_batches(kernel.db, audience, batch_size=10,
                                                          after_id=ids[11]) for r in batch]
    assert rest == ids[12:]
    assert api.count_audience(kernel.db, audience) == len(wanted)


def test_count_audience_with_exclusions(kernel: Kernel) -> None:
    for i in range(6):
        add_contact(kernel, f"news{i}@example.com", {"News": "subscribed"})
    for i in range(3):
        add_contact(kernel, f"customer{i}@example.com", {"News": "subscribed", "Customers": "subscribed"})
    add_contact(kernel, "former@example.com", {"News": "subscribed", "Customers": "unsubscribed"})
    news, customers = list_id(kernel, "News"), list_id(kernel, "Customers")

    assert api.count_audience(kernel.db, api.Audience(lists=(news,))) == 10
    assert api.count_audience(kernel.db, api.Audience(lists=(news,), exclude_lists=(customers,))) == 6
    assert api.count_audience(kernel.db, api.Audience(lists=(news, customers))) == 10
    assert api.count_audience(kernel.db, api.Audience()) == 0  # no list chosen: nobody, never everybody
    assert list(api.recipient_batches(kernel.db, api.Audience())) == []


def test_lists_report_subscribed_counts(kernel: Kernel) -> None:
    add_contact(kernel, "a@example.com", {"News": "subscribed"})
    add_contact(kernel, "b@example.com", {"News": "unsubscribed", "Empty": "unsubscribed"})
    counts = {info.name: info.subscribed for info in api.lists(kernel.db)}
    assert counts == {"News": 1, "Empty": 0}


def test_find_and_search_recipients_for_pickers(kernel: Kernel) -> None:
    with kernel.db.transaction() as session:
        for email, first in (("Ada@Example.org", "Ada"), ("bob_x@example.org", "Bob"), ("b%c@example.org", "Cy")):
            session.add(Contact(email=email, email_key=email.lower(), email_hash=email_hash(email), first_name=first))
    found = api.find_recipient(kernel.db, "ADA@example.ORG")
    assert found is not None
    assert (found.email, found.first_name) == ("Ada@Example.org", "Ada")
    assert api.find_recipient(kernel.db, "nobody@example.org") is None
    assert [r.first_name for r in api.search_recipients(kernel.db, "b")] == ["Cy", "Bob"]
    # LIKE wildcards in what the user typed are taken literally
    assert [r.first_name for r in api.search_recipients(kernel.db, "b%")] == ["Cy"]
    assert [r.first_name for r in api.search_recipients(kernel.db, "bob_")] == ["Bob"]
