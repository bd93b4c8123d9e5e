"""Bulk actions on the selected contacts: the bar above the table, the questions asked, and the job that runs."""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QInputDialog, QMessageBox, QPushButton, QStyle, QWidget

from app.kernel.jobs import JobCancelled
from app.modules.contacts.bulk import BulkAction, BulkOutcome, BulkTarget, ExportOutcome, export_csv, run_bulk
from app.ui.widgets import label

if TYPE_CHECKING:
    from app.modules.contacts.ui.contacts_page import ContactsPage

log = logging.getLogger(__name__)


class BulkBar(QWidget):
    """Shown while rows are selected: how many, "select all N matching", and the actions."""

    requested = Signal(str)  # one of bulk.ACTIONS
    select_all_requested = Signal()
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContactsBulkBar")
        style = self.style()
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(6)
        self.summary = label("", object_name="ContactsSelectionSummary")
        row.addWidget(self.summary)
        self.select_all = QPushButton("Select all")
        self.select_all.setObjectName("ContactsSelectAllMatching")
        self.select_all.setFlat(True)
        self.select_all.setCursor(Qt.CursorShape.PointingHandCursor)
        self.select_all.clicked.connect(self.select_all_requested)
        row.addWidget(self.select_all)
        row.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        specs: list[tuple[str, str, QStyle.StandardPixmap, str]] = [
            ("tag", "Add tag…", QStyle.StandardPixmap.SP_FileDialogListView, "Tag the selected contacts"),
            ("list", "Add to list…", QStyle.StandardPixmap.SP_FileDialogNewFolder,
             "Subscribe the selected contacts to a list (suppressed people are left out)"),
            ("unsubscribe", "Unsubscribe…", QStyle.StandardPixmap.SP_DialogNoButton,
             "Unsubscribe the selected contacts"),
            ("suppress", "Suppress…", QStyle.StandardPixmap.SP_MessageBoxCritical,
             "Never mail these addresses again"),
            ("delete", "Delete…", QStyle.StandardPixmap.SP_TrashIcon, "Delete the selected contacts"),
        ]
        for kind, text, pixmap, tip in specs:
            button = QPushButton(style.standardIcon(pixmap), text)
            button.setObjectName(f"ContactsBulk_{kind}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, k=kind: self.requested.emit(k))
            row.addWidget(button)
            self.buttons[kind] = button
        clear = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton), "")
        clear.setToolTip("Clear the selection")
        clear.setFlat(True)
        clear.clicked.connect(self.clear_requested)
        row.addWidget(clear)

    def show_selection(self, selected: int, matching: int, everything: bool) -> None:
        if everything:
            self.summary.setText(f"All {matching:,} matching contacts selected")
        else:
            self.summary.setText(f"{selected:,} selected")
        self.select_all.setText(f"Select all {matching:,} matching")
        self.select_all.setVisible(not everything and matching > selected)
        self.setVisible(selected > 0 or everything)

    def set_busy(self, busy: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(not busy)


class _JobWatcher(QObject):
    """Carries a job's future back to the GUI thread."""

    finished = Signal(object)

    def watch(self, future: Future[Any]) -> None:
        def done(f: Future[Any]) -> None:
            # The page may have closed while the job ran; the job's own events still reached the bus.
            with contextlib.suppress(RuntimeError):
                self.finished.emit(f)

        future.add_done_callback(done)


class BulkController(QObject):
    """Asks what to do (and to confirm), runs it as a job, then reports and refreshes the page."""

    def __init__(self, page: ContactsPage) -> None:
        super().__init__(page)
        self.page = page
        self.everything = False
        self.last_outcome: BulkOutcome | None = None
        self.last_error = ""
        self.running: Future[Any] | None = None
        self._watcher = _JobWatcher(self)
        self._watcher.finished.connect(self._finished)

    # -- what and how many -------------------------------------------------------------------------

    def select_everything(self) -> None:
        self.page.table.selectAll()
        self.everything = True
        self.page.bulk_bar.show_selection(self.page.model.total, self.page.model.total, True)

    def target(self) -> BulkTarget | None:
        model = self.page.model
        if model.window is None:
            return None
        selected = self.page.selected_count()
        if self.everything or (selected and selected >= model.total):
            # "All N matching" goes to the job as the filter itself: nobody lists a million ids here.
            return BulkTarget(model.window, model.total, None)
        if not selected:
            return None
        return BulkTarget(model.window, selected, tuple(self.page.selected_ranges()))

    # -- asking ------------------------------------------------------------------------------------

    def request(self, kind: str) -> None:
        target = self.target()
        if target is None:
            return
        action = self._ask(kind, target.count)
        if action is not None:
            self.start(target, action)

    def _ask(self, kind: str, count: int) -> BulkAction | None:
        people = f"{count:,} contact" + ("" if count == 1 else "s")
        options = self.page.panel.options
        if kind in ("tag", "list"):
            names = [t.name for t in options.tags] if options and kind == "tag" else \
                [entry.name for entry in options.lists] if options else []
            title = "Add a tag" if kind == "tag" else "Add to a list"
            prompt = (f"Tag {people} with (a new name creates the tag):" if kind == "tag" else
                      f"Subscribe {people} to (a new name creates the list; suppressed people are left out):")
            name, ok = QInputDialog.getItem(self.page, title, prompt, names, 0, True)
            name = name.strip()
            return BulkAction(kind, name) if ok and name else None
        choice = self.page.panel.current
        list_id = choice.item_id if choice.kind == "list" else None
        questions = {
            "unsubscribe": (f"Unsubscribe {people}?",
                            f"They will be unsubscribed from {choice.title}." if list_id is not None else
                            "They will be unsubscribed from every list. Only they can subscribe again.",
                            "Unsubscribe"),
            "suppress": (f"Suppress {people}?",
                         "Their addresses go on the suppression list and are never mailed again, "
                         "whatever list they are on or are later imported into.", "Suppress"),
            "delete": (f"Delete {people}?",
                       "Their lists, tags, consent records and activity are deleted too. This cannot be undone. "
                       "(Deleting does not suppress: a later import can add them again.)", "Delete"),
        }
        title, text, verb = questions[kind]
        box = QMessageBox(QMessageBox.Icon.Warning, title, title, QMessageBox.StandardButton.Cancel, self.page)
        box.setObjectName("ContactsBulkConfirm")
        box.setInformativeText(text)
        confirm = box.addButton(verb, QMessageBox.ButtonRole.DestructiveRole)
        confirm.setObjectName("ContactsBulkConfirmButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not confirm:
            return None
        return BulkAction(kind, list_id=list_id if kind == "unsubscribe" else None)

    # -- running -----------------------------------------------------------------------------------

    def start(self, target: BulkTarget, action: BulkAction) -> Future[Any]:
        kernel = self.page.ctx.kernel
        titles = {"tag": f"Tagging {target.count:,} contacts", "list": f"Adding {target.count:,} contacts to a list",
                  "unsubscribe": f"Unsubscribing {target.count:,} contacts",
                  "suppress": f"Suppressing {target.count:,} contacts", "delete": f"Deleting {target.count:,} contacts"}
        self.page.bulk_bar.set_busy(True)
        self.page.notice.show_text(titles[action.kind] + "…", "info")
        future: Future[Any] = self.page.ctx.jobs.start(
            titles[action.kind], lambda handle: run_bulk(kernel.db, kernel.bus, target, action, handle),
            summary=lambda outcome: outcome.text())
        self.running = future
        self._watcher.watch(future)
        return future

    @Slot(object)
    def _finished(self, future: Future[Any]) -> None:
        self.running = None
        self.page.bulk_bar.set_busy(False)
        error = future.exception() if not future.cancelled() else JobCancelled("cancelled")
        if error is None and isinstance(future.result(), ExportOutcome):
            self.page.notice.show_text(future.result().text(), "info", timeout_ms=8000)
            return
        if error is None:
            self.last_outcome = future.result()
            self.last_error = ""
            self.page.notice.show_text(self.last_outcome.text(), "info", timeout_ms=8000)
        elif isinstance(error, JobCancelled):
            self.last_error = "cancelled"
            self.page.notice.show_text("Stopped. The contacts already changed keep their change.", "info")
        else:
            self.last_error = str(error) or type(error).__name__
            self.page.notice.show_text(f"The bulk action failed: {self.last_error}", "error")
        self.everything = False
        self.page.table.clearSelection()
        self.page.refresh()

    # -- export ------------------------------------------------------------------------------------

    def export(self) -> None:
        """Ask where, then write the contacts shown (this filter, every row) to a CSV file in a job."""
        suggested = str(Path.home() / "contacts.csv")
        chosen, _ = QFileDialog.getSaveFileName(self.page, "Export contacts", suggested, "CSV files (*.csv)")
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, path: Path) -> Future[Any]:
        kernel = self.page.ctx.kernel
        flt, total = self.page.model.filter, self.page.model.total
        self.page.notice.show_text(f"Exporting {total:,} contacts to {path.name}…", "info")
        future: Future[Any] = self.page.ctx.jobs.start(
            f"Exporting {total:,} contacts", lambda handle: export_csv(kernel.db, flt, path, handle, total),
            summary=lambda outcome: outcome.text())
        self.running = future
        self._watcher.watch(future)
        return future
