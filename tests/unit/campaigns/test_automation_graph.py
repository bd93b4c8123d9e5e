"""The automation graph: validation in the user's words, walking it, filters, waits until a time of day."""

from __future__ import annotations

import datetime as dt

import pytest

from app.modules.campaigns.automation_graph import (
    Edge,
    Graph,
    drip,
    event_matches,
    parse_filter,
    summary,
    trigger_summary,
    validate,
    wait_until,
)


def messages(graph: Graph) -> list[str]:
    return [p.message for p in validate(graph)]


def test_a_drip_sequence_is_a_valid_linear_automation() -> None:
    graph = drip([("send_email", {"template_id": 1, "subject": "Day 1"}), ("wait", {"amount": 2, "unit": "days"}),
                  ("send_email", {"template_id": 2, "subject": "Day 3"})], {"type": "tag_added", "tag": "trial"})
    assert validate(graph) == []
    trigger = graph.trigger
    assert trigger is not None
    first = graph.next_step(trigger.id)
    assert first is not None
    kinds = []
    node_id: str | None = first
    while node_id:
        node = graph.node(node_id)
        assert node is not None
        kinds.append(node.kind)
        node_id = graph.next_step(node_id)
    assert kinds == ["send_email", "wait", "send_email"]
    assert Graph.from_json(graph.to_json()).to_json() == graph.to_json()


def test_no_trigger_dangling_edges_and_half_branches_are_explained() -> None:
    graph = Graph()
    tag = graph.add_node("add_tag", props={"tag": "x"}, node_id="tag")
    branch = graph.add_node("branch", props={"condition": "segment", "segment_id": 3}, node_id="b")
    graph.connect(tag.id, branch.id)
    graph.connect(branch.id, tag.id, "yes")
    graph.connect(branch.id, "gone")
    found = messages(graph)
    assert "There is no trigger: add one to say who enters the automation." in found
    assert "A connection leads to or from a step that no longer exists." in found
    assert "“Condition” needs both a yes and a no path (missing: no)." in found
    assert any(m.startswith("These steps go round in a loop without a Wait") for m in found)


def test_a_loop_through_a_wait_is_allowed_and_settings_are_checked() -> None:
    graph = Graph()
    t = graph.add_node("trigger", props={"type": "event", "name": "", "filters": ["value >"]}, node_id="t")
    w = graph.add_node("wait", props={"mode": "until", "time": "25:00", "time_zone": "Mars/Olympus"}, node_id="w")
    s = graph.add_node("send_email", props={"template_id": None, "subject": " "}, node_id="s")
    graph.connect(t.id, s.id)
    graph.connect(s.id, w.id)
    graph.connect(w.id, s.id)
    found = messages(graph)
    assert not any("loop" in m for m in found)
    for expected in ("Name the event (e.g. order_completed).", "Choose a template to send.", "Write a subject.",
                     "Give a time of day as HH:MM.", "“Mars/Olympus” is not a time zone (e.g. Europe/Paris)."):
        assert expected in found
    assert any("is not a filter" in m for m in found)


def test_unreachable_steps_and_two_exits_from_one_step() -> None:
    graph = Graph()
    t = graph.add_node("trigger", props={"type": "tag_added", "tag": "a"})
    a = graph.add_node("add_tag", props={"tag": "b"})
    b = graph.add_node("exit")
    c = graph.add_node("exit")
    graph.edges = [Edge(t.id, a.id), Edge(a.id, b.id), Edge(a.id, c.id)]
    found = messages(graph)
    assert "“Add tag” leads to more than one step; use a condition to split." in found
    graph.edges = [Edge(t.id, a.id), Edge(a.id, b.id)]
    assert messages(graph) == ["“Exit” is not connected to the trigger."]


def test_connecting_an_outlet_again_replaces_its_old_connection() -> None:
    graph = Graph()
    a, b, c = (graph.add_node("add_tag", props={"tag": t}) for t in "abc")
    graph.connect(a.id, b.id)
    graph.connect(a.id, c.id)
    assert [(e.source, e.target) for e in graph.edges] == [(a.id, c.id)]
    graph.remove_node(c.id)
    assert graph.edges == []


@pytest.mark.parametrize(("text", "props", "expected"), [
    ("value > 50", {"value": 80.5}, True),
    ("value > 50", {"value": 50}, False),
    ("value >= 50", {"value": "50"}, True),
    ("category = shoes", {"category": "Shoes"}, True),
    ("category != shoes", {"category": "hats"}, True),
    ("sku contains A-", {"sku": "xa-1"}, True),
    ("category = shoes", {}, False),
    ("category > shoes", {"category": "zebra"}, False),
])
def test_event_filters(text: str, props: dict[str, object], expected: bool) -> None:
    assert event_matches([parse_filter(text)], props) is expected


def test_waiting_until_a_time_of_day_keeps_the_wall_clock_across_a_daylight_saving_change() -> None:
    paris = {"time": "09:00", "time_zone": "Europe/Paris"}
    # Saturday 28 March 2026 10:00 in Paris (UTC+1): the next 09:00 is Sunday, after clocks go forward (UTC+2).
    saturday = dt.datetime(2026, 3, 28, 9, 0, tzinfo=dt.UTC).timestamp()
    wake = dt.datetime.fromtimestamp(wait_until(paris, saturday), dt.UTC)
    assert wake == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)
    # Before 09:00 the same day; the contact's own zone when the step names none.
    early = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC).timestamp()
    assert dt.datetime.fromtimestamp(wait_until({"time": "09:00"}, early, "America/New_York"), dt.UTC) == \
        dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def test_cards_say_what_each_step_does() -> None:
    graph = drip([("send_email", {"template_id": 4, "subject": "Hi"}), ("wait", {"amount": 1, "unit": "days"}),
                  ("move_list", {"action": "remove", "list_id": 2})], {"type": "list_joined", "list_id": 2})
    names = {"templates": {4: "Welcome"}, "lists": {2: "News"}}
    assert [summary(n, names) for n in graph.order()] == [
        "joined News", "Welcome: “Hi”", "1 day", "remove from News"]
    assert trigger_summary({"type": "event", "name": "order_completed", "filters": ["value > 50"]}) == \
        "event order_completed where value > 50"
