"""The library's grid of template cards: a model of plain TemplateInfo rows and a delegate that draws cards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.modules.editor.store import TemplateInfo
from app.ui import theme

CARD = QSize(232, 318)
THUMB_HEIGHT = 250
INFO_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


def ago(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """"just now", "5 minutes ago", "yesterday", "3 Mar 2025": when a template last changed (stored in UTC)."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes > 1 else ''} ago"
    if seconds < 86400:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    if seconds < 2 * 86400:
        return "yesterday"
    return f"{moment.day} {moment:%b %Y}"


class TemplateModel(QAbstractListModel):
    """Template cards; thumbnails arrive later (drawn in the background) through ``set_thumbnail``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.templates: list[TemplateInfo] = []
        self.pictures: dict[int, QPixmap] = {}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self.templates)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.templates):
            return None
        info = self.templates[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return info.name
        if role == INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pictures.get(info.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{info.name}\nVersion {info.current_version}, changed {ago(info.updated_at)}\nDouble-click to open"
        return None

    def set_templates(self, templates: list[TemplateInfo]) -> None:
        self.beginResetModel()
        self.templates = list(templates)
        known = {info.id for info in templates}
        self.pictures = {key: value for key, value in self.pictures.items() if key in known}
        self.endResetModel()

    def set_thumbnail(self, template_id: int, path: Path) -> None:
        picture = QPixmap(str(path))
        if picture.isNull():
            return
        self.pictures[template_id] = picture
        for row, info in enumerate(self.templates):
            if info.id == template_id:
                self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])

    def row_of(self, template_id: int) -> int:
        return next((row for row, info in enumerate(self.templates) if info.id == template_id), -1)


class CardDelegate(QStyledItemDelegate):
    """A card: the email's top as a picture, then the name and when it last changed."""

    def sizeHint(self, _option: QStyleOptionViewItem, _index: Index) -> QSize:
        return CARD

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        colors = theme.colors()
        info: TemplateInfo | None = index.data(INFO_ROLE)
        if info is None:
            return
        rect = QRectF(option.rect).adjusted(8, 8, -8, -8)  # type: ignore[attr-defined]
        state = option.state  # type: ignore[attr-defined]
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        card = QPainterPath()
        card.addRoundedRect(rect, 10, 10)
        if hovered or selected:
            shadow = QPainterPath()
            shadow.addRoundedRect(rect.adjusted(-2, 0, 2, 4), 12, 12)
            painter.fillPath(shadow, QColor(15, 23, 42, 22))
        painter.fillPath(card, QColor(colors.base))
        picture_area = QRectF(rect.left(), rect.top(), rect.width(), THUMB_HEIGHT - 16)
        painter.save()
        painter.setClipPath(card)
        picture: QPixmap | None = index.data(Qt.ItemDataRole.DecorationRole)
        if picture is not None and not picture.isNull():
            scaled = picture.scaledToWidth(int(picture_area.width() * picture.devicePixelRatio()),
                                           Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(picture_area.topLeft(), scaled,
                               QRectF(0, 0, scaled.width(), picture_area.height()))
        else:
            painter.fillRect(picture_area, QColor(colors.alt_base))
            painter.setPen(QColor(colors.muted))
            painter.drawText(picture_area, Qt.AlignmentFlag.AlignCenter, "Drawing the preview…")
        painter.restore()
        painter.setPen(QPen(QColor(colors.border), 1))
        painter.drawLine(picture_area.bottomLeft(), picture_area.bottomRight())
        text_area = QRectF(rect.left() + 12, picture_area.bottom() + 10, rect.width() - 24, 22)
        title = QFont(option.font)  # type: ignore[attr-defined]
        title.setBold(True)
        title.setPointSizeF(title.pointSizeF() * 1.05)
        painter.setFont(title)
        painter.setPen(QColor(colors.text))
        metrics = painter.fontMetrics()
        painter.drawText(text_area, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(info.name, Qt.TextElideMode.ElideRight, int(text_area.width())))
        small = QFont(option.font)  # type: ignore[attr-defined]
        small.setPointSizeF(small.pointSizeF() * 0.92)
        painter.setFont(small)
        painter.setPen(QColor(colors.muted))
        painter.drawText(text_area.translated(0, 22), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"Version {info.current_version} · {ago(info.updated_at)}")
        border = QColor(colors.accent) if selected else QColor(colors.accent if hovered else colors.border)
        painter.setPen(QPen(border, 2 if selected else 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)
        painter.restore()


class TemplateGrid(QListView):
    """A wrapping grid of cards that keeps its spacing as the window resizes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TemplateGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(6)
        self.setMouseTracking(True)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setItemDelegate(CardDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setStyleSheet("QListView#TemplateGrid { background: transparent; }")

    def visual_rect_of(self, row: int) -> QRect:
        model = self.model()
        return self.visualRect(model.index(row, 0)) if model is not None else QRect()
