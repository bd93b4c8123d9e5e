"""The built-in outbox: what a campaign sent to the local SMTP server, listed and shown as recipients see it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.modules.delivery import api
from app.modules.delivery.messages import OutboxReceived
from app.ui.background import BackgroundWork
from app.ui.widgets import label

_ID = Qt.ItemDataRole.UserRole


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


class OutboxView(QWidget):
    """A searchable list of received messages and a viewer (message, text, headers, source)."""

    def __init__(self, ctx: Any, reads: BackgroundWork, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DeliveryOutbox")
        self._ctx = ctx
        self._reads = reads
        self.search = QLineEdit()
        self.search.setObjectName("OutboxSearch")
        self.search.setPlaceholderText("Search subject, sender or recipient")
        self.search.setClearButtonEnabled(True)
        self.count = label("", "muted")
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("OutboxTable")
        self.table.setHorizontalHeaderLabels(["Received", "To", "Subject", "Size"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.html = QTextBrowser()
        self.html.setObjectName("OutboxHtml")
        self.html.setOpenLinks(False)  # a link in a test email must not open anything by itself
        self.text = QPlainTextEdit(readOnly=True)
        self.headers = QPlainTextEdit(readOnly=True)
        self.source = QPlainTextEdit(readOnly=True)
        self.viewer = QTabWidget()
        self.viewer.setObjectName("OutboxViewer")
        for widget, title in ((self.html, "Message"), (self.text, "Plain text"), (self.headers, "Headers"),
                              (self.source, "Source")):
            self.viewer.addTab(widget, title)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addWidget(self.table, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.viewer)
        split.setSizes([520, 480])
        QVBoxLayout(self).addWidget(split)

        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.table.itemSelectionChanged.connect(self._show_selected)
        ctx.bridge.subscribe(OutboxReceived, lambda _event: self._debounce.start(), owner=self)
        self.reload()

    def reload(self) -> None:
        db, search = self._ctx.db, self.search.text().strip()
        self._reads.submit_latest("outbox", lambda: (api.list_outbox(db, 500, search), api.count_outbox(db)),
                                  self._fill)

    def _fill(self, result: tuple[list[api.OutboxSummary], int]) -> None:
        rows, total = result
        selected = self._selected_id()
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = (row.received_at.strftime("%Y-%m-%d %H:%M:%S"), row.recipients, row.subject, _size(row.size))
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(_ID, row.id)
                self.table.setItem(index, column, item)
            if row.id == selected:
                self.table.selectRow(index)
        shown = f"{len(rows):,} of {total:,}" if len(rows) < total else f"{total:,}"
        self.count.setText(f"{shown} message{'s' if total != 1 else ''}")

    def _selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(_ID)) if items else None

    def _show_selected(self) -> None:
        message_id = self._selected_id()
        if message_id is None:
            return
        db = self._ctx.db
        self._reads.submit_latest("outbox-message", lambda: api.get_outbox_message(db, message_id), self._show)

    def _show(self, message: api.OutboxDetail | None) -> None:
        if message is None:
            return
        self.html.setHtml(message.html or "<p><i>This message has no HTML part.</i></p>")
        self.text.setPlainText(message.text)
        self.headers.setPlainText("\n".join(f"{name}: {value}" for name, value in message.headers))
        self.source.setPlainText(message.raw.decode("utf-8", "replace"))
