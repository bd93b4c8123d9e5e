"""The contacts table model: a million rows read lazily in blocks, kept in an LRU cache, read off-thread if slow."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont

from app.kernel.database import Database
from app.modules.contacts.contact_window import ContactWindow
from app.modules.contacts.queries import ContactFilter, ContactRow, ContactSort
from app.ui import theme
from app.ui.background import BackgroundWork

log = logging.getLogger(__name__)
ModelIndex = QModelIndex | QPersistentModelIndex

BLOCK_ROWS = 100  # rows per cached block: about 3 ms to read anywhere in a million once anchors exist
CACHE_BLOCKS = 200  # 20,000 rows kept; scrolling back is free
# A read slower than this moves the window's reads off the GUI thread. Index seeks take 2-10 ms even on a
# busy machine; what crosses this is a filter that makes SQLite scan (a rare name, a sparse segment).
SLOW_READ_MS = 40.0
NEAR_ROWS = 2_000  # without an anchor this close, a read goes to the background instead of seeking


class BackgroundReader(BackgroundWork):
    """Reads for the contacts page on two worker threads, answered on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent, workers=2, name="contacts-read")


@dataclass
class FetchStats:
    """How reads went, for the benchmark and tests: GUI-thread reads, background reads, slowest GUI read."""

    sync_reads: int = 0
    background_reads: int = 0
    slowest_sync_ms: float = 0.0
    placeholders_shown: int = 0
    sync_ms: list[float] = field(default_factory=list)


_DISPLAY = Qt.ItemDataRole.DisplayRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_USER = Qt.ItemDataRole.UserRole
_FONT = Qt.ItemDataRole.FontRole
_ROLES_USED = frozenset({_DISPLAY, _FOREGROUND, _TOOLTIP, _USER, _FONT})

STATUS_LABELS = {"subscribed": "Subscribed", "unconfirmed": "Unconfirmed", "unsubscribed": "Unsubscribed",
                 "suppressed": "Suppressed", "": "No list"}


class ContactsModel(QAbstractTableModel):
    """Rows of a :class:`ContactWindow`; ``load()`` starts a new query, ``refresh()`` re-reads the same one."""

    COLUMNS = ("Email", "Name", "Lists", "Tags", "Status", "Created", "Last open")
    SORT_KEYS = {0: "email", 5: "created", 6: "last_open"}

    loaded = Signal(int)  # the number of matching contacts, after each load or refresh
    load_failed = Signal(str)
    indexed = Signal()  # every block now has an anchor: reads anywhere are short seeks

    def __init__(self, db: Database, reader: BackgroundReader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._reader = reader
        self.window: ContactWindow | None = None
        self._count = 0
        self._blocks: OrderedDict[int, list[ContactRow]] = OrderedDict()
        self._pending: set[int] = set()
        self._generation = 0
        self._sync = True
        self._slow_reads = 0
        self.filter = ContactFilter()
        self.sort_spec = ContactSort()
        self.loading = False
        self.stats = FetchStats()
        self._palette_for: object = None
        self._palette: dict[str, QColor] = {}

    # -- queries -----------------------------------------------------------------------------------

    def load(self, flt: ContactFilter | None = None, sort: ContactSort | None = None) -> None:
        """Show ``flt`` sorted by ``sort``; counting and the first rows are read in the background."""
        if flt is not None:
            self.filter = flt
        if sort is not None:
            self.sort_spec = sort
        self._generation += 1
        generation = self._generation
        window = ContactWindow(self._db, self.filter, self.sort_spec)
        self.loading = True

        def prepare() -> tuple[int, list[ContactRow], float]:
            total = window.count()
            started = time.perf_counter()
            first = window.rows(0, BLOCK_ROWS) if total else []
            spent = (time.perf_counter() - started) * 1000
            if spent > SLOW_READ_MS and total > BLOCK_ROWS:
                # The first read of a query shape also pays for compiling it: judge on a second, warm one.
                started = time.perf_counter()
                window.rows(BLOCK_ROWS, BLOCK_ROWS)
                spent = (time.perf_counter() - started) * 1000
            return total, first, spent

        self._reader.submit(prepare, lambda result: self._prepared(generation, window, result),
                            lambda error: self._failed(generation, error))

    def refresh(self) -> None:
        self.load()

    def _prepared(self, generation: int, window: ContactWindow,
                  result: tuple[int, list[ContactRow], float]) -> None:
        if generation != self._generation:
            return
        total, first, first_ms = result
        self.beginResetModel()
        self.window = window
        self._count = total
        self._blocks.clear()
        self._pending.clear()
        if first:
            self._blocks[0] = first
        # Filters that make SQLite scan (a rare name, a sparse segment) are read in the background.
        self._sync = first_ms < SLOW_READ_MS
        self._slow_reads = 0
        self.endResetModel()
        self.loading = False
        self.loaded.emit(total)
        if total > BLOCK_ROWS:
            self._reader.submit(lambda: window.build_index(lambda: generation != self._generation),
                                lambda finished: self._indexed(generation, finished))
        else:
            window.indexed = True
            self.indexed.emit()

    def _indexed(self, generation: int, finished: bool) -> None:
        if finished and generation == self._generation:
            self.indexed.emit()

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        log.warning("contacts could not be read: %s", error)
        self.load_failed.emit(str(error) or type(error).__name__)

    @property
    def total(self) -> int:
        return self._count

    @property
    def ready(self) -> bool:
        """Loaded, and every block reachable by a short seek."""
        return not self.loading and (self.window is None or self.window.indexed)

    def row_at(self, row: int) -> ContactRow | None:
        """The contact shown on ``row`` if it has been read (never reads)."""
        rows = self._blocks.get(row // BLOCK_ROWS)
        offset = row % BLOCK_ROWS
        return rows[offset] if rows is not None and offset < len(rows) else None

    # -- Qt model ----------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section in self.SORT_KEYS:
            return f"Sort by {self.COLUMNS[section].lower()}"
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every visible cell and every role on each paint: answer the roles we ignore first.
        if role not in _ROLES_USED or not index.isValid():
            return None
        contact = self._contact(index.row())
        if contact is None:
            return self._placeholder(index.column(), role)
        if role == _DISPLAY:
            value: Any = _COLUMN_TEXT[index.column()](contact)
        elif role == _FOREGROUND:
            value = self._colors().get(contact.status)
        elif role == _TOOLTIP:
            value = _tooltip(contact, index.column())
        else:
            value = contact.id if role == _USER else None
        return value

    def _colors(self) -> dict[str, QColor]:
        colors = theme.colors()
        if self._palette_for is not colors:  # the theme changed since the last paint
            self._palette_for = colors
            self._palette = {"suppressed": QColor(colors.danger), "unsubscribed": QColor(colors.muted),
                             "placeholder": QColor(colors.muted)}
        return self._palette

    def _placeholder(self, column: int, role: int) -> Any:
        if role == _DISPLAY and column == 0:
            self.stats.placeholders_shown += 1
            return "Loading…"
        if role == _FOREGROUND:
            return self._colors()["placeholder"]
        if role == _FONT:
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.SORT_KEYS.get(column)
        if key is None:
            return
        wanted = ContactSort(key, order == Qt.SortOrder.DescendingOrder)
        if wanted != self.sort_spec:
            self.load(sort=wanted)

    def sort_column(self) -> int:
        return next(column for column, key in self.SORT_KEYS.items() if key == self.sort_spec.key)

    # -- blocks ------------------------------------------------------------------------------------

    def _contact(self, row: int) -> ContactRow | None:
        block = row // BLOCK_ROWS
        rows = self._blocks.get(block)
        if rows is None:
            rows = self._fetch(block)
            if rows is None:
                return None
        else:
            self._blocks.move_to_end(block)
        offset = row - block * BLOCK_ROWS
        return rows[offset] if offset < len(rows) else None

    def _fetch(self, block: int) -> list[ContactRow] | None:
        window = self.window
        if window is None:
            return None
        start = block * BLOCK_ROWS
        if self._sync and window.distance(start) <= NEAR_ROWS:
            began = time.perf_counter()
            rows = window.rows(start, BLOCK_ROWS)
            spent = (time.perf_counter() - began) * 1000
            self.stats.sync_reads += 1
            self.stats.sync_ms.append(spent)
            self.stats.slowest_sync_ms = max(self.stats.slowest_sync_ms, spent)
            if spent > SLOW_READ_MS:
                self._slow_reads += 1
                # One slow read can be a hiccup (another thread held the GIL); three mean the query scans.
                if self._slow_reads >= 3:
                    self._sync = False
            self._store(block, rows)
            return rows
        if block not in self._pending:
            self._pending.add(block)
            self.stats.background_reads += 1
            generation = self._generation
            self._reader.submit(lambda: window.rows(start, BLOCK_ROWS),
                                lambda rows: self._arrived(generation, block, rows),
                                lambda error: self._failed(generation, error))
        return None

    def _store(self, block: int, rows: list[ContactRow]) -> None:
        self._blocks[block] = rows
        while len(self._blocks) > CACHE_BLOCKS:
            self._blocks.popitem(last=False)

    def _arrived(self, generation: int, block: int, rows: list[ContactRow]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(block)
        self._store(block, rows)
        first = block * BLOCK_ROWS
        last = min(self._count, first + BLOCK_ROWS) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.COLUMNS) - 1))


def _date(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else ""


_COLUMN_TEXT: tuple[Callable[[ContactRow], str], ...] = (
    lambda c: c.email,
    lambda c: c.name,
    lambda c: ", ".join(c.lists),
    lambda c: ", ".join(c.tags),
    lambda c: STATUS_LABELS.get(c.status, c.status),
    lambda c: _date(c.created_at),
    lambda c: _date(c.last_open_at) or "Never",
)


def _text(contact: ContactRow, column: int) -> str:
    return _COLUMN_TEXT[column](contact) if 0 <= column < len(_COLUMN_TEXT) else ""


def _tooltip(contact: ContactRow, column: int) -> str | None:
    if column in (0, 1, 2, 3):
        return _text(contact, column) or None
    if column == 4 and contact.status == "suppressed":
        return "On the suppression list: never mailed again"
    if column == 5:
        return contact.created_at.strftime("%Y-%m-%d %H:%M UTC")
    if column == 6 and contact.last_open_at is not None:
        return contact.last_open_at.strftime("%Y-%m-%d %H:%M UTC")
    return None
