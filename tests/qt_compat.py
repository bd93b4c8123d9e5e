"""Small differences between the Qt versions we support, for tests that build Qt events by hand."""

from __future__ import annotations

from PySide6 import __version_info__ as pyside_version
from PySide6.QtCore import QPoint, QPointF


def drag_position(point: QPointF) -> QPoint | QPointF:
    """Drag enter/move events take a QPoint before Qt 6.12 and a QPointF from 6.12 (QPoint is deprecated there)."""
    return point if tuple(pyside_version[:2]) >= (6, 12) else point.toPoint()
