"""Uncaught exceptions, even on worker threads, are logged and shown on the GUI thread; the app keeps going."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.ui.errors import ErrorDialog, ErrorReporter


@pytest.fixture
def reporter(qapp: QApplication) -> Iterator[ErrorReporter]:
    hooks = (sys.excepthook, threading.excepthook)
    errors = ErrorReporter(log_hint="Details are in the log.")
    errors.install()
    yield errors
    errors.uninstall()
    errors.close_dialog()
    assert (sys.excepthook, threading.excepthook) == hooks


def visible_error_dialogs() -> list[ErrorDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ErrorDialog) and w.isVisible()]


def test_worker_thread_exception_shows_a_dialog_with_details(qtbot: Any, qapp: QApplication,
                                                             reporter: ErrorReporter,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    def sync_contacts() -> None:
        raise ValueError("the CRM answered with HTML")

    worker = threading.Thread(target=sync_contacts, name="crm-sync")
    with caplog.at_level(logging.ERROR, logger="app.ui.errors"):
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(visible_error_dialogs()) == 1)

    dialog = visible_error_dialogs()[0]
    assert dialog.thread() is qapp.thread()
    assert "ValueError: the CRM answered with HTML" in dialog.message.text()
    assert not dialog.details.isVisible()
    qtbot.mouseClick(dialog.toggle_button, Qt.MouseButton.LeftButton)
    assert dialog.details.isVisible()
    details = dialog.details.toPlainText()
    assert "Thread: crm-sync" in details
    assert "in sync_contacts" in details

    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == details
    assert any("crm-sync" in record.getMessage() and record.exc_info for record in caplog.records)

    dialog.close()
    assert visible_error_dialogs() == []


def test_a_burst_of_errors_reuses_one_dialog(qtbot: Any, reporter: ErrorReporter) -> None:
    for number in range(3):
        try:
            raise KeyError(f"contact {number}")
        except KeyError:
            sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.count == 3)
    assert len(visible_error_dialogs()) == 1
    assert "3 errors so far" in visible_error_dialogs()[0].message.text()
    reporter.dialog.close()
