"""Background jobs in the status bar: title, progress, Cancel; several jobs fold into "3 jobs" with a list."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.kernel.bus import MessageBus
from app.kernel.events import CancelJob, JobFinished, JobProgressed, JobStarted
from app.kernel.jobs import JobRunner
from app.ui.bridge import QtBridge

log = logging.getLogger(__name__)
NOTICE_MS = 10_000


@dataclass
class JobState:
    job_id: int
    title: str
    cancellable: bool
    done: int = 0
    total: int | None = None
    text: str = ""
    cancelling: bool = False

    def describe(self) -> str:
        parts = [self.title]
        if self.total:
            parts.append(f"{self.done:,} of {self.total:,}")
        elif self.done:
            parts.append(f"{self.done:,} done")
        if self.text:
            parts.append(self.text)
        return " — ".join(parts)


def _set_progress(bar: QProgressBar, done: int, total: int | None) -> None:
    if not total:
        bar.setRange(0, 0)  # unknown length: Qt shows a moving busy indicator
        return
    # Per-mille keeps huge totals (bytes, millions of rows) inside QProgressBar's int range.
    bar.setRange(0, 1000)
    bar.setValue(min(1000, done * 1000 // total))


def _progress_bar(width: int) -> QProgressBar:
    bar = QProgressBar()
    bar.setTextVisible(False)
    bar.setFixedWidth(width)
    bar.setMaximumHeight(12)
    return bar


class JobRow(QWidget):
    """One job in the popup list: title and detail, progress, Cancel."""

    def __init__(self, state: JobState, cancel: Callable[[int], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.detail = QLabel()
        self.detail.setProperty("role", "muted")
        self.bar = _progress_bar(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: cancel(state.job_id))
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.bar)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(text, 1)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.update_from(state)

    def update_from(self, state: JobState) -> None:
        self.title.setText(state.title)
        detail = state.describe().removeprefix(state.title).removeprefix(" — ")
        self.detail.setText(detail or "Working…")
        _set_progress(self.bar, state.done, state.total)
        self.cancel_button.setVisible(state.cancellable)
        self.cancel_button.setEnabled(not state.cancelling)
        self.cancel_button.setText("Cancelling…" if state.cancelling else "Cancel")


class JobsPopup(QFrame):
    """The list shown when several jobs run at once."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("JobsPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.rows: dict[int, JobRow] = {}
        self.list_layout = QVBoxLayout(self)
        self.list_layout.setContentsMargins(10, 10, 10, 10)
        self.list_layout.setSpacing(6)
        self.setMinimumWidth(360)


class JobsWidget(QWidget):
    """Shows running jobs from JobStarted/JobProgressed/JobFinished; Cancel sends ``CancelJob`` on the bus."""

    def __init__(self, bridge: QtBridge, bus: MessageBus, runner: JobRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bus = bus
        self._status_bar: QStatusBar | None = None
        self.jobs: dict[int, JobState] = {}
        self.summary = QToolButton()
        self.summary.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.summary.setAutoRaise(True)
        self.summary.clicked.connect(self.show_list)
        self.bar = _progress_bar(140)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_single)
        self.popup = JobsPopup(self)
        self.notice = QLabel()
        self.notice.setObjectName("JobNotice")
        self.notice.hide()
        self._notice_timer = QTimer(self, singleShot=True, interval=NOTICE_MS)
        self._notice_timer.timeout.connect(self.notice.hide)

        for fixed in (self.summary, self.cancel_button):
            fixed.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setSizeConstraint(QHBoxLayout.SizeConstraint.SetMaximumSize)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(8)
        layout.addWidget(self.summary)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)

        bridge.subscribe(JobStarted, self._on_started, owner=self)
        bridge.subscribe(JobProgressed, self._on_progressed, owner=self)
        bridge.subscribe(JobFinished, self._on_finished, owner=self)
        # Jobs started before the window existed (at module start-up) are shown too.
        for handle in runner.running() if runner is not None else ():
            self.jobs.setdefault(handle.job_id, JobState(handle.job_id, handle.title, True))
        self._refresh()

    def install(self, status_bar: QStatusBar) -> None:
        self._status_bar = status_bar
        status_bar.addWidget(self.notice, 1)
        status_bar.addPermanentWidget(self)

    # -- bus events (GUI thread) ------------------------------------------------------------------

    def _on_started(self, event: JobStarted) -> None:
        self.jobs[event.job_id] = JobState(event.job_id, event.title, event.cancellable)
        self._refresh()

    def _on_progressed(self, event: JobProgressed) -> None:
        state = self.jobs.get(event.job_id)
        if state is None:
            return
        state.done, state.total, state.text = event.done, event.total, event.text
        self._refresh()

    def _on_finished(self, event: JobFinished) -> None:
        self.jobs.pop(event.job_id, None)
        self._refresh()
        if event.outcome == "failed":
            self.show_notice(f"{event.title} failed: {event.text}" if event.text else f"{event.title} failed")
        elif self._status_bar is not None:
            done = f"{event.title}: {event.text}" if event.text else f"{event.title} finished"
            text = f"{event.title} was cancelled" if event.outcome == "cancelled" else done
            self._status_bar.showMessage(text, 6000)

    # -- actions ----------------------------------------------------------------------------------

    def cancel(self, job_id: int) -> None:
        state = self.jobs.get(job_id)
        if state is None or state.cancelling:
            return
        state.cancelling = True
        try:
            self._bus.execute(CancelJob(job_id=job_id))
        except Exception:
            log.exception("cancelling job %s failed", job_id)
            state.cancelling = False
        self._refresh()

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self.notice.show()
        self._notice_timer.start()

    def show_list(self) -> None:
        if len(self.jobs) < 2:
            return
        self._sync_popup()
        self.popup.adjustSize()
        below = self.summary.mapToGlobal(QPoint(0, 0))
        self.popup.move(below.x(), below.y() - self.popup.sizeHint().height() - 4)
        self.popup.show()

    def _cancel_single(self) -> None:
        if len(self.jobs) == 1:
            self.cancel(next(iter(self.jobs)))

    # -- display ----------------------------------------------------------------------------------

    def _refresh(self) -> None:
        count = len(self.jobs)
        self.setVisible(count > 0)
        if count == 1:
            state = next(iter(self.jobs.values()))
            self.summary.setText(state.title)
            self.summary.setToolTip(state.describe())
            self.summary.setCursor(Qt.CursorShape.ArrowCursor)
            _set_progress(self.bar, state.done, state.total)
            self.cancel_button.setVisible(state.cancellable)
            self.cancel_button.setEnabled(not state.cancelling)
            self.cancel_button.setText("Cancelling…" if state.cancelling else "Cancel")
        elif count > 1:
            self.summary.setText(f"{count} jobs ▴")
            self.summary.setToolTip("\n".join(state.describe() for state in self.jobs.values()))
            self.summary.setCursor(Qt.CursorShape.PointingHandCursor)
            states = list(self.jobs.values())
            totals = [state.total for state in states]
            if all(totals):
                _set_progress(self.bar, sum(state.done for state in states), sum(t or 0 for t in totals))
            else:
                _set_progress(self.bar, 0, None)
            self.cancel_button.hide()
        if self.popup.isVisible():
            self._sync_popup()
            if count < 2:
                self.popup.hide()

    def _sync_popup(self) -> None:
        rows = self.popup.rows
        for job_id in [job_id for job_id in rows if job_id not in self.jobs]:
            rows.pop(job_id).deleteLater()
        for job_id, state in self.jobs.items():
            row = rows.get(job_id)
            if row is None:
                row = rows[job_id] = JobRow(state, self.cancel, self.popup)
                self.popup.list_layout.addWidget(row)
            row.update_from(state)
        self.popup.adjustSize()
