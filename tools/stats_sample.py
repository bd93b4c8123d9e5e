"""Fill a data folder with sample campaigns, sends and engagement for the Reports and Dashboard pages.

Usage: python tools/stats_sample.py --data-dir DIR [--campaigns 6] [--recipients 3000]
Events go in as the tracking endpoint stores them and through the real ingest; sends and bounces arrive as
delivery's and campaigns' bus events. Also used by bench/stats_reports.py (``engagement_events``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

AGENTS = (  # (user agent, weight, machine)
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
     30, False),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", 28, False),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)", 14, False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", 10, False),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
     "Safari/537.36", 8, False),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0", 3, False),
    ("Mozilla/5.0", 12, True),  # Apple Mail Privacy Protection
    ("Barracuda Sentinel (EE)", 4, True),  # a security scanner
)
DOMAINS = (("gmail.com", 40), ("outlook.com", 18), ("yahoo.com", 10), ("icloud.com", 9), ("gmx.de", 6),
           ("example.org", 5), ("web.de", 4), ("proton.me", 3), ("aol.com", 2), ("mail.ru", 1), ("posteo.de", 1),
           ("fastmail.com", 1))
NAMES = ("Spring sale", "April newsletter", "New arrivals", "Customer survey", "Summer preview", "Loyalty club",
         "Back in stock", "Weekend offer", "Product update", "Holiday gift guide")
LINKS = ("https://shop.example.com/sale", "https://shop.example.com/new", "https://shop.example.com/blog/spring",
         "https://shop.example.com/account", "https://instagram.com/exampleshop")

EMAIL = """<html><body style="font-family:Arial,sans-serif;background:#f4f4f4">
<table width="600" align="center" style="background:#ffffff"><tr><td style="padding:24px">
<h1 style="color:#1c2230">{subject}</h1>
<p>Hello {name}, our spring collection has arrived, and this week everything in the
<a href="https://shop.example.com/sale">sale</a> is a further 20% off.</p>
<p style="text-align:center"><a href="https://shop.example.com/new"
 style="background:#2e63d6;color:#ffffff;padding:10px 18px;text-decoration:none">See what is new</a></p>
<p>Read how we chose this season's fabrics on <a href="https://shop.example.com/blog/spring">our blog</a>.</p>
<p style="color:#5f6776;font-size:12px"><a href="https://shop.example.com/account">Your account</a> ·
<a href="https://instagram.com/exampleshop">Instagram</a></p>
</td></tr></table></body></html>"""


def engagement_events(rng: random.Random, run_id: int, contacts: range, sent_at: dt.datetime, *,
                      link_ids: list[int], open_share: float = 0.35, click_share: float = 0.3,
                      uid_prefix: str = "s") -> Iterator[dict[str, Any]]:
    """Opens (people and machines) and clicks of one run, as stored event rows."""
    agents, agent_weights = [a[:1] + a[2:] for a in AGENTS], [a[1] for a in AGENTS]
    link_weights = [1 / (i + 1) for i in range(len(link_ids))]
    number = 0

    def row(kind: str, contact: int, at: dt.datetime, agent: tuple[str, bool], link: int | None) -> dict[str, Any]:
        nonlocal number
        number += 1
        return {"uid": f"{uid_prefix}{run_id:05d}{number:09d}", "kind": kind, "run_id": run_id,
                "contact_id": contact, "link_id": link, "occurred_at": at, "user_agent": agent[0],
                "ip_class": "198.51.100.0/24", "machine": agent[1], "machine_reason": "scanner" if agent[1] else "",
                "email": None, "name": "", "data": {}}

    for contact in contacts:
        if rng.random() > open_share:
            continue
        if rng.random() < 0.01:
            yield row("unsubscribe", contact, sent_at + dt.timedelta(hours=rng.expovariate(1 / 12.0)), agents[0], None)
        agent = rng.choices(agents, agent_weights)[0]
        at = sent_at + dt.timedelta(hours=min(rng.expovariate(1 / 7.0), 24 * 6), minutes=rng.random() * 5)
        for _ in range(1 + int(rng.expovariate(1.2))):
            yield row("open", contact, at, agent, None)
            at += dt.timedelta(hours=rng.expovariate(1 / 10.0))
        if rng.random() < click_share and link_ids:
            link = rng.choices(link_ids, link_weights)[0]
            clicked = sent_at + dt.timedelta(hours=min(rng.expovariate(1 / 8.0), 24 * 6))
            for _ in range(1 + int(rng.expovariate(2.0))):
                yield row("click", contact, clicked, agent, link)


def _subscribe(kernel: Any, emails: list[str]) -> list[int]:
    """Contacts for ``emails`` on the list "Newsletter"; their ids in the same order."""
    from app.modules.contacts import store as contacts_store
    from app.modules.contacts.addresses import email_hash, parse_address
    from app.modules.contacts.models import Contact

    with kernel.db.transaction() as session:
        news = contacts_store.get_or_create_list(session, "Newsletter").id
        ids = []
        for email in emails:
            address = parse_address(email)
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key))
            session.add(contact)
            session.flush()
            contacts_store.subscribe(session, contact.id, news, "subscribed")
            ids.append(contact.id)
    return ids


def fill(kernel: Any, campaigns: int = 6, recipients: int = 3000, seed: int = 7) -> None:
    from app.modules.campaigns.messages import CampaignRunStarted, CampaignSaved
    from app.modules.delivery.messages import BounceReceived, RecipientFailed, RunProgress
    from app.modules.stats import store
    from app.modules.stats.aggregate import record_recipients, upsert
    from app.modules.stats.api import RunTracking, TrackingLinks, register_links
    from app.modules.stats.messages import IngestTracking
    from app.modules.stats.models import ReportListDay

    rng = random.Random(seed)  # noqa: S311 - sample data, reproducible by its seed; nothing secret
    domains, weights = [d for d, _w in DOMAINS], [w for _d, w in DOMAINS]
    emails = [f"person{i}@{rng.choices(domains, weights)[0]}" for i in range(recipients)]
    ids = _subscribe(kernel, emails)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    with kernel.db.transaction() as session:  # list growth on the dashboard: 30 past days
        upsert(session, ReportListDay, [{"day": (now - dt.timedelta(days=29 - d)).date(),
                                         "subscribed": rng.randint(5, 40), "unsubscribed": rng.randint(0, 9)}
                                        for d in range(30)], ["day"], add=("subscribed", "unsubscribed"))
    bus = kernel.bus
    run_id = 100
    for index in range(campaigns):
        campaign_id = index + 1
        sent_at = now - dt.timedelta(days=(campaigns - index) * 4, hours=rng.randint(0, 5))
        bus.publish(CampaignSaved(campaign_id=campaign_id, name=NAMES[index % len(NAMES)], state="sent"))
        variants = ("A", "B") if index == campaigns - 1 else ("",)
        share = len(variants)
        for variant_index, variant in enumerate(variants):
            run_id += 1
            audience = range(variant_index, recipients, share)
            bus.publish(CampaignRunStarted(campaign_id=campaign_id, run_id=run_id, variant=variant, at=sent_at))
            link_map = register_links(kernel.db, run_id, LINKS)
            tracking = RunTracking(TrackingLinks.for_kernel(kernel), kernel.db, run_id)
            for i in audience[:3]:  # web views: the click map shows the email as sent
                tracking.finish_html(EMAIL.format(name=f"Person {i}", subject=NAMES[index % len(NAMES)]), ids[i])
            tracking.flush()
            hard = [i for i in audience if rng.random() < 0.012]
            soft = [i for i in audience if rng.random() < 0.006]
            complaints = [i for i in audience if rng.random() < 0.0015 * (index + 1)]
            bus.publish(RunProgress(run_id=run_id, campaign_id=campaign_id,
                                    counts={"sent": len(audience) - len(hard)}, rate_per_second=0.0,
                                    total=len(audience)))
            for i in hard:
                bus.publish(RecipientFailed(run_id=run_id, campaign_id=campaign_id, recipient_id=ids[i],
                                            outcome="hard", reply="550 5.1.1 no such user"))
            for kind, people in (("soft", soft), ("complaint", complaints)):
                for i in people:
                    bus.publish(BounceReceived(kind=kind, email=emails[i], at=sent_at + dt.timedelta(hours=1),
                                               run_id=run_id, campaign_id=campaign_id, contact_id=ids[i],
                                               event_uid=f"sample-{kind}-{run_id}-{i}"))
            with kernel.db.transaction() as session:
                record_recipients(session, run_id, [(ids[i], emails[i], "hard" if i in hard else "sent")
                                                    for i in audience])
            boost = 0.04 * variant_index
            events = [dict(r) for r in engagement_events(
                rng, run_id, range(len(audience)), sent_at, link_ids=list(link_map.values()),
                open_share=0.3 + 0.03 * index + boost, click_share=0.25 + boost, uid_prefix="sample")]
            for event in events:
                event["contact_id"] = ids[audience[event["contact_id"]]]
            with kernel.db.transaction() as session:
                store.insert_events(session, events)
            bus.execute(IngestTracking())
            # A few orders from people who clicked (attributed) and a few from people who did not.
            clickers = sorted({r["contact_id"] for r in events if r["kind"] == "click" and not r["machine"]})
            orders = []
            for n, contact in enumerate(clickers[: max(3, len(clickers) // 12)]):
                click_at = min(r["occurred_at"] for r in events if r["contact_id"] == contact and r["kind"] == "click")
                email = emails[ids.index(contact)]
                orders.append({"uid": f"order-{run_id}-{n}", "kind": "event", "run_id": None, "contact_id": None,
                               "link_id": None, "occurred_at": click_at + dt.timedelta(hours=rng.uniform(0.2, 30)),
                               "user_agent": "", "ip_class": "", "machine": False, "machine_reason": "",
                               "email": email, "name": "order_completed",
                               "data": {"value": round(rng.uniform(15, 180), 2), "currency": "EUR"}})
            with kernel.db.transaction() as session:
                store.insert_events(session, orders)
            bus.execute(IngestTracking())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--campaigns", type=int, default=6)
    parser.add_argument("--recipients", type=int, default=3000)
    args = parser.parse_args(argv)
    from app.cli import builtin_modules
    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths

    paths = AppPaths.inside(args.data_dir)
    paths.ensure()
    kernel = start_kernel(paths, modules=builtin_modules(), log_to_file=False)
    try:
        fill(kernel, args.campaigns, args.recipients)
    finally:
        kernel.close()
    print(f"sample reports written to {args.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
