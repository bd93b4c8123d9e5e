"""The brand kit dialog: fonts, colours, sizes and width shared by every email, with a live sample."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.modules.editor.brand import FONT_STACKS, BrandKit
from app.modules.editor.document import Document, new_block, new_section
from app.modules.editor.messages import EditorError, SaveBrandKit
from app.modules.editor.ui.email_layout import EmailLayouter, paint_email
from app.modules.editor.ui.email_paint import EmailPainter, ImageCache
from app.modules.editor.ui.prop_pickers import swatch_icon
from app.ui.widgets import label

COLOURS = (("text_color", "Text"), ("heading_color", "Headings"), ("link_color", "Links"),
           ("button_color", "Buttons"), ("button_text_color", "Button labels"),
           ("content_background", "Email background"), ("background_color", "Page around the email"))
NUMBERS = (("font_size", "Text size", 12, 24, " px"), ("button_radius", "Button corners", 0, 30, " px"),
           ("content_width", "Email width", 480, 800, " px"))


def sample_document() -> Document:
    section = new_section(1, padding=20)
    section.columns[0].blocks.extend([
        new_block("heading", text="Your brand, every email", level=2),
        new_block("text", html="<p>Body text in your font and colour, with a <a href='https://example.com'>link"
                               "</a> in the link colour.</p>"),
        new_block("button", text="A button", url="https://example.com"),
    ])
    return Document([section])


class BrandSample(QWidget):
    """A small email drawn with the kit being edited, scaled to fit."""

    def __init__(self, images: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images = images
        self.brand = BrandKit()
        self.document = sample_document()
        self.setMinimumSize(QSize(340, 300))

    def set_brand(self, brand: BrandKit) -> None:
        self.brand = brand
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        painter.fillRect(self.rect(), QColor(self.brand.background_color))
        email_painter = EmailPainter(self.brand, self.images, decorate=False)
        layout = EmailLayouter(email_painter).layout(self.document, 0, 0)
        scale = min(1.0, (self.width() - 32) / max(1.0, layout.content.width()))
        painter.translate(16 + (self.width() - 32 - layout.content.width() * scale) / 2, 24)
        painter.scale(scale, scale)
        paint_email(painter, layout, email_painter)
        painter.end()


class BrandKitDialog(QDialog):
    """Saves through ``SaveBrandKit``; every template and thumbnail then redraws."""

    def __init__(self, ctx: Any, brand: BrandKit, images: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BrandKitDialog")
        self.setWindowTitle("Brand kit")
        self.ctx = ctx
        self.brand = brand
        self.fonts: dict[str, QComboBox] = {}
        self.colours: dict[str, QPushButton] = {}
        self.numbers: dict[str, QSpinBox] = {}
        form = self._form(brand)
        self.error = label("", "danger", wrap=True)
        self.error.hide()
        self.sample = BrandSample(images)
        self.sample.set_brand(brand)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        defaults = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        defaults.clicked.connect(lambda: self.show_kit(BrandKit()))
        row = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(label("Shared by every email: change it once, every template follows.", "muted", wrap=True))
        left.addLayout(form)
        left.addWidget(self.error)
        left.addStretch(1)
        row.addLayout(left)
        row.addWidget(self.sample, 1)
        column = QVBoxLayout(self)
        column.addLayout(row, 1)
        column.addWidget(buttons)
        self.resize(860, 560)

    def _form(self, brand: BrandKit) -> QFormLayout:
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, title in (("heading_font", "Heading font"), ("body_font", "Body font")):
            combo = QComboBox()
            combo.setObjectName(f"Brand-{key}")
            combo.addItems(list(FONT_STACKS))
            combo.setCurrentText(getattr(brand, key))
            combo.currentTextChanged.connect(lambda _t: self._changed())
            self.fonts[key] = combo
            form.addRow(title, combo)
        for key, title, low, high, suffix in NUMBERS:
            spin = QSpinBox()
            spin.setObjectName(f"Brand-{key}")
            spin.setRange(low, high)
            spin.setSuffix(suffix)
            spin.setValue(int(getattr(brand, key)))
            spin.valueChanged.connect(lambda _v: self._changed())
            self.numbers[key] = spin
            form.addRow(title, spin)
        for key, title in COLOURS:
            button = QPushButton()
            button.setObjectName(f"Brand-{key}")
            button.setProperty("colour", getattr(brand, key))
            button.clicked.connect(lambda _=False, k=key: self.choose_colour(k))
            self._paint_swatch(button)
            self.colours[key] = button
            form.addRow(title, button)
        return form

    def kit(self) -> BrandKit:
        values: dict[str, Any] = {key: combo.currentText() for key, combo in self.fonts.items()}
        values.update({key: spin.value() for key, spin in self.numbers.items()})
        values.update({key: str(button.property("colour")) for key, button in self.colours.items()})
        known = {f.name for f in fields(BrandKit)}
        return replace(self.brand, **{k: v for k, v in values.items() if k in known})

    def show_kit(self, kit: BrandKit) -> None:
        for key, combo in self.fonts.items():
            combo.setCurrentText(getattr(kit, key))
        for key, spin in self.numbers.items():
            spin.setValue(int(getattr(kit, key)))
        for key, button in self.colours.items():
            button.setProperty("colour", getattr(kit, key))
            self._paint_swatch(button)
        self._changed()

    def choose_colour(self, key: str) -> QColorDialog:
        button = self.colours[key]
        dialog = QColorDialog(QColor(str(button.property("colour"))), self)
        dialog.setObjectName("BrandColourDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.colorSelected.connect(lambda colour: self.set_colour(key, colour.name()))
        dialog.open()
        return dialog

    def set_colour(self, key: str, value: str) -> None:
        button = self.colours[key]
        button.setProperty("colour", value)
        self._paint_swatch(button)
        self._changed()

    def _paint_swatch(self, button: QPushButton) -> None:
        value = str(button.property("colour"))
        button.setIcon(swatch_icon(value))
        button.setText(f"  {value}")

    def _changed(self) -> None:
        self.error.hide()
        self.sample.set_brand(BrandKit.from_json(self.kit().to_json()))

    def save(self) -> bool:
        kit = self.kit()
        try:
            self.ctx.bus.execute(SaveBrandKit(kit=kit.to_json()))
        except EditorError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return False
        self.accept()
        return True
