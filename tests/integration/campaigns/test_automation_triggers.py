"""Each trigger kind enrols the right contacts exactly once: joined a list, tag added (one contact or a bulk action),
a date field's anniversary at the chosen hour in its zone, an incoming event with property filters, a link
clicked in a given campaign's run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.modules.campaigns.automation_graph import Graph
from app.modules.contacts.messages import ChangeContact
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from app.modules.stats.messages import EventReceived, LinkClicked
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import World, add_people, boot, enrollments, save


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = boot(tmp_path / "data", MemoryKeyring())
    yield built
    built.kernel.close()


def tagging(trigger: dict[str, Any]) -> Graph:
    g = Graph()
    g.connect(g.add_node("trigger", props=trigger).id, g.add_node("add_tag", props={"tag": "entered"}).id)
    return g


def entered(world: World, automation_id: int) -> list[int]:
    return sorted(e.contact_id for e in enrollments(world.kernel, automation_id))


def test_joining_a_list_enrols_only_people_who_join_that_list(world: World) -> None:
    kernel = world.kernel
    vip, _ = add_people(kernel, 0, list_name="VIP")
    other, _ = add_people(kernel, 0, list_name="Other")
    _, people = add_people(kernel, 3, list_name="News")
    automation_id = save(kernel, tagging({"type": "list_joined", "list_id": vip}))
    kernel.bus.execute(ChangeContact(contact_id=people[0], join_lists=(vip,)))
    kernel.bus.execute(ChangeContact(contact_id=people[1], join_lists=(other,)))
    kernel.bus.execute(ChangeContact(contact_id=people[0], join_lists=(vip,)))  # already subscribed: no event
    assert entered(world, automation_id) == [people[0]]
    assert world.automations.run_due() == 1


def test_a_tag_added_by_a_bulk_action_enrols_everyone_who_did_not_have_it(world: World) -> None:
    # The contacts page's bulk action (its internals: this test is about the event it publishes).
    from app.kernel.jobs import run_inline
    from app.modules.contacts.bulk import BulkAction, BulkTarget, run_bulk
    from app.modules.contacts.contact_window import ContactWindow
    from app.modules.contacts.queries import ContactFilter

    kernel = world.kernel
    _, people = add_people(kernel, 1200)  # enrolled in chunks of 500, one transaction each
    kernel.bus.execute(ChangeContact(contact_id=people[0], add_tags=("gold",)))  # before the automation exists
    automation_id = save(kernel, tagging({"type": "tag_added", "tag": "Gold"}))
    window = ContactWindow(kernel.db, ContactFilter())
    target = BulkTarget(window, window.count())
    run_inline(lambda handle: run_bulk(kernel.db, kernel.bus, target, BulkAction("tag", "gold"), handle), kernel.bus)
    assert entered(world, automation_id) == people[1:]


def test_a_bulk_add_to_a_list_past_the_event_limit_enrols_everyone_once(world: World) -> None:
    from app.kernel.jobs import run_inline
    from app.modules.contacts.bulk import EVENTS_UP_TO, BulkAction, BulkTarget, run_bulk
    from app.modules.contacts.contact_window import ContactWindow
    from app.modules.contacts.queries import ContactFilter

    kernel = world.kernel
    vip, _ = add_people(kernel, 0, list_name="VIP")
    _, people = add_people(kernel, EVENTS_UP_TO + 50)  # too many for one SubscriptionChanged each
    automation_id = save(kernel, tagging({"type": "list_joined", "list_id": vip}))
    window = ContactWindow(kernel.db, ContactFilter())
    target = BulkTarget(window, window.count())
    action = BulkAction("list", "VIP")
    run_inline(lambda handle: run_bulk(kernel.db, kernel.bus, target, action, handle), kernel.bus)
    assert entered(world, automation_id) == people


def test_an_anniversary_enrols_at_the_chosen_hour_in_its_zone_once_a_day(world: World) -> None:
    kernel, clock = world.kernel, world.clock  # 2026-03-02 08:00 UTC = 09:00 in Paris
    _, (born_today, other_day, no_date) = add_people(kernel, 3)
    for contact_id, day in ((born_today, "1990-03-02"), (other_day, "1990-03-03")):
        kernel.bus.execute(ChangeContact(contact_id=contact_id, fields={"birthday": day}))
    clock.advance(-3600)  # 07:00 UTC = 08:00 in Paris: too early
    automation_id = save(kernel, tagging({"type": "anniversary", "field": "birthday", "hour": 9,
                                          "time_zone": "Europe/Paris"}), reentry="again", reentry_days=300)
    assert world.automations.check_anniversaries() == 0
    clock.advance(3600)
    assert world.automations.check_anniversaries() == 1
    assert world.automations.check_anniversaries() == 0  # checked today already
    world.automations._anniversary_done.clear()  # as after a restart the same day: the entry key says "done"
    assert world.automations.check_anniversaries() == 0
    clock.advance(86400)
    assert world.automations.check_anniversaries() == 1
    assert entered(world, automation_id) == [born_today, other_day]
    assert no_date not in entered(world, automation_id)


def test_an_incoming_event_enrols_when_its_properties_pass_the_filters(world: World) -> None:
    kernel = world.kernel
    _, people = add_people(kernel, 3)
    automation_id = save(kernel, tagging({"type": "event", "name": "order_completed",
                                          "filters": ["value > 50", "category = shoes"]}),
                         reentry="again", reentry_days=1)
    at = dt.datetime(2026, 3, 2, 8, 0)

    def event(index: int, uid: str, value: float, category: str, name: str = "order_completed") -> None:
        kernel.bus.publish(EventReceived(email=f"p{index}@example.com", name=name, at=at, value=value,
                                         currency="EUR", properties={"category": category}, event_uid=uid))

    event(0, "u1", 80, "Shoes")
    event(0, "u1", 80, "Shoes")  # the same event seen twice (an ingest round repeated): one entry
    event(1, "u2", 20, "shoes")  # too small
    event(2, "u3", 90, "hats")  # other category
    event(2, "u4", 90, "shoes", name="cart_abandoned")
    kernel.bus.publish(EventReceived(email="stranger@example.com", name="order_completed", at=at, value=99,
                                     properties={"category": "shoes"}, event_uid="u5"))
    assert entered(world, automation_id) == [people[0]]


def test_a_click_in_a_given_campaign_enrols_people_and_machines_are_ignored(world: World) -> None:
    kernel = world.kernel
    list_id, people = add_people(kernel, 2)
    content = MessageContent(subject="Hi", html="<p>Hi <a href='https://shop.example/'>shop</a></p>")
    run = int(kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), content=content, campaign_id=7)))
    elsewhere = int(kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), content=content,
                                                campaign_id=8)))
    automation_id = save(kernel, tagging({"type": "link_clicked", "campaign_id": 7}))
    at = dt.datetime(2026, 3, 2, 8, 0)
    kernel.bus.publish(LinkClicked(run_id=run, contact_id=people[0], link_id=1, url="https://shop.example/", at=at,
                                   machine=True, machine_reason="scanner", event_uid="m"))
    kernel.bus.publish(LinkClicked(run_id=elsewhere, contact_id=people[0], link_id=2, url="https://shop.example/",
                                   at=at, event_uid="x"))
    assert entered(world, automation_id) == []
    kernel.bus.publish(LinkClicked(run_id=run, contact_id=people[1], link_id=1, url="https://shop.example/", at=at,
                                   event_uid="c1"))
    assert entered(world, automation_id) == [people[1]]


def test_an_import_into_a_list_enrols_the_people_it_subscribed_there(world: World, tmp_path: Path) -> None:
    # The contacts module's importer (its internals: this test is about what the automation sees afterwards).
    from app.modules.contacts.import_report import ImportOptions
    from app.modules.contacts.importer import run_import

    kernel = world.kernel
    vip, (already,) = add_people(kernel, 1, list_name="VIP", prefix="old")
    automation_id = save(kernel, tagging({"type": "list_joined", "list_id": vip}))
    path = tmp_path / "people.csv"
    path.write_text("email,first_name\nold0@example.com,Old\nnew1@example.com,New\nnew2@example.com,Newer\n")
    run_import(kernel.db, kernel.bus, path, ImportOptions(mapping={0: "email", 1: "first_name"}, list_name="VIP"))
    joined = entered(world, automation_id)
    assert len(joined) == 2
    assert already not in joined
    run_import(kernel.db, kernel.bus, path, ImportOptions(mapping={0: "email", 1: "first_name"}, list_name="VIP"))
    assert entered(world, automation_id) == joined  # nobody joined again
