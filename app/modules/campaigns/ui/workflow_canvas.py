"""The workflow designer's canvas: step cards and connections on a QGraphicsScene, the palette they are dragged from,
and the view that takes the drops, zooms and deletes.

The scene draws a ``Graph`` (pure data) and never changes it itself: a drop, a move, a connection or a delete is
handed to ``WorkflowScene.changer`` (the designer), which pushes an undoable change and redraws. Payloads of a drag
from the palette are JSON under ``application/x-postroom-automation-step``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QByteArray, QMimeData, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDrag,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QStyleOptionGraphicsItem,
    QVBoxLayout,
    QWidget,
)

from app.modules.campaigns.automation_graph import (
    KINDS,
    STEP_KINDS,
    Edge,
    Graph,
    Node,
    node_title,
    step_names,
    summary,
)
from app.ui import theme

MIME = "application/x-postroom-automation-step"
CARD_W, CARD_H = 232.0, 76.0
PORT_R = 7.0
GRID = 20.0
KIND_COLORS = {"trigger": "#7a5af8", "send_email": "#2f80ed", "wait": "#e0922f", "branch": "#a155d6",
               "add_tag": "#27a35a", "remove_tag": "#5f8f3a", "update_field": "#149bb0", "move_list": "#3a8f86",
               "exit": "#d0473d"}


# 24x24 line drawings, one per step kind (the fonts on a bare desktop lack most symbol glyphs).
STEP_SHAPES = {
    "trigger": '<path d="M13 2.5 4.5 13.5h6.5l-1 8 8.5-11h-6.5z"/>',
    "send_email": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3.5 6.5 12 13l8.5-6.5"/>',
    "wait": '<circle cx="12" cy="12.5" r="8.5"/><path d="M12 8v4.5l3 2"/><path d="M9.5 2.5h5"/>',
    "branch": '<circle cx="6" cy="5.5" r="2.3"/><circle cx="6" cy="18.5" r="2.3"/><circle cx="18" cy="8" r="2.3"/>'
              '<path d="M6 7.8v8.4"/><path d="M18 10.3c0 4.2-6.5 3.2-11 6.4"/>',
    "add_tag": '<path d="M3 11.5V4h7.5l9.5 9.5-7.5 7.5z"/><circle cx="7.3" cy="8.3" r="1.3"/>'
               '<path d="M18 1.5v5M15.5 4h5"/>',
    "remove_tag": '<path d="M3 11.5V4h7.5l9.5 9.5-7.5 7.5z"/><circle cx="7.3" cy="8.3" r="1.3"/><path d="M15.5 4h5"/>',
    "update_field": '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/>',
    "move_list": '<path d="M9 6h11M9 12h11M9 18h11"/><path d="M4 6h.5M4 12h.5M4 18h.5"/>',
    "exit": '<path d="M10 4H5v16h5"/><path d="M14.5 8l4 4-4 4"/><path d="M18.5 12H9"/>',
}
_ICONS: dict[tuple[str, str, int], QPixmap] = {}


def step_icon(kind: str, color: str, size: int = 20) -> QPixmap:
    """The line drawing of a step kind in ``color`` (cached), drawn at twice the size for sharp scaling."""
    key = (kind, color, size)
    if key not in _ICONS:
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * 2}" height="{size * 2}" viewBox="0 0 24 24" '
               f'fill="none" stroke="{color}" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round">'
               f'{STEP_SHAPES.get(kind, STEP_SHAPES["trigger"])}</svg>')
        picture = QPixmap()
        picture.loadFromData(QByteArray(svg.encode()), "SVG")
        picture.setDevicePixelRatio(2.0)
        _ICONS[key] = picture
    return _ICONS[key]


def step_mime(kind: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(MIME, QByteArray(json.dumps({"kind": kind}).encode()))
    mime.setText(KINDS[kind].title)
    return mime


def kind_from_mime(mime: QMimeData) -> str | None:
    if not mime.hasFormat(MIME):
        return None
    try:
        kind = json.loads(bytes(mime.data(MIME).data()).decode()).get("kind")
    except (ValueError, AttributeError):
        return None
    return kind if kind in KINDS else None


def output_ports(kind: str) -> list[tuple[str, QPointF]]:
    """(branch, position in the card) of each outlet: bottom centre, or yes/no at a third and two thirds."""
    outs = KINDS[kind].outputs if kind in KINDS else ("",)
    if len(outs) == 1:
        return [(outs[0], QPointF(CARD_W / 2, CARD_H))]
    return [(branch, QPointF(CARD_W * (i + 1) / (len(outs) + 1), CARD_H)) for i, branch in enumerate(outs)]


def input_port() -> QPointF:
    return QPointF(CARD_W / 2, 0)


class NodeItem(QGraphicsObject):
    """One step as a rounded card: a coloured icon disc, the title, a one-line summary, and its ports."""

    def __init__(self, node: Node, text: str, problems: list[str]) -> None:
        super().__init__()
        self.node = node
        self.text = text
        self.problems = problems
        self.setPos(node.x, node.y)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        help_text = KINDS[node.kind].help if node.kind in KINDS else ""
        self.setToolTip("\n".join([text, *problems]) if problems else f"{text}\n{help_text}".strip())
        self._hover_port: str | None = None

    @property
    def node_id(self) -> str:
        return self.node.id

    def boundingRect(self) -> QRectF:
        return QRectF(-4, -PORT_R - 4, CARD_W + 8, CARD_H + 2 * PORT_R + 22)

    def card_rect(self) -> QRectF:
        return QRectF(0, 0, CARD_W, CARD_H)

    def port_at(self, local: QPointF) -> str | None:
        """The outlet (its branch name) under ``local``, or None."""
        for branch, where in output_ports(self.node.kind):
            if math.hypot(local.x() - where.x(), local.y() - where.y()) <= PORT_R + 5:
                return branch
        return None

    def output_scene_pos(self, branch: str) -> QPointF:
        for name, where in output_ports(self.node.kind):
            if name == branch:
                return self.mapToScene(where)
        return self.mapToScene(QPointF(CARD_W / 2, CARD_H))

    def input_scene_pos(self) -> QPointF:
        return self.mapToScene(input_port())

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        c = theme.colors()
        accent = QColor(KIND_COLORS.get(self.node.kind, c.accent))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.card_rect()
        # A soft shadow, then the card.
        shadow = QColor(0, 0, 0, 90 if c.dark else 28)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(shadow)
        painter.drawRoundedRect(rect.translated(0, 2), 12, 12)
        border = QColor(c.danger) if self.problems else QColor(c.border)
        width = 1.2
        if self.isSelected():
            border, width = QColor(c.accent), 2.4
        painter.setPen(QPen(border, width))
        painter.setBrush(QColor(c.base))
        painter.drawRoundedRect(rect, 12, 12)
        # A coloured strip on the left edge says the kind at a glance.
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(0, 0, 12, CARD_H), 6, 6)
        painter.save()
        painter.setClipRect(QRectF(0, 0, 5, CARD_H))
        painter.fillPath(strip, accent)
        painter.restore()
        # Icon disc.
        disc = QRectF(16, CARD_H / 2 - 17, 34, 34)
        soft = QColor(accent)
        soft.setAlpha(60 if c.dark else 36)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(soft)
        painter.drawEllipse(disc)
        tint = accent.lighter(130) if c.dark else accent.darker(105)
        icon = step_icon(self.node.kind, tint.name(), 18)
        painter.drawPixmap(QPointF(disc.center().x() - 9, disc.center().y() - 9), icon)
        # Title and summary, elided to the card.
        title_font = QFont(painter.font())
        title_font.setPointSizeF(10)
        title_font.setBold(True)
        body_font = QFont(painter.font())
        body_font.setPointSizeF(9)
        body_font.setBold(False)
        left, right = 60.0, CARD_W - 12
        painter.setFont(title_font)
        painter.setPen(QColor(c.text))
        title = QFontMetricsF(title_font).elidedText(node_title(self.node), Qt.TextElideMode.ElideRight, right - left)
        painter.drawText(QRectF(left, 14, right - left, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         title)
        painter.setFont(body_font)
        painter.setPen(QColor(c.danger) if self.problems else QColor(c.muted))
        shown = self.problems[0] if self.problems else self.text
        line = QFontMetricsF(body_font).elidedText(shown, Qt.TextElideMode.ElideRight, right - left)
        painter.drawText(QRectF(left, 38, right - left, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         line)
        self._paint_ports(painter, c, accent, body_font)

    def _paint_ports(self, painter: QPainter, c: theme.Colors, accent: QColor, font: QFont) -> None:
        if self.node.kind != "trigger":
            painter.setPen(QPen(QColor(c.border).darker(115) if not c.dark else QColor(c.muted), 1.5))
            painter.setBrush(QColor(c.base))
            painter.drawEllipse(input_port(), PORT_R - 2, PORT_R - 2)
        painter.setFont(font)
        for branch, where in output_ports(self.node.kind):
            hovered = self._hover_port == branch
            color = QColor({"yes": c.success, "no": c.danger}.get(branch, accent.name()))
            painter.setPen(QPen(color, 2))
            painter.setBrush(color if hovered else QColor(c.base))
            painter.drawEllipse(where, PORT_R, PORT_R)
            if branch:  # beside the dot, away from the line that leaves it
                painter.setPen(color)
                left = branch == "yes"
                box = QRectF(where.x() - PORT_R - 34, where.y() - 2, 30, 16) if left else \
                    QRectF(where.x() + PORT_R + 4, where.y() - 2, 30, 16)
                painter.drawText(box, (Qt.AlignmentFlag.AlignRight if left else Qt.AlignmentFlag.AlignLeft)
                                 | Qt.AlignmentFlag.AlignVCenter, branch)

    # -- interaction: drag a port to connect, drag the card to move

    def hoverMoveEvent(self, event: Any) -> None:
        port = self.port_at(event.pos())
        if port != self._hover_port:
            self._hover_port = port
            self.setCursor(Qt.CursorShape.CrossCursor if port is not None else Qt.CursorShape.OpenHandCursor)
            self.update()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover_port = None
        self.update()
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        port = self.port_at(event.pos()) if event.button() == Qt.MouseButton.LeftButton else None
        scene = self.scene()
        if port is not None and isinstance(scene, WorkflowScene):
            scene.begin_connection(self, port)
            event.accept()
            return
        self._press_pos = self.pos()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, WorkflowScene) and scene.connecting is not None:
            scene.drag_connection(event.scenePos())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, WorkflowScene) and scene.connecting is not None:
            scene.end_connection(event.scenePos())
            return
        super().mouseReleaseEvent(event)
        if isinstance(scene, WorkflowScene):
            scene.finish_moves()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and isinstance(value, QPointF):
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)  # snap to the grid
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            scene = self.scene()
            if isinstance(scene, WorkflowScene):
                scene.reroute(self.node_id)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    """A connection from an outlet to a step, drawn as a curve with an arrow; selectable to delete."""

    def __init__(self, edge: Edge) -> None:
        super().__init__()
        self.edge = edge
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self._arrow = QPainterPath()

    def route(self, start: QPointF, end: QPointF) -> None:
        path = QPainterPath(start)
        bend = max(40.0, abs(end.y() - start.y()) / 2)
        if end.y() < start.y() + 20:  # going back up: swing out to the side
            bend = 120.0
        path.cubicTo(QPointF(start.x(), start.y() + bend), QPointF(end.x(), end.y() - bend), end)
        self.setPath(path)
        self._arrow = QPainterPath(end)
        self._arrow.lineTo(end + QPointF(-5.5, -9))
        self._arrow.lineTo(end + QPointF(5.5, -9))
        self._arrow.closeSubpath()

    def shape(self) -> QPainterPath:
        from PySide6.QtGui import QPainterPathStroker

        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        c = theme.colors()
        color = QColor({"yes": c.success, "no": c.danger}.get(self.edge.branch, c.muted))
        if self.isSelected():
            color = QColor(c.accent)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 2.6 if self.isSelected() else 1.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPath(self._arrow)


class WorkflowScene(QGraphicsScene):
    """Draws a graph; hands every change the user makes to ``changer`` (the designer's undoable edits)."""

    selection_changed_to = Signal(str)  # a node id, or "" for none

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.graph = Graph()
        self.nodes: dict[str, NodeItem] = {}
        self.edges: list[EdgeItem] = []
        self.names: Mapping[str, Mapping[Any, str]] = {}
        self.problems: dict[str, list[str]] = {}
        self.connecting: tuple[NodeItem, str] | None = None
        self._rubber: QGraphicsPathItem | None = None
        self.on_add: Callable[[str, QPointF], object] | None = None
        self.on_moves: Callable[[dict[str, tuple[float, float]]], None] | None = None
        self.on_connect: Callable[[str, str, str], None] | None = None
        self.on_delete: Callable[[list[str], list[Edge]], None] | None = None
        self.setSceneRect(QRectF(-2000, -1000, 6000, 5000))
        self.selectionChanged.connect(self._selection)

    def show_graph(self, graph: Graph, problems: dict[str, list[str]], selected: str = "") -> None:
        self.graph = graph
        self.problems = problems
        self.blockSignals(True)
        self.clear()
        self._rubber = None
        self.nodes, self.edges = {}, []
        names = {**self.names, "steps": step_names(graph)}
        for node in graph.nodes:
            item = NodeItem(node, summary(node, names), problems.get(node.id, []))
            self.addItem(item)
            self.nodes[node.id] = item
            if node.id == selected:
                item.setSelected(True)
        for edge in graph.edges:
            if edge.source in self.nodes and edge.target in self.nodes:
                line = EdgeItem(edge)
                self.addItem(line)
                self.edges.append(line)
        self.blockSignals(False)
        for node_id in self.nodes:
            self.reroute(node_id)
        # Room around the drawing to drop new steps, and scroll bars that match what is there.
        content = self.itemsBoundingRect() if self.nodes else QRectF(0, 0, CARD_W, CARD_H)
        self.setSceneRect(content.adjusted(-900, -500, 900, 700))
        self._selection()

    def reroute(self, node_id: str) -> None:
        for line in self.edges:
            if node_id in (line.edge.source, line.edge.target):
                source, target = self.nodes[line.edge.source], self.nodes[line.edge.target]
                line.route(source.output_scene_pos(line.edge.branch), target.input_scene_pos())

    def selected_node(self) -> str:
        for item in self.selectedItems():
            if isinstance(item, NodeItem):
                return item.node_id
        return ""

    def _selection(self) -> None:
        self.selection_changed_to.emit(self.selected_node())

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        c = theme.colors()
        painter.fillRect(rect, QColor(c.alt_base))
        dots = QColor(c.border)
        painter.setPen(QPen(dots, 1.6))
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        x = left
        points = []
        while x < rect.right():
            y = top
            while y < rect.bottom():
                points.append(QPointF(x, y))
                y += GRID
            x += GRID
        if len(points) < 40_000:  # zoomed far out the dots would only be noise
            painter.drawPoints(points)

    # -- connecting by dragging from an outlet

    def begin_connection(self, item: NodeItem, branch: str) -> None:
        self.connecting = (item, branch)
        self._rubber = QGraphicsPathItem()
        self._rubber.setPen(QPen(QColor(theme.colors().accent), 2, Qt.PenStyle.DashLine))
        self._rubber.setZValue(10)
        self.addItem(self._rubber)
        self.drag_connection(item.output_scene_pos(branch))

    def drag_connection(self, where: QPointF) -> None:
        if self.connecting is None or self._rubber is None:
            return
        start = self.connecting[0].output_scene_pos(self.connecting[1])
        path = QPainterPath(start)
        bend = max(30.0, abs(where.y() - start.y()) / 2)
        path.cubicTo(QPointF(start.x(), start.y() + bend), QPointF(where.x(), where.y() - bend), where)
        self._rubber.setPath(path)

    def node_at(self, where: QPointF) -> NodeItem | None:
        for item in self.items(where):
            if isinstance(item, NodeItem) and item.card_rect().adjusted(-4, -PORT_R - 4, 4, 0).contains(
                    item.mapFromScene(where)):
                return item
        return None

    def end_connection(self, where: QPointF) -> None:
        source, branch = self.connecting or (None, "")
        self.connecting = None
        if self._rubber is not None:
            self.removeItem(self._rubber)
            self._rubber = None
        target = self.node_at(where)
        if (source is not None and target is not None and target is not source and target.node.kind != "trigger"
                and self.on_connect is not None):
            self.on_connect(source.node_id, branch, target.node_id)

    # -- moves and deletes

    def finish_moves(self) -> None:
        moved = {node_id: (item.pos().x(), item.pos().y()) for node_id, item in self.nodes.items()
                 if (item.node.x, item.node.y) != (item.pos().x(), item.pos().y())}
        if moved and self.on_moves is not None:
            self.on_moves(moved)

    def delete_selection(self) -> None:
        node_ids = [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]
        edges = [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]
        if (node_ids or edges) and self.on_delete is not None:
            self.on_delete(node_ids, edges)


class WorkflowView(QGraphicsView):
    """The canvas: takes steps dropped from the palette, zooms with Ctrl+wheel, deletes with Del."""

    zoom_changed = Signal(float)

    def __init__(self, scene: WorkflowScene) -> None:
        super().__init__(scene)
        self.setObjectName("WorkflowCanvas")
        self.setAcceptDrops(True)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.zoom = 1.0

    @property
    def workflow(self) -> WorkflowScene:
        scene = self.scene()
        assert isinstance(scene, WorkflowScene)
        return scene

    def dragEnterEvent(self, event: Any) -> None:
        if kind_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if kind_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:
        kind = kind_from_mime(event.mimeData())
        if kind is None or self.workflow.on_add is None:
            event.ignore()
            return
        where = self.mapToScene(event.position().toPoint()) - QPointF(CARD_W / 2, CARD_H / 2)
        self.workflow.on_add(kind, QPointF(round(where.x() / GRID) * GRID, round(where.y() / GRID) * GRID))
        event.acceptProposedAction()

    def set_zoom(self, value: float) -> None:
        value = max(0.3, min(2.0, value))
        self.setTransform(self.transform().fromScale(value, value))
        self.zoom = value
        self.zoom_changed.emit(value)

    def fit(self) -> None:
        items = self.workflow.itemsBoundingRect()
        if items.isEmpty():
            self.set_zoom(1.0)
            return
        self.fitInView(items.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom = min(1.0, self.transform().m11())
        self.set_zoom(self.zoom)
        self.centerOn(items.center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom * (1.1 if event.angleDelta().y() > 0 else 1 / 1.1))
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.workflow.delete_selection()
            event.accept()
            return
        super().keyPressEvent(event)


class PaletteTile(QFrame):
    """A step kind to drag onto the canvas (double-click adds it below the selected step)."""

    activated = Signal(str)

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.setObjectName("WorkflowPaletteTile")
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip(f"{KINDS[kind].help}. Drag it onto the canvas.")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.setSpacing(8)
        self.icon = QLabel()
        self.icon.setFixedSize(28, 28)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row.addWidget(self.icon)
        text = QVBoxLayout()
        text.setSpacing(0)
        self.title = QLabel(KINDS[kind].title)
        self.title.setStyleSheet("font-weight: 600;")
        text.addWidget(self.title)
        row.addLayout(text, 1)
        self._press: QPointF | None = None
        self.restyle()

    def restyle(self) -> None:
        c = theme.colors()
        accent = QColor(KIND_COLORS.get(self.kind, c.accent))
        soft = QColor(accent)
        soft.setAlpha(60 if c.dark else 36)
        self.setStyleSheet(
            f"QFrame#WorkflowPaletteTile {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 8px; }}"
            f"QFrame#WorkflowPaletteTile:hover {{ border-color: {accent.name()}; }}"
            f"QFrame#WorkflowPaletteTile QLabel {{ background: transparent; border: none; }}")
        self.icon.setStyleSheet(f"background: rgba({soft.red()},{soft.green()},{soft.blue()},{soft.alpha()});"
                                "border-radius: 14px;")
        tint = accent.lighter(130) if c.dark else accent.darker(105)
        self.icon.setPixmap(step_icon(self.kind, tint.name(), 16))

    def mime(self) -> QMimeData:
        return step_mime(self.kind)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        if (event.position() - self._press).manhattanLength() < 8:
            return
        self._press = None
        drag = QDrag(self)
        drag.setMimeData(self.mime())
        picture = QPixmap(self.size())
        picture.fill(Qt.GlobalColor.transparent)
        self.render(picture)
        drag.setPixmap(picture)
        drag.setHotSpot(event.position().toPoint())
        drag.exec(Qt.DropAction.CopyAction)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self.kind)
        event.accept()


class Palette(QWidget):
    """The step kinds, top to bottom, under a heading."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("WorkflowPalette")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        heading = QLabel("Steps")
        heading.setProperty("role", "section")
        column.addWidget(heading)
        hint = QLabel("Drag a step onto the canvas, then drag from a step's dot to the next step.")
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        column.addWidget(hint)
        self.tiles = {kind: PaletteTile(kind) for kind in STEP_KINDS}
        for tile in self.tiles.values():
            column.addWidget(tile)
        column.addStretch(1)
        self.setFixedWidth(180)

    def restyle(self) -> None:
        for tile in self.tiles.values():
            tile.restyle()


def brush(color: str) -> QBrush:
    return QBrush(QColor(color))
