"""The Delivery page: each send with live counts, rate and ETA, pause/resume/cancel/resend, a searchable and
exportable per-recipient log, and the built-in outbox."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.modules.delivery import api
from app.modules.delivery.messages import (
    CancelRun,
    PauseRun,
    ResendUnknown,
    ResumeRun,
    RunProgress,
    RunStateChanged,
)
from app.modules.delivery.ui.outbox_view import OutboxView
from app.modules.delivery.ui.rate_chart import RateChart, rate_text
from app.ui.background import BackgroundWork
from app.ui.widgets import label

_ID = Qt.ItemDataRole.UserRole
RUN_COLUMNS = ("Run", "Subject", "State", "Sent", "Waiting", "Failed", "Unknown", "Rate", "Note")
LOG_COLUMNS = ("Email", "State", "Attempts", "Last reply", "Finished")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f", {int(seconds)} s left"
    return f", {round(seconds / 60)} min left"


def eta_words(seconds: float | None, now: dt.datetime | None = None) -> str:
    """ "about 12 min left, done around 14:32" (local time), or "" when there is no estimate."""
    if seconds is None or seconds < 0:
        return ""
    now = now or dt.datetime.now()
    done = now + dt.timedelta(seconds=seconds)
    if seconds < 60:
        left = "less than a minute left"
    elif seconds < 5400:
        left = f"about {round(seconds / 60)} min left"
    else:
        left = f"about {seconds / 3600:.1f} h left"
    when = done.strftime("%H:%M") if done.date() == now.date() else done.strftime("%a %H:%M")
    return f"{left}, done around {when}"


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class DeliveryPage(QWidget):
    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DeliveryPage")
        self._ctx = ctx
        self._reads = BackgroundWork(self, name="delivery-read")
        self.runs = QTableWidget(0, len(RUN_COLUMNS))
        self.runs.setObjectName("DeliveryRuns")
        self.runs.setHorizontalHeaderLabels(list(RUN_COLUMNS))
        self.runs.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs.verticalHeader().setVisible(False)
        self.runs.horizontalHeader().setSectionResizeMode(len(RUN_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.buttons = {name: QPushButton(name) for name in ("Pause", "Resume", "Cancel", "Resend unknown")}
        for name, button in self.buttons.items():
            button.setObjectName(f"Delivery{name.replace(' ', '')}")
            button.clicked.connect(lambda _checked=False, name=name: self._act(name))
        self.state_filter = QComboBox()
        self.state_filter.addItems(["All", *api.STATES])
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search address or reply")
        self.search.setClearButtonEnabled(True)
        self.export = QPushButton("Export CSV…")
        self.log = QTableWidget(0, len(LOG_COLUMNS))
        self.log.setObjectName("DeliveryLog")
        self.log.setHorizontalHeaderLabels(list(LOG_COLUMNS))
        self.log.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.log.verticalHeader().setVisible(False)
        self.log.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.outbox = OutboxView(ctx, self._reads)
        self.chart = RateChart()
        self.rate_now = label("—", object_name="DeliveryRateNow")
        big = self.rate_now.font()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        big.setBold(True)
        self.rate_now.setFont(big)
        self.eta = label("", "muted", object_name="DeliveryEta", wrap=True)
        self._last_progress: dict[int, RunProgress] = {}
        self.no_runs = label("Nothing has been sent yet. A send appears here as soon as it starts (from a campaign, "
                             "or `postroom delivery send --list NAME`), with live counts you can pause or cancel.",
                             "muted", wrap=True)
        self.no_runs.hide()
        self._layout()

        self._reload_soon = QTimer(self, singleShot=True, interval=250)
        self._reload_soon.timeout.connect(self.reload)
        self._log_soon = QTimer(self, singleShot=True, interval=300)
        self._log_soon.timeout.connect(self.reload_log)
        self.runs.itemSelectionChanged.connect(self._selection_changed)
        self.state_filter.currentIndexChanged.connect(lambda _i: self._log_soon.start())
        self.search.textChanged.connect(lambda _t: self._log_soon.start())
        self.export.clicked.connect(self._export)
        ctx.bridge.subscribe(RunProgress, self._progress, owner=self)
        ctx.bridge.subscribe(RunStateChanged, lambda _e: self._reload_soon.start(), owner=self)
        self.reload()

    def _layout(self) -> None:
        actions = QHBoxLayout()
        for button in self.buttons.values():
            actions.addWidget(button)
        actions.addStretch(1)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.runs, 1)
        rate = QHBoxLayout()
        rate.setSpacing(12)
        rate.addWidget(self.chart, 1)
        numbers = QVBoxLayout()
        numbers.addStretch(1)
        numbers.addWidget(label("Send rate", "muted"))
        numbers.addWidget(self.rate_now)
        numbers.addWidget(self.eta)
        numbers.addStretch(1)
        side = QWidget()
        side.setFixedWidth(190)
        side.setLayout(numbers)
        rate.addWidget(side)
        column.addLayout(rate)
        column.addLayout(actions)
        filters = QHBoxLayout()
        filters.addWidget(label("Recipients", "section"))
        filters.addWidget(self.state_filter)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.export)
        bottom = QWidget()
        column = QVBoxLayout(bottom)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(filters)
        column.addWidget(self.log, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        sends = QWidget()
        QVBoxLayout(sends).addWidget(split)
        tabs = QTabWidget()
        tabs.setObjectName("DeliveryTabs")
        tabs.addTab(sends, "Sends")
        tabs.addTab(self.outbox, "Outbox")
        page = QVBoxLayout(self)
        page.setContentsMargins(28, 20, 28, 20)
        page.setSpacing(10)
        page.addWidget(label("Delivery", object_name="PageTitle"))
        page.addWidget(label("Every send, recipient by recipient: what went out, what waits, what the servers "
                             "answered. Messages sent to the built-in outbox are under Outbox.", "muted", wrap=True))
        page.addWidget(self.no_runs)
        page.addWidget(tabs, 1)

    # -- runs

    def reload(self) -> None:
        db = self._ctx.db
        self._reads.submit_latest("runs", lambda: api.list_runs(db, limit=100), self._fill_runs)

    def _fill_runs(self, runs: list[api.RunStatus]) -> None:
        self.no_runs.setVisible(not runs)
        selected = self.selected_run()
        self.runs.setRowCount(len(runs))
        for index, run in enumerate(runs):
            counts = run.counts
            waiting = counts.get("queued", 0) + counts.get("deferred", 0) + counts.get("sending", 0)
            if run.total is not None and run.state not in ("finished", "cancelled"):
                waiting = max(waiting, run.total - sum(counts.values()) + waiting)
            values = (str(run.id), run.subject, run.state, f"{counts.get('sent', 0):,}", f"{waiting:,}",
                      f"{counts.get('failed', 0):,}", f"{counts.get('unknown', 0):,}", "", run.reason)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(_ID, run.id)
                if column == len(values) - 1:
                    item.setToolTip(value)
                self.runs.setItem(index, column, item)
            if run.id == selected:
                self.runs.selectRow(index)
        if selected is None and runs:
            self.runs.selectRow(0)
        self._update_buttons()

    def _row_of(self, run_id: int) -> int | None:
        for row in range(self.runs.rowCount()):
            item = self.runs.item(row, 0)
            if item is not None and item.data(_ID) == run_id:
                return row
        return None

    def _progress(self, event: RunProgress) -> None:
        self._last_progress[event.run_id] = event
        self.chart.add(event.run_id, event.rate_per_second)
        if event.run_id == self.selected_run():
            self._show_rate(event)
        row = self._row_of(event.run_id)
        if row is None:
            self._reload_soon.start()
            return
        counts = event.counts
        waiting = counts.get("queued", 0) + counts.get("deferred", 0) + counts.get("sending", 0)
        if event.total is not None:
            waiting = max(waiting, event.total - sum(counts.values()) + waiting)
        for column, value in ((3, f"{counts.get('sent', 0):,}"), (4, f"{waiting:,}"),
                              (5, f"{counts.get('failed', 0):,}"), (6, f"{counts.get('unknown', 0):,}"),
                              (7, f"{event.rate_per_second:,.0f}/s{_eta(event.eta_seconds)}")):
            item = self.runs.item(row, column)
            if item is not None:
                item.setText(value)

    def _text(self, row: int, column: int) -> str:
        item = self.runs.item(row, column) if row >= 0 else None
        return item.text() if item is not None else ""

    def selected_run(self) -> int | None:
        items = self.runs.selectedItems()
        return int(items[0].data(_ID)) if items else None

    def _selection_changed(self) -> None:
        self._update_buttons()
        self.reload_log()
        run_id = self.selected_run()
        self.chart.show_run(run_id)
        self._show_rate(self._last_progress.get(run_id) if run_id is not None else None)

    def _show_rate(self, event: RunProgress | None) -> None:
        """The selected run's current rate and when it should be done."""
        if event is None:
            self.rate_now.setText("—")
            self.eta.setText("")
            return
        self.rate_now.setText(rate_text(event.rate_per_second))
        state = self._text(self.runs.currentRow(), 2) if self.selected_run() == event.run_id else ""
        self.eta.setText(eta_words(event.eta_seconds) if state in ("", "sending") else "")

    def _update_buttons(self) -> None:
        row = self.runs.currentRow() if self.selected_run() is not None else -1
        state = self._text(row, 2)
        unknown = self._text(row, 6) or "0"
        self.buttons["Pause"].setEnabled(state == "sending")
        self.buttons["Resume"].setEnabled(state == "paused")
        self.buttons["Cancel"].setEnabled(state in ("sending", "paused", "queued"))
        self.buttons["Resend unknown"].setEnabled(unknown not in ("", "0") and state != "cancelled")

    def _act(self, name: str) -> None:
        run_id = self.selected_run()
        if run_id is None:
            return
        if name == "Cancel" and QMessageBox.question(
                self, "Cancel this send?", "Nobody else will be sent this run. This cannot be undone.") \
                != QMessageBox.StandardButton.Yes:
            return
        command = {"Pause": PauseRun, "Resume": ResumeRun, "Cancel": CancelRun,
                   "Resend unknown": ResendUnknown}[name](run_id=run_id)
        try:
            self._ctx.bus.execute(command)
        except Exception as exc:
            QMessageBox.warning(self, name, str(exc))
        self.reload()

    # -- the per-recipient log

    def _log_query(self) -> tuple[int | None, str | None, str]:
        state = self.state_filter.currentText()
        return self.selected_run(), None if state == "All" else state, self.search.text().strip()

    def reload_log(self) -> None:
        run_id, state, search = self._log_query()
        if run_id is None:
            self.log.setRowCount(0)
            return
        db = self._ctx.db
        self._reads.submit_latest("log", lambda: api.recipient_log(db, run_id, state=state, search=search, limit=1000),
                         self._fill_log)

    def _fill_log(self, entries: list[api.RecipientEntry]) -> None:
        self.log.setRowCount(len(entries))
        for index, entry in enumerate(entries):
            finished = entry.finished_at.strftime("%Y-%m-%d %H:%M:%S") if entry.finished_at else ""
            for column, value in enumerate((entry.email, entry.state, str(entry.attempts), entry.reply, finished)):
                item = QTableWidgetItem(value)
                if column == 3:
                    item.setToolTip(value)
                self.log.setItem(index, column, item)

    def _export(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the recipient log", f"run-{run_id}.csv", "CSV (*.csv)")
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> None:
        """Write the selected run's log (with the current filter) to ``path``, page by page, in the background."""
        run_id, state, search = self._log_query()
        if run_id is None:
            return
        db = self._ctx.db

        def write() -> int:
            written, after = 0, 0
            with open(path, "w", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                out.writerow(["email", "state", "attempts", "outcome", "reply", "message_id", "finished_at"])
                while entries := api.recipient_log(db, run_id, state=state, search=search, after_id=after,
                                                   limit=5000):
                    for e in entries:
                        out.writerow([_safe_cell(e.email), e.state, e.attempts, e.outcome, _safe_cell(e.reply),
                                      e.message_id, e.finished_at.isoformat() if e.finished_at else ""])
                    written, after = written + len(entries), entries[-1].id
            return written

        self._reads.submit_latest("export", write,
                                  lambda n: self._ctx.show_status(f"Exported {n:,} recipients to {path}"))

    def shutdown(self) -> None:
        self._reads.close()
