"""Where each section, column and block of an email sits on the canvas, and where a drop at a point would land."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainter

from app.modules.editor.document import Block, Document, Section
from app.modules.editor.ui.email_paint import (
    CONDITION_BAR,
    CONDITION_INSET,
    EMPTY_SLOT,
    SIDE_PAD,
    SIDE_PAD_COLUMNS,
    EmailPainter,
)

EMPTY_EMAIL_HEIGHT = 260.0


@dataclass
class BlockBox:
    """A block on the canvas. A conditional block's children sit in ``slot``."""

    block: Block
    rect: QRectF
    section_id: str
    column: int
    index: int
    parent_id: str | None = None
    slot: QRectF | None = None
    children: list[BlockBox] = field(default_factory=list)
    side: float = SIDE_PAD

    def walk(self) -> Iterator[BlockBox]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class ColumnBox:
    section_id: str
    column: int
    rect: QRectF
    blocks: list[BlockBox]


@dataclass
class SectionBox:
    section: Section
    index: int
    rect: QRectF
    columns: list[ColumnBox]


@dataclass(frozen=True)
class DropTarget:
    """Where a drop lands. ``kind`` is "block" (into a column or a conditional block), "section" (a section
    placed at ``section_index``) or "new-section" (a block dropped outside every section gets its own section).
    ``line`` is the indicator: (left, right, y)."""

    kind: str
    line: tuple[float, float, float]
    section_id: str = ""
    column: int = 0
    index: int = 0
    parent_id: str | None = None
    section_index: int = 0


@dataclass
class EmailLayout:
    """The laid-out email: ``content`` is the email's own rectangle (the brand kit's width)."""

    content: QRectF
    sections: list[SectionBox]

    def blocks(self) -> Iterator[BlockBox]:
        """Every block box in reading order, nested ones right after their conditional block."""
        for section in self.sections:
            for column in section.columns:
                for box in column.blocks:
                    yield from box.walk()

    def block_box(self, block_id: str) -> BlockBox | None:
        return next((box for box in self.blocks() if box.block.id == block_id), None)

    def section_box(self, section_id: str) -> SectionBox | None:
        return next((box for box in self.sections if box.section.id == section_id), None)

    def section_at(self, pos: QPointF) -> SectionBox | None:
        return next((box for box in self.sections if box.rect.contains(pos)), None)

    def block_at(self, pos: QPointF) -> BlockBox | None:
        """The innermost block under ``pos`` (a block inside a conditional block wins over the conditional)."""
        found = None
        for box in self.blocks():
            if box.rect.contains(pos):
                found = box  # later boxes in reading order are nested deeper
        return found

    # -- drops ------------------------------------------------------------------------------------------

    def drop_target(self, pos: QPointF, *, places_section: bool, moving: Block | None = None) -> DropTarget:
        if places_section:
            return self._section_slot(pos)
        section = next((box for box in self.sections if box.rect.top() <= pos.y() < box.rect.bottom()), None)
        if section is None:
            slot = self._section_slot(pos)
            return DropTarget("new-section", slot.line, section_index=slot.section_index)
        column = min(section.columns, key=lambda c: _distance_x(c.rect, pos.x()))
        nest = moving is None or moving.type != "conditional"
        return self._in_list(column.blocks, column.rect, pos, section_id=section.section.id, column=column.column,
                             parent_id=None, nest=nest)

    def _in_list(self, boxes: list[BlockBox], area: QRectF, pos: QPointF, *, section_id: str, column: int,
                 parent_id: str | None, nest: bool) -> DropTarget:
        left, right = area.left(), area.right()
        for box in boxes:
            if nest and box.slot is not None and box.slot.contains(pos):
                return self._in_list(box.children, box.slot, pos, section_id=section_id, column=column,
                                     parent_id=box.block.id, nest=nest)
        for index, box in enumerate(boxes):
            if pos.y() < box.rect.center().y():
                return DropTarget("block", (left, right, box.rect.top()), section_id, column, index, parent_id)
        y = boxes[-1].rect.bottom() if boxes else area.top() + area.height() / 2
        return DropTarget("block", (left, right, y), section_id, column, len(boxes), parent_id)

    def _section_slot(self, pos: QPointF) -> DropTarget:
        left, right = self.content.left(), self.content.right()
        for box in self.sections:
            if pos.y() < box.rect.center().y():
                return DropTarget("section", (left, right, box.rect.top()), section_index=box.index)
        y = self.sections[-1].rect.bottom() if self.sections else self.content.top() + self.content.height() / 2
        return DropTarget("section", (left, right, y), section_index=len(self.sections))


def _distance_x(rect: QRectF, x: float) -> float:
    if rect.left() <= x <= rect.right():
        return 0.0
    return min(abs(rect.left() - x), abs(rect.right() - x))


class EmailLayouter:
    """Lays an email out at the brand kit's width from ``left``, ``top``; heights come from the painter."""

    def __init__(self, painter: EmailPainter) -> None:
        self.painter = painter
        self.decorate = painter.decorate

    def layout(self, document: Document, left: float = 0.0, top: float = 0.0) -> EmailLayout:
        width = float(self.painter.brand.content_width)
        y = top
        sections = []
        for index, section in enumerate(document.sections):
            box = self._section(section, index, left, y, width)
            sections.append(box)
            y = box.rect.bottom()
        height = y - top if sections else (EMPTY_EMAIL_HEIGHT if self.decorate else 0.0)
        return EmailLayout(QRectF(left, top, width, height), sections)

    def _section(self, section: Section, index: int, left: float, top: float, width: float) -> SectionBox:
        # As in the email HTML: the section pads above and below; blocks pad at the sides.
        pad = float(section.props.get("padding", 16) or 0)
        widths = section.widths()
        side = SIDE_PAD_COLUMNS if len(section.columns) > 1 else SIDE_PAD
        total = sum(widths) or 100
        x = left
        columns = []
        tallest = 0.0
        for number, (column, share) in enumerate(zip(section.columns, widths, strict=True)):
            column_width = width * share / total
            boxes, height = self._blocks(column.blocks, x, top + pad, column_width, section_id=section.id,
                                         column=number, parent_id=None, side=side)
            if not boxes:
                height = EMPTY_SLOT if self.decorate else 0.0
            slot = QRectF(x, top + pad, column_width, height)
            columns.append(ColumnBox(section.id, number, slot, boxes))
            tallest = max(tallest, height)
            x += column_width
        for column_box in columns:
            column_box.rect.setHeight(tallest)
        return SectionBox(section, index, QRectF(left, top, width, tallest + 2 * pad), columns)

    def _blocks(self, blocks: list[Block], x: float, top: float, width: float, *, section_id: str, column: int,
                parent_id: str | None, side: float) -> tuple[list[BlockBox], float]:
        boxes = []
        y = top
        for index, block in enumerate(blocks):
            if block.type == "conditional":
                bar = CONDITION_BAR + 4 if self.decorate else 0.0
                inset = CONDITION_INSET if self.decorate else 0.0
                children, height = self._blocks(block.children, x + inset, y + bar, width - 2 * inset,
                                                section_id=section_id, column=column, parent_id=block.id,
                                                side=max(0.0, side - inset))
                if not children:
                    height = EMPTY_SLOT if self.decorate else 0.0
                slot = QRectF(x + inset, y + bar, width - 2 * inset, height)
                total = bar + height + (8.0 if self.decorate else 0.0)
                boxes.append(BlockBox(block, QRectF(x, y, width, total), section_id, column, index, parent_id,
                                      slot, children, side))
            else:
                total = self.painter.height(block, width, side)
                boxes.append(BlockBox(block, QRectF(x, y, width, total), section_id, column, index, parent_id,
                                      side=side))
            y += total
        return boxes, y - top


def paint_email(painter: QPainter, layout: EmailLayout, email_painter: EmailPainter,
                visible: QRectF | None = None) -> None:
    """Paint the email's content area, section backgrounds and every block (no editor hints beyond decorate).

    With ``visible`` only the sections that reach into it are painted (the canvas repaints what is exposed)."""
    brand = email_painter.brand
    painter.fillRect(layout.content, QColor(brand.content_background))
    for section in layout.sections:
        if visible is not None and not section.rect.intersects(visible):
            continue
        background = section.section.props.get("background") or ""
        if background:
            painter.fillRect(section.rect, QColor(background))
        for column in section.columns:
            for box in column.blocks:
                for nested in box.walk():
                    email_painter.paint(painter, nested.block, nested.rect, nested.side)
