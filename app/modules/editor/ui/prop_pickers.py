"""Property editors that open a picker: colours (the colour dialog) and pictures (a file or a web address)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor.blocks import PropField
from app.modules.editor.store import IMAGE_SUFFIXES
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.prop_editors import EditorServices, FieldEditor


class ColorField(FieldEditor):
    """A swatch that opens the colour dialog; "Brand" goes back to the brand kit's colour."""

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self._value = ""
        self.swatch = QPushButton()
        self.swatch.setObjectName(f"Edit-{field.key}")
        self.swatch.setIconSize(QSize(18, 18))
        self.swatch.clicked.connect(self.choose)
        self.reset = QToolButton()
        self.reset.setText("Use brand colour")
        self.reset.setAutoRaise(True)
        self.reset.clicked.connect(lambda _=False: self._pick(""))
        self.row.addWidget(self.swatch)
        self.row.addWidget(self.reset)
        self.row.addStretch(1)
        self.dialog: QColorDialog | None = None

    def choose(self) -> QColorDialog:
        """Open the colour dialog (not blocking); picking a colour changes the value."""
        shown = self._value or self.services.brand_colour(self.field.key)
        dialog = QColorDialog(QColor(shown), self)
        dialog.setObjectName("EditorColorDialog")
        dialog.setWindowTitle(f"{self.field.label}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.colorSelected.connect(lambda colour: self._pick(colour.name()))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _pick(self, value: str) -> None:
        if value != self._value:
            self.set_value(value)
            self.changed.emit(value)

    def value(self) -> str:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = str(value or "")
        shown = self._value or self.services.brand_colour(self.field.key)
        self.swatch.setIcon(swatch_icon(shown))
        self.swatch.setText(f"  {self._value}" if self._value else "  Brand colour")
        self.reset.setVisible(bool(self._value))


def swatch_icon(colour: str) -> QIcon:
    """A colour chip with a hairline edge, so white shows on white."""
    pixmap = QPixmap(18, 18)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(QColor(0, 0, 0, 70))
    painter.drawRoundedRect(0.5, 0.5, 17, 17, 4, 4)
    painter.end()
    return QIcon(pixmap)


class ImageField(FieldEditor):
    """A picture from the computer (copied into Postroom) or a web address."""

    def __init__(self, field: PropField, services: EditorServices, parent: QWidget | None = None) -> None:
        super().__init__(field, services, parent)
        self._value = ""
        column = QVBoxLayout()
        column.setSpacing(6)
        self.preview = QLabel()
        self.preview.setObjectName("ImagePreview")
        self.preview.setFixedHeight(96)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("QLabel#ImagePreview { background: #eef1f5; border-radius: 6px; color: #7b8796; }")
        choose = QPushButton(glyph("image", "text"), "Choose a picture…")
        choose.setObjectName("ChoosePicture")
        choose.clicked.connect(self.choose_file)
        self.url = QLineEdit()
        self.url.setObjectName("Edit-src-url")
        self.url.setPlaceholderText("…or a web address: https://…")
        self.url.editingFinished.connect(self._url_entered)
        column.addWidget(self.preview)
        column.addWidget(choose)
        column.addWidget(self.url)
        self.row.addLayout(column, 1)

    def choose_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in IMAGE_SUFFIXES)
        name, _ = QFileDialog.getOpenFileName(self, "Choose a picture", "", f"Pictures ({patterns})")
        if name:
            self.use_file(Path(name))

    def use_file(self, path: Path) -> None:
        reference = self.services.import_picture(path)
        if reference:
            self.set_value(reference)
            self.changed.emit(reference)

    def _url_entered(self) -> None:
        text = self.url.text().strip()
        if text != (self._value if not self._value.startswith("asset:") else ""):
            self.set_value(text)
            self.changed.emit(text)

    def value(self) -> str:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = str(value or "")
        self.url.setText("" if self._value.startswith("asset:") else self._value)
        image = self.services.images.get(self._value)
        if image is not None:
            self.preview.setPixmap(QPixmap.fromImage(image).scaled(
                QSize(260, 96), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        else:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Web picture (shown in the preview)" if self._value else "No picture yet")
