"""The Reports and Dashboard pages on a real kernel with a seeded campaign: figures, charts drawn off the GUI
thread, the machine-traffic switch, live updates, exports, and a dashboard arrangement that is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel
from app.modules.stats.messages import IngestTracking
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.stats.conftest import start_app
from tests.integration.stats.report_events import event, hours, seed_campaign, store_events


@pytest.fixture
def stats_kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_app(tmp_path / "app", MemoryKeyring())
    yield started
    started.close()


@pytest.fixture
def ctx(qapp: QApplication, stats_kernel: Kernel) -> Iterator[UiContext]:
    bridge = QtBridge(stats_kernel.bus)
    yield UiContext.for_kernel(stats_kernel, bridge)
    bridge.close()
    bridge.deleteLater()


def build(qtbot: Any, ctx: UiContext, kernel: Kernel, key: str) -> Any:
    spec = next(page for page in kernel.registry.pages if page.key == key)
    page = spec.factory(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 800)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_reports_page_shows_the_campaign_and_updates_live(qtbot: Any, ctx: UiContext, stats_kernel: Kernel,
                                                          tmp_path: Path) -> None:
    people = seed_campaign(stats_kernel)
    page = build(qtbot, ctx, stats_kernel, "stats-reports")
    qtbot.waitUntil(lambda: page.report is not None, timeout=15000)
    assert page.heading.text() == "Spring sale"
    assert page.list.count() == 1
    assert page.tiles["Sent"].text() == "21"
    assert page.tiles["Delivered"].text() == "19"
    assert page.tiles["Open rate"].text() == "10.5%"
    assert page.tiles["Click-to-open (CTOR)"].text() == "50.0%"
    assert "machine traffic is left out" in page.details.text()
    assert {name for name, view in page.charts.items() if view.figure is not None} == {
        "timeline", "cumulative", "variants", "links", "clients", "domains"}
    assert not page.charts["timeline"].image.pixmap().isNull()
    assert page.links.rowCount() == 2
    assert page.links.item(0, 0).text() == "https://shop.example.com/a"
    assert "No web view was kept" in page.clickmap.toPlainText()

    page.machine.setChecked(True)  # Apple MPP and the prefetch count now
    qtbot.waitUntil(lambda: page.tiles["Open rate"].text() == "15.8%", timeout=15000)
    assert "machine traffic included" in page.details.text()
    page.machine.setChecked(False)
    qtbot.waitUntil(lambda: page.tiles["Open rate"].text() == "10.5%", timeout=15000)

    store_events(stats_kernel, [event("open", hours(7), run=5, contact=people["dan"])])
    stats_kernel.bus.execute(IngestTracking())  # TrackingIngested -> one refresh within a second
    qtbot.waitUntil(lambda: page.tiles["Open rate"].text() == "15.8%", timeout=15000)

    saved: list[Path] = []
    page.charts["timeline"].save(tmp_path / "timeline.svg", saved.append)
    qtbot.waitUntil(lambda: bool(saved), timeout=15000)
    assert b"<svg" in (tmp_path / "timeline.svg").read_bytes()[:400]
    job = page.export("pdf", tmp_path / "report.pdf")
    assert job.result(timeout=60) == {"pages": 7}
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    page.shutdown()


def test_dashboard_arrangement_is_kept(qtbot: Any, ctx: UiContext, stats_kernel: Kernel) -> None:
    seed_campaign(stats_kernel)
    page = build(qtbot, ctx, stats_kernel, "stats-dashboard")
    assert page.layout_keys == ["recent", "health", "trend", "growth"]
    qtbot.waitUntil(lambda: page.tiles["recent"].table.rowCount() == 1, timeout=15000)
    assert page.tiles["recent"].table.item(0, 0).text() == "Spring sale"
    assert page.tiles["recent"].table.item(0, 2).text() == "10.5%"
    qtbot.waitUntil(lambda: page.tiles["health"].chart.figure is not None, timeout=15000)
    note = page.tiles["health"].note
    assert "over the 0.3%" in note.text()  # one complaint of 19 delivered
    assert note.property("role") == "danger"

    page.move_widget("growth", -3)
    page.remove("trend")
    assert page.layout_keys == ["growth", "recent", "health"]
    assert stats_kernel.settings.get("stats.dashboard", []) == ["growth", "recent", "health"]
    assert not page.tiles["trend"].isVisible()
    page.shutdown()

    again = build(qtbot, ctx, stats_kernel, "stats-dashboard")
    assert again.layout_keys == ["growth", "recent", "health"]
    again._fill_menu()
    assert [a.text() for a in again.add_menu.actions()] == ["Engagement trend (of delivered)"]
    again.add("trend")
    assert again.layout_keys[-1] == "trend"
    qtbot.waitUntil(lambda: again.tiles["trend"].chart.figure is not None, timeout=15000)
    again.shutdown()
