"""Light and dark looks on the Fusion style; "Follow system" tracks the desktop's colour scheme live."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.ui.stylesheet import stylesheet_for

THEME_KEY = "ui.theme"
MODES = ("system", "light", "dark")
MODE_LABELS = {"system": "Follow system", "light": "Light", "dark": "Dark"}


@dataclass(frozen=True)
class Colors:
    """The few colours the shell uses; widgets ask for these instead of hard-coding hex values."""

    dark: bool
    window: str
    sidebar: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    button: str
    accent: str
    accent_soft: str
    on_accent: str
    danger: str
    danger_soft: str
    warning: str
    success: str
    disabled_text: str

    def q(self, name: str) -> QColor:
        return QColor(getattr(self, name))


LIGHT = Colors(
    dark=False, window="#f5f6f8", sidebar="#eceef2", base="#ffffff", alt_base="#f7f8fa", text="#1c2230",
    muted="#5f6776", border="#dcdfe5", button="#ffffff", accent="#2e63d6", accent_soft="#dde7fb",
    on_accent="#ffffff", danger="#c2362b", danger_soft="#fbe9e7", warning="#a35c00", success="#23824a",
    disabled_text="#a1a7b2",
)
DARK = Colors(
    dark=True, window="#1f2228", sidebar="#181a1f", base="#15171b", alt_base="#1b1e23", text="#e5e8ed",
    muted="#9aa2b1", border="#30343c", button="#2a2e36", accent="#5b8def", accent_soft="#25324d",
    on_accent="#ffffff", danger="#ef6b5e", danger_soft="#3d2222", warning="#e5a54b", success="#5cc98a",
    disabled_text="#6b7280",
)

_active: Colors = LIGHT


def colors() -> Colors:
    """The colours of the theme in use now."""
    return _active


def palette_for(c: Colors) -> QPalette:
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    palette = QPalette()
    values = {
        role.Window: c.window, role.WindowText: c.text, role.Base: c.base, role.AlternateBase: c.alt_base,
        role.Text: c.text, role.Button: c.button, role.ButtonText: c.text, role.BrightText: c.on_accent,
        role.Highlight: c.accent, role.HighlightedText: c.on_accent, role.ToolTipBase: c.base,
        role.ToolTipText: c.text, role.PlaceholderText: c.muted, role.Link: c.accent, role.LinkVisited: c.accent,
        role.Light: QColor(c.button).lighter(115).name(), role.Midlight: c.alt_base, role.Mid: c.border,
        role.Dark: QColor(c.border).darker(130).name(), role.Shadow: "#000000",
    }
    for key, value in values.items():
        palette.setColor(key, QColor(value))
    for key in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, key, QColor(c.disabled_text))
    palette.setColor(group.Disabled, role.Highlight, QColor(c.border))
    return palette


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


class ThemeController(QObject):
    """Owns the app's palette and stylesheet; emits ``changed`` so custom-drawn parts can recolour."""

    changed = Signal()

    def __init__(self, app: QApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode if mode in MODES else "system"
        app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self.apply()

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        mode = mode if mode in MODES else "system"
        if mode != self._mode:
            self._mode = mode
            self.apply()

    def apply(self) -> None:
        global _active  # noqa: PLW0603 - one look per process, read by many widgets
        dark = self._mode == "dark" or (self._mode == "system" and system_is_dark())
        _active = DARK if dark else LIGHT
        self._app.setPalette(palette_for(_active))
        self._app.setStyleSheet(stylesheet_for(_active))
        self.changed.emit()

    def _on_system_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode == "system":
            self.apply()
