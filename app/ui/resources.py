"""Find bundled files (icons, styles) in the source tree or inside a PyInstaller bundle."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import app

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

APP_ICON_FILE = "postroom.svg"


def resources_dir() -> Path:
    # A PyInstaller bundle unpacks data next to its own Python, not beside the app package.
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(app.__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    """The path of ``name`` in the resources folder (it may not exist; check before use)."""
    return resources_dir() / name


@cache
def app_icon() -> QIcon:
    """The Postroom icon; a standard pixmap stands in until the artwork file exists."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QStyle

    path = resource_path(APP_ICON_FILE)
    if path.is_file():
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    style = QApplication.style()
    return style.standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView)
