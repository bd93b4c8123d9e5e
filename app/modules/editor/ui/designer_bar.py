"""The Designer's toolbar: back to the library, the template's name, undo/redo, problems, preview, save."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget

from app.modules.editor.ui.glyphs import glyph
from app.ui import theme
from app.ui.widgets import label


def _tool(name: str, icon: str, text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName(f"DesignerBar-{name}")
    button.setIcon(glyph(icon, "text"))
    button.setIconSize(QSize(18, 18))
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text
                              else Qt.ToolButtonStyle.ToolButtonIconOnly)
    return button


class DesignerBar(QFrame):
    """Emits ``action_requested`` with "save", "save-note", "preview", "history" or "brand-kit"."""

    action_requested = Signal(str)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DesignerBar")
        self.back = _tool("back", "back", "Templates", "Back to the template library")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("TemplateName")
        self.name_edit.setToolTip("The template's name (click to rename)")
        self.name_edit.setMaximumWidth(320)
        self.name_edit.setFrame(False)
        self.state = label("", "muted", object_name="DesignerState")
        self.undo = _tool("undo", "undo", "", "Undo (Ctrl+Z)")
        self.redo = _tool("redo", "redo", "", "Redo (Ctrl+Shift+Z)")
        self.undo.setEnabled(False)
        self.redo.setEnabled(False)
        undo_stack = session.undo_stack
        self.undo.clicked.connect(session.undo)
        self.redo.clicked.connect(session.redo)
        undo_stack.canUndoChanged.connect(self.undo.setEnabled)
        undo_stack.canRedoChanged.connect(self.redo.setEnabled)
        undo_stack.undoTextChanged.connect(lambda text: self.undo.setToolTip(f"Undo {text.lower()} (Ctrl+Z)"
                                                                             if text else "Undo (Ctrl+Z)"))
        undo_stack.redoTextChanged.connect(lambda text: self.redo.setToolTip(f"Redo {text.lower()} (Ctrl+Shift+Z)"
                                                                             if text else "Redo (Ctrl+Shift+Z)"))
        self.problems = QPushButton()
        self.problems.setObjectName("DesignerProblems")
        self.problems.setFlat(True)
        self.problems.hide()
        self.problems.clicked.connect(lambda: self.action_requested.emit("show-problems"))
        self.brand = _tool("brand-kit", "palette", "Brand kit", "Fonts, colours and width shared by every email")
        self.history = _tool("history", "history", "History", "Earlier versions: compare and restore")
        self.preview = _tool("preview", "eye", "Preview", "See the email as a contact will (Ctrl+P)")
        self.save = QPushButton(glyph("save", "on_accent"), "Save")
        self.save.setObjectName("DesignerSave")
        self.save.setProperty("primary", True)
        self.save.setToolTip("Save a new version (Ctrl+S); Ctrl+Shift+S adds a note")
        self.save.clicked.connect(lambda: self.action_requested.emit("save"))
        note = QToolButton()
        note.setObjectName("DesignerSaveNote")
        note.setText("▾")
        note.setToolTip("Save with a note…")
        note.setAutoRaise(True)
        note.clicked.connect(lambda: self.action_requested.emit("save-note"))
        for button, name in ((self.brand, "brand-kit"), (self.history, "history"), (self.preview, "preview")):
            button.clicked.connect(lambda _=False, n=name: self.action_requested.emit(n))
        self._layout(note)
        self._version = 0
        self._dirty = False
        self.restyle()

    def _layout(self, note: QToolButton) -> None:
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 12, 6)
        row.setSpacing(6)
        row.addWidget(self.back)
        row.addWidget(_separator())
        row.addWidget(self.name_edit)
        row.addWidget(self.state)
        row.addSpacing(8)
        row.addWidget(self.undo)
        row.addWidget(self.redo)
        row.addStretch(1)
        row.addWidget(self.problems)
        row.addWidget(self.brand)
        row.addWidget(self.history)
        row.addWidget(self.preview)
        row.addSpacing(4)
        row.addWidget(self.save)
        row.addWidget(note)

    def set_template(self, name: str, version: int) -> None:
        self.name_edit.setText(name)
        self._version = version
        self._show_state()

    def set_dirty(self, dirty: bool) -> None:
        self._dirty = dirty
        self._show_state()

    def set_saving(self, saving: bool) -> None:
        self.save.setEnabled(not saving)
        self.save.setText("Saving…" if saving else "Save")

    def _show_state(self) -> None:
        text = f"Version {self._version}"
        self.state.setText(f"{text} · unsaved changes" if self._dirty else f"{text} · saved")

    def set_problems(self, problems: list[Any]) -> None:
        colors = theme.colors()
        count = len(problems)
        self.problems.setVisible(count > 0)
        self.problems.setIcon(glyph("conditional", "danger"))
        self.problems.setText(f"{count} problem{'s' if count != 1 else ''}")
        self.problems.setToolTip("\n".join(str(p) for p in problems[:15]))
        self.problems.setStyleSheet(f"QPushButton#DesignerProblems {{ color: {colors.danger}; font-weight: 600; }}")

    def restyle(self) -> None:
        c = theme.colors()
        self.setStyleSheet(
            f"QFrame#DesignerBar {{ background: {c.base}; border-bottom: 1px solid {c.border}; }}"
            f" QLineEdit#TemplateName {{ font-size: 12.5pt; font-weight: 600; background: transparent;"
            f" padding: 3px 6px; border-radius: 6px; }}"
            f" QLineEdit#TemplateName:focus {{ background: {c.alt_base}; border: 1px solid {c.accent}; }}"
            f" QLineEdit#TemplateName:hover {{ background: {c.alt_base}; }}")


def _separator() -> QLabel:
    line = QLabel()
    line.setFixedSize(1, 22)
    line.setStyleSheet(f"background: {theme.colors().border};")
    return line
