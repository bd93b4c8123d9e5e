"""The Activity page shows bus traffic from any thread, highlights failures, filters, and stays bounded."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt

from app.kernel.bus import BusRecord
from app.kernel.messages import Event
from app.ui import theme
from app.ui.activity_page import ActivityModel, ActivityPage
from app.ui.main_window import MainWindow


@dataclass(frozen=True, kw_only=True)
class NewsletterSigned(Event):
    email: str
    api_token: str = ""


def activity_page(window: MainWindow) -> ActivityPage:
    window.show_page("activity")
    page = window.page_widget("activity")
    assert isinstance(page, ActivityPage)
    return page


def shown_rows(page: ActivityPage) -> list[dict[str, str]]:
    proxy = page.proxy
    headers = [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(proxy.columnCount())]
    return [{headers[c]: proxy.index(r, c).data() for c in range(proxy.columnCount())}
            for r in range(proxy.rowCount())]


def test_event_published_on_another_thread_appears(qtbot: Any, window: MainWindow, ui: Any) -> None:
    page = activity_page(window)
    worker = threading.Thread(target=lambda: ui.bus.publish(NewsletterSigned(email="ada@example.org")),
                              name="signup-worker")
    worker.start()
    worker.join()

    def arrived() -> bool:
        return any(row["Message"] == "NewsletterSigned" for row in shown_rows(page))

    qtbot.waitUntil(arrived)
    row = next(row for row in shown_rows(page) if row["Message"] == "NewsletterSigned")
    assert row["Kind"] == "event"
    assert row["Thread"] == "signup-worker"
    assert "email='ada@example.org'" in row["Fields"]
    assert page.table.isVisible()


def test_failing_handler_shows_as_a_red_error_row(qtbot: Any, window: MainWindow, ui: Any) -> None:
    def refuse(_event: NewsletterSigned) -> None:
        raise ValueError("mailbox full")

    dispose = ui.bus.subscribe(NewsletterSigned, refuse)
    try:
        ui.bus.publish(NewsletterSigned(email="bob@example.org"))
    finally:
        dispose()
    page = activity_page(window)
    qtbot.waitUntil(lambda: any(row["Error"] for row in shown_rows(page)))

    page.errors_only.setChecked(True)
    rows = shown_rows(page)
    assert len(rows) == 1
    assert rows[0]["Kind"] == "handler failed"
    assert rows[0]["Error"] == "ValueError: mailbox full"
    assert "refuse" in rows[0]["Handler"]
    color = page.proxy.index(0, 0).data(Qt.ItemDataRole.ForegroundRole).color()
    assert color.name() == theme.colors().danger

    page.errors_only.setChecked(False)
    assert len(shown_rows(page)) > 1


def test_filter_box_and_clear(qtbot: Any, window: MainWindow, ui: Any) -> None:
    page = activity_page(window)
    ui.bus.publish(NewsletterSigned(email="carol@example.org"))
    ui.settings.set("ui.theme", "light")
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2)

    qtbot.keyClicks(page.filter_box, "carol")
    rows = shown_rows(page)
    assert [row["Message"] for row in rows] == ["NewsletterSigned"]

    qtbot.mouseClick(page.clear_button, Qt.MouseButton.LeftButton)
    assert page.model.rowCount() == 0
    assert page.count_label.text() == "0 entries"


def test_secret_looking_fields_are_masked(qtbot: Any, window: MainWindow, ui: Any) -> None:
    page = activity_page(window)
    ui.bus.publish(NewsletterSigned(email="dan@example.org", api_token="s3cr3t-value"))
    qtbot.waitUntil(lambda: page.model.rowCount() >= 1)
    text = " ".join(str(value) for row in shown_rows(page) for value in row.values())
    assert "s3cr3t-value" not in text
    assert "api_token=•••" in text


def test_the_log_keeps_only_the_newest_rows(qtbot: Any) -> None:
    model = ActivityModel(limit=100)
    for number in range(250):
        model.add(BusRecord("event", NewsletterSigned(email=f"user{number}@example.org"), "MainThread", 0.0))
        if number % 60 == 0:
            model.flush()
    model.flush()
    assert model.rowCount() == 100
    assert "user150@" in model.row(0).fields
    assert "user249@" in model.row(99).fields
