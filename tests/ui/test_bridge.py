"""The bridge delivers bus events published on any thread to subscribers on the GUI thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication

from app.kernel.messages import Event
from app.ui.bridge import QtBridge


@dataclass(frozen=True, kw_only=True)
class Imported(Event):
    rows: int


@dataclass(frozen=True, kw_only=True)
class ImportedFromCsv(Imported):
    file: str


def test_worker_thread_event_reaches_subscriber_on_gui_thread(qtbot: Any, qapp: QApplication, ui: Any) -> None:
    seen: list[tuple[int, bool]] = []

    def on_imported(event: Imported) -> None:
        seen.append((event.rows, QThread.currentThread() is qapp.thread()))

    ui.bridge.subscribe(Imported, on_imported)
    worker = threading.Thread(target=lambda: ui.bus.publish(ImportedFromCsv(rows=42, file="list.csv")))
    worker.start()
    worker.join()
    assert seen == []  # nothing runs on the worker: it waits for the GUI loop

    qtbot.waitUntil(lambda: len(seen) == 1)
    assert seen == [(42, True)]


def test_dispose_and_owner_destruction_end_a_subscription(qtbot: Any, ui: Any) -> None:
    by_dispose: list[int] = []
    by_owner: list[int] = []
    owner = QObject()
    dispose = ui.bridge.subscribe(Imported, lambda event: by_dispose.append(event.rows))
    ui.bridge.subscribe(Imported, lambda event: by_owner.append(event.rows), owner=owner)

    ui.bus.publish(Imported(rows=1))
    assert by_dispose == [1]
    assert by_owner == [1]

    dispose()
    with qtbot.waitSignal(owner.destroyed, timeout=1000):
        owner.deleteLater()
    ui.bus.publish(Imported(rows=2))
    assert by_dispose == [1]
    assert by_owner == [1]


def test_close_stops_delivery(qtbot: Any, kernel: Any) -> None:
    bridge = QtBridge(kernel.bus)
    records: list[Any] = []
    bridge.records.connect(records.append)
    kernel.bus.publish(Imported(rows=1))
    assert len(records) == 1

    bridge.close()
    kernel.bus.publish(Imported(rows=2))
    qtbot.wait(50)
    assert len(records) == 1
    bridge.deleteLater()


def test_a_failing_subscriber_does_not_starve_the_others(qtbot: Any, ui: Any, monkeypatch: Any) -> None:
    reported: list[type[BaseException]] = []
    monkeypatch.setattr("sys.excepthook", lambda kind, value, tb: reported.append(kind))
    later: list[int] = []

    def broken(_event: Imported) -> None:
        raise KeyError("gone")

    ui.bridge.subscribe(Imported, broken)
    ui.bridge.subscribe(Imported, lambda event: later.append(event.rows))
    ui.bus.publish(Imported(rows=3))
    assert later == [3]
    assert reported == [KeyError]
