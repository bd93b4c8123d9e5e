"""One editor per kind of block property (text, colour, number, choice, picture...), built from blocks.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor.blocks import PropField
from app.modules.editor.ui.email_paint import ImageCache
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.merge_fields import merge_menu
from app.modules.editor.ui.rich_text import RichTextEditor

TYPING_DELAY_MS = 350
LEVEL_NAMES = {1: "Large", 2: "Medium", 3: "Small"}


@dataclass
class EditorServices:
    """What editors need from the designer: custom fields for the merge menu, pictures, the brand kit."""

    custom_fields: Callable[[], list[str]]
    import_picture: Callable[[Path], str | None]
    images: ImageCache
    brand_colour: Callable[[str], str]


class FieldEditor(QWidget):
    """Emits ``changed(value)`` when the user changes the value; ``set_value`` never emits."""

    changed = Signal(object)

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.services = services
        self.setObjectName(f"Field-{field.key}")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Send a pending (typed) change now."""


class _Typed(FieldEditor):
    """Text typed by the user is sent a moment after typing stops, and when focus leaves the field."""

    def _debounce(self) -> None:
        self._timer = QTimer(self, singleShot=True, interval=TYPING_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        self._sent: Any = None

    def _typed(self) -> None:
        self._timer.start()

    def flush(self) -> None:
        self._timer.stop()
        value = self.value()
        if value != self._sent:
            self._sent = value
            self.changed.emit(value)

    def _merge_button(self, insert: Callable[[str], None]) -> QToolButton:
        button = QToolButton()
        button.setObjectName(f"MergeButton-{self.field.key}")
        button.setIcon(glyph("braces", "muted"))
        button.setToolTip("Insert a merge field")
        button.setAutoRaise(True)
        button.clicked.connect(lambda _=False: merge_menu(button, self.services.custom_fields(), insert).popup(
            button.mapToGlobal(button.rect().bottomLeft())))
        return button


class LineField(_Typed):
    """One line of text or a link (merge tags allowed)."""

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self._debounce()
        self.edit = QLineEdit()
        self.edit.setObjectName(f"Edit-{field.key}")
        if field.kind == "url":
            self.edit.setPlaceholderText("https://…")
        self.edit.textEdited.connect(lambda _t: self._typed())
        self.edit.editingFinished.connect(self.flush)
        self.row.addWidget(self.edit, 1)
        self.row.addWidget(self._merge_button(self.insert_tag))

    def insert_tag(self, tag: str) -> None:
        self.edit.insert(tag)
        self.edit.setFocus()
        self.flush()

    def value(self) -> str:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        text = str(value or "")
        self._sent = text
        if self.edit.text() != text:
            self.edit.setText(text)
            if not self.edit.hasFocus():
                self.edit.setCursorPosition(0)  # show the start of a long text, not its end


class TextAreaField(_Typed):
    """Several lines of plain text, or raw HTML in a fixed-width font."""

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self._debounce()
        self.edit = QPlainTextEdit()
        self.edit.setObjectName(f"Edit-{field.key}")
        self.edit.setTabChangesFocus(True)
        if field.kind == "html":
            font = QFont("monospace")
            font.setStyleHint(QFont.StyleHint.Monospace)
            self.edit.setFont(font)
            self.edit.setMinimumHeight(200)
            self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        else:
            self.edit.setFixedHeight(72)
        self.edit.textChanged.connect(self._typed)
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self.edit)
        self.row.addLayout(column, 1)
        self.row.addWidget(self._merge_button(self.insert_tag), 0, Qt.AlignmentFlag.AlignTop)
        self.edit.installEventFilter(self)

    def eventFilter(self, watched: object, event: object) -> bool:
        from PySide6.QtCore import QEvent

        if isinstance(event, QEvent) and event.type() == QEvent.Type.FocusOut:
            self.flush()
        return False

    def insert_tag(self, tag: str) -> None:
        self.edit.insertPlainText(tag)
        self.edit.setFocus()
        self.flush()

    def value(self) -> str:
        return self.edit.toPlainText()

    def set_value(self, value: Any) -> None:
        text = str(value or "")
        self._sent = text
        if self.edit.toPlainText() != text:
            self.edit.blockSignals(True)
            self.edit.setPlainText(text)
            self.edit.blockSignals(False)


class RichField(FieldEditor):
    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.editor = RichTextEditor(services.custom_fields)
        self.editor.edited.connect(self.changed.emit)
        self.row.addWidget(self.editor)

    def value(self) -> str:
        return self.editor.value()

    def set_value(self, value: Any) -> None:
        self.editor.set_value(str(value or ""))

    def flush(self) -> None:
        self.editor.flush()


class NumberField(FieldEditor):
    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.spin = QSpinBox()
        self.spin.setObjectName(f"Edit-{field.key}")
        self.spin.setRange(field.minimum, field.maximum)
        self.spin.setKeyboardTracking(False)
        if "(px)" in field.label:
            self.spin.setSuffix(" px")
        elif "(%)" in field.label:
            self.spin.setSuffix(" %")
        if field.key == "width" and field.minimum == 0:
            self.spin.setSpecialValueText("Fill the column")
        self.spin.valueChanged.connect(self.changed.emit)
        self.row.addWidget(self.spin)
        self.row.addStretch(1)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(int(value or 0))
        self.spin.blockSignals(False)


class SegmentedField(FieldEditor):
    """A few choices side by side (alignment, heading size)."""

    def __init__(self, field: PropField, services: EditorServices, options: list[tuple[Any, str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.options = options
        self.buttons: dict[Any, QToolButton] = {}
        self.row.setSpacing(0)
        for number, (value, text, icon) in enumerate(options):
            button = QToolButton()
            button.setObjectName(f"Choice-{field.key}-{value}")
            button.setCheckable(True)
            button.setToolTip(text)
            if icon:
                button.setIcon(glyph(icon, "text"))
                button.setIconSize(QSize(16, 16))
            else:
                button.setText(text)
            button.setMinimumWidth(40)
            self.group.addButton(button, number)
            self.buttons[value] = button
            self.row.addWidget(button)
        self.row.addStretch(1)
        self.group.idClicked.connect(lambda number: self.changed.emit(self.options[number][0]))

    def value(self) -> Any:
        number = self.group.checkedId()
        return self.options[number][0] if number >= 0 else None

    def set_value(self, value: Any) -> None:
        button = self.buttons.get(value)
        if button is not None:
            button.setChecked(True)


class ChoiceField(FieldEditor):
    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.combo = QComboBox()
        self.combo.setObjectName(f"Edit-{field.key}")
        for choice in field.choices:
            self.combo.addItem(choice.replace("_", " ").capitalize(), choice)
        self.combo.activated.connect(lambda _i: self.changed.emit(self.combo.currentData()))
        self.row.addWidget(self.combo, 1)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(value)))


class BoolField(FieldEditor):
    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self.box = QCheckBox(field.label)
        self.box.setObjectName(f"Edit-{field.key}")
        self.box.toggled.connect(self.changed.emit)
        self.row.addWidget(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)
