"""The Contacts page: filters on the left, a virtual table of every contact, the chosen contact on the right."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.modules.contacts.messages import (
    ContactErased,
    ContactsChanged,
    ContactsImported,
    ListsChanged,
    SubscriptionChanged,
)
from app.modules.contacts.queries import ContactFilter
from app.modules.contacts.ui.bulk_actions import BulkBar, BulkController
from app.modules.contacts.ui.contact_detail import ContactDetailPanel
from app.modules.contacts.ui.contacts_model import BackgroundReader, ContactsModel
from app.modules.contacts.ui.lists_panel import FilterPanel, PanelChoice
from app.modules.contacts.ui.page_parts import EmptyState, csv_paths, merge_ranges
from app.ui.widgets import Notice, label

log = logging.getLogger(__name__)

SEARCH_DELAY_MS = 200
REFRESH_DELAY_MS = 250  # bursts of change events (an import in progress) become one re-read
STATUS_CHOICES = (("Any status", None), ("Subscribed", "subscribed"), ("Unconfirmed", "unconfirmed"),
                  ("Unsubscribed", "unsubscribed"))
COLUMN_WIDTHS = (250, 150, 120, 110, 95, 85, 85)


class ContactsPage(QWidget):
    """Built by the contacts module's PageSpec with the shell's UiContext."""

    def __init__(self, ui_context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContactsPage")
        self.setAcceptDrops(True)
        self.ctx = ui_context
        self.db = ui_context.kernel.db
        self.reader = BackgroundReader(self)
        self._open_dialogs: list[Any] = []
        self._scroll_value = 0
        self._shown_query: tuple[Any, Any] | None = None  # filter and sort on screen, to keep the place on refresh

        self.model = ContactsModel(self.db, self.reader, self)
        self.panel = FilterPanel(self.db, self.reader)
        self.detail = ContactDetailPanel(self.db, self.reader)
        self.notice = Notice(info_ms=0, boxed=True)
        self.bulk_bar = BulkBar()
        self.bulk_bar.hide()
        self.table = self._build_table()
        self.empty_state = EmptyState(self.open_import)
        self.no_match = EmptyState(self.clear_filters, title="No contacts match these filters",
                                   text="Try another search, or show all contacts.", button="Show all contacts")
        self.bulk = BulkController(self)

        self.search = QLineEdit()
        self.search.setObjectName("ContactsSearch")
        self.search.setPlaceholderText("Search by email or name (prefix), or @domain")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView),
                              QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(280)
        self.status = QComboBox()
        self.status.setObjectName("ContactsStatusFilter")
        for text, value in STATUS_CHOICES:
            self.status.addItem(text, value)
        self.count_label = label("", object_name="ContactsCount")
        self.loading_label = label("Reading…", "muted")
        self.loading_label.hide()

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._layout()
        self._connect()
        self.apply_filters()
        self.panel.reload()

    # -- building ----------------------------------------------------------------------------------

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("ContactsTable")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        rows = table.verticalHeader()
        rows.hide()
        # Fixed, uniform rows: the view computes positions arithmetically instead of asking a million rows.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(max(24, table.fontMetrics().height() + 10))
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionsMovable(True)
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, width)
        # The address is what people scan for, so it keeps its width; tags take whatever is left.
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        # The indicator first: enabling sorting sorts at once by whatever the indicator says.
        header.setSortIndicator(self.model.sort_column(), Qt.SortOrder.DescendingOrder)
        header.setSortIndicatorShown(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        table.setSortingEnabled(True)
        return table

    def _layout(self) -> None:
        style = self.style()
        self.import_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Import…")
        self.import_button.setObjectName("ContactsImportButton")
        self.import_button.setToolTip("Import contacts from a CSV file (you can also drop a file on this page)")
        self.segment_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_FileDialogNewFolder),
                                          "New segment…")
        self.segment_button.setObjectName("ContactsSegmentButton")
        self.export_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton), "Export…")
        self.export_button.setObjectName("ContactsExportButton")
        self.export_button.setToolTip("Export the contacts shown to a CSV file")

        toolbar = QHBoxLayout()
        toolbar.setSpacing(8)
        toolbar.addWidget(label("Contacts", object_name="PageTitle"))
        toolbar.addSpacing(12)
        toolbar.addWidget(self.search, 1)
        toolbar.addWidget(self.status)
        toolbar.addStretch(0)
        toolbar.addWidget(self.import_button)
        toolbar.addWidget(self.segment_button)
        toolbar.addWidget(self.export_button)

        counts = QHBoxLayout()
        counts.addWidget(self.count_label)
        counts.addWidget(self.loading_label)
        counts.addStretch(1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.no_match)
        centre = QWidget()
        centre_column = QVBoxLayout(centre)
        centre_column.setContentsMargins(0, 0, 0, 0)
        centre_column.setSpacing(6)
        centre_column.addLayout(counts)
        centre_column.addWidget(self.bulk_bar)
        centre_column.addWidget(self.stack, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.panel)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([200, 1000, 320])

        column = QVBoxLayout(self)
        column.setContentsMargins(20, 16, 20, 12)
        column.setSpacing(10)
        column.addLayout(toolbar)
        column.addWidget(self.notice)
        column.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_filters)
        self.status.currentIndexChanged.connect(lambda _index: self.apply_filters())
        self.panel.chosen.connect(self._panel_chosen)
        self.model.loaded.connect(self._loaded)
        self.model.load_failed.connect(self._load_failed)
        self.model.modelAboutToBeReset.connect(self._remember_position)
        self.model.modelReset.connect(self._restore_position)
        self.table.selectionModel().currentRowChanged.connect(lambda current, _prev: self._current_changed(current))
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.import_button.clicked.connect(lambda _checked=False: self.open_import())
        self.segment_button.clicked.connect(self.open_segment_builder)
        self.export_button.clicked.connect(self.bulk.export)
        self.bulk_bar.requested.connect(self.bulk.request)
        self.bulk_bar.select_all_requested.connect(self.bulk.select_everything)
        self.bulk_bar.clear_requested.connect(self.table.clearSelection)
        bridge = self.ctx.bridge
        for event_type in (ContactsChanged, ContactsImported, ListsChanged, SubscriptionChanged, ContactErased):
            bridge.subscribe(event_type, self._changed, owner=self)
        reader = self.reader
        # Pure Python: safe to call while Qt tears the page down.
        self.destroyed.connect(lambda *_: reader.close())

    # -- filters and loading -----------------------------------------------------------------------

    def current_filter(self) -> ContactFilter:
        choice = self.panel.current
        return ContactFilter(
            search=self.search.text(),
            list_id=choice.item_id if choice.kind == "list" else None,
            tag_id=choice.item_id if choice.kind == "tag" else None,
            segment_id=choice.item_id if choice.kind == "segment" else None,
            suppressed=choice.kind == "suppressed",
            status=self.status.currentData())

    def apply_filters(self) -> None:
        self._search_timer.stop()
        self.bulk.everything = False
        self.loading_label.show()
        self.model.load(self.current_filter())

    def clear_filters(self) -> None:
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.status.blockSignals(True)
        self.status.setCurrentIndex(0)
        self.status.blockSignals(False)
        self.panel.reset()
        self.apply_filters()

    def _panel_chosen(self, _choice: PanelChoice) -> None:
        self.apply_filters()

    def _sort_indicator_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if column not in ContactsModel.SORT_KEYS:
            # Only email, created and last open are sorted in SQL; put the arrow back where the order is.
            header = self.table.horizontalHeader()
            descending = Qt.SortOrder.DescendingOrder if self.model.sort_spec.descending else \
                Qt.SortOrder.AscendingOrder
            header.blockSignals(True)
            header.setSortIndicator(self.model.sort_column(), descending)
            header.blockSignals(False)
            self.notice.show_text("Sort by email, created or last open; other columns are not sortable.", "info")

    def _loaded(self, total: int) -> None:
        self.loading_label.hide()
        filtered = not self.current_filter().is_empty
        noun = "contact" if total == 1 else "contacts"
        self.count_label.setText(f"{total:,} {noun}" + (" match" if filtered and total != 1 else
                                                        " matches" if filtered else ""))
        # The detail panel opens when a contact is chosen, so the table has the room until then.
        self.detail.setVisible(total > 0 and self.detail.contact_id is not None)
        if total == 0 and not filtered:
            self.stack.setCurrentWidget(self.empty_state)
        elif total == 0:
            self.stack.setCurrentWidget(self.no_match)
        else:
            self.stack.setCurrentWidget(self.table)
        self._selection_changed()

    def _load_failed(self, message: str) -> None:
        self.loading_label.hide()
        self.notice.show_text(f"The contacts could not be shown: {message}", "error")

    def _remember_position(self) -> None:
        self._scroll_value = self.table.verticalScrollBar().value()

    def _restore_position(self) -> None:
        """A refresh keeps the reader's place; a new filter or order starts at the top."""
        query = (self.model.filter, self.model.sort_spec)
        if query == self._shown_query:
            self.table.verticalScrollBar().setValue(self._scroll_value)
        else:
            self.table.scrollToTop()
        self._shown_query = query

    def refresh(self) -> None:
        """Re-read what is shown after a change (keeps filters, position and the contact in the panel)."""
        self.model.refresh()
        self.panel.reload()
        self.detail.reload()

    def _changed(self, _event: object) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    # -- selection ---------------------------------------------------------------------------------

    def _current_changed(self, current: Any) -> None:
        contact = self.model.row_at(current.row()) if current.isValid() else None
        if contact is not None and contact.id != self.detail.contact_id:
            self.detail.show_contact(contact.id)
        if contact is not None and not self.detail.isVisible():
            self.detail.setVisible(True)
            sizes = self.splitter.sizes()
            self.splitter.setSizes([sizes[0], max(300, sizes[1] - 320), 320])

    def selected_ranges(self) -> list[tuple[int, int]]:
        """Selected rows as (first, count), without materialising a million indexes."""
        selection = self.table.selectionModel().selection()
        return merge_ranges([(r.top(), r.bottom() - r.top() + 1) for r in selection])  # type: ignore[attr-defined]

    def selected_count(self) -> int:
        return sum(count for _, count in self.selected_ranges())

    def _selection_changed(self, *_args: object) -> None:
        selected = self.selected_count()
        if self.bulk.everything and selected < self.model.total:
            self.bulk.everything = False
        self.bulk_bar.show_selection(selected, self.model.total, self.bulk.everything)

    def select_rows(self, first: int, last: int) -> None:
        top, bottom = self.model.index(first, 0), self.model.index(last, self.model.columnCount() - 1)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(QItemSelection(top, bottom), flags)

    # -- other dialogs -----------------------------------------------------------------------------

    def open_import(self, path: Path | None = None) -> None:
        try:
            from app.modules.contacts.ui.import_wizard import open_import_wizard
        except ImportError as exc:
            self.notice.show_text(f"Importing is not available in this copy of Postroom ({exc}).", "error")
            return
        dialog = open_import_wizard(self.ctx, self, path=path)
        if dialog is not None:
            self._keep(dialog)

    def open_files(self, paths: list[Path]) -> None:
        """Files dropped anywhere on the window (the shell routes them here): import the first."""
        if len(paths) > 1:
            self.notice.show_text(f"Importing {paths[0].name}; drop the other files one at a time.", "info")
        self.open_import(paths[0])

    def open_segment_builder(self) -> None:
        try:
            from app.modules.contacts.ui.segment_builder import SegmentBuilderDialog
        except ImportError as exc:
            self.notice.show_text(f"The segment builder is not available in this copy of Postroom ({exc}).",
                                  "error")
            return
        dialog = SegmentBuilderDialog(self.ctx, self)
        self._keep(dialog)
        dialog.saved.connect(self._show_segment)
        dialog.open()

    def _keep(self, dialog: Any) -> None:
        """Hold a reference while a dialog is open (Python would otherwise collect it)."""
        self._open_dialogs.append(dialog)
        finished = getattr(dialog, "finished", None)

        def forget(*_args: object) -> None:
            if dialog in self._open_dialogs:
                self._open_dialogs.remove(dialog)

        if finished is not None:
            finished.connect(forget)

    def _show_segment(self, segment_id: int, name: str) -> None:
        """After a segment is saved, show who is in it."""
        self.panel.choose(PanelChoice("segment", segment_id, name))
        self.apply_filters()
        self.panel.reload()

    # -- drag and drop -----------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if csv_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if csv_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = csv_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if len(paths) > 1:
            self.notice.show_text(f"Importing {paths[0].name}; drop the other files one at a time.", "info")
        self.open_import(paths[0])

    def shutdown(self) -> None:
        """Stop background reads (the window calls this on close; tests call it before the kernel closes)."""
        self._search_timer.stop()
        self._refresh_timer.stop()
        self.reader.close()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
