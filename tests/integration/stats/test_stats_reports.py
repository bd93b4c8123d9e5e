"""Report aggregates against hand-computed figures: unique vs total, machine traffic, rates on delivered,
attribution inside and outside the window, and re-ingest or a repeated bounce changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.campaigns.messages import AutomationEmailStarted, CampaignRunStarted
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.messages import BounceReceived, RecipientFailed, RunProgress
from app.modules.stats import reports, store
from app.modules.stats.api import register_links
from app.modules.stats.messages import IngestTracking
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring
from tests.integration.stats.conftest import add_contacts
from tests.integration.stats.report_events import T0, event, hours, order, seed_campaign, store_events


def test_people_only_figures_are_the_hand_computed_ones(kernel: Kernel, campaign: dict[str, int]) -> None:
    report = reports.build_report(kernel.db, "c7")
    f = report.figures
    assert report.title == "Spring sale"
    assert report.run_ids == (4, 5)
    # 20 accepted + 1 refused while sending (550 5.1.1); the policy refusal is not a bounce
    assert (f.sent, f.bounced_hard, f.bounced_soft, f.delivered) == (21, 1, 1, 19)
    assert (f.unique_opens, f.total_opens) == (2, 3)  # ann (twice) and cat; machine opens left out
    assert (f.unique_clicks, f.total_clicks) == (1, 3)  # ann only; the scanner's click left out
    assert (f.unsubscribes, f.complaints) == (1, 1)
    assert f.open_rate == pytest.approx(2 / 19)  # on delivered, not on sent
    assert f.click_rate == pytest.approx(1 / 19)
    assert f.click_to_open_rate == pytest.approx(1 / 2)
    assert f.bounce_rate == pytest.approx(2 / 21)
    assert f.complaint_rate == pytest.approx(1 / 19)
    assert (f.conversions, f.revenue, f.currency) == (1, 50.0, "EUR")
    assert ("Open rate (of delivered)", "10.5%") in reports.figure_rows(f)


def test_machine_traffic_counts_only_when_asked(kernel: Kernel, campaign: dict[str, int]) -> None:
    f = reports.build_report(kernel.db, "c7", include_machine=True).figures
    assert (f.unique_opens, f.total_opens) == (3, 5)  # + bob's MPP open and ann's prefetch
    assert (f.unique_clicks, f.total_clicks) == (2, 4)  # + the scanner's click on cat's message
    assert f.conversions == 1  # a machine's click never earns an order


def test_variants_timeline_links_and_clients(kernel: Kernel, campaign: dict[str, int]) -> None:
    report = reports.build_report(kernel.db, "c7")
    variants = {v.variant: v.figures for v in report.variants}
    assert set(variants) == {"A", "B"}
    assert (variants["A"].sent, variants["A"].bounced_soft, variants["A"].unique_opens) == (10, 1, 1)
    assert (variants["B"].sent, variants["B"].bounced_hard, variants["B"].unsubscribes) == (11, 1, 1)
    timeline = report.timeline
    assert timeline.starts[0] == T0
    assert timeline.hours[:48] == (1,) * 48
    assert timeline.hours[48:] == (24,)  # day 3 holds the click at hour 50
    assert timeline.opens[:4] == (0, 2, 0, 1)
    assert timeline.first_opens[:4] == (0, 2, 0, 0)
    assert timeline.clicks[3:5] == (1, 1)
    assert timeline.clicks[48] == 1
    assert sum(timeline.first_clicks) == 1
    assert [(r.url, r.clicks, r.unique_clicks) for r in report.links] == [
        ("https://shop.example.com/a", 2, 1), ("https://shop.example.com/b", 1, 1)]
    assert report.by_client() == [("Apple Mail", 2), ("Firefox", 1)]
    assert report.by_device() == [("mobile", 2), ("desktop", 1)]


def test_attribution_window_is_a_setting(kernel: Kernel) -> None:
    [eve] = add_contacts(kernel, ["eve@example.com"], "News")
    kernel.settings.set("stats.attribution_days", 1)
    kernel.bus.publish(CampaignRunStarted(campaign_id=8, run_id=6, at=T0))
    [link] = register_links(kernel.db, 6, ["https://shop.example.com/"]).values()
    store_events(kernel, [event("click", hours(1), run=6, contact=eve, link=link),
                          order(hours(20), "eve@example.com", 10.0),  # inside one day
                          order(hours(30), "eve@example.com", 15.0)])  # outside it
    kernel.bus.execute(IngestTracking())
    f = reports.build_report(kernel.db, "c8").figures
    assert (f.conversions, f.revenue) == (1, 10.0)


def test_revenue_per_automation(kernel: Kernel) -> None:
    [fay] = add_contacts(kernel, ["fay@example.com"], "News")
    kernel.bus.publish(AutomationEmailStarted(automation_id=3, run_id=11, step_id="welcome", contact_ids=(fay,)))
    [link] = register_links(kernel.db, 11, ["https://shop.example.com/"]).values()
    store_events(kernel, [event("click", hours(1), run=11, contact=fay, link=link),
                          order(hours(2), "fay@example.com", 30.0)])
    kernel.bus.execute(IngestTracking())
    entry = next(e for e in reports.list_reports(kernel.db) if e.key == "a3")
    assert entry.kind == "automation"
    f = reports.build_report(kernel.db, "a3").figures
    assert (f.conversions, f.revenue, f.unique_clicks) == (1, 30.0, 1)


def test_reingest_and_repeated_reports_change_nothing(kernel: Kernel, campaign: dict[str, int]) -> None:
    before = reports.build_report(kernel.db, "c7", include_machine=True)
    with kernel.db.transaction() as session:
        store.move_cursor(session, "ingest", 0)  # replay every stored event
    assert kernel.bus.execute(IngestTracking()) == 13
    kernel.bus.publish(BounceReceived(kind="soft", email="x@gmail.com", at=hours(2), run_id=4, campaign_id=7,
                                      recipient_id=50, event_uid="dsn-1"))
    kernel.bus.publish(RecipientFailed(run_id=5, campaign_id=7, recipient_id=99, outcome="hard", reply="550"))
    kernel.bus.publish(RunProgress(run_id=4, campaign_id=7, counts={"sent": 10}, rate_per_second=0.0))
    after = reports.build_report(kernel.db, "c7", include_machine=True)
    assert after.figures == before.figures
    assert after.timeline == before.timeline
    assert after.links == before.links
    assert after.clients == before.clients


def test_a_send_without_campaign_has_its_own_report(kernel: Kernel) -> None:
    [gus] = add_contacts(kernel, ["gus@example.com"], "News")
    store_events(kernel, [event("open", hours(1), run=21, contact=gus)])
    kernel.bus.execute(IngestTracking())
    entry = reports.resolve(kernel.db, "r21")
    assert (entry.kind, entry.title) == ("run", "Send 21")
    assert reports.build_report(kernel.db, "r21").figures.unique_opens == 1
    with pytest.raises(reports.ReportNotFound):
        reports.resolve(kernel.db, "no such campaign")


def test_the_same_figures_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """Team mode: the aggregates' upserts, hour buckets and attribution give the same report on PostgreSQL."""
    paths = AppPaths.inside(tmp_path / "pg")
    paths.ensure()
    paths.settings_file.write_text(json.dumps({"stats.tracker_port": 0}))
    kernel = start_kernel(paths, database_url=postgres_url, modules=[CONTACTS, STATS],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        seed_campaign(kernel)
        report = reports.build_report(kernel.db, "c7")
        f = report.figures
        assert (f.sent, f.delivered, f.unique_opens, f.total_opens, f.unique_clicks, f.total_clicks) == (
            21, 19, 2, 3, 1, 3)
        assert (f.unsubscribes, f.complaints, f.conversions, f.revenue) == (1, 1, 1, 50.0)
        assert report.timeline.opens[:4] == (0, 2, 0, 1)
        top = report.links[0]
        assert (top.url, top.clicks, top.unique_clicks) == ("https://shop.example.com/a", 2, 1)
        with kernel.db.transaction() as session:
            store.move_cursor(session, "ingest", 0)
        kernel.bus.execute(IngestTracking())
        assert reports.build_report(kernel.db, "c7").figures == f
    finally:
        kernel.close()
