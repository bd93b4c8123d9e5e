"""Small line icons drawn from inline SVG and tinted to the theme, so the sidebar needs no image files."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from app.ui.resources import resource_path

# 24x24 strokes in the spirit of common open icon sets, drawn for Postroom.
_SHAPES: dict[str, str] = {
    "home": '<path d="M3 11 12 4l9 7"/><path d="M5.5 9.5V20h13V9.5"/><path d="M10 20v-5h4v5"/>',
    "activity": '<path d="M3 12h4l2.5-6 5 12 2.5-6h4"/>',
    "contacts": '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6"/>'
                '<path d="M16 4.8a3.3 3.3 0 0 1 0 6.4"/><path d="M18 14.3c2.1.7 3.5 2.8 3.5 5.7"/>',
    "editor": '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/>',
    "campaigns": '<path d="M21 3 10 14"/><path d="M21 3l-7 18-4-7-7-4z"/>',
    "delivery": '<path d="M3 13l2.5-8h13L21 13v6H3z"/><path d="M3 13h5l1.5 3h5l1.5-3h5"/>',
    "stats": '<path d="M4 20h16"/><path d="M7 16v-5"/><path d="M12 16V6"/><path d="M17 16v-8"/>',
    "settings": '<path d="M4 7h10M18 7h2M4 17h4M12 17h8"/><circle cx="16" cy="7" r="2"/>'
                '<circle cx="10" cy="17" r="2"/>',
    "page": '<path d="M6 3h8l4 4v14H6z"/><path d="M14 3v4h4"/>',
    "folder": '<path d="M3 6.5A1.5 1.5 0 0 1 4.5 5H9l2 2h8.5A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 '
              '1.5h-15A1.5 1.5 0 0 1 3 17.5z"/>',
    "database": '<ellipse cx="12" cy="6" rx="7" ry="3"/><path d="M5 6v12c0 1.7 3.1 3 7 3s7-1.3 7-3V6"/>'
                '<path d="M5 12c0 1.7 3.1 3 7 3s7-1.3 7-3"/>',
    "file": '<path d="M6 3h8l4 4v14H6z"/><path d="M9 12h6M9 16h6"/>',
    "warning": '<path d="M12 3.5 2.5 20h19z"/><path d="M12 10v4.5"/><path d="M12 17.2v.3"/>',
    "error": '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v6"/><path d="M12 16.3v.3"/>',
    "check": '<circle cx="12" cy="12" r="9"/><path d="M8 12.5l2.5 2.5L16 9.5"/>',
    "question": '<circle cx="12" cy="12" r="9"/><path d="M9.6 9.4a2.5 2.5 0 1 1 3.4 2.4c-.6.3-1 .8-1 1.5v.5"/>'
                '<path d="M12 16.6v.3"/>',
    "mail": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3.5 6.5 12 13l8.5-6.5"/>',
    "close": '<path d="M6 6l12 12M18 6 6 18"/>',
    "list": '<path d="M8 6h12M8 12h12M8 18h12"/><path d="M4 6h.5M4 12h.5M4 18h.5"/>',
    "automations": '<rect x="3" y="3" width="8" height="5" rx="1.5"/><rect x="13" y="16" width="8" height="5" '
                   'rx="1.5"/><path d="M7 8v4a2 2 0 0 0 2 2h8v2"/>',
    "dashboard": '<rect x="3.5" y="3.5" width="7" height="9" rx="1"/>'
                 '<rect x="13.5" y="3.5" width="7" height="5" rx="1"/>'
                 '<rect x="3.5" y="15.5" width="7" height="5" rx="1"/>'
                 '<rect x="13.5" y="11.5" width="7" height="9" rx="1"/>',
    "report": '<path d="M6 3h8l4 4v14H6z"/><path d="M14 3v4h4"/><path d="M9 17v-3M12 17v-6M15 17v-4"/>',
}

# Names modules are likely to use, mapped to the drawings above.
_ALIASES = {
    "users": "contacts", "people": "contacts", "pen": "editor", "design": "editor", "send": "campaigns",
    "outbox": "delivery", "inbox": "delivery", "chart": "stats", "analytics": "stats", "preferences": "settings",
}

_SIZES = (16, 20, 24, 32, 48)


def known(name: str) -> bool:
    return _ALIASES.get(name, name) in _SHAPES


def _svg(name: str, color: str, stroke: float, size: int = 24) -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 24 24" fill="none" '
        f'stroke="{color}" stroke-width="{stroke}" stroke-linecap="round" stroke-linejoin="round">'
        f"{_SHAPES[name]}</svg>"
    ).encode()


def _pixmap(name: str, color: str, size: int) -> QPixmap:
    pixmap = QPixmap()
    # Thin strokes vanish at small sizes; thicken them a little as the icon shrinks.
    stroke = 2.0 if size <= 20 else 1.8
    pixmap.loadFromData(QByteArray(_svg(name, color, stroke, size)), "SVG")
    return pixmap


@cache
def line_icon(name: str, color: str, selected_color: str = "") -> QIcon:
    """A tinted line icon; ``selected_color`` tints it for selected list rows."""
    shape = _ALIASES.get(name, name)
    if shape not in _SHAPES:
        shape = "page"
    icon = QIcon()
    for size in _SIZES:
        icon.addPixmap(_pixmap(shape, color, size), QIcon.Mode.Normal)
        if selected_color:
            icon.addPixmap(_pixmap(shape, selected_color, size), QIcon.Mode.Selected)
    return icon


def page_icon(name: str, color: QColor, selected: QColor | None = None) -> QIcon:
    """The icon a page asked for: a drawing above, a file in resources/, a standard pixmap, or a theme icon."""
    selected_name = selected.name() if selected is not None else ""
    if not name or known(name):
        return line_icon(name or "page", color.name(), selected_name)
    path = resource_path(name)
    if path.suffix and path.is_file():
        return QIcon(str(path))
    if name.startswith("SP_") and hasattr(QStyle.StandardPixmap, name):
        return QApplication.style().standardIcon(getattr(QStyle.StandardPixmap, name))
    return QIcon.fromTheme(name, line_icon("page", color.name(), selected_name))
