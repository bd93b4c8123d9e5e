"""The editor's own line icons (block kinds, canvas actions, text formatting), drawn like the shell's icons."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QIcon, QPixmap

from app.ui import theme

# 24x24 strokes, drawn for Postroom's editor.
_SHAPES: dict[str, str] = {
    "heading": '<path d="M6 5v14M18 5v14M6 12h12"/>',
    "text": '<path d="M4 6h16M4 10h16M4 14h16M4 18h10"/>',
    "image": '<rect x="3" y="5" width="18" height="14" rx="2"/><circle cx="9" cy="10" r="1.8"/>'
             '<path d="M4 18l5.5-5.5 3.5 3.5 2.5-2.5L20 18"/>',
    "button": '<rect x="3" y="8" width="18" height="8" rx="3"/><path d="M9 12h6"/>',
    "divider": '<path d="M3 12h18"/><path d="M8 7h8M8 17h8" stroke-opacity=".45"/>',
    "spacer": '<path d="M12 4v16"/><path d="M8 7l4-3 4 3M8 17l4 3 4-3"/><path d="M4 12h3M17 12h3"/>',
    "social": '<circle cx="6" cy="12" r="2.5"/><circle cx="18" cy="6" r="2.5"/><circle cx="18" cy="18" r="2.5"/>'
              '<path d="M8.3 10.8l7.4-3.6M8.3 13.2l7.4 3.6"/>',
    "html": '<path d="M8 7l-5 5 5 5M16 7l5 5-5 5M14 4l-4 16"/>',
    "footer": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 15h18M7 18h10" />',
    "conditional": '<path d="M12 3l8 9-8 9-8-9z"/><path d="M12 9v4M12 16v.3"/>',
    "section-1": '<rect x="3" y="6" width="18" height="12" rx="2"/>',
    "section-2": '<rect x="3" y="6" width="8" height="12" rx="1.5"/>'
                 '<rect x="13" y="6" width="8" height="12" rx="1.5"/>',
    "section-3": '<rect x="2.5" y="6" width="5.4" height="12" rx="1.2"/><rect x="9.3" y="6" width="5.4" height="12" '
                 'rx="1.2"/><rect x="16.1" y="6" width="5.4" height="12" rx="1.2"/>',
    "up": '<path d="M12 19V5M6 11l6-6 6 6"/>',
    "down": '<path d="M12 5v14M6 13l6 6 6-6"/>',
    "duplicate": '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10'
                 'a1 1 0 0 0 1 1h3"/>',
    "delete": '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>',
    "bookmark": '<path d="M6 3h12v18l-6-4-6 4z"/>',
    "undo": '<path d="M9 14L4 9l5-5"/><path d="M4 9h10a6 6 0 0 1 0 12h-3"/>',
    "redo": '<path d="M15 14l5-5-5-5"/><path d="M20 9H10a6 6 0 0 0 0 12h3"/>',
    "eye": '<path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>',
    "save": '<path d="M5 3h11l5 5v11a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/>'
            '<path d="M7 3v6h9V3M7 21v-7h10v7"/>',
    "history": '<path d="M3 12a9 9 0 1 0 3-6.7L3 8"/><path d="M3 3v5h5M12 7v5l3 3"/>',
    "palette": '<path d="M12 3a9 9 0 1 0 0 18c1.1 0 1.5-.8 1.5-1.5 0-1.4-1-1.6-1-2.8 0-1 .8-1.7 1.8-1.7H17'
               'a4 4 0 0 0 4-4C21 6.6 17 3 12 3z"/><circle cx="7.5" cy="11" r="1"/><circle cx="10" cy="7" r="1"/>'
               '<circle cx="14.5" cy="7" r="1"/>',
    "back": '<path d="M15 5l-7 7 7 7"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "import": '<path d="M12 3v12M7 10l5 5 5-5"/><path d="M4 17v3h16v-3"/>',
    "export": '<path d="M12 15V3M7 8l5-5 5 5"/><path d="M4 17v3h16v-3"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l4.5 4.5"/>',
    "bold": '<path d="M7 4h6a4 4 0 0 1 0 8H7zM7 12h7a4 4 0 0 1 0 8H7z"/>',
    "italic": '<path d="M10 4h8M6 20h8M14 4l-4 16"/>',
    "underline": '<path d="M7 4v7a5 5 0 0 0 10 0V4M5 20h14"/>',
    "link": '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/>'
            '<path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
    "bullets": '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="4.5" cy="6" r="1"/><circle cx="4.5" cy="12" r="1"/>'
               '<circle cx="4.5" cy="18" r="1"/>',
    "numbers": '<path d="M10 6h10M10 12h10M10 18h10M4 5l1.5-1v5M3.5 14.5a1.5 1.5 0 1 1 2.5 1.2L3.5 19H6"/>',
    "align-left": '<path d="M4 6h16M4 10h10M4 14h16M4 18h10"/>',
    "align-center": '<path d="M4 6h16M7 10h10M4 14h16M7 18h10"/>',
    "align-right": '<path d="M4 6h16M10 10h10M4 14h16M10 18h10"/>',
    "braces": '<path d="M8 4c-2 0-3 1-3 3v2c0 1.5-1 3-2 3 1 0 2 1.5 2 3v2c0 2 1 3 3 3M16 4c2 0 3 1 3 3v2c0 1.5 1 3 2 '
              '3-1 0-2 1.5-2 3v2c0 2-1 3-3 3"/>',
    "desktop": '<rect x="3" y="4" width="18" height="12" rx="1.5"/><path d="M8 20h8M12 16v4"/>',
    "phone": '<rect x="7" y="2.5" width="10" height="19" rx="2"/><path d="M11 18.5h2"/>',
    "send": '<path d="M21 3 10 14"/><path d="M21 3l-7 18-4-7-7-4z"/>',
    "grip": '<circle cx="9" cy="6" r="1"/><circle cx="15" cy="6" r="1"/><circle cx="9" cy="12" r="1"/>'
            '<circle cx="15" cy="12" r="1"/><circle cx="9" cy="18" r="1"/><circle cx="15" cy="18" r="1"/>',
    "more": '<circle cx="5" cy="12" r="1"/><circle cx="12" cy="12" r="1"/><circle cx="19" cy="12" r="1"/>',
}


def _pixmap(name: str, color: str, size: int) -> QPixmap:
    stroke = 2.0 if size <= 20 else 1.7
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 24 24" fill="none" '
           f'stroke="{color}" stroke-width="{stroke}" stroke-linecap="round" stroke-linejoin="round">'
           f"{_SHAPES.get(name, _SHAPES['text'])}</svg>")
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(svg.encode()), "SVG")
    return pixmap


@cache
def _icon(name: str, color: str, disabled: str) -> QIcon:
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        icon.addPixmap(_pixmap(name, color, size), QIcon.Mode.Normal)
        icon.addPixmap(_pixmap(name, disabled, size), QIcon.Mode.Disabled)
    return icon


def glyph(name: str, tint: str = "text") -> QIcon:
    """An editor icon in one of the theme's colours (``tint`` names a field of ``theme.Colors`` or is a colour)."""
    colors = theme.colors()
    color = tint if tint.startswith("#") else getattr(colors, tint, colors.text)
    return _icon(name, color, colors.disabled_text)
