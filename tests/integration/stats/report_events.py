"""Stored tracking events for report tests, written as the endpoint writes them (then ingested for real)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from app.kernel.boot import Kernel
from app.modules.campaigns.messages import CampaignRunStarted, CampaignSaved
from app.modules.delivery.messages import BounceReceived, RecipientFailed, RunProgress
from app.modules.stats import store
from app.modules.stats.api import register_links
from app.modules.stats.messages import IngestTracking

_numbers = itertools.count(1)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")


def event(kind: str, at: dt.datetime, *, run: int = 0, contact: int | None = None, link: int | None = None,
          machine: bool = False, agent: str = FIREFOX, email: str | None = None, name: str = "",
          data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"uid": f"{at:%Y%m%d%H%M%S}-test-{next(_numbers):08d}", "kind": kind, "run_id": run or None,
            "contact_id": contact, "link_id": link, "occurred_at": at, "user_agent": agent,
            "ip_class": "192.0.2.0/24", "machine": machine, "machine_reason": "scanner" if machine else "",
            "email": email, "name": name, "data": data or {}}


def store_events(kernel: Kernel, rows: list[dict[str, Any]]) -> None:
    with kernel.db.transaction() as session:
        store.insert_events(session, rows)


def order(at: dt.datetime, email: str, value: float, currency: str = "EUR") -> dict[str, Any]:
    return event("event", at, email=email, name="order_completed", data={"value": value, "currency": currency})


T0 = dt.datetime(2026, 3, 2, 9, 0)


def hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


@pytest.fixture
def campaign(kernel: Kernel) -> dict[str, int]:
    """Campaign 7 sent as variants A (run 4) and B (run 5) to ann, bob, cat and dan, with engagement."""
    return seed_campaign(kernel)


def seed_campaign(kernel: Kernel) -> dict[str, int]:
    """Campaign 7 (see ``campaign``); hand-computed figures are in test_stats_reports.py."""
    from tests.integration.stats.conftest import add_contacts

    ann, bob, cat, dan = add_contacts(kernel, ["ann@example.com", "bob@example.com", "cat@example.org",
                                               "dan@example.org"], "News")
    bus = kernel.bus
    bus.publish(CampaignSaved(campaign_id=7, name="Spring sale", state="sent"))
    bus.publish(CampaignRunStarted(campaign_id=7, run_id=4, variant="A", at=T0))
    bus.publish(CampaignRunStarted(campaign_id=7, run_id=5, variant="B", at=T0))
    bus.publish(RunProgress(run_id=4, campaign_id=7, counts={"sent": 10}, rate_per_second=1.0))
    bus.publish(RunProgress(run_id=5, campaign_id=7, counts={"sent": 10, "failed": 1}, rate_per_second=1.0))
    bus.publish(RecipientFailed(run_id=5, campaign_id=7, recipient_id=99, outcome="hard", reply="550 5.1.1"))
    bus.publish(RecipientFailed(run_id=5, campaign_id=7, recipient_id=98, outcome="policy", reply="554 5.7.1"))
    bus.publish(BounceReceived(kind="soft", email="x@gmail.com", at=hours(2), run_id=4, campaign_id=7,
                               recipient_id=50, event_uid="dsn-1"))
    bus.publish(BounceReceived(kind="complaint", email="bob@example.com", at=hours(6), run_id=4, campaign_id=7,
                               contact_id=bob, event_uid="arf-1"))
    links = register_links(kernel.db, 4, ["https://shop.example.com/a", "https://shop.example.com/b"])
    [l3] = register_links(kernel.db, 5, ["https://shop.example.com/a"]).values()
    l1, l2 = links["https://shop.example.com/a"], links["https://shop.example.com/b"]
    store_events(kernel, [
        event("open", hours(0.01), run=4, contact=ann, machine=True),  # prefetch
        event("open", hours(1.2), run=4, contact=ann, agent=IPHONE),
        event("open", hours(3.5), run=4, contact=ann, agent=IPHONE),
        event("open", hours(2.1), run=4, contact=bob, machine=True),  # Apple MPP only
        event("click", hours(3.6), run=4, contact=ann, link=l1),
        event("click", hours(4.2), run=4, contact=ann, link=l2),
        event("click", hours(50.5), run=4, contact=ann, link=l1),
        event("open", hours(1.5), run=5, contact=cat),
        event("click", hours(1.6), run=5, contact=cat, link=l3, machine=True),  # a link scanner
        event("unsubscribe", hours(5.0), run=5, contact=dan),
        order(hours(6), "ANN@example.com", 50.0),  # ann clicked run 4 before: attributed
        order(hours(2), "cat@example.org", 20.0),  # cat's only click was a scanner's: not attributed
        order(hours(50.5 + 24 * 6), "ann@example.com", 99.0),  # six days after ann's last click: too late
    ])
    assert kernel.bus.execute(IngestTracking()) == 13
    kernel.bus.publish(RunProgress(run_id=4, campaign_id=7, counts={"sent": 10}, rate_per_second=0.0))  # flushes
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "l1": l1, "l2": l2, "l3": l3}


