"""Event intake over HTTP, and the ingest that turns stored events into bus events and timelines, once."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select

from app.kernel.boot import Kernel
from app.modules.contacts.models import Activity
from app.modules.stats import store
from app.modules.stats.api import TrackingLinks, register_links
from app.modules.stats.messages import EventReceived, IngestTracking, LinkClicked, MessageOpened, TrackingIngested
from tests.conftest import MemoryKeyring
from tests.integration.stats.conftest import add_contacts, http, start_app, wait_until

HOUR_AGO = time.time() - 3600
ORDER = {"email": "Ann@Example.com", "name": "order_completed", "value": 59.9, "currency": "EUR",
         "properties": {"sku": "TEA-1"}, "time": "2025-05-01T09:30:00Z", "id": "order-1001"}


def timeline(kernel: Kernel, kind: str) -> int:
    with kernel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Activity).where(Activity.kind == kind)) or 0)


def post_events(links: TrackingLinks, body: str, token: str | None) -> tuple[int, dict[str, object], str]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    reply = http("POST", f"{links.base_url}/events", body, headers)
    return reply.status, reply.json(), reply.headers.get("www-authenticate", "")


def test_event_intake_explains_every_refusal(kernel: Kernel, links: TrackingLinks) -> None:
    _info, token = store.new_access_token(kernel.db, "events", "shop")
    status, body, challenge = post_events(links, json.dumps(ORDER), None)
    assert (status, challenge) == (401, 'Bearer realm="postroom-tracker"')
    assert "missing bearer token" in body["error"]
    status, body, _ = post_events(links, json.dumps(ORDER), "prs_wrong")
    assert status == 401
    assert "not valid for events" in body["error"]
    status, body, _ = post_events(links, '{"email": "ann@example.com", "name": ', token)
    assert status == 400
    assert body["error"].startswith("the body is not valid JSON: Expecting value")
    status, body, _ = post_events(links, json.dumps([ORDER, {**ORDER, "currency": "euros"}]), token)
    assert status == 422
    assert body == {"error": body["error"], "field": "currency", "index": 1}
    assert store.events_after(kernel.db, 0, 10) == []  # all or nothing
    sync_info, sync_token = store.new_access_token(kernel.db, "sync")
    assert post_events(links, json.dumps(ORDER), sync_token)[0] == 401  # a sync token is not an intake token
    assert store.revoke_access_token(kernel.db, sync_info.id)


def test_incoming_events_reach_the_bus_and_the_timeline_once(kernel: Kernel, links: TrackingLinks) -> None:
    add_contacts(kernel, ["ann@example.com"], "News")
    _info, token = store.new_access_token(kernel.db, "events", "shop")
    received: list[EventReceived] = []
    kernel.bus.subscribe(EventReceived, received.append)
    status, body, _ = post_events(links, json.dumps(ORDER), token)
    assert status == 202
    assert body["accepted"] == 1
    assert post_events(links, json.dumps({"events": [ORDER]}), token)[1]["ids"] == body["ids"]  # a retry
    assert kernel.bus.execute(IngestTracking()) == 1
    [event] = received
    assert (event.email, event.name, event.value, event.currency) == ("Ann@Example.com", "order_completed", 59.9,
                                                                       "EUR")
    assert event.properties == {"sku": "TEA-1"}
    assert event.at.isoformat() == "2025-05-01T09:30:00"
    with kernel.db.read() as session:
        activity = session.execute(select(Activity.name, Activity.value, Activity.properties)).one()
    assert activity == ("order_completed", 59.9, {"sku": "TEA-1", "currency": "EUR"})


def test_ingest_publishes_engagement_and_is_idempotent(kernel: Kernel, links: TrackingLinks) -> None:
    [ann, bob] = add_contacts(kernel, ["ann@example.com", "bob@example.com"], "News")
    link_id = register_links(kernel.db, 4, ["https://shop.example.com/"])["https://shop.example.com/"]
    opened: list[MessageOpened] = []
    clicked: list[LinkClicked] = []
    batches: list[TrackingIngested] = []
    kernel.bus.subscribe(MessageOpened, opened.append)
    kernel.bus.subscribe(LinkClicked, clicked.append)
    kernel.bus.subscribe(TrackingIngested, batches.append)
    http("GET", links.open_pixel_url(4, ann, HOUR_AGO))
    http("GET", links.open_pixel_url(4, ann, HOUR_AGO))  # opened twice: one timeline entry
    http("GET", links.open_pixel_url(4, bob, HOUR_AGO), headers={"User-Agent": "Mozilla/5.0"})  # Apple's proxy
    http("GET", links.click_url(4, ann, link_id, HOUR_AGO))
    assert kernel.bus.execute(IngestTracking()) == 4
    assert [(e.contact_id, e.machine, e.machine_reason) for e in opened] == [(ann, False, ""), (ann, False, ""),
                                                                              (bob, True, "apple-mpp")]
    assert [(e.contact_id, e.url) for e in clicked] == [(ann, "https://shop.example.com/")]
    assert batches[-1].kinds == {"open": 3, "click": 1}
    assert (timeline(kernel, "opened"), timeline(kernel, "clicked")) == (1, 1)  # machines stay out

    assert kernel.bus.execute(IngestTracking()) == 0
    # A crash after the effects but before the cursor moved: everything is applied again, nothing doubles.
    with kernel.db.transaction() as session:
        store.move_cursor(session, "ingest", 0)
    assert kernel.bus.execute(IngestTracking()) == 4
    assert (timeline(kernel, "opened"), timeline(kernel, "clicked")) == (1, 1)


def test_events_recorded_while_nothing_ingested_are_applied_at_next_start(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    first = start_app(tmp_path / "app", keyring)
    [ann] = add_contacts(first, ["ann@example.com"], "News")
    links = TrackingLinks.for_kernel(first)
    assert http("GET", links.open_pixel_url(4, ann, HOUR_AGO)).status == 200
    first.close()  # the ingest round is an hour away: the open is only stored
    assert timeline(first, "opened") == 0
    second = start_app(tmp_path / "app", keyring)
    try:
        wait_until(lambda: timeline(second, "opened") == 1)
        # The cursor moves in the unit of work after the timelines (with the report aggregates).
        wait_until(lambda: store.read_cursor(second.db, "ingest") == store.last_event_id(second.db))
    finally:
        second.close()
