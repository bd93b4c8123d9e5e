"""The Campaigns page, offscreen on a real kernel: a campaign is made in the form and sent to the built-in outbox,
a schedule shows its next runs, a bad schedule says why, and a send missed while closed asks the user."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QApplication, QPushButton

from app.kernel.boot import Kernel
from app.kernel.database import utcnow
from app.modules.campaigns import api
from app.modules.campaigns.messages import ScheduleCampaign
from app.modules.campaigns.models import Campaign
from app.modules.campaigns.ui.campaigns_page import CampaignsPage
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import add_people, boot, campaign, outbox_by_recipient, template

TIMEOUT = 15_000


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = boot(tmp_path / "data", MemoryKeyring())
    add_people(started, [("ann@example.com", "Ann", "Europe/Paris"), ("bob@example.com", "Bob", "")])
    add_people(started, [("zed@example.com", "Zed", "")], list_name="Partners")
    template(started, "Spring template")
    yield started
    started.close()


@pytest.fixture
def page(qapp: QApplication, qtbot, kernel: Kernel) -> Iterator[CampaignsPage]:  # type: ignore[no-untyped-def]
    bridge = QtBridge(kernel.bus)
    widget = CampaignsPage(UiContext.for_kernel(kernel, bridge))
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    qtbot.waitUntil(lambda: widget.template.count() > 1, timeout=TIMEOUT)
    yield widget
    widget.shutdown()
    bridge.close()


def _make_campaign(page: CampaignsPage, qtbot) -> int:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page._current is not None and page.table.rowCount() == 1, timeout=TIMEOUT)
    page.name.setText("Spring news")
    page.template.setCurrentIndex(page.template.findText("Spring template"))
    page.subject.setText("Hello {{ contact.first_name }}")
    page.lists.set_checked(["News"])
    assert page._current is not None
    return page._current.id


def test_a_campaign_made_in_the_form_is_sent_to_the_outbox(page: CampaignsPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    campaign_id = _make_campaign(page, qtbot)
    asked: list[object] = []
    page.confirm_send = lambda info: asked.append(page.preflight_command(info)) or True  # type: ignore[method-assign]
    qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1  # the preflight was asked for, with this campaign's audience and content
    assert asked[0].audience.lists == (page._current.lists[0],)
    assert asked[0].content.subject.startswith("Hello")
    qtbot.waitUntil(lambda: len(outbox_by_recipient(kernel)) == 2, timeout=TIMEOUT)
    assert sorted(outbox_by_recipient(kernel)) == ["ann@example.com", "bob@example.com"]
    subjects = sorted(m.subject for ms in outbox_by_recipient(kernel).values() for m in ms)
    assert subjects == ["Hello Ann", "Hello Bob"]
    qtbot.waitUntil(lambda: page.table.item(0, 1).text() == "Sent", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "Sent 2" in page.results_text.text(), timeout=TIMEOUT)
    assert api.get_campaign(kernel.db, campaign_id).name == "Spring news"
    assert not page.send_button.isEnabled()  # a sent campaign is duplicated, not sent twice


def test_schedule_shows_the_next_runs_and_a_bad_rule_says_why(page: CampaignsPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    campaign_id = _make_campaign(page, qtbot)
    page.confirm_send = lambda info: True  # type: ignore[method-assign]
    page.kinds["recurring"].setChecked(True)
    page.zone.setCurrentText("Europe/Paris")
    page.rule.setCurrentIndex(0)  # every Monday at 9:00
    page.when.setDateTime(QDateTime((utcnow() + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                                               microsecond=0)))
    qtbot.mouseClick(page.schedule_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.schedule_button.isEnabled, timeout=TIMEOUT)  # the schedule is set on a worker
    info = api.get_campaign(kernel.db, campaign_id)
    assert info.state == "scheduled"
    assert info.schedule_kind == "recurring"
    qtbot.waitUntil(lambda: page.next_runs.text().count("Mon") == 5, timeout=TIMEOUT)
    assert "09:00" in page.next_runs.text()
    assert "Every Monday at 09:00 (Europe/Paris)" in page.state_line.text()
    # An invented rule is refused with the reason, and nothing changes.
    page.rule.setEditText("FREQ=SOMETIMES")
    qtbot.mouseClick(page.schedule_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.notice.kind == "error", timeout=TIMEOUT)
    assert page.notice.isVisible()
    assert "not valid" in page.notice.text.text()
    assert api.get_campaign(kernel.db, campaign_id).rrule.startswith("FREQ=WEEKLY")


def test_a_send_missed_while_closed_is_sent_when_the_user_says_so(qapp: QApplication, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keyring = MemoryKeyring()
    first = boot(tmp_path / "data", keyring)
    list_id = add_people(first, [("ann@example.com", "Ann", "")])
    campaign_id = campaign(first, list_id, template(first))
    first.bus.execute(ScheduleCampaign(campaign_id=campaign_id, kind="at", time_zone="UTC",
                                       at=utcnow() + dt.timedelta(hours=2)))
    with first.db.transaction() as session:  # ...and the app stayed closed past the due time
        session.get(Campaign, campaign_id).next_run_at = utcnow() - dt.timedelta(hours=3)
    first.close()
    app = boot(tmp_path / "data", keyring, services=True)
    bridge = QtBridge(app.bus)
    widget = CampaignsPage(UiContext.for_kernel(app, bridge))
    qtbot.addWidget(widget)
    widget.show()
    try:
        qtbot.waitUntil(widget.missed_box.isVisible, timeout=TIMEOUT)
        assert "while Postroom was closed" in widget.missed_text.text()
        assert outbox_by_recipient(app) == {}
        qtbot.mouseClick(widget.missed_send, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(outbox_by_recipient(app)) == 1, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: not widget.missed_box.isVisible(), timeout=TIMEOUT)
    finally:
        widget.shutdown()
        bridge.close()
        app.close()


def test_send_runs_the_preflight_and_warnings_must_be_accepted(page: CampaignsPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    """A template without an unsubscribe link: the preflight dialog says so (a warning with the built-in outbox,
    an error with a real account), Send stays off until the warnings are accepted, and Cancel sends nothing."""
    from PySide6.QtCore import QTimer

    from app.modules.delivery.ui.preflight_dialog import PreflightDialog

    template(kernel, "No way out", html="<html><body><p>Hello {{ contact.first_name }}</p></body></html>")
    page._reads.submit(lambda: None, lambda _r: None)
    from app.modules.campaigns.ui.campaigns_page import _load_choices

    page._got_choices(_load_choices(kernel.db))
    _make_campaign(page, qtbot)
    page.template.setCurrentIndex(page.template.findText("No way out"))
    seen: dict[str, object] = {}

    def inspect() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PreflightDialog) or dialog.running or dialog.report is None:
            QTimer.singleShot(100, inspect)
            return
        seen["errors"] = [f.check for f in dialog.report.errors]
        seen["all"] = [(f.level, f.check, f.message) for f in dialog.report.findings]
        seen["warnings"] = [f.check for f in dialog.report.warnings]
        seen["send_enabled"] = dialog.send.isEnabled()
        dialog.accept_warnings.setChecked(True)
        seen["send_enabled_after_accepting"] = dialog.send.isEnabled()
        dialog.reject()

    QTimer.singleShot(100, inspect)
    qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
    assert seen["errors"] == [], "\n".join(map(str, seen["all"]))
    assert {"unsubscribe", "postal_address"} <= set(seen["warnings"])
    assert seen["send_enabled"] is False
    assert seen["send_enabled_after_accepting"] is True
    assert outbox_by_recipient(kernel) == {}
    assert not api.get_campaign(kernel.db, page._current.id).run_ids


def test_ab_test_set_up_in_the_form_and_audience_counted(page: CampaignsPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    campaign_id = _make_campaign(page, qtbot)
    qtbot.waitUntil(lambda: page.audience_size.text() == "2 contacts today", timeout=TIMEOUT)
    page.lists.set_checked(["Partners"])
    qtbot.waitUntil(lambda: page.audience_size.text() == "3 contacts today", timeout=TIMEOUT)
    page.ab.setChecked(True)
    page.variants.item(0, 1).setText("Subject A")
    page.variants.item(1, 1).setText("Subject B")
    page.variants.item(1, 2).setText("The Shop Team")
    qtbot.mouseClick(page.findChild(QPushButton, "AbAddVariant"), Qt.MouseButton.LeftButton)
    page.variants.item(2, 4).setText("3")  # a send-time variant: three hours after the others
    page.share.setValue(30)
    page.ab_metric.setCurrentIndex(page.ab_metric.findData("clicks"))
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    ab = api.get_campaign(kernel.db, campaign_id).ab
    assert [(v["key"], v["subject"], v["from_name"], v["delay_hours"]) for v in ab["variants"]] == [
        ("A", "Subject A", "", 0.0), ("B", "Subject B", "The Shop Team", 0.0), ("C", "", "", 3.0)]
    assert (ab["test_share"], ab["metric"]) == (30.0, "clicks")
    page.variants.item(2, 4).setText("soon")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert "number of hours" in page.notice.text.text()
