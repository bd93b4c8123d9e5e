"""The palette: block and section tiles to drag onto the canvas (or click to add), and the saved reusable blocks."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor.blocks import BLOCK_TYPES
from app.modules.editor.store import SavedBlockInfo
from app.modules.editor.ui.dnd import NEW_BLOCK, NEW_SECTION, SAVED, DragPayload
from app.modules.editor.ui.glyphs import glyph
from app.ui import theme
from app.ui.widgets import label

BLOCK_ORDER = ("heading", "text", "image", "button", "divider", "spacer", "social", "html", "footer", "conditional")
SECTIONS = ((1, "1 col", "one column"), (2, "2 cols", "two columns"), (3, "3 cols", "three columns"))
PALETTE_WIDTH = 236


class PaletteTile(QToolButton):
    """One draggable tile. A click (no drag) asks for the thing to be added after the selection."""

    def __init__(self, payload: DragPayload, title: str, icon: str, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.payload = payload
        self.setObjectName(f"PaletteTile-{payload.block_type or payload.kind}-{payload.columns or ''}".rstrip("-"))
        self.setText(title)
        self.setIcon(glyph(icon, "muted"))
        self.setIconSize(QSize(22, 22))
        self.setToolTip(f"{tip}\nDrag onto the email, or click to add it after the selected block.")
        self.setAccessibleName(title)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        # Tiles share the palette's width whatever their label: the grid, not the text, sets the size.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(0, 58)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self._press: QPointF | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and (event.position() - self._press).manhattanLength() \
                >= QApplication.startDragDistance():
            self._press = None
            self.setDown(False)
            self.start_drag()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def start_drag(self) -> Qt.DropAction:
        drag = QDrag(self)
        drag.setMimeData(self.payload.to_mime())
        drag.setPixmap(self._picture())
        drag.setHotSpot(QPoint(20, 16))
        return drag.exec(Qt.DropAction.CopyAction)

    def _picture(self) -> QPixmap:
        """A small chip with the tile's icon and name that follows the pointer."""
        colors = theme.colors()
        font = self.font()
        width = self.fontMetrics().horizontalAdvance(self.text()) + 48
        picture = QPixmap(width, 32)
        picture.fill(Qt.GlobalColor.transparent)
        painter = QPainter(picture)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(colors.q("accent"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(picture.rect(), 8, 8)
        glyph(self.payload.block_type or f"section-{self.payload.columns}", "on_accent").paint(painter, 8, 6, 20, 20)
        painter.setFont(font)
        painter.setPen(colors.q("on_accent"))
        painter.drawText(picture.rect().adjusted(34, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, self.text())
        painter.end()
        return picture


class Palette(QFrame):
    """Emits ``add_requested`` when a tile is clicked, ``delete_saved_requested`` from a saved block's menu."""

    add_requested = Signal(object)  # DragPayload
    delete_saved_requested = Signal(int, str)  # id, name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorPalette")
        self.tiles: dict[str, PaletteTile] = {}
        inner = QWidget()
        inner.setObjectName("EditorPaletteInner")
        column = QVBoxLayout(inner)
        column.setContentsMargins(12, 12, 12, 12)
        column.setSpacing(8)
        column.addWidget(label("Layout", object_name="PaletteHeading"))
        column.addLayout(self._grid([PaletteTile(DragPayload(NEW_SECTION, columns=n), title, f"section-{n}",
                                                 f"A section with {words}") for n, title, words in SECTIONS],
                                    columns=3))
        column.addWidget(label("Blocks", object_name="PaletteHeading"))
        blocks = [PaletteTile(DragPayload(NEW_BLOCK, block_type=name), BLOCK_TYPES[name].title, name,
                              BLOCK_TYPES[name].description) for name in BLOCK_ORDER]
        column.addLayout(self._grid(blocks, columns=2))
        column.addWidget(label("Saved blocks", object_name="PaletteHeading"))
        self.saved_area = QVBoxLayout()
        self.saved_area.setSpacing(4)
        column.addLayout(self.saved_area)
        self.saved_empty = label("Select a block and choose “Save as reusable” to keep it here.", "muted", wrap=True)
        self.saved_area.addWidget(self.saved_empty)
        column.addStretch(1)
        scroller = QScrollArea()
        scroller.setWidget(inner)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroller)
        self.setFixedWidth(PALETTE_WIDTH)
        self.restyle()

    def _grid(self, tiles: list[PaletteTile], columns: int) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(6)
        for number, tile in enumerate(tiles):
            key = tile.payload.block_type or f"section-{tile.payload.columns}"
            self.tiles[key] = tile
            tile.clicked.connect(lambda _=False, t=tile: self.add_requested.emit(t.payload))
            grid.addWidget(tile, number // columns, number % columns)
        return grid

    def set_saved_blocks(self, saved: list[SavedBlockInfo]) -> None:
        while self.saved_area.count() > 1:
            item = self.saved_area.takeAt(1)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for key in [k for k in self.tiles if k.startswith("saved:")]:
            del self.tiles[key]
        self.saved_empty.setVisible(not saved)
        for info in saved:
            payload = DragPayload(SAVED, saved_kind=info.kind, content=info.content,
                                  block_type=str(info.content.get("type", "")) if info.kind == "block" else "")
            columns = len(info.content.get("columns", [])) or 1
            icon = payload.block_type if info.kind == "block" else f"section-{columns}"
            tile = PaletteTile(payload, info.name, icon, f"Saved {info.kind}: {info.name}")
            tile.setObjectName(f"SavedBlock-{info.id}")
            tile.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            tile.setMinimumHeight(34)
            tile.setIconSize(QSize(18, 18))
            tile.clicked.connect(lambda _=False, t=tile: self.add_requested.emit(t.payload))
            tile.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            tile.customContextMenuRequested.connect(
                lambda pos, t=tile, i=info: self._saved_menu(t, i, pos))
            self.tiles[f"saved:{info.id}"] = tile
            self.saved_area.addWidget(tile)
        self.restyle()

    def _saved_menu(self, tile: PaletteTile, info: SavedBlockInfo, pos: QPoint) -> None:
        menu = QMenu(tile)
        menu.addAction(glyph("delete", "danger"), f"Delete “{info.name}”",
                       lambda: self.delete_saved_requested.emit(info.id, info.name))
        menu.popup(tile.mapToGlobal(pos))

    def restyle(self) -> None:
        c = theme.colors()
        self.setStyleSheet(
            f"QFrame#EditorPalette {{ background: {c.base}; border-right: 1px solid {c.border}; }}"
            f" QWidget#EditorPaletteInner {{ background: {c.base}; }}"
            f" QLabel#PaletteHeading {{ color: {c.muted}; font-size: 8.5pt; font-weight: 600;"
            " text-transform: uppercase; letter-spacing: 1px; margin-top: 6px; }"
            f" QToolButton {{ background: {c.alt_base}; border: 1px solid {c.border}; border-radius: 8px;"
            f" padding: 5px 2px; color: {c.text}; font-size: 8.5pt; }}"
            f" QToolButton:hover {{ border-color: {c.accent}; background: {c.accent_soft}; }}"
            f" QToolButton:pressed {{ background: {c.accent_soft}; }}")

