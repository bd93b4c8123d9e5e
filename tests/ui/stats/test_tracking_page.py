"""The Tracking page on a real kernel: it shows where the endpoint runs and counts today's events as they come."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.kernel.boot import Kernel
from app.modules.stats.api import TrackingLinks
from app.modules.stats.messages import IngestTracking
from app.ui.bridge import QtBridge
from app.ui.context import UiContext
from tests.conftest import MemoryKeyring
from tests.integration.stats.conftest import http, start_app


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


def test_the_page_shows_the_endpoint_and_counts_opens(qtbot: Any, ctx: UiContext, stats_kernel: Kernel) -> None:
    spec = next(page for page in stats_kernel.registry.pages if page.key == "stats")
    page = spec.factory(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    links = TrackingLinks.for_kernel(stats_kernel)
    assert page.state.text() == "Running in the app"
    assert links.base_url in page.url.text()
    assert page.counts["open"].text() == "0"
    assert not page.sync_button.isEnabled()  # no remote endpoint yet
    assert "postroom tracker connect" in page.remote.text()

    http("GET", links.open_pixel_url(4, 7, time.time() - 3600))
    http("GET", links.open_pixel_url(4, 8, time.time() - 3600), headers={"User-Agent": "Mozilla/5.0"})
    stats_kernel.bus.execute(IngestTracking())
    qtbot.waitUntil(lambda: page.counts["open"].text() == "1  (+1 machines)", timeout=5000)
    page.shutdown()
