"""Reports benchmark: N engagement events across C campaigns stored as the tracking endpoint stores them, then
ingested for real (stats' ingest: bus events, contacts' timelines, report aggregates), then each report opened.

Prints: the ingest rate (goal >= 20,000 events/s), the aggregation alone, a floor measured in the same run (raw
sqlite3 executemany of the same rows into a plain table, and the endpoint's own insert into stats_event), and the
time to open a campaign report with all its chart data (goal < 500 ms), plus building and drawing its charts.

Usage: python bench/stats_reports.py [--events 5000000] [--campaigns 50] [--contacts 40000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENTS = (("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Mobile/15E148", False),
          ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", False),
          ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)", False),
          ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", False),
          ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
           "Safari/537.36", False),
          ("Mozilla/5.0", True), ("Barracuda Sentinel (EE)", True))
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "web.de", "proton.me", "aol.com")
CHUNK = 50_000


def rows_for(rng: random.Random, run_id: int, count: int, contacts: list[int], link_ids: list[int],
             sent_at: dt.datetime, serial: int) -> list[tuple[Any, ...]]:
    """``count`` opens (80%) and clicks of one run as stats_event rows (the endpoint's storage format)."""
    from app.modules.stats.store import sqlite_values

    out = []
    for n in range(count):
        agent, machine = AGENTS[rng.randrange(len(AGENTS))]
        at = sent_at + dt.timedelta(seconds=min(rng.expovariate(1 / 30_000), 6 * 86_400))
        click = rng.random() < 0.2
        out.append(sqlite_values({
            "uid": f"{at:%Y%m%d%H%M%S}b{serial:07d}{n:09d}", "kind": "click" if click else "open",
            "run_id": run_id, "contact_id": contacts[rng.randrange(len(contacts))],
            "link_id": link_ids[rng.randrange(len(link_ids))] if click else None, "occurred_at": at,
            "user_agent": agent, "ip_class": "198.51.100.0/24", "machine": machine,
            "machine_reason": "scanner" if machine else "", "email": None, "name": "", "data": {}}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--contacts", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=5000, help="ingest batch size (the app's default)")
    parser.add_argument("--dir", type=Path, default=None, help="data folder (default: a new temp folder)")
    args = parser.parse_args(argv)

    from sqlalchemy import insert

    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.campaigns.messages import CampaignRunStarted, CampaignSaved
    from app.modules.contacts.addresses import email_hash
    from app.modules.contacts.models import Contact
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.messages import RunProgress
    from app.modules.stats import charts, reports, store
    from app.modules.stats.aggregate import Aggregator, record_recipients
    from app.modules.stats.api import register_links
    from app.modules.stats.ingest import Ingest
    from app.modules.stats.module import MODULE as STATS
    from app.modules.stats.store import SQLITE_INSERT
    from tests.conftest import MemoryKeyring

    folder = args.dir or Path(tempfile.mkdtemp(prefix="postroom-bench-stats-"))
    paths = AppPaths.inside(folder)
    paths.ensure()
    kernel = start_kernel(paths, modules=[CONTACTS, STATS], secrets_backend=MemoryKeyring(), log_to_file=False)
    rng = random.Random(7)
    print(f"data folder {folder}; {args.events:,} events, {args.campaigns} campaigns, {args.contacts:,} contacts")
    try:
        emails = [f"person{i}@{DOMAINS[i % len(DOMAINS)]}" for i in range(args.contacts)]
        with kernel.db.transaction() as session:
            session.execute(insert(Contact), [{"email": e, "email_key": e, "email_hash": email_hash(e)}
                                              for e in emails])
        with kernel.db.read() as session:
            contact_ids = [int(c) for c in session.scalars(Contact.__table__.select().with_only_columns(
                Contact.id).order_by(Contact.id))]
        per_run = args.events // args.campaigns
        start = dt.datetime(2026, 1, 5, 9, 0)
        link_ids: dict[int, list[int]] = {}
        for c in range(1, args.campaigns + 1):
            kernel.bus.publish(CampaignSaved(campaign_id=c, name=f"Campaign {c}", state="sent"))
            kernel.bus.publish(CampaignRunStarted(campaign_id=c, run_id=c, at=start + dt.timedelta(days=c)))
            kernel.bus.publish(RunProgress(run_id=c, campaign_id=c, counts={"sent": args.contacts},
                                           rate_per_second=0.0, total=args.contacts))
            links = register_links(kernel.db, c, [f"https://shop.example.com/{c}/{n}" for n in range(8)])
            link_ids[c] = list(links.values())
            with kernel.db.transaction() as session:
                record_recipients(session, c, [(cid, email, "sent") for cid, email in zip(
                    contact_ids, emails, strict=True)])

        # -- floor: raw sqlite3 executemany of the same rows into a plain table (same file, same pragmas)
        database = str(paths.database_file)
        sample = rows_for(rng, 1, min(200_000, per_run), contact_ids, link_ids[1], start, 0)
        with closing(sqlite3.connect(database, isolation_level=None)) as raw:
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
            columns = ", ".join(store.EVENT_COLUMNS)
            raw.execute(f"CREATE TABLE bench_floor ({columns})")
            t = time.perf_counter()
            for first in range(0, len(sample), CHUNK):
                raw.execute("BEGIN")
                raw.executemany(f"INSERT INTO bench_floor VALUES ({', '.join('?' * len(store.EVENT_COLUMNS))})",
                                sample[first:first + CHUNK])
                raw.execute("COMMIT")
            floor_rate = len(sample) / (time.perf_counter() - t)
            raw.execute("DROP TABLE bench_floor")

            # -- store the events as the endpoint does (its INSERT OR IGNORE into stats_event, with indexes)
            t = time.perf_counter()
            stored = 0
            for c in range(1, args.campaigns + 1):
                rows = rows_for(rng, c, per_run, contact_ids, link_ids[c], start + dt.timedelta(days=c), c)
                for first in range(0, len(rows), CHUNK):
                    raw.execute("BEGIN")
                    raw.executemany(SQLITE_INSERT, rows[first:first + CHUNK])
                    raw.execute("COMMIT")
                stored += len(rows)
            store_seconds = time.perf_counter() - t
        print(f"floor: raw sqlite3 executemany into a plain table   {floor_rate:>12,.0f} rows/s")
        print(f"stored {stored:,} events as the endpoint does (generation included) "
              f"{stored / store_seconds:>10,.0f} rows/s")

        # -- the real ingest: bus events, contacts' timelines and the report aggregates, in batches
        ingest = Ingest(kernel.db, kernel.bus, batch_size=args.batch, aggregator=Aggregator(kernel.db, kernel.settings))
        profiler = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t = time.perf_counter()
        handled = ingest.run(wait=True)
        ingest_seconds = time.perf_counter() - t
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        ingest_rate = handled / ingest_seconds
        print(f"ingest (bus events + contacts' timelines + aggregates) {handled:,} events in {ingest_seconds:.1f} s "
              f"= {ingest_rate:,.0f} events/s  (goal >= 20,000; {ingest_rate / floor_rate:.0%} of the floor)")

        # -- the aggregation alone, on the same events read again (a rebuild of every report table)
        aggregator = ingest.aggregator
        assert aggregator is not None
        from app.modules.stats.aggregate import CURSOR as AGGREGATE

        with kernel.db.transaction() as session:
            store.move_cursor(session, AGGREGATE, 0)
            for table in ("stats_recipient", "stats_hour", "stats_link_clicks", "stats_link_person", "stats_client"):
                session.execute(__import__("sqlalchemy").text(f"DELETE FROM {table}"))
        t = time.perf_counter()
        after, applied = 0, 0
        while True:
            batch = store.events_after(kernel.db, after, args.batch)
            if not batch:
                break
            aggregator.apply_now(batch, ingest._links)
            applied += len(batch)
            after = batch[-1].id
        aggregate_seconds = time.perf_counter() - t
        print(f"aggregation alone (read + reduce + upsert)           {applied / aggregate_seconds:>12,.0f} events/s")

        # -- opening reports
        keys = [f"c{c}" for c in range(1, args.campaigns + 1)]
        first_open = []
        for key in keys[:10]:
            t = time.perf_counter()
            report = reports.build_report(kernel.db, key)
            first_open.append(time.perf_counter() - t)
        warm = []
        for key in keys:
            t = time.perf_counter()
            report = reports.build_report(kernel.db, key)
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        figures = charts.report_figures(report)
        build_seconds = time.perf_counter() - t
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        t = time.perf_counter()
        for figure in figures.values():
            FigureCanvasAgg(figure).draw()
        draw_seconds = time.perf_counter() - t
        f = report.figures
        print(f"report {report.title}: sent {f.sent:,}, opens {f.unique_opens:,}/{f.total_opens:,}, clicks "
              f"{f.unique_clicks:,}/{f.total_clicks:,}, {len(report.timeline.starts)} time buckets")
        print(f"open a report with all its chart data: first opens median {statistics.median(first_open) * 1000:.0f} "
              f"ms (max {max(first_open) * 1000:.0f}); every campaign median {statistics.median(warm) * 1000:.0f} ms, "
              f"max {max(warm) * 1000:.0f} ms  (goal < 500 ms)")
        print(f"build its {len(figures)} matplotlib figures {build_seconds * 1000:.0f} ms; draw them (Agg) "
              f"{draw_seconds * 1000:.0f} ms, on the page's worker thread")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {rss:.0f} MB; database {Path(database).stat().st_size / 1e6:,.0f} MB")
    finally:
        kernel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
