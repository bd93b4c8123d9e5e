"""Background jobs appear in the status bar with progress, can be cancelled there, and failures are shown."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.kernel.jobs import JobCancelled, JobHandle
from app.ui.main_window import MainWindow


def test_job_progress_shows_and_cancel_stops_it(qtbot: Any, window: MainWindow, ui: Any) -> None:
    release = threading.Event()

    def import_rows(handle: JobHandle) -> int:
        done = 0
        while True:
            handle.check()
            if done < 40:
                done += 10
                handle.report(done, 100, "reading rows", force=True)
            release.wait(0.01)

    future: Future[int] = ui.jobs.start("Importing contacts.csv", import_rows)
    jobs = window.jobs_widget
    qtbot.waitUntil(lambda: jobs.bar.maximum() == 1000 and jobs.bar.value() == 400)
    assert jobs.isVisible()
    assert jobs.summary.text() == "Importing contacts.csv"
    assert "40 of 100" in jobs.summary.toolTip()
    assert jobs.cancel_button.isVisible()

    qtbot.mouseClick(jobs.cancel_button, Qt.MouseButton.LeftButton)

    with pytest.raises(JobCancelled):
        future.result(timeout=5)
    qtbot.waitUntil(lambda: not jobs.isVisible())
    assert "cancelled" in window.statusBar().currentMessage()


def test_unknown_length_shows_a_busy_bar(qtbot: Any, window: MainWindow, ui: Any) -> None:
    stop = threading.Event()

    def scan(handle: JobHandle) -> None:
        handle.report(5, None, "scanning", force=True)
        while not stop.wait(0.01):
            handle.check()

    future = ui.jobs.start("Checking addresses", scan)
    jobs = window.jobs_widget
    try:
        qtbot.waitUntil(lambda: jobs.isVisible() and "5 done" in jobs.summary.toolTip())
        assert (jobs.bar.minimum(), jobs.bar.maximum()) == (0, 0)
    finally:
        stop.set()
        future.result(timeout=5)
    qtbot.waitUntil(lambda: not jobs.isVisible())


def test_failed_job_shows_a_red_notice_and_an_activity_entry(qtbot: Any, window: MainWindow, ui: Any) -> None:
    def export(_handle: JobHandle) -> None:
        raise OSError("disk full")

    future = ui.jobs.start("Exporting contacts", export)
    with pytest.raises(OSError, match="disk full"):
        future.result(timeout=5)
    notice = window.jobs_widget.notice
    qtbot.waitUntil(notice.isVisible)
    assert notice.text() == "Exporting contacts failed: disk full"
    assert notice.objectName() == "JobNotice"  # the stylesheet colours it red

    model = window.activity_model
    qtbot.waitUntil(lambda: any("outcome='failed'" in model.row(r).fields for r in range(model.rowCount())))


# A popup raises itself and grabs the keyboard, which the offscreen platform only warns about.
@pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing)")
def test_several_jobs_fold_into_a_count_with_a_list(qtbot: Any, window: MainWindow, ui: Any) -> None:
    stop = threading.Event()

    def wait(handle: JobHandle) -> None:
        while not stop.wait(0.01):
            handle.check()

    futures = [ui.jobs.start(title, wait) for title in ("Import A", "Import B", "Import C")]
    jobs = window.jobs_widget
    try:
        qtbot.waitUntil(lambda: jobs.summary.text().startswith("3 jobs"))
        assert not jobs.cancel_button.isVisible()
        qtbot.mouseClick(jobs.summary, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(jobs.popup.isVisible)
        rows = jobs.popup.rows
        assert sorted(row.title.text() for row in rows.values()) == ["Import A", "Import B", "Import C"]

        first_id = min(rows)
        qtbot.mouseClick(rows[first_id].cancel_button, Qt.MouseButton.LeftButton)
        with pytest.raises(JobCancelled):
            futures[0].result(timeout=5)
        qtbot.waitUntil(lambda: jobs.summary.text().startswith("2 jobs"))
        jobs.popup.hide()
    finally:
        stop.set()
        for future in futures[1:]:
            future.result(timeout=5)
