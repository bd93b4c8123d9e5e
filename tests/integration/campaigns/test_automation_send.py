"""An automation's email really reaches the built-in outbox, once per contact however often the engine runs; an
opened automation email steers a condition; test mode runs one contact through at once with "[Test]" emails."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.modules.campaigns.automation_graph import Graph
from app.modules.campaigns.automation_reads import automation_stats
from app.modules.campaigns.messages import AutomationEmailStarted, TestAutomation
from app.modules.contacts.messages import ChangeContact
from app.modules.delivery import api as delivery_api
from app.modules.stats.messages import MessageOpened
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.automation_world import DAY, World, add_people, boot, save, steps_of, template


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = boot(tmp_path / "data", MemoryKeyring())
    yield built
    built.kernel.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def outbox(world: World) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in delivery_api.list_outbox(world.kernel.db, limit=1000):
        found.setdefault(message.recipients, []).append(message.subject)
    return found


def welcome(template_id: int) -> Graph:
    """tag -> email -> wait 3 days -> opened it? yes: tag "engaged" / no: reminder email."""
    g = Graph()
    g.add_node("trigger", props={"type": "tag_added", "tag": "new"}, node_id="trigger")
    g.add_node("send_email", props={"template_id": template_id, "subject": "Welcome {{ contact.first_name }}"},
               node_id="mail")
    g.add_node("wait", props={"mode": "duration", "amount": 3, "unit": "days"}, node_id="wait")
    g.add_node("branch", props={"condition": "engagement", "what": "opened", "step_id": "mail", "days": 7},
               node_id="opened")
    g.add_node("add_tag", props={"tag": "engaged"}, node_id="engaged")
    g.add_node("send_email", props={"template_id": template_id, "subject": "Did you see this?"}, node_id="nudge")
    for a, b in (("trigger", "mail"), ("mail", "wait"), ("wait", "opened")):
        g.connect(a, b)
    g.connect("opened", "engaged", "yes")
    g.connect("opened", "nudge", "no")
    return g


def test_each_contact_receives_the_email_exactly_once_and_an_open_steers_the_condition(world: World) -> None:
    kernel = world.kernel
    _, people = add_people(kernel, 3)
    automation_id = save(kernel, welcome(template(kernel)))
    started: list[AutomationEmailStarted] = []
    kernel.bus.subscribe(AutomationEmailStarted, started.append)
    for contact_id in people:
        kernel.bus.execute(ChangeContact(contact_id=contact_id, add_tags=("new",)))
    world.automations.run_due()
    world.automations.run_due()  # nothing more is due: nobody gets it twice
    assert len(started) == 1
    wait_for(lambda: sum(len(v) for v in outbox(world).values()) == 3)
    assert outbox(world) == {f"p{i}@example.com": [f"Welcome P{i}"] for i in range(3)}

    # p0 opens it (a person), p1's "open" is a machine's: only p0 is engaged after the wait.
    at = dt.datetime(2026, 3, 3)
    kernel.bus.publish(MessageOpened(run_id=started[0].run_id, contact_id=people[0], at=at, event_uid="o1"))
    kernel.bus.publish(MessageOpened(run_id=started[0].run_id, contact_id=people[1], at=at, machine=True,
                                     machine_reason="apple-mpp", event_uid="o2"))
    world.clock.advance(3 * DAY)
    world.automations.run_due()
    assert [s for s, _, _ in steps_of(kernel, people[0])] == ["mail", "wait", "opened", "engaged"]
    assert [s for s, _, _ in steps_of(kernel, people[1])] == ["mail", "wait", "opened", "nudge"]
    wait_for(lambda: sum(len(v) for v in outbox(world).values()) == 5)
    assert sorted(outbox(world)["p1@example.com"]) == ["Did you see this?", "Welcome P1"]
    assert outbox(world)["p0@example.com"] == ["Welcome P0"]
    stats = automation_stats(kernel.db, automation_id)
    assert stats.step("mail").results == {"sent": 2, "opened": 1}  # type: ignore[union-attr]
    assert stats.step("opened").results == {"yes": 1, "no": 2}  # type: ignore[union-attr]


def test_test_mode_runs_one_contact_through_at_once_with_test_emails(world: World) -> None:
    kernel = world.kernel
    _, (alice, bob) = add_people(kernel, 2)
    automation_id = save(kernel, welcome(template(kernel)), activate=False)  # a draft can be tested
    path = kernel.bus.execute(TestAutomation(automation_id=automation_id, contact_id=alice))
    assert [(s.step_id, s.result.split(" ")[0]) for s in path] == [
        ("mail", "run"), ("wait", "until"), ("opened", "no"), ("nudge", "run")]
    wait_for(lambda: len(outbox(world).get("p0@example.com", [])) == 2)
    assert sorted(outbox(world)["p0@example.com"]) == ["[Test] Did you see this?", "[Test] Welcome P0"]
    assert "p1@example.com" not in outbox(world)
    # Test runs are not counted, and they do not keep alice out of the real automation.
    stats = automation_stats(kernel.db, automation_id)
    assert (stats.entered, stats.step("mail").passed) == (0, 0)  # type: ignore[union-attr]
    assert steps_of(kernel, alice) == []
    assert steps_of(kernel, bob) == []
