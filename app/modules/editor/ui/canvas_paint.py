"""The canvas's editor hints drawn over the email: outlines, name tags, handles, empty slots and drop lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from app.modules.editor.ui.email_layout import DropTarget, paint_email
from app.modules.editor.ui.email_paint import CONDITION_COLOR
from app.modules.editor.ui.glyphs import glyph
from app.ui import theme

if TYPE_CHECKING:
    from app.modules.editor.ui.canvas import EmailCanvas


def paint_canvas(painter: QPainter, canvas: EmailCanvas, visible: QRectF | None = None) -> None:
    """The email, then the editor's hints over it (``visible``: the exposed part, in email coordinates)."""
    layout = canvas.layout_
    _shadow(painter, layout.content)
    paint_email(painter, layout, canvas.painter, visible)
    _empty_slots(painter, canvas)
    _outlines(painter, canvas)
    _problem_marks(painter, canvas)
    _selection(painter, canvas)
    if canvas.drop_target is not None:
        _drop_line(painter, canvas, canvas.drop_target)


def _empty_slots(painter: QPainter, canvas: EmailCanvas) -> None:
    layout = canvas.layout_
    colour = accent()
    if not layout.sections:
        _empty(painter, layout.content.adjusted(24, 24, -24, -24), "Drag a section or a block here to start",
               "Sections hold one to three columns; blocks go inside them.", colour, big=True)
    dragging = canvas.drop_target is not None
    for section in layout.sections:
        for column in section.columns:
            if not column.blocks:
                _empty(painter, column.rect.adjusted(2, 2, -2, -2), "Drop blocks here", "",
                       QColor(theme.colors().muted))
            elif dragging and len(section.columns) > 1:
                painter.setPen(dashed(QColor(colour.red(), colour.green(), colour.blue(), 90)))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(column.rect)
            for box in column.blocks:
                for nested in box.walk():
                    if nested.slot is not None and not nested.children:
                        _empty(painter, nested.slot.adjusted(2, 2, -2, -2), "Drop blocks to show to these contacts",
                               "", QColor(CONDITION_COLOR))


def _outlines(painter: QPainter, canvas: EmailCanvas) -> None:
    """A thin outline on what the mouse is over, and the grip of its section."""
    colour = accent()
    if canvas.hovered[0] and canvas.hovered != canvas.selection and canvas.drop_target is None:
        rect = canvas.item_rect(canvas.hovered)
        if rect is not None:
            painter.setPen(QPen(QColor(colour.red(), colour.green(), colour.blue(), 150), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
    for section_id in {_section_of(canvas, canvas.hovered), _section_of(canvas, canvas.selection)} - {""}:
        _handle(painter, canvas, section_id, selected=canvas.selection == ("section", section_id))


def _selection(painter: QPainter, canvas: EmailCanvas) -> None:
    kind, item = canvas.selection
    rect = canvas.item_rect(canvas.selection)
    if rect is None:
        return
    colour = accent()
    painter.setPen(QPen(colour, 2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(rect.adjusted(1, 1, -1, -1))
    if kind == "block":
        box = canvas.layout_.block_box(item)
        name = box.block.title if box else "Block"
    else:
        found = canvas.layout_.section_box(item)
        count = len(found.section.columns) if found else 1
        name = f"Section · {count} column{'s' if count > 1 else ''}"
    font = label_font(painter.font())
    painter.setFont(font)
    width = QFontMetricsF(font).horizontalAdvance(name) + 14
    tag = QRectF(rect.left(), rect.top() - 18, width, 18)
    if tag.top() < 0:
        tag.moveTop(rect.top())
    painter.fillPath(rounded(tag, 4), colour)
    painter.setPen(QColor(theme.colors().on_accent))
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, name)


def _problem_marks(painter: QPainter, canvas: EmailCanvas) -> None:
    danger = QColor(theme.colors().danger)
    for block_id in canvas.problem_blocks:
        box = canvas.layout_.block_box(block_id)
        if box is None:
            continue
        painter.setPen(QPen(QColor(danger.red(), danger.green(), danger.blue(), 150), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box.rect.adjusted(0.5, 0.5, -0.5, -0.5))
        mark = QRectF(box.rect.right() - 20, box.rect.top() + 4, 16, 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(danger)
        painter.drawEllipse(mark)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(label_font(painter.font(), 11))
        painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, "!")


def _drop_line(painter: QPainter, canvas: EmailCanvas, target: DropTarget) -> None:
    colour = accent()
    left, right, y = target.line
    if target.kind == "replace-image" and target.parent_id:
        box = canvas.layout_.block_box(target.parent_id)
        if box is not None:
            tint = QColor(colour)
            tint.setAlpha(40)
            painter.fillRect(box.rect, tint)
            painter.setPen(QPen(colour, 3))
            painter.drawRect(box.rect.adjusted(1.5, 1.5, -1.5, -1.5))
            _chip(painter, box.rect.center().x(), y, "Replace picture")
        return
    painter.setPen(QPen(colour, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(left, y), QPointF(right, y))
    painter.setBrush(colour)
    painter.drawEllipse(QPointF(left, y), 4, 4)
    painter.drawEllipse(QPointF(right, y), 4, 4)
    if target.kind != "block":
        _chip(painter, (left + right) / 2, y, "New section")


def _chip(painter: QPainter, x: float, y: float, text: str) -> None:
    font = label_font(painter.font(), 10)
    painter.setFont(font)
    width = QFontMetricsF(font).horizontalAdvance(text) + 14
    tag = QRectF(x - width / 2, y - 9, width, 18)
    painter.fillPath(rounded(tag, 9), accent())
    painter.setPen(QColor(theme.colors().on_accent))
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)


def _section_of(canvas: EmailCanvas, selection: tuple[str, str]) -> str:
    kind, item = selection
    if kind == "section":
        return item
    if kind == "block":
        box = canvas.layout_.block_box(item)
        return box.section_id if box else ""
    return ""


def _handle(painter: QPainter, canvas: EmailCanvas, section_id: str, *, selected: bool) -> None:
    rect = canvas.handle_rect(section_id)
    if rect is None:
        return
    colors = theme.colors()
    background = accent() if selected else QColor(colors.base)
    painter.fillPath(rounded(rect, 6), background)
    if not selected:
        painter.setPen(QPen(QColor(colors.border), 1))
        painter.drawPath(rounded(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6))
    icon = glyph("grip", "on_accent" if selected else "muted")
    icon.paint(painter, rect.adjusted(2, 12, -2, -12).toRect())


def _empty(painter: QPainter, rect: QRectF, title: str, text: str, colour: QColor, *, big: bool = False) -> None:
    soft = QColor(colour)
    soft.setAlpha(14)
    painter.fillPath(rounded(rect, 6), soft)
    line = QColor(colour)
    line.setAlpha(120)
    painter.setPen(dashed(line, 1.2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect, 6, 6)
    painter.setPen(colour)
    painter.setFont(label_font(painter.font(), 15 if big else 12, bold=big))
    if big:
        icon = glyph("plus", colour.name())
        icon.paint(painter, QRectF(rect.center().x() - 16, rect.center().y() - 56, 32, 32).toRect())
    title_rect = QRectF(rect.left() + 8, rect.center().y() - (16 if text else 9), rect.width() - 16, 20)
    painter.drawText(title_rect, Qt.AlignmentFlag.AlignCenter, title)
    if text:
        painter.setFont(label_font(painter.font(), 12, bold=False))
        painter.setPen(QColor(theme.colors().muted))
        painter.drawText(QRectF(rect.left() + 8, rect.center().y() + 8, rect.width() - 16, 20),
                         Qt.AlignmentFlag.AlignCenter, text)


def _shadow(painter: QPainter, rect: QRectF) -> None:
    for spread, alpha in ((10, 6), (6, 10), (3, 16), (1, 24)):
        painter.fillPath(rounded(rect.adjusted(-spread, -spread + 3, spread, spread + 3), spread + 2),
                         QColor(15, 23, 42, alpha))


def label_font(base: QFont, px: int = 11, bold: bool = True) -> QFont:
    font = QFont(base)
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def accent() -> QColor:
    return theme.colors().q("accent")


def rounded(rect: QRectF, radius: float) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(rect, radius, radius)
    return path


def dashed(color: QColor, width: float = 1.0) -> QPen:
    pen = QPen(color, width, Qt.PenStyle.DashLine)
    pen.setDashPattern([4, 3])
    return pen
