"""Small building blocks shared by the shell's pages: labels with a role, cards, and the page error panel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton, QVBoxLayout, QWidget

from app.ui import icons, theme


def label(text: str, role: str = "", *, object_name: str = "", wrap: bool = False,
          selectable: bool = False) -> QLabel:
    widget = QLabel(text)
    if role:
        widget.setProperty("role", role)
    if object_name:
        widget.setObjectName(object_name)
    widget.setWordWrap(wrap)
    if selectable:
        widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return widget


class TintedIcon(QLabel):
    """A line icon in one of the theme's colours; ``refresh()`` repaints it after the theme changes."""

    def __init__(self, name: str, size: int = 20, tint: str = "muted", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name, self.tint, self.icon_size = name, tint, size
        self.setFixedSize(size, size)
        self.refresh()

    def refresh(self) -> None:
        color = getattr(theme.colors(), self.tint)
        self.setPixmap(icons.line_icon(self.name, color).pixmap(self.icon_size, self.icon_size))


def icon_label(name: str, size: int = 20, tint: str = "muted") -> TintedIcon:
    return TintedIcon(name, size, tint)


def card(object_name: str = "") -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("Card")
    if object_name:
        frame.setAccessibleName(object_name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(18, 16, 18, 16)
    layout.setSpacing(8)
    return frame, layout


def open_folder(path: Path) -> bool:
    """Show ``path`` in the desktop's file manager (the folder itself when it is a file)."""
    folder = path if path.is_dir() else path.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class ErrorPanel(QFrame):
    """Shown in place of a page that failed to build: what failed, why, and where the details are."""

    def __init__(self, title: str, message: str, hint: str = "",
                 retry: Callable[[], object] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PageErrorPanel")
        self.message = message
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(14)
        layout.addWidget(icon_label("error", 28, "danger"), 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(6)
        text.addWidget(label(title, object_name="CardTitle", wrap=True))
        text.addWidget(label(message, "danger", wrap=True, selectable=True))
        if hint:
            text.addWidget(label(hint, "muted", wrap=True, selectable=True))
        if retry is not None:
            button = QPushButton("Try again")
            button.clicked.connect(retry)
            row = QHBoxLayout()
            row.addWidget(button)
            row.addStretch(1)
            text.addLayout(row)
        layout.addLayout(text, 1)


def centered_page(inner: QWidget, max_width: int = 920) -> QWidget:
    """Wrap ``inner`` so wide windows keep a readable line length instead of stretching content edge to edge."""
    outer = QWidget()
    row = QHBoxLayout(outer)
    row.setContentsMargins(0, 0, 0, 0)
    inner.setMaximumWidth(max_width)
    row.addStretch(0)
    row.addWidget(inner, 1)
    row.addStretch(0)
    return outer


class Notice(QFrame):
    """A one-line message strip above a page's content (information or a problem) with a close button.

    Problems stay until dismissed; information hides after ``info_ms`` (0: stays) unless a call says otherwise.
    ``boxed`` draws a rounded box (inside a page) instead of a strip along the top edge.
    """

    def __init__(self, parent: QWidget | None = None, *, info_ms: int = 4000, boxed: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("Notice")
        self._info_ms = info_ms
        self._boxed = boxed
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        self.text = label("", wrap=True, selectable=True)
        row.addWidget(self.text, 1)
        close = QToolButton()
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.kind = ""
        self.hide()

    def show_text(self, text: str, kind: str = "info", timeout_ms: int | None = None) -> None:
        colors = theme.colors()
        self.kind = kind
        background, border = ((colors.danger_soft, colors.danger) if kind == "error"
                              else (colors.accent_soft, colors.accent))
        frame = (f"border: 1px solid {border}; border-radius: 8px;" if self._boxed
                 else f"border-bottom: 1px solid {border};")
        self.setStyleSheet(f"QFrame#Notice {{ background: {background}; {frame} }}"
                           " QFrame#Notice QLabel { background: transparent; }")
        self.text.setText(text)
        self.show()
        hide_after = timeout_ms if timeout_ms is not None else (0 if kind == "error" else self._info_ms)
        if hide_after:
            self._timer.start(hide_after)
        else:
            self._timer.stop()
