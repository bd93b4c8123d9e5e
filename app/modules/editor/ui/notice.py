"""A one-line message strip above the editor (what was saved, what went wrong) that hides itself."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QToolButton, QWidget

from app.modules.editor.ui.glyphs import glyph
from app.ui import theme
from app.ui.widgets import label

INFO_MS = 4000


class Notice(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EditorNotice")
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 6, 6, 6)
        self.text = label("", wrap=True, selectable=True)
        self.text.setObjectName("EditorNoticeText")
        row.addWidget(self.text, 1)
        close = QToolButton()
        close.setIcon(glyph("close", "muted"))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.kind = ""
        self.hide()

    def show_text(self, text: str, kind: str = "info") -> None:
        colors = theme.colors()
        self.kind = kind
        background, border = ((colors.danger_soft, colors.danger) if kind == "error"
                              else (colors.accent_soft, colors.accent))
        self.setStyleSheet(f"QFrame#EditorNotice {{ background: {background}; border-bottom: 1px solid {border}; }}"
                           " QFrame#EditorNotice QLabel { background: transparent; }")
        self.text.setText(text)
        self.show()
        # Problems stay until dismissed; good news fades.
        if kind == "error":
            self._timer.stop()
        else:
            self._timer.start(INFO_MS)
