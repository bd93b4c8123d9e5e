"""A real send through delivery to an SMTP server on 127.0.0.1 becomes a report: sent counts, a refused address as
a hard bounce, results by recipient domain, and a click map on the web view kept while sending."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from app.kernel.boot import start_kernel
from app.kernel.paths import AppPaths
from app.modules.campaigns.messages import CampaignRunStarted, CampaignSaved
from app.modules.contacts.models import Contact
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.stats import clickmap, reports
from app.modules.stats.messages import IngestTracking
from app.modules.stats.models import ReportRun, TrackedLink
from app.modules.stats.module import MODULE as STATS
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST, add_account, add_contacts, wait_run, wait_until
from tests.integration.delivery.servers import Script, ScriptedSmtpServer
from tests.integration.stats.report_events import event, store_events


def test_a_real_send_becomes_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps({**FAST, "stats.public_url": "https://t.example.com"}))
    kernel = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, STATS, DELIVERY],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        list_id = add_contacts(kernel, [("ann@gmail.com", "Ann"), ("bob@gmail.com", "Bob"),
                                        ("cat@example.org", "Cat"), ("gone@example.org", "Gone")])
        kernel.bus.publish(CampaignSaved(campaign_id=3, name="Autumn letter", state="sending"))
        refuse = Script(rcpt=lambda a, _n: "550 5.1.1 no such user" if a.startswith("gone@") else None)
        with ScriptedSmtpServer(refuse) as server:
            run_id = kernel.bus.execute(StartRun(
                audience=AudienceSpec(lists=(list_id,)), account_id=add_account(kernel, server.port),
                campaign_id=3, content=MessageContent(
                    subject="Autumn", html='<p>Hi</p><a href="https://shop.example.com/autumn">Shop</a>')))
            kernel.bus.publish(CampaignRunStarted(campaign_id=3, run_id=run_id))
            assert wait_run(kernel, run_id).counts == {"sent": 3, "failed": 1}

        def synced() -> bool:
            with kernel.db.read() as session:
                return bool(session.scalar(select(ReportRun.recipients_synced).where(ReportRun.run_id == run_id)))

        wait_until(synced)  # RunStateChanged(finished) -> delivery's counts and recipients, off the relay thread
        report = reports.build_report(kernel.db, "c3")
        f = report.figures
        assert (report.title, report.subject) == ("Autumn letter", "Autumn")
        assert (f.sent, f.bounced_hard, f.delivered) == (4, 1, 3)
        assert {(d.domain, d.sent, d.bounced) for d in report.domains} == {("gmail.com", 2, 0),
                                                                           ("example.org", 2, 1)}
        html = clickmap.sample_html(kernel.db, report.run_ids)  # the web view kept while sending
        assert html is not None
        assert "https://t.example.com/c/" in html
        assert report.links == ()  # nobody clicked yet
        with kernel.db.read() as session:
            link_id = int(session.scalar(select(TrackedLink.id).where(TrackedLink.run_id == run_id)) or 0)
            ann = int(session.scalar(select(Contact.id).where(Contact.email == "ann@gmail.com")) or 0)
        store_events(kernel, [event("click", dt.datetime(2026, 1, 1, 9), run=run_id, contact=ann, link=link_id)])
        kernel.bus.execute(IngestTracking())
        report = reports.build_report(kernel.db, "c3")
        assert [(r.url, r.clicks) for r in report.links] == [("https://shop.example.com/autumn", 1)]
        assert "1 · 100%" in clickmap.annotate(html, report)  # the badge after the link
    finally:
        kernel.close()
