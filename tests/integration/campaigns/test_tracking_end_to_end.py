"""The whole loop offline, as a new user has it: a campaign goes to the built-in outbox; the recipient's mail client
loads the pixel and follows a link through the embedded tracking endpoint; the recipient unsubscribes with the
one-click header; the app sees the open, the click and the unsubscribe, and the contact is unsubscribed."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

from app.kernel.boot import Kernel
from app.modules.campaigns.messages import SendCampaign
from app.modules.contacts.api import is_suppressed
from app.modules.contacts.messages import ContactUnsubscribed
from app.modules.delivery import api as delivery_api
from app.modules.stats import api as stats_api
from app.modules.stats.messages import IngestTracking, LinkClicked, MessageOpened
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import add_people, boot, campaign, template, wait_campaign_runs
from tests.integration.stats.conftest import http, one_click, subscriptions, wait_until

SETTINGS = {"stats.tracker_port": 0, "stats.ingest_seconds": 3600}


def _message_to(kernel: Kernel, address: str):  # type: ignore[no-untyped-def]
    summary = next(m for m in delivery_api.list_outbox(kernel.db, limit=100) if m.recipients == address)
    detail = delivery_api.get_outbox_message(kernel.db, summary.id)
    assert detail is not None
    return message_from_bytes(detail.raw, policy=policy.default), detail.html


def test_open_click_and_one_click_unsubscribe_reach_the_app(tmp_path: Path) -> None:
    kernel = boot(tmp_path / "data", MemoryKeyring(), services=True, settings=SETTINGS)
    try:
        list_id = add_people(kernel, [("ann@example.com", "Ann", ""), ("bob@example.com", "Bob", "")])
        campaign_id = campaign(kernel, list_id, template(kernel))
        seen: list[object] = []
        for kind in (MessageOpened, LinkClicked, ContactUnsubscribed):
            kernel.bus.subscribe(kind, seen.append)
        kernel.bus.execute(SendCampaign(campaign_id=campaign_id))
        info = wait_campaign_runs(kernel, campaign_id)
        run_id = info.run_ids[0]
        wait_until(lambda: len(delivery_api.list_outbox(kernel.db)) == 2)
        message, html = _message_to(kernel, "ann@example.com")

        # The mail client shows the message: the open pixel is loaded from the embedded endpoint.
        pixel = re.search(r'<img[^>]+src="(http://127\.0\.0\.1:\d+/[^"]+)"[^>]*width="1"', html)
        assert pixel, html[-600:]
        assert http("GET", pixel[1].replace("&amp;", "&")).status == 200
        # Ann clicks the sale link: a redirect to the registered link, with its UTM-free original URL.
        click = next(u.replace("&amp;", "&") for u in re.findall(r'href="(http://127\.0\.0\.1:\d+/[^"]+)"', html)
                     if "/c/" in u or "click" in u)
        reply = http("GET", click)
        assert reply.status in (302, 303, 307)
        assert reply.headers["location"] == "https://shop.example/sale"
        # ...then unsubscribes from the inbox's button: RFC 8058 one-click POST to the List-Unsubscribe URL.
        # (The embedded endpoint is plain http on 127.0.0.1, so the one-click header, which RFC 8058 allows
        # only with https, is left out; the POST still works, as it will behind https.)
        web_url = re.search(r"<(http://127\.0\.0\.1:\d+/[^>]+)>", str(message["List-Unsubscribe"]))
        assert web_url, message["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] is None
        answer = one_click(web_url[1])
        assert answer.status == 200
        assert "location" not in answer.headers

        # The app ingests on its own soon after (and on demand): the three become bus events.
        wait_until(lambda: kernel.bus.execute(IngestTracking()) >= 0 and len(seen) >= 3)
        contact_id = next(e.contact_id for e in seen if isinstance(e, MessageOpened))
        assert {type(e).__name__ for e in seen} == {"MessageOpened", "LinkClicked", "ContactUnsubscribed"}
        assert all(getattr(e, "run_id", run_id) == run_id for e in seen)
        assert subscriptions(kernel, contact_id) == {"News": "unsubscribed"}
        assert not is_suppressed(kernel.db, "bob@example.com")
        # Seconds after delivery, an open and a click look like a scanner's prefetch: recorded, flagged as machine.
        engagement = stats_api.run_engagement(kernel.db, [run_id], include_machine=True)[run_id]
        assert (engagement.unique_opens, engagement.unique_clicks) == (1, 1)
        # Ingesting again records nothing twice.
        kernel.bus.execute(IngestTracking())
        assert stats_api.run_engagement(kernel.db, [run_id], include_machine=True)[run_id] == engagement
    finally:
        kernel.close()
