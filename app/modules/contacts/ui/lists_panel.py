"""The filter panel left of the contacts table: all contacts, lists, tags and segments with counts, and suppressed."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.kernel.database import Database
from app.modules.contacts.queries import FilterOptions, filter_options
from app.modules.contacts.ui.contacts_model import BackgroundReader
from app.ui import theme


@dataclass(frozen=True)
class PanelChoice:
    """What the user picked: ``kind`` is all, list, tag, segment or suppressed; ``item_id`` the list/tag/segment."""

    kind: str = "all"
    item_id: int | None = None
    title: str = "All contacts"


_ROLE = Qt.ItemDataRole.UserRole


def _count(n: int) -> str:
    return f"{n:,}"


class FilterPanel(QWidget):
    """A tree of what can be shown; clicking an entry emits ``chosen`` with a :class:`PanelChoice`."""

    chosen = Signal(object)
    reloaded = Signal()

    def __init__(self, db: Database, reader: BackgroundReader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContactsFilterPanel")
        self._db = db
        self._reader = reader
        self._current = PanelChoice()
        self._generation = 0
        self.options: FilterOptions | None = None

        self.tree = QTreeWidget()
        self.tree.setObjectName("ContactsFilterTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(16, 16))
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setFrameShape(QTreeWidget.Shape.NoFrame)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.currentItemChanged.connect(lambda current, _previous: self._clicked(current))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self.setMinimumWidth(180)
        self._build(None)

    # -- data --------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-count lists, tags and suppressed contacts in the background."""
        self._generation += 1
        generation = self._generation
        self._reader.submit(lambda: filter_options(self._db), lambda options: self._loaded(generation, options))

    def _loaded(self, generation: int, options: FilterOptions) -> None:
        if generation == self._generation:
            self.options = options
            shown = self._current
            self._build(options)
            self.reloaded.emit()
            if self._current != shown:  # the list, tag or segment shown was deleted meanwhile
                self.chosen.emit(self._current)

    @property
    def current(self) -> PanelChoice:
        return self._current

    def reset(self) -> None:
        """Back to all contacts (without emitting)."""
        self.choose(PanelChoice())

    def choose(self, choice: PanelChoice) -> None:
        """Make ``choice`` current without emitting (it may appear only after the next reload)."""
        self._current = choice
        item = self.item_for(choice.kind, choice.item_id)
        if item is not None:
            blocked = self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(blocked)

    # -- tree --------------------------------------------------------------------------------------

    def _build(self, options: FilterOptions | None) -> None:
        style = self.style()
        self.tree.blockSignals(True)
        self.tree.clear()
        total = _count(options.total) if options else ""
        self._leaf(None, PanelChoice(), total, style.standardIcon(QStyle.StandardPixmap.SP_DirHomeIcon))
        lists = self._section("Lists")
        folder = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        for entry in options.lists if options else ():
            item = self._leaf(lists, PanelChoice("list", entry.id, entry.name), _count(entry.members), folder)
            parts = [f"{n:,} {status}" for status, n in sorted(entry.by_status.items())]
            item.setToolTip(0, f"{entry.name}: " + (", ".join(parts) if parts else "no members yet"))
        if options is not None and not options.lists:
            self._hint(lists, "No lists yet")
        tags = self._section("Tags")
        tag_icon = style.standardIcon(QStyle.StandardPixmap.SP_FileDialogListView)
        for tag in options.tags if options else ():
            self._leaf(tags, PanelChoice("tag", tag.id, tag.name), _count(tag.contacts), tag_icon)
        if options is not None and not options.tags:
            self._hint(tags, "No tags yet")
        segments = self._section("Segments")
        segment_icon = style.standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView)
        for segment in options.segments if options else ():
            self._leaf(segments, PanelChoice("segment", segment.id, segment.name), "", segment_icon)
        if options is not None and not options.segments:
            self._hint(segments, "No segments yet")
        suppressed = self._leaf(None, PanelChoice("suppressed", None, "Suppressed"),
                                _count(options.suppressed) if options else "",
                                style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical))
        suppressed.setToolTip(0, "Contacts whose address is on the suppression list and is never mailed")
        self.tree.expandAll()
        self._select_current()
        self.tree.blockSignals(False)

    def _section(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree, [title.upper(), ""])
        font = QFont(item.font(0))
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        item.setFont(0, font)
        item.setForeground(0, theme.colors().q("muted"))
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        return item

    def _hint(self, parent: QTreeWidgetItem, text: str) -> None:
        item = QTreeWidgetItem(parent, [text, ""])
        item.setForeground(0, theme.colors().q("muted"))
        item.setFlags(Qt.ItemFlag.NoItemFlags)

    def _leaf(self, parent: QTreeWidgetItem | None, choice: PanelChoice, count: str,
              icon: object) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree if parent is None else parent, [choice.title, count])
        item.setData(0, _ROLE, choice)
        item.setIcon(0, icon)  # type: ignore[arg-type]
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setForeground(1, theme.colors().q("muted"))
        item.setToolTip(0, choice.title)
        return item

    def item_for(self, kind: str, item_id: int | None = None) -> QTreeWidgetItem | None:
        for position in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(position)
            if top is None:
                continue
            for item in (top, *(top.child(i) for i in range(top.childCount()))):
                choice = item.data(0, _ROLE) if item is not None else None
                if isinstance(choice, PanelChoice) and choice.kind == kind and choice.item_id == item_id:
                    return item
        return None

    def _select_current(self) -> None:
        item = self.item_for(self._current.kind, self._current.item_id)
        if item is None:  # what was shown is gone (a list deleted): fall back to everything
            self._current = PanelChoice()
            item = self.item_for("all")
        if item is None:
            return
        blocked = self.tree.blockSignals(True)
        self.tree.setCurrentItem(item)
        self.tree.blockSignals(blocked)

    def _clicked(self, item: QTreeWidgetItem | None) -> None:
        choice = item.data(0, _ROLE) if item is not None else None
        if not isinstance(choice, PanelChoice) or choice == self._current:
            return
        self._current = choice
        self.chosen.emit(choice)
