"""The automation engine over many contacts with waits and branches on an injected clock; entry rules; one run per
email step for everyone due at once; pausing holds contacts where they are."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.modules.campaigns.automation_graph import Graph
from app.modules.campaigns.automation_reads import automation_stats, list_automations
from app.modules.campaigns.messages import (
    AutomationEmailStarted,
    CampaignError,
    SetAutomationState,
)
from app.modules.contacts.messages import ChangeContact
from app.modules.contacts.models import Contact, ContactTag, Subscription, Tag
from app.modules.delivery import api as delivery_api
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import (
    DAY,
    World,
    add_people,
    boot,
    enrollments,
    save,
    steps_of,
    template,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    built = boot(tmp_path / "data", MemoryKeyring())
    yield built  # type: ignore[misc]
    built.kernel.close()


def big_graph(other_list: int, template_id: int) -> Graph:
    """tag vip -> add tag -> wait 2 days -> city is Lyon? yes: set field, send, exit / no: join list, wait until
    09:00 Paris, remove tag."""
    g = Graph()
    trigger = g.add_node("trigger", props={"type": "tag_added", "tag": "vip"}, node_id="trigger")
    tag = g.add_node("add_tag", props={"tag": "welcomed"}, node_id="tag")
    wait = g.add_node("wait", props={"mode": "duration", "amount": 2, "unit": "days"}, node_id="wait")
    branch = g.add_node("branch", props={"condition": "rules", "rules": {
        "match": "all", "rules": [{"field": "field:city", "op": "equals", "value": "Lyon"}]}}, node_id="lyon")
    field = g.add_node("update_field", props={"field": "stage", "value": "lyon"}, node_id="field")
    send = g.add_node("send_email", props={"template_id": template_id, "subject": "Bonjour {{ contact.first_name }}"},
                      node_id="send")
    leave = g.add_node("exit", node_id="exit")
    join = g.add_node("move_list", props={"action": "add", "list_id": other_list}, node_id="join")
    morning = g.add_node("wait", props={"mode": "until", "time": "09:00", "time_zone": "Europe/Paris"},
                         node_id="morning")
    untag = g.add_node("remove_tag", props={"tag": "welcomed"}, node_id="untag")
    for a, b in ((trigger, tag), (tag, wait), (wait, branch), (field, send), (send, leave), (join, morning),
                 (morning, untag)):
        g.connect(a.id, b.id)
    g.connect(branch.id, field.id, "yes")
    g.connect(branch.id, join.id, "no")
    return g


def test_two_hundred_contacts_go_through_waits_and_branches_once_each(world: World) -> None:
    kernel, clock = world.kernel, world.clock
    _, lyon = add_people(kernel, 120, prefix="lyon", fields={"city": "Lyon"})
    _, paris = add_people(kernel, 80, prefix="paris", fields={"city": "Paris"})
    other, _ = add_people(kernel, 0, list_name="Others")
    automation_id = save(kernel, big_graph(other, template(kernel)))
    started: list[AutomationEmailStarted] = []
    kernel.bus.subscribe(AutomationEmailStarted, started.append)

    for contact_id in lyon + paris:
        kernel.bus.execute(ChangeContact(contact_id=contact_id, add_tags=("vip",)))
    assert len(enrollments(kernel, automation_id)) == 200
    world.automations.run_due()
    stats = automation_stats(kernel.db, automation_id, clock.now)
    assert stats.step("tag").passed == 200  # type: ignore[union-attr]
    assert stats.step("wait").waiting == 200  # type: ignore[union-attr]  # everyone is in the two-day wait
    assert stats.step("lyon").waiting == 0  # type: ignore[union-attr]

    clock.advance(DAY)  # one day: nobody has waited two yet
    world.automations.run_due()
    assert automation_stats(kernel.db, automation_id).step("lyon").passed == 0  # type: ignore[union-attr]

    clock.advance(DAY + 1)  # Wednesday 08:00:01 UTC = 09:00:01 in Paris: the morning is tomorrow's
    world.automations.run_due()
    stats = automation_stats(kernel.db, automation_id, clock.now)
    assert stats.step("lyon").results == {"yes": 120, "no": 80}  # type: ignore[union-attr]
    assert stats.step("send").passed == 120  # type: ignore[union-attr]
    assert stats.step("morning").waiting == 80  # type: ignore[union-attr]  # until 09:00 in Paris tomorrow
    assert stats.step("untag").waiting == 0  # type: ignore[union-attr]
    assert len(started) == 1
    assert len(started[0].contact_ids) == 120
    run = delivery_api.run_status(kernel.db, started[0].run_id)
    assert run is not None
    assert run.subject == "Bonjour {{ contact.first_name }}"

    clock.advance(DAY)
    world.automations.run_due()
    stats = automation_stats(kernel.db, automation_id)
    assert (stats.active, stats.done, stats.exited) == (0, 80, 120)

    expected_lyon = ["tag", "wait", "lyon", "field", "send", "exit"]
    expected_paris = ["tag", "wait", "lyon", "join", "morning", "untag"]
    for contact_id in lyon:
        assert [s for s, _, _ in steps_of(kernel, contact_id)] == expected_lyon
    for contact_id in paris:
        assert [s for s, _, _ in steps_of(kernel, contact_id)] == expected_paris
    with kernel.db.read() as session:
        welcomed = session.scalar(select(Tag.id).where(Tag.name == "welcomed"))
        tagged = set(session.scalars(select(ContactTag.contact_id).where(ContactTag.tag_id == welcomed)))
        assert tagged == set(lyon)  # Paris people had it removed
        joined = set(session.scalars(select(Subscription.contact_id).where(Subscription.list_id == other)))
        assert joined == set(paris)
        stages = Counter(c.fields.get("stage") for c in session.scalars(select(Contact)))
        assert stages == {"lyon": 120, None: 80}
    # The wait until 09:00 Paris woke them on Thursday 08:00 UTC (CET = UTC+1), not earlier.
    with kernel.db.read() as session:
        from app.modules.campaigns.models import EnrollmentStep

        until = set(session.scalars(select(EnrollmentStep.result).where(EnrollmentStep.step_id == "morning")))
    assert until == {"until 2026-03-05T08:00:00"}
    assert [a.active_contacts for a in list_automations(kernel.db)] == [0]


def test_entry_once_and_again_after_days(world: World) -> None:
    kernel, clock = world.kernel, world.clock
    _, (alice,) = add_people(kernel, 1)
    g = Graph()
    g.connect(g.add_node("trigger", props={"type": "tag_added", "tag": "vip"}).id,
              g.add_node("add_tag", props={"tag": "seen"}, node_id="seen").id)
    once = save(kernel, g, "Once")
    again = save(kernel, g.copy(), "Again", reentry="again", reentry_days=10)

    def retag() -> None:
        kernel.bus.execute(ChangeContact(contact_id=alice, remove_tags=("vip",)))
        kernel.bus.execute(ChangeContact(contact_id=alice, add_tags=("vip",)))
        world.automations.run_due()

    retag()
    clock.advance(3 * DAY)
    retag()  # too soon for "again", never for "once"
    assert (len(enrollments(kernel, once)), len(enrollments(kernel, again))) == (1, 1)
    clock.advance(8 * DAY)
    retag()
    assert (len(enrollments(kernel, once)), len(enrollments(kernel, again))) == (1, 2)
    assert [s for s, _, _ in steps_of(kernel, alice, again)] == ["seen", "seen"]


def test_a_paused_automation_holds_contacts_and_resumes_where_they_were(world: World) -> None:
    kernel, clock = world.kernel, world.clock
    _, people = add_people(kernel, 5)
    g = Graph()
    t = g.add_node("trigger", props={"type": "tag_added", "tag": "vip"})
    w = g.add_node("wait", props={"mode": "duration", "amount": 1, "unit": "hours"}, node_id="w")
    a = g.add_node("add_tag", props={"tag": "after"}, node_id="after")
    g.connect(t.id, w.id)
    g.connect(w.id, a.id)
    automation_id = save(kernel, g)
    for contact_id in people:
        kernel.bus.execute(ChangeContact(contact_id=contact_id, add_tags=("vip",)))
    world.automations.run_due()
    kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="paused"))
    clock.advance(7200)
    assert world.automations.run_due() == 0
    assert automation_stats(kernel.db, automation_id, clock.now).step("after").waiting == 5  # type: ignore[union-attr]
    kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="active"))
    assert world.automations.run_due() == 5
    assert all([s for s, _, _ in steps_of(kernel, c)] == ["w", "after"] for c in people)


def test_an_invalid_automation_cannot_be_activated(world: World) -> None:
    g = Graph()
    g.add_node("trigger", props={"type": "tag_added", "tag": ""})
    automation_id = save(world.kernel, g, activate=False)
    with pytest.raises(CampaignError, match="Name the tag"):
        world.kernel.bus.execute(SetAutomationState(automation_id=automation_id, state="active"))


def test_in_the_app_the_loop_moves_contacts_by_itself_and_stops_at_teardown(tmp_path: Path) -> None:
    world = boot(tmp_path / "data", MemoryKeyring(), services=True)
    kernel = world.kernel
    try:
        _, people = add_people(kernel, 3)
        g = Graph()
        g.connect(g.add_node("trigger", props={"type": "tag_added", "tag": "vip"}).id,
                  g.add_node("wait", props={"mode": "duration", "amount": 1, "unit": "hours"}, node_id="w").id)
        g.connect("w", g.add_node("add_tag", props={"tag": "after"}, node_id="after").id)
        automation_id = save(kernel, g)
        for contact_id in people:
            kernel.bus.execute(ChangeContact(contact_id=contact_id, add_tags=("vip",)))  # wakes the loop

        def in_the_wait() -> int:  # the wait step carried out: their next step is due in an hour
            return sum(e.step_id == "after" for e in enrollments(kernel, automation_id))

        end = time.monotonic() + 20
        while in_the_wait() != 3:
            assert time.monotonic() < end, "the loop did not carry out the first steps"
            time.sleep(0.05)
        world.clock.advance(3600)
        world.automations.wake()  # the app's clock moved; the loop looks again at once
        end = time.monotonic() + 20
        while automation_stats(kernel.db, automation_id).done != 3:
            assert time.monotonic() < end, "the loop did not wake for the due step"
            time.sleep(0.05)
    finally:
        kernel.close()
    assert not any(t.name == "postroom-automations" for t in threading.enumerate())
