"""The import wizard's last steps: the running import (progress, live counts, cancel) and its report."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWizardPage,
)

from app.kernel.jobs import JobCancelled, JobHandle
from app.modules.contacts.import_report import COUNT_LABELS, COUNT_NAMES, ImportProgress, ImportReport
from app.modules.contacts.importer import ImportProblem, run_import
from app.ui.widgets import card, label


def heading(text: str) -> str:
    """A page title as the wizard's header shows it (its default is as small as body text)."""
    return f'<span style="font-size: 14pt; font-weight: 600;">{text}</span>'

if TYPE_CHECKING:
    from concurrent.futures import Future

    from app.modules.contacts.ui.import_wizard import ImportWizard

POLL_MS = 100
COUNT_STYLE = ('QLabel[count="main"] { font-size: 17pt; font-weight: 600; } '
               'QLabel[count="other"] { font-size: 12pt; font-weight: 600; }')
_ROW_PREFIX = re.compile(r"^row \d+(?::\s|,\s)")  # the table has its own Row column
LIVE_COUNTS = ("created", "updated", "unchanged", "duplicates_in_file", "invalid", "suppressed")


class _Shared:
    """What the worker thread hands to the GUI thread (read by a timer, never by a signal from the worker)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handle: JobHandle | None = None
        self.progress: ImportProgress | None = None
        self.report: ImportReport | None = None
        self.cancel_asked = False

    def set_progress(self, progress: ImportProgress) -> None:
        with self.lock:
            self.progress = progress


class RunPage(QWizardPage):
    """Step 4: the import runs through kernel.jobs; the page polls its progress and offers Cancel."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle(heading("Importing"))
        self.setStyleSheet(COUNT_STYLE)
        self.setSubTitle("You can keep working while this runs. Cancelling stops after the batch being written: "
                         "everything before it stays imported, nothing after it is.")
        self.running = False
        self.finished = False
        self._shared = _Shared()
        self._future: Future[ImportReport] | None = None
        self.error = ""
        self.report: ImportReport | None = None
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        frame, inner = card("import progress")
        self.status = label("Starting…", object_name="CardTitle")
        self.status.setObjectName("ImportRunStatus")
        inner.addWidget(self.status)
        self.bar = QProgressBar()
        self.bar.setObjectName("ImportProgress")
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        inner.addWidget(self.bar)
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        self.live: dict[str, QLabel] = {}
        for position, name in enumerate(LIVE_COUNTS):
            value = label("0")
            value.setObjectName(f"live_{name}")
            value.setProperty("count", "main")
            self.live[name] = value
            grid.addWidget(value, 0, position)
            grid.addWidget(label(COUNT_LABELS[name].split(" (")[0], "muted"), 1, position)
        inner.addLayout(grid)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.setObjectName("ImportCancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.cancel_button)
        inner.addLayout(row)
        layout.addWidget(frame)
        layout.addStretch(1)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def initializePage(self) -> None:
        if self.running or self.finished:
            return
        wizard = self._wizard
        assert wizard.path is not None
        path, options = wizard.path, wizard.options()
        db, bus, shared = wizard.ctx.kernel.db, wizard.ctx.kernel.bus, self._shared
        self.setSubTitle(f"{path.name}: cancelling stops after the batch being written; everything before it stays "
                         "imported, nothing after it is.")

        def work(handle: JobHandle) -> ImportReport:
            with shared.lock:
                shared.handle = handle
                if shared.cancel_asked:
                    handle.cancel()
            report = run_import(db, bus, path, options, handle, on_progress=shared.set_progress)
            with shared.lock:
                shared.report = report
            if report.status == "cancelled":
                raise JobCancelled(handle.title)  # so the status bar says "cancelled", not "done"
            return report

        self.running = True
        self._future = wizard.ctx.jobs.start(f"Import {path.name}", work, summary=lambda r: r.summary())
        self._timer.start()

    def cancel(self) -> None:
        with self._shared.lock:
            self._shared.cancel_asked = True
            if self._shared.handle is not None:
                self._shared.handle.cancel()
        if self.running:
            self.status.setText("Stopping after the current batch…")
            self.cancel_button.setEnabled(False)

    def stop_polling(self) -> None:
        self._timer.stop()

    def _poll(self) -> None:
        with self._shared.lock:
            progress = self._shared.progress
        if progress is not None:
            for name, widget in self.live.items():
                widget.setText(f"{progress.counts.get(name, 0):,}")
            if progress.estimated_total:
                self.bar.setRange(0, 1000)
                self.bar.setValue(min(1000, progress.rows * 1000 // max(1, progress.estimated_total)))
            if self.cancel_button.isEnabled():
                total = f" of about {progress.estimated_total:,}" if progress.estimated_total else ""
                self.status.setText(f"{progress.rows:,}{total} rows read")
        future = self._future
        if future is None or not future.done():
            return
        self._timer.stop()
        self.running, self.finished = False, True
        error = future.exception()
        with self._shared.lock:
            self.report = self._shared.report
        if isinstance(error, ImportProblem):
            self.error = str(error)
        elif error is not None and not isinstance(error, JobCancelled):
            self.error = f"{type(error).__name__}: {error}"
        self.completeChanged.emit()
        self._wizard.next()

    def isComplete(self) -> bool:
        return self.finished


class ResultPage(QWizardPage):
    """Step 5: the counts, the first rejected and flagged rows, and the rejected rows as a CSV file."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle(heading("Import finished"))
        self.setFinalPage(True)
        self.setStyleSheet(COUNT_STYLE)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.error = label("", "danger", wrap=True, selectable=True)
        self.error.setObjectName("ImportError")
        self.error.hide()
        layout.addWidget(self.error)
        frame, inner = card("import counts")
        grid = QGridLayout()
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(12)
        self.counts: dict[str, QLabel] = {}
        for position, name in enumerate(COUNT_NAMES):
            value = label("0")
            value.setObjectName(f"count_{name}")
            value.setProperty("count", "main" if position < 4 else "other")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.counts[name] = value
            cell = QVBoxLayout()
            cell.setSpacing(0)
            cell.addWidget(value)
            cell.addWidget(label(COUNT_LABELS[name], "muted"))
            grid.addLayout(cell, *divmod(position, 4))
        inner.addLayout(grid)
        layout.addWidget(frame)
        self.notes = label("", "muted", wrap=True, selectable=True)
        self.notes.setObjectName("ImportNotes")
        layout.addWidget(self.notes)
        self.tabs = QTabWidget()
        self.rejected = self._table(("Row", "Why it was not imported"))
        self.rejected.setObjectName("ImportRejectedRows")
        self.flagged = self._table(("Row", "Address", "Worth a look"))
        self.flagged.setObjectName("ImportFlaggedRows")
        self.tabs.addTab(self.rejected, "Rejected rows")
        self.tabs.addTab(self.flagged, "Imported, worth a look")
        layout.addWidget(self.tabs, 1)
        row = QHBoxLayout()
        self.saved = label("", "muted", wrap=True, selectable=True)
        self.saved.setObjectName("ImportRejectsSaved")
        row.addWidget(self.saved, 1)
        self.save_button = QPushButton("Save rejected rows…")
        self.save_button.setObjectName("ImportSaveRejects")
        self.save_button.clicked.connect(self._save)
        row.addWidget(self.save_button)
        layout.addLayout(row)

    @staticmethod
    def _table(headers: tuple[str, ...]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(list(headers))
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
        return table

    def initializePage(self) -> None:
        run = self._wizard.run_page
        report = run.report
        if report is None:
            self.setTitle(heading("The import could not start"))
            self.setSubTitle("Nothing was imported. Go back to the first step to pick another file.")
            self.error.setText(run.error or "The import stopped before it read the file.")
            self.error.show()
            self.save_button.setEnabled(False)
            return
        titles = {"done": "Import finished", "cancelled": "Import cancelled", "failed": "Import stopped by an error"}
        self.setTitle(heading(titles.get(report.status, "Import finished")))
        self.setSubTitle(f"{report.file_name}: {report.summary()}.")
        if report.error:
            self.error.setText(report.error)
            self.error.show()
        for name, widget in self.counts.items():
            widget.setText(f"{report.counts.get(name, 0):,}")
        self.notes.setText("\n".join(report.notes))
        self.notes.setVisible(bool(report.notes))
        self._fill(self.rejected, [(str(r.row), _ROW_PREFIX.sub("", r.reason)) for r in report.rejected])
        self._fill(self.flagged, [(str(f.row), f.email, f.note) for f in report.flagged])
        more = report.rejected_count - len(report.rejected)
        self.tabs.setTabText(0, f"Rejected rows ({report.rejected_count:,})")
        self.tabs.setTabText(1, f"Imported, worth a look ({len(report.flagged):,})")
        self.saved.setText(f"The first {len(report.rejected):,} are listed; all {report.rejected_count:,} are in the "
                           "saved file." if more > 0 else "")
        self.save_button.setEnabled(report.rejected_count > 0)

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
        table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                table.setItem(row, column, item)

    def _save(self) -> None:
        report = self._wizard.run_page.report
        if report is None:
            return
        stem = Path(report.file_name).stem
        start = (self._wizard.path.parent if self._wizard.path else Path.home()) / f"{stem} rejected rows.csv"
        chosen, _ = QFileDialog.getSaveFileName(self, "Save rejected rows", str(start), "CSV files (*.csv)")
        if chosen:
            self.save_rejects(Path(chosen))

    def save_rejects(self, path: Path) -> None:
        report = self._wizard.run_page.report
        if report is None:
            return
        try:
            count = report.write_rejects(path)
        except OSError as exc:
            self.saved.setText(f"Could not save {path.name}: {exc.strerror or exc}")
            return
        self.saved.setText(f"Saved {count:,} rejected rows with their reasons to {path}.")

