"""The design canvas: the email drawn as it will look, where blocks are selected, dragged and dropped."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Block, Document
from app.modules.editor.ui.canvas_paint import paint_canvas
from app.modules.editor.ui.canvas_tools import SelectionToolbar
from app.modules.editor.ui.dnd import MOVE_BLOCK, MOVE_SECTION, DragPayload, accepts, picture_files
from app.modules.editor.ui.email_layout import DropTarget, EmailLayout, EmailLayouter
from app.modules.editor.ui.email_paint import EmailPainter, ImageCache

TOP_MARGIN = 32.0
SIDE_MARGIN = 52.0  # room for the section handle on the left and the block toolbar on the right
SMALLEST_SCALE = 0.6  # narrower windows scroll instead of shrinking the email further
HANDLE = QSize(22, 44)

Selection = tuple[str, str]  # ("block" | "section" | "", id)
NOTHING: Selection = ("", "")


class EmailCanvas(QWidget):
    """Shows a document; emits what the user asked for. It never changes the document itself."""

    selection_changed = Signal(str, str)  # kind, id
    drop_requested = Signal(object, object)  # DragPayload or list[Path], DropTarget
    action_requested = Signal(str)  # "up", "down", "duplicate", "delete", "save-reusable", "edit"

    def __init__(self, images: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorCanvas")
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Email canvas")
        self.images = images
        self.document = Document()
        self.brand = BrandKit()
        self.painter = EmailPainter(self.brand, images)
        # The email is laid out at its real size from (0, 0); it is drawn at ``origin``, shrunk by ``scale``
        # when the window is too narrow to show it whole.
        self.layout_: EmailLayout = EmailLayouter(self.painter).layout(self.document)
        self.origin = QPointF(SIDE_MARGIN, TOP_MARGIN)
        self.scale = 1.0
        self.selection: Selection = NOTHING
        self.hovered: Selection = NOTHING
        self.drop_target: DropTarget | None = None
        self.problem_blocks: set[str] = set()
        self._press: tuple[QPointF, Selection] | None = None
        self.toolbar = SelectionToolbar(self)
        self.toolbar.triggered.connect(self.action_requested)
        self.toolbar.hide()

    # -- what is shown -----------------------------------------------------------------------------------

    def set_document(self, document: Document) -> None:
        self.document = document
        kind, item = self.selection
        if (kind == "block" and document.find_block(item) is None) or (
                kind == "section" and document.find_section(item) is None):
            self.selection = NOTHING
            self.selection_changed.emit("", "")
        self._relayout()

    def set_brand(self, brand: BrandKit) -> None:
        self.brand = brand
        self.painter = EmailPainter(brand, self.images)
        self._relayout()

    def set_problem_blocks(self, block_ids: set[str]) -> None:
        """Blocks with a merge-tag problem get a red mark (the panel says what is wrong)."""
        if block_ids != self.problem_blocks:
            self.problem_blocks = set(block_ids)
            self.update()

    def refresh_images(self) -> None:
        """A picture finished loading: lay out again (text layouts stay cached)."""
        self._relayout()

    def select(self, kind: str, item_id: str) -> None:
        selection = (kind, item_id) if item_id else NOTHING
        if selection == self.selection:
            return
        self.selection = selection
        self._place_toolbar()
        self.update()
        self.selection_changed.emit(*selection)
        self.reveal(selection)

    def reveal(self, selection: Selection) -> None:
        email_rect = self.item_rect(selection)
        rect = self.to_widget(email_rect) if email_rect is not None else None
        scroller = self._scroll_area()
        if rect is not None and scroller is not None:
            scroller.ensureVisible(int(rect.center().x()), int(rect.top()), 40, 40)
            scroller.ensureVisible(int(rect.center().x()), int(min(rect.bottom(), rect.top() + 200)), 40, 40)

    def item_rect(self, selection: Selection) -> QRectF | None:
        kind, item = selection
        if kind == "block":
            box = self.layout_.block_box(item)
            return box.rect if box else None
        if kind == "section":
            section = self.layout_.section_box(item)
            return section.rect if section else None
        return None

    def to_widget(self, rect: QRectF) -> QRectF:
        """An email rectangle in this widget's coordinates."""
        return QRectF(self.origin + rect.topLeft() * self.scale, rect.size() * self.scale)

    def to_email(self, pos: QPointF) -> QPointF:
        return (pos - self.origin) / self.scale

    def block_rect(self, block_id: str) -> QRectF:
        """Where a block is drawn, in this widget's coordinates (tests drop things relative to it)."""
        rect = self.item_rect(("block", block_id))
        if rect is None:
            raise LookupError(f"block {block_id} is not on the canvas")
        return self.to_widget(rect)

    def section_rect(self, section_id: str) -> QRectF:
        rect = self.item_rect(("section", section_id))
        if rect is None:
            raise LookupError(f"section {section_id} is not on the canvas")
        return self.to_widget(rect)

    def content_rect(self) -> QRectF:
        return self.to_widget(self.layout_.content)

    def _relayout(self) -> None:
        width = float(self.brand.content_width)
        self.layout_ = EmailLayouter(self.painter).layout(self.document)
        room = self.width() - 2 * SIDE_MARGIN
        self.scale = max(SMALLEST_SCALE, min(1.0, room / width))
        shown = width * self.scale
        self.origin = QPointF(max(SIDE_MARGIN, (self.width() - shown) / 2), TOP_MARGIN)
        height = int(TOP_MARGIN * 2 + self.layout_.content.height() * self.scale)
        self.setMinimumSize(int(width * SMALLEST_SCALE + 2 * SIDE_MARGIN), height)
        self._place_toolbar()
        self.update()

    def _place_toolbar(self) -> None:
        rect = self.item_rect(self.selection) if self.selection[0] == "block" else None
        if rect is None:
            self.toolbar.hide()
            return
        self.toolbar.adjustSize()
        shown = self.to_widget(rect)
        right = self.content_rect().right()
        x = right + 8 if right + 8 + self.toolbar.width() <= self.width() else right - self.toolbar.width() - 4
        self.toolbar.move(int(x), int(max(shown.top(), 0)))
        self.toolbar.show()
        self.toolbar.raise_()

    def sizeHint(self) -> QSize:
        return QSize(int(self.brand.content_width + 2 * SIDE_MARGIN),
                     int(TOP_MARGIN * 2 + self.layout_.content.height()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    # -- painting ------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                               | QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor(self.brand.background_color))
        painter.translate(self.origin)
        painter.scale(self.scale, self.scale)
        exposed = QRectF(event.rect())
        visible = QRectF(self.to_email(exposed.topLeft()), exposed.size() / self.scale)
        paint_canvas(painter, self, visible)
        painter.end()

    # -- mouse ---------------------------------------------------------------------------------------------

    def handle_rect(self, section_id: str) -> QRectF | None:
        section = self.layout_.section_box(section_id)
        if section is None:
            return None
        return QRectF(section.rect.left() - HANDLE.width() - 8, section.rect.top() + 6, HANDLE.width(),
                      HANDLE.height())

    def hit(self, widget_pos: QPointF) -> Selection:
        """What a click at ``widget_pos`` means: a section handle, a block, a section, or nothing."""
        pos = self.to_email(widget_pos)
        for section in self.layout_.sections:
            handle = self.handle_rect(section.section.id)
            if handle is not None and handle.contains(pos):
                return ("section", section.section.id)
        box = self.layout_.block_at(pos)
        if box is not None:
            return ("block", box.block.id)
        section_box = self.layout_.section_at(pos)
        if section_box is not None:
            return ("section", section_box.section.id)
        return NOTHING

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        target = self.hit(event.position())
        self.select(*target)
        self._press = (event.position(), target) if target != NOTHING else None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.hit(event.position())[0] == "block":
            self.action_requested.emit("edit")

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            start, target = self._press
            if (event.position() - start).manhattanLength() >= QApplication.startDragDistance():
                self._press = None
                self._start_drag(target, start)
            return
        hovered = self.hit(event.position())
        if hovered != self.hovered:
            before, self.hovered = self.hovered, hovered
            self.setCursor(Qt.CursorShape.OpenHandCursor if hovered[0] else Qt.CursorShape.ArrowCursor)
            self._update_around(before, hovered)

    def _update_around(self, *selections: Selection) -> None:
        """Repaint only the sections that the outlines and grips of ``selections`` touch (hovering is cheap)."""
        for kind, item in selections:
            section_id = item if kind == "section" else ""
            if kind == "block":
                box = self.layout_.block_box(item)
                section_id = box.section_id if box else ""
            section = self.layout_.section_box(section_id) if section_id else None
            if section is not None:
                rect = self.to_widget(section.rect).adjusted(-SIDE_MARGIN, -20, SIDE_MARGIN, 4)
                self.update(rect.toAlignedRect())

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:
        self._press = None

    def leaveEvent(self, _event: object) -> None:
        before, self.hovered = self.hovered, NOTHING
        self._update_around(before)

    def _start_drag(self, target: Selection, start: QPointF) -> None:
        kind, item = target
        payload = DragPayload(MOVE_BLOCK if kind == "block" else MOVE_SECTION, item_id=item)
        drag = QDrag(self)
        drag.setMimeData(payload.to_mime())
        email_rect = self.item_rect(target)
        if email_rect is not None:
            rect = self.to_widget(email_rect)
            drag.setPixmap(self._drag_picture(rect))
            drag.setHotSpot(QPoint(int(min(start.x() - rect.left(), 360)), int(min(start.y() - rect.top(), 160))))
        drag.exec(Qt.DropAction.MoveAction)

    def _drag_picture(self, rect: QRectF) -> QPixmap:
        shown = rect.intersected(QRectF(rect.left(), rect.top(), 360, 160)).toAlignedRect()
        picture = self.grab(shown)
        faded = QPixmap(picture.size())
        faded.fill(Qt.GlobalColor.transparent)
        painter = QPainter(faded)
        painter.setOpacity(0.75)
        painter.drawPixmap(0, 0, picture)
        painter.end()
        return faded

    # -- keyboard ------------------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and alt:
            self.action_requested.emit("up" if key == Qt.Key.Key_Up else "down")
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._step(-1 if key in (Qt.Key.Key_Up, Qt.Key.Key_Left) else 1)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selection != NOTHING:
            self.action_requested.emit("delete")
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.selection[0] == "block":
            self.action_requested.emit("edit")
        elif key == Qt.Key.Key_Escape:
            self._select_parent()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _step(self, direction: int) -> None:
        """Arrow keys walk blocks in reading order (or sections, when a section is selected)."""
        kind, item = self.selection
        if kind == "section":
            ids = [s.section.id for s in self.layout_.sections]
        else:
            kind = "block"
            ids = [box.block.id for box in self.layout_.blocks()]
        if not ids:
            return
        if item in ids:
            position = max(0, min(len(ids) - 1, ids.index(item) + direction))
        else:
            position = 0 if direction > 0 else len(ids) - 1
        self.select(kind, ids[position])

    def _select_parent(self) -> None:
        kind, item = self.selection
        if kind == "block":
            section = next((s for s in self.layout_.sections
                            if any(b.block.id == item for c in s.columns for top in c.blocks for b in top.walk())),
                           None)
            self.select("section", section.section.id if section else "")
        else:
            self.select("", "")

    # -- drag and drop -----------------------------------------------------------------------------------

    def _target_for(self, event: QDropEvent | QDragMoveEvent) -> DropTarget | None:
        mime = event.mimeData()
        payload = DragPayload.from_mime(mime)
        if payload is None:
            if not picture_files(mime):
                return None
            pos = self.to_email(event.position())
            box = self.layout_.block_at(pos)
            if box is not None and box.block.type == "image":
                # A picture dropped on an image block replaces its picture.
                rect = box.rect
                return DropTarget("replace-image", (rect.left(), rect.right(), rect.center().y()),
                                  parent_id=box.block.id)
            return self.layout_.drop_target(pos, places_section=False)
        moving: Block | None = None
        if payload.kind == MOVE_BLOCK:
            moving = self.document.find_block(payload.item_id)
            if moving is None:
                return None
        elif payload.block_type == "conditional" or payload.content.get("type") == "conditional":
            moving = Block("conditional")
        return self.layout_.drop_target(self.to_email(event.position()), places_section=payload.places_section,
                                        moving=moving)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not accepts(event.mimeData()):
            event.ignore()
            return
        self.drop_target = self._target_for(event)
        event.acceptProposedAction()
        self.update()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        target = self._target_for(event)
        if target is None:
            event.ignore()
            return
        self.drop_target = target
        scroller = self._scroll_area()
        if scroller is not None:
            scroller.ensureVisible(int(event.position().x()), int(event.position().y()), 0, 48)
        event.acceptProposedAction()
        self.update()

    def dragLeaveEvent(self, _event: QDragLeaveEvent) -> None:
        self.drop_target = None
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        target = self._target_for(event)
        self.drop_target = None
        self.update()
        if target is None:
            event.ignore()
            return
        payload = DragPayload.from_mime(event.mimeData())
        files: list[Path] = picture_files(event.mimeData()) if payload is None else []
        moving = payload is not None and payload.kind in (MOVE_BLOCK, MOVE_SECTION)
        event.setDropAction(Qt.DropAction.MoveAction if moving else Qt.DropAction.CopyAction)
        event.accept()
        self.drop_requested.emit(payload if payload is not None else files, target)

    def _scroll_area(self) -> QScrollArea | None:
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        return parent

