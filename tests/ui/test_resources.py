"""Bundled files are found in the source tree and inside a PyInstaller bundle; the app always has an icon."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from app.ui.resources import app_icon, resource_path

ROOT = Path(__file__).resolve().parents[2]


def test_resources_come_from_the_source_tree(monkeypatch: Any) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert resource_path("postroom.svg") == ROOT / "resources" / "postroom.svg"


def test_resources_come_from_the_bundle_when_frozen(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("postroom.svg") == tmp_path / "resources" / "postroom.svg"


def test_the_app_icon_is_never_empty(qapp: QApplication) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(32, 32).isNull()
