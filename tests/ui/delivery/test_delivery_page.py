"""The Delivery page, offscreen on a real kernel: a send shows up live, can be paused and resumed, its log can be
searched and exported, and the built-in outbox shows what recipients got."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE as CONTACTS
from app.modules.delivery.module import MODULE as DELIVERY
from app.modules.delivery.ui.delivery_page import DeliveryPage, eta_words
from app.modules.delivery.ui.rate_chart import RateChart
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.delivery.conftest import FAST, add_account, add_contacts, start
from tests.integration.delivery.servers import ScriptedSmtpServer

TIMEOUT = 15_000


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps(FAST))
    started = start_kernel(AppPaths.inside(folder), modules=[CONTACTS, DELIVERY], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


@pytest.fixture
def page(qapp: QApplication, qtbot, kernel: Kernel) -> Iterator[DeliveryPage]:  # type: ignore[no-untyped-def]
    bridge = QtBridge(kernel.bus)
    widget = DeliveryPage(UiContext.for_kernel(kernel, bridge))
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()
    bridge.close()


def cell(page: DeliveryPage, row: int, column: int) -> str:
    item = page.runs.item(row, column)
    return item.text() if item is not None else ""


def test_a_send_is_shown_live_and_can_be_paused_and_resumed(page: DeliveryPage, kernel: Kernel, qtbot,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    list_id = add_contacts(kernel, [(f"v{i}@example.com", f"V{i}") for i in range(40)])
    with ScriptedSmtpServer() as server:
        run_id = start(kernel, list_id, add_account(kernel, server.port, per_second=25, connections=1),
                       subject="Spring news")
        qtbot.waitUntil(lambda: page.runs.rowCount() == 1 and cell(page, 0, 2) == "sending", timeout=TIMEOUT)
        assert cell(page, 0, 1) == "Spring news"
        qtbot.waitUntil(lambda: cell(page, 0, 3) not in ("", "0"), timeout=TIMEOUT)  # live counts
        page.runs.selectRow(0)
        assert page.buttons["Pause"].isEnabled()
        page.buttons["Pause"].click()
        qtbot.waitUntil(lambda: cell(page, 0, 2) == "paused", timeout=TIMEOUT)
        assert page.buttons["Resume"].isEnabled()
        assert not page.buttons["Pause"].isEnabled()
        page.buttons["Resume"].click()
        qtbot.waitUntil(lambda: cell(page, 0, 2) == "finished", timeout=TIMEOUT)
        assert cell(page, 0, 3) == "40"
    page.search.setText("v12@")
    qtbot.waitUntil(lambda: page.log.rowCount() == 1, timeout=TIMEOUT)
    assert page.log.item(0, 0).text() == "v12@example.com"
    assert page.log.item(0, 1).text() == "sent"
    target = tmp_path / "log.csv"
    page.search.clear()
    qtbot.waitUntil(lambda: page.log.rowCount() == 40, timeout=TIMEOUT)
    page.export_to(str(target))
    qtbot.waitUntil(lambda: target.exists() and len(target.read_text().splitlines()) == 41, timeout=TIMEOUT)
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["state"] for r in rows} == {"sent"}
    assert rows[0]["message_id"].startswith(f"<{run_id}.")


def test_the_outbox_shows_what_recipients_got(page: DeliveryPage, kernel: Kernel, qtbot) -> None:  # type: ignore[no-untyped-def]
    list_id = add_contacts(kernel, [("ann@example.com", "Ann"), ("bob@example.com", "Bob")])
    start(kernel, list_id, subject="Hello {{ first_name }}", html="<h1>Welcome {{ first_name }}</h1>")
    outbox = page.outbox
    qtbot.waitUntil(lambda: outbox.table.rowCount() == 2, timeout=TIMEOUT)
    outbox.search.setText("bob@")
    qtbot.waitUntil(lambda: outbox.table.rowCount() == 1, timeout=TIMEOUT)
    outbox.table.selectRow(0)
    qtbot.waitUntil(lambda: "Welcome Bob" in outbox.html.toPlainText(), timeout=TIMEOUT)
    assert "Subject: Hello Bob" in outbox.headers.toPlainText()
    assert "List-Unsubscribe:" in outbox.source.toPlainText()
    assert outbox.count.text() == "1 of 2 messages"


def test_the_rate_chart_follows_a_live_send_and_says_when_it_will_be_done(page: DeliveryPage, kernel: Kernel,  # type: ignore[no-untyped-def]
                                                                          qtbot) -> None:
    list_id = add_contacts(kernel, [(f"r{i}@example.com", f"R{i}") for i in range(60)])
    with ScriptedSmtpServer() as server:
        start(kernel, list_id, add_account(kernel, server.port, per_second=20, connections=1))
        qtbot.waitUntil(lambda: page.runs.rowCount() == 1, timeout=TIMEOUT)
        page.runs.selectRow(0)
        qtbot.waitUntil(lambda: len(page.chart.samples) >= 3 and page.rate_now.text() != "—", timeout=TIMEOUT)
        assert page.rate_now.text().endswith("/s")
        qtbot.waitUntil(lambda: "done around" in page.eta.text(), timeout=TIMEOUT)
        assert page.chart.redraws >= 1
        qtbot.waitUntil(lambda: cell(page, 0, 2) == "finished", timeout=TIMEOUT)


def test_the_chart_redraws_at_most_once_a_second_however_fast_progress_comes(qapp: QApplication, qtbot) -> None:  # type: ignore[no-untyped-def]
    now = [1000.0]
    chart = RateChart(clock=lambda: now[0])
    qtbot.addWidget(chart)
    chart.show_run(7)
    first = chart.redraws
    for i in range(200):  # far more progress than a second's worth, all at once
        now[0] += 0.01
        chart.add(7, 500.0 + i)
        chart.add(8, 10.0)  # another run's progress is kept, not drawn
    assert chart.redraws == first + 1  # the first sample draws at once; the rest wait for the timer
    assert len(chart.samples) == 200
    qtbot.waitUntil(lambda: chart.redraws == first + 2, timeout=5_000)  # then one repaint for all of them
    qtbot.waitUntil(lambda: not chart._timer.isActive(), timeout=5_000)  # and none while nothing new comes
    assert chart.redraws == first + 2
    chart.show_run(8)
    assert [rate for _, rate in chart.samples] == [10.0] * 200


def test_eta_words() -> None:
    noon = dt.datetime(2026, 11, 23, 12, 0)
    assert eta_words(None) == ""
    assert eta_words(30, noon) == "less than a minute left, done around 12:00"
    assert eta_words(12 * 60, noon) == "about 12 min left, done around 12:12"
    assert eta_words(13 * 3600, noon) == "about 13.0 h left, done around Tue 01:00"
