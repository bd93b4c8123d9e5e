"""The Activity page: a live, filterable table of every command, event and failure that crossed the bus."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedLayout,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.kernel.bus import BusRecord
from app.ui import theme
from app.ui.widgets import label

MAX_ROWS = 5000
COLUMNS = ("Time", "Kind", "Message", "Fields", "Thread", "Handler", "Error")
ERROR_KINDS = frozenset({"command-failed", "handler-failed"})
_HIDDEN_FIELDS = frozenset({"occurred_at", "event_id"})
# Field names whose values must never appear on screen or in a screenshot someone shares.
_SECRET_HINTS = ("password", "secret", "token", "api_key", "apikey")
ModelIndex = QModelIndex | QPersistentModelIndex


class Row(NamedTuple):
    time: str
    kind: str
    message: str
    fields: str
    thread: str
    handler: str
    error: str
    details: str
    is_error: bool


def _field_value(name: str, value: Any, limit: int = 80) -> str:
    if any(hint in name.lower() for hint in _SECRET_HINTS):
        return "•••"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def row_of(record: BusRecord) -> Row:
    message = record.message
    pairs: list[tuple[str, Any]] = []
    if dataclasses.is_dataclass(message):
        pairs = [(f.name, getattr(message, f.name)) for f in dataclasses.fields(message)
                 if f.name not in _HIDDEN_FIELDS]
    fields = ", ".join(f"{name}={_field_value(name, value)}" for name, value in pairs)
    stamp = time.strftime("%H:%M:%S", time.localtime(record.at)) + f".{int(record.at * 1000) % 1000:03d}"
    kind = record.kind.replace("-", " ")
    details = "\n".join([
        f"{type(message).__module__}.{type(message).__qualname__}",
        f"kind: {record.kind}   thread: {record.thread}   at: {stamp}"
        + (f"   took: {record.duration_ms:.2f} ms" if record.kind.startswith("command") else ""),
        *(f"  {name} = {_field_value(name, value, 2000)}" for name, value in pairs),
        *([f"handler: {record.handler}"] if record.handler else []),
        *([f"error: {record.error}"] if record.error else []),
    ])
    handler = record.handler.replace(".<locals>", "")  # the full name stays in the details below
    return Row(stamp, kind, type(message).__name__, fields, record.thread, handler, record.error, details,
               record.kind in ERROR_KINDS)


class ActivityModel(QAbstractTableModel):
    """The last ``limit`` bus records. Arrivals are batched so a burst of events costs one repaint."""

    def __init__(self, limit: int = MAX_ROWS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._limit = limit
        self._rows: deque[Row] = deque()
        self._pending: list[Row] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(50)
        self._flush_timer.timeout.connect(self.flush)

    def add(self, record: BusRecord) -> None:
        self._pending.append(row_of(record))
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        pending, self._pending = self._pending[-self._limit:], []
        if not pending:
            return
        overflow = len(self._rows) + len(pending) - self._limit
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self._rows.popleft()
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(pending) - 1)
        self._rows.extend(pending)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._pending.clear()
        self.endResetModel()

    def row(self, index: int) -> Row:
        return self._rows[index]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[index.column()]
        if row.is_error and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(theme.colors().danger))
        if row.is_error and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(theme.colors().danger_soft))
        return None


class ActivityFilter(QSortFilterProxyModel):
    """Matches the filter text anywhere in a row; optionally keeps only failures."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._errors_only = False

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._needle = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_errors_only(self, on: bool) -> None:
        self.beginFilterChange()
        self._errors_only = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, _parent: ModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ActivityModel)
        row = model.row(source_row)
        if self._errors_only and not row.is_error:
            return False
        return not self._needle or any(self._needle in str(value).lower() for value in row[:7])


class ActivityPage(QWidget):
    """Table, filter box, "Errors only", Clear, and the full record of the selected row underneath."""

    def __init__(self, model: ActivityModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = ActivityFilter(self)
        self.proxy.setSourceModel(model)
        self._at_bottom = True

        self.filter_box = QLineEdit(placeholderText="Filter by message, field, thread or error")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.proxy.set_text)
        self.errors_only = QCheckBox("Errors only")
        self.errors_only.toggled.connect(self.proxy.set_errors_only)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(model.clear)
        self.count_label = label("", "muted")
        self.table = self._build_table()
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setPlaceholderText("Select a row to see the whole message.")
        self.details.setMaximumBlockCount(200)
        self.details.setMinimumHeight(70)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._layout_page()

        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._update_count)
        model.rowsAboutToBeInserted.connect(self._remember_scroll)
        model.rowsInserted.connect(self._follow_tail)
        self._update_count()

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column, width in enumerate((88, 100, 150, 220, 100, 130)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        table.selectionModel().currentRowChanged.connect(self._show_details)
        return table

    def _layout_page(self) -> None:
        empty = label("Nothing has crossed the bus yet. Commands, events and failures appear here as they "
                      "happen, newest at the bottom.", "muted", wrap=True)
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._table_stack = QStackedLayout()
        self._table_stack.addWidget(empty)
        self._table_stack.addWidget(self.table)
        table_holder = QWidget()
        table_holder.setLayout(self._table_stack)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(table_holder)
        splitter.addWidget(self.details)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([640, 110])

        tools = QHBoxLayout()
        tools.setSpacing(10)
        tools.addWidget(self.filter_box, 1)
        tools.addWidget(self.errors_only)
        tools.addWidget(self.clear_button)
        title_row = QHBoxLayout()
        title_row.addWidget(label("Activity", object_name="PageTitle"))
        title_row.addStretch(1)
        title_row.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(12)
        layout.addLayout(title_row)
        layout.addWidget(label("Every command, event and failure on the message bus, as it happens. Use it to "
                               "see what a module did and why something failed.", "muted", wrap=True))
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)

    def _update_count(self) -> None:
        total = self.model.rowCount()
        self.count_label.setText(f"{total:,} {'entry' if total == 1 else 'entries'}")
        self._table_stack.setCurrentIndex(1 if total else 0)

    def _remember_scroll(self) -> None:
        bar = self.table.verticalScrollBar()
        self._at_bottom = bar.value() >= bar.maximum() - 2

    def _follow_tail(self) -> None:
        # Keep showing the newest rows only if the user was already looking at them.
        if self._at_bottom:
            self.table.scrollToBottom()

    def _show_details(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.details.clear()
            return
        source = self.proxy.mapToSource(current)
        self.details.setPlainText(self.model.row(source.row()).details)
