"""The template library: starters with thumbnails, search, new, duplicate, delete, import and export HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from app.modules.editor import store
from app.modules.editor.ui.editor_page import EditorPage
from tests.ui.editor.conftest import TIMEOUT


def names(page: EditorPage) -> list[str]:
    return [info.name for info in page.library.model.templates]


def test_the_starters_show_with_drawn_thumbnails(qtbot: Any, page: EditorPage) -> None:
    library = page.library
    assert sorted(names(page)) == ["Announcement", "Newsletter", "Welcome"]
    qtbot.waitUntil(lambda: len(library.model.pictures) == 3, timeout=TIMEOUT)
    for info in store.list_templates(page.db):
        assert info.thumbnail is not None
        assert info.thumbnail.is_file()
        assert info.thumbnail_version == info.current_version
    picture = next(iter(library.model.pictures.values()))
    assert picture.width() > 200
    assert picture.height() > picture.width()  # a card: taller than wide
    assert library.count.text() == "3 templates"


def test_the_editor_pages_load_without_the_browser_engine() -> None:
    """Start-up stays fast: only opening the preview loads QtWebEngine (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, app.modules.editor.ui.editor_page, app.modules.editor.ui.designer, "
            "app.modules.editor.ui.preview; print('PySide6.QtWebEngineWidgets' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.stdout.strip() == "False"


def test_search_narrows_the_grid(qtbot: Any, page: EditorPage) -> None:
    page.library.search.setText("LETT")
    qtbot.waitUntil(lambda: names(page) == ["Newsletter"], timeout=TIMEOUT)
    assert page.library.count.text() == "1 template matching “LETT”"
    page.library.search.setText("nothing like this")
    qtbot.waitUntil(lambda: names(page) == [], timeout=TIMEOUT)
    assert page.library.stack.currentWidget() is page.library.empty
    assert "nothing like this" in page.library.empty.text()


def test_duplicate_then_delete_after_confirming(qtbot: Any, page: EditorPage, monkeypatch: pytest.MonkeyPatch) -> None:
    library = page.library
    welcome = store.find_template(page.db, "Welcome")
    assert welcome is not None
    assert library.select(welcome.id)
    library.buttons["duplicate"].click()
    qtbot.waitUntil(lambda: "Welcome (copy)" in names(page), timeout=TIMEOUT)
    copy = store.find_template(page.db, "Welcome (copy)")
    assert copy is not None
    assert library.selected().id == copy.id  # type: ignore[union-attr]
    original = store.load_template(page.db, welcome.id).document.to_json()
    assert store.load_template(page.db, copy.id).document.to_json() == original

    asked: list[str] = []

    def answer(_parent: Any, _title: str, text: str, *_args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.No if len(asked) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    library.buttons["delete"].click()
    assert "Welcome (copy)" in asked[0]
    assert store.find_template(page.db, "Welcome (copy)") is not None  # "No" keeps it
    library.buttons["delete"].click()
    qtbot.waitUntil(lambda: "Welcome (copy)" not in names(page), timeout=TIMEOUT)
    assert store.find_template(page.db, "Welcome (copy)") is None
    assert store.find_template(page.db, "Welcome") is not None


def test_new_from_a_starter_opens_the_designer(qtbot: Any, page: EditorPage) -> None:
    actions = {action.text(): action for action in page.library.new_menu.actions()}
    actions["Announcement"].trigger()
    qtbot.waitUntil(lambda: page.in_designer, timeout=TIMEOUT)
    assert page.designer.name == "Announcement 2"
    assert page.designer.bar.name_edit.text() == "Announcement 2"
    assert len(page.designer.document.sections) >= 3
    actions["Blank email"].trigger()
    qtbot.waitUntil(lambda: page.designer.name == "Untitled email", timeout=TIMEOUT)
    assert page.designer.document.sections == []


def test_import_and_export_html(qtbot: Any, tmp_path: Path, page: EditorPage) -> None:
    source = tmp_path / "spring_sale.html"
    source.write_text('<html><body><h1>Spring sale</h1><p>Hi {{ contact.first_name | default("you") }}</p>'
                      "</body></html>", encoding="utf-8")
    assert page.library.import_html(source)
    qtbot.waitUntil(lambda: page.in_designer and page.designer.name == "spring sale", timeout=TIMEOUT)
    blocks = list(page.designer.document.blocks())
    assert [b.type for b in blocks] == ["html"]
    assert "Spring sale" in blocks[0].props["html"]

    assert page.show_library()
    imported = store.find_template(page.db, "spring sale")
    assert imported is not None
    target = tmp_path / "out" / "sale.html"
    target.parent.mkdir()
    assert page.library.export_html(imported.id, target)
    qtbot.waitUntil(target.exists, timeout=TIMEOUT)
    exported = target.read_text(encoding="utf-8")
    assert "Spring sale" in exported
    assert 'contact.first_name | default("you")' in exported  # merge tags are kept for other tools


def test_a_broken_import_says_which_file(qtbot: Any, tmp_path: Path, page: EditorPage) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("   ", encoding="utf-8")
    page.library.import_html(empty)
    qtbot.waitUntil(page.notice.isVisible, timeout=TIMEOUT)
    assert page.notice.kind == "error"
    assert "empty.html" in page.notice.text.text()
    assert not page.in_designer
