"""The little toolbar that floats beside the selected block: move, duplicate, save as reusable, delete."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QFrame, QToolButton, QVBoxLayout, QWidget

from app.modules.editor.ui.glyphs import glyph
from app.ui import theme

ACTIONS = (
    ("up", "up", "Move up (Alt+Up)"),
    ("down", "down", "Move down (Alt+Down)"),
    ("duplicate", "duplicate", "Duplicate (Ctrl+D)"),
    ("save-reusable", "bookmark", "Save as reusable block…"),
    ("delete", "delete", "Delete (Del)"),
)


class SelectionToolbar(QFrame):
    """Emits the name of the action clicked; the designer carries it out on the selected block."""

    triggered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CanvasSelectionToolbar")
        colors = theme.colors()
        self.setStyleSheet(
            f"QFrame#CanvasSelectionToolbar {{ background: {colors.base}; border: 1px solid {colors.border};"
            " border-radius: 8px; }"
            f" QToolButton {{ border: none; border-radius: 6px; padding: 4px; }}"
            f" QToolButton:hover {{ background: {colors.accent_soft}; }}")
        column = QVBoxLayout(self)
        column.setContentsMargins(3, 3, 3, 3)
        column.setSpacing(1)
        self.buttons: dict[str, QToolButton] = {}
        for name, icon, tip in ACTIONS:
            button = QToolButton()
            button.setObjectName(f"CanvasAction-{name}")
            button.setIcon(glyph(icon, "danger" if name == "delete" else "muted"))
            button.setIconSize(QSize(18, 18))
            button.setToolTip(tip)
            button.setAccessibleName(tip.split(" (")[0].rstrip("…"))
            button.clicked.connect(lambda _=False, n=name: self.triggered.emit(n))
            column.addWidget(button)
            self.buttons[name] = button
