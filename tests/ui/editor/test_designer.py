"""The Designer driven as a person would: drag blocks in, move them, edit, undo, drop a picture, save, restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QToolButton

from app.modules.editor import store
from app.modules.editor.document import Document, new_block, new_section
from app.modules.editor.messages import SaveTemplate
from app.modules.editor.ui.dnd import MOVE_BLOCK, DragPayload
from app.modules.editor.ui.editor_page import EditorPage
from tests.ui.editor.conftest import TIMEOUT, open_template, send_drop


def simple_document() -> Document:
    top = new_section(1)
    top.columns[0].blocks.extend([new_block("heading", text="Hello"), new_block("text", html="<p>First</p>"),
                                  new_block("button", text="Go", url="https://example.com")])
    pair = new_section(2)
    pair.columns[0].blocks.append(new_block("text", html="<p>Left</p>"))
    pair.columns[1].blocks.append(new_block("text", html="<p>Right</p>"))
    return Document([top, pair])


@pytest.fixture
def designer_page(qtbot: Any, page: EditorPage) -> EditorPage:
    page.ctx.bus.execute(SaveTemplate(template_id=None, document=simple_document().to_json(), name="Simple"))
    open_template(qtbot, page, "Simple")
    return page


def column_types(page: EditorPage, section: int = 0, column: int = 0) -> list[str]:
    return [b.type for b in page.designer.document.sections[section].columns[column].blocks]


def below(rect: Any, dy: float = -2.0) -> QPointF:
    """A point just above the bottom edge of ``rect`` (the lower half: "drop after this one")."""
    return QPointF(rect.center().x(), rect.bottom() + dy)


def test_dragging_a_block_from_the_palette_puts_it_where_it_was_dropped(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    first = designer.document.sections[0].columns[0].blocks[0]
    mime = designer.palette.tiles["image"].payload.to_mime()

    hovering, dropped = send_drop(canvas, mime, below(canvas.block_rect(first.id)))

    assert hovering
    assert dropped
    assert column_types(designer_page) == ["heading", "image", "text", "button"]
    added = designer.document.sections[0].columns[0].blocks[1]
    assert canvas.selection == ("block", added.id)
    assert canvas.block_rect(added.id).top() >= canvas.block_rect(first.id).bottom() - 1
    assert designer.panel.shown == ("block", added.id)
    assert designer.bar.state.text().endswith("unsaved changes")


def test_clicking_selects_and_the_drag_pictures_draw(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    button = designer.document.sections[0].columns[0].blocks[2]
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     canvas.block_rect(button.id).center().toPoint())
    assert canvas.selection == ("block", button.id)
    assert designer.panel.shown == ("block", button.id)
    assert canvas.toolbar.isVisible()
    section = designer.document.sections[1]
    handle = canvas.to_widget(canvas.handle_rect(section.id))  # type: ignore[arg-type]
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, handle.center().toPoint())
    assert canvas.selection == ("section", section.id)
    assert not canvas.toolbar.isVisible()
    # What follows the pointer during a real drag (QDrag.exec itself blocks until the mouse is released).
    assert not canvas._drag_picture(canvas.block_rect(button.id)).isNull()
    assert not designer.palette.tiles["section-2"]._picture().isNull()


def test_a_section_dropped_between_sections_and_a_block_inside_its_column(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    top = designer.document.sections[0]
    send_drop(canvas, designer.palette.tiles["section-3"].payload.to_mime(), below(canvas.section_rect(top.id)))
    assert [len(s.columns) for s in designer.document.sections] == [1, 3, 2]
    middle = designer.document.sections[1]
    third_column = canvas.to_widget(canvas.layout_.section_box(middle.id).columns[2].rect)  # type: ignore[union-attr]
    send_drop(canvas, designer.palette.tiles["button"].payload.to_mime(), third_column.center())
    assert column_types(designer_page, 1, 2) == ["button"]
    assert column_types(designer_page, 1, 0) == []


def test_a_block_dragged_on_the_canvas_moves(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    heading, _text, button = designer.document.sections[0].columns[0].blocks
    mime = DragPayload(MOVE_BLOCK, item_id=heading.id).to_mime()

    send_drop(canvas, mime, below(canvas.block_rect(button.id)))

    assert column_types(designer_page) == ["text", "button", "heading"]
    right = designer.document.sections[1].columns[1].blocks[0]
    send_drop(canvas, DragPayload(MOVE_BLOCK, item_id=heading.id).to_mime(), below(canvas.block_rect(right.id)))
    assert column_types(designer_page, 1, 1) == ["text", "heading"]
    assert column_types(designer_page) == ["text", "button"]


def test_editing_a_property_redraws_the_canvas(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    heading = designer.document.sections[0].columns[0].blocks[0]
    canvas.select("block", heading.id)
    before = canvas.block_rect(heading.id).height()

    edit = designer.panel.findChild(QLineEdit, "Edit-text")
    edit.selectAll()
    QTest.keyClicks(edit, "A much longer heading that surely needs two lines on the canvas to fit in")
    qtbot.waitUntil(lambda: designer.document.find_block(heading.id).props["text"].startswith("A much"),
                    timeout=TIMEOUT)
    assert canvas.document.find_block(heading.id).props["text"].startswith("A much")  # type: ignore[union-attr]
    assert canvas.block_rect(heading.id).height() > before * 1.5

    small = designer.panel.findChild(QToolButton, "Choice-level-3")
    taller = canvas.block_rect(heading.id).height()
    small.click()
    assert designer.document.find_block(heading.id).props["level"] == 3  # type: ignore[union-attr]
    assert canvas.block_rect(heading.id).height() < taller


def test_a_bad_link_is_refused_beside_the_field(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    button = designer.document.sections[0].columns[0].blocks[2]
    designer.canvas.select("block", button.id)
    edit = designer.panel.findChild(QLineEdit, "Edit-url")
    edit.setText("javascript:alert(1)")
    edit.editingFinished.emit()
    error = designer.panel.errors["url"]
    assert not error.isHidden()
    assert "https://" in error.text()
    assert designer.document.find_block(button.id).props["url"] == "https://example.com"  # type: ignore[union-attr]


def test_undo_and_redo_restore_the_exact_document(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    states = [json.dumps(designer.document.to_json(), sort_keys=True)]

    def record() -> None:
        states.append(json.dumps(designer.document.to_json(), sort_keys=True))

    heading, text, _button = designer.document.sections[0].columns[0].blocks
    send_drop(canvas, designer.palette.tiles["divider"].payload.to_mime(), below(canvas.block_rect(heading.id)))
    record()
    send_drop(canvas, DragPayload(MOVE_BLOCK, item_id=heading.id).to_mime(), below(canvas.block_rect(text.id)))
    record()
    assert designer.session.set_block_props(text.id, {"align": "center"}) == ""
    record()
    canvas.select("block", text.id)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    record()
    assert len(set(states)) == 5

    designer_page.activateWindow()
    canvas.setFocus()
    for expected in reversed(states[:-1]):
        QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert json.dumps(designer.document.to_json(), sort_keys=True) == expected
        assert json.dumps(canvas.document.to_json(), sort_keys=True) == expected
    assert not designer.dirty
    for expected in states[1:]:
        QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert json.dumps(designer.document.to_json(), sort_keys=True) == expected


def test_text_still_being_typed_is_its_own_undo_step(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    heading, text, _button = designer.document.sections[0].columns[0].blocks
    canvas.select("block", heading.id)
    edit = designer.panel.findChild(QLineEdit, "Edit-text")
    edit.selectAll()
    QTest.keyClicks(edit, "Typed")  # not sent yet: the field waits for a pause in typing
    send_drop(canvas, designer.palette.tiles["divider"].payload.to_mime(), below(canvas.block_rect(text.id)))
    assert designer.document.find_block(heading.id).props["text"] == "Typed"  # type: ignore[union-attr]
    assert column_types(designer_page) == ["heading", "text", "divider", "button"]
    designer.session.undo()
    assert column_types(designer_page) == ["heading", "text", "button"]
    assert designer.document.find_block(heading.id).props["text"] == "Typed"  # type: ignore[union-attr]
    designer.session.undo()
    assert designer.document.find_block(heading.id).props["text"] == "Hello"  # type: ignore[union-attr]


def test_keyboard_walks_copies_pastes_and_duplicates(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    designer_page.activateWindow()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Down)
    heading = designer.document.sections[0].columns[0].blocks[0]
    assert canvas.selection == ("block", heading.id)
    QTest.keyClick(canvas, Qt.Key.Key_Down)
    QTest.keyClick(canvas, Qt.Key.Key_Down)
    assert canvas.selection[1] == designer.document.sections[0].columns[0].blocks[2].id
    QTest.keyClick(canvas, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # the button moves up
    assert column_types(designer_page) == ["heading", "button", "text"]
    QTest.keyClick(canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert column_types(designer_page) == ["heading", "button", "button", "text"]
    QTest.keyClick(canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(canvas, Qt.Key.Key_Down)
    QTest.keyClick(canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert column_types(designer_page) == ["heading", "button", "button", "text", "button"]
    ids = [b.id for b in designer.document.blocks()]
    assert len(ids) == len(set(ids))  # pasted and duplicated blocks get ids of their own
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert column_types(designer_page) == ["heading", "button", "button", "text"]


def test_a_picture_dropped_from_the_desktop_becomes_an_image_block(qtbot: Any, tmp_path: Path,
                                                                    designer_page: EditorPage) -> None:
    picture = QImage(300, 150, QImage.Format.Format_RGB32)
    picture.fill(QColor("#3366cc"))
    path = tmp_path / "team photo.png"
    assert picture.save(str(path))
    designer = designer_page.designer
    canvas = designer.canvas
    heading = designer.document.sections[0].columns[0].blocks[0]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])

    assert send_drop(canvas, mime, below(canvas.block_rect(heading.id))) == (True, True)

    image = designer.document.sections[0].columns[0].blocks[1]
    assert image.type == "image"
    assert image.props["alt"] == "team photo"
    stored = store.asset_file(designer_page.ctx.paths.data_dir, image.props["src"])
    assert stored is not None
    assert stored.read_bytes() == path.read_bytes()
    # Decoded in the background, then drawn at its own size (300x150 fits the column).
    qtbot.waitUntil(lambda: abs(canvas.block_rect(image.id).height() - (16 + 150) * canvas.scale) < 2,
                    timeout=TIMEOUT)


def test_a_picture_dropped_on_an_image_block_replaces_its_picture(tmp_path: Path,
                                                                   designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    first, second = tmp_path / "first.png", tmp_path / "second.jpg"
    for path, colour in ((first, "#cc3333"), (second, "#33cc33")):
        picture = QImage(200, 200, QImage.Format.Format_RGB32)
        picture.fill(QColor(colour))
        assert picture.save(str(path))
    heading = designer.document.sections[0].columns[0].blocks[0]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(first))])
    send_drop(canvas, mime, below(canvas.block_rect(heading.id)))
    image = designer.document.sections[0].columns[0].blocks[1]
    count = len(list(designer.document.blocks()))

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(second))])
    send_drop(canvas, mime, canvas.block_rect(image.id).center())

    replaced = designer.document.find_block(image.id)
    assert replaced is not None
    assert replaced.props["src"].endswith(".jpg")
    assert len(list(designer.document.blocks())) == count


def test_a_file_that_is_not_a_picture_is_not_accepted(tmp_path: Path, designer_page: EditorPage) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    canvas = designer_page.designer.canvas
    assert send_drop(canvas, mime, canvas.content_rect().center()) == (False, False)


def test_save_makes_version_two_and_history_restores_version_one(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    template_id = designer.template_id
    original = designer.document.to_json()
    text = designer.document.sections[0].columns[0].blocks[1]
    designer.session.set_block_props(text.id, {"html": "<p>Changed</p>"})

    designer.bar.save.click()
    qtbot.waitUntil(lambda: store.versions(designer_page.db, template_id)[0].version == 2, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not designer.dirty, timeout=TIMEOUT)
    assert designer.bar.state.text() == "Version 2 · saved"
    assert store.load_template(designer_page.db, template_id).document.find_block(text.id).props["html"] \
        == "<p>Changed</p>"

    history = designer.open_history()
    qtbot.waitUntil(lambda: history.list.count() == 2, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: history.shown_pair == (1, 2), timeout=TIMEOUT)
    assert not history.old_picture.pixmap().isNull()
    assert not history.new_picture.pixmap().isNull()
    history.restore_button.click()

    qtbot.waitUntil(lambda: designer.version == 3, timeout=TIMEOUT)
    assert designer.document.to_json() == original
    assert [v.version for v in store.versions(designer_page.db, template_id)] == [3, 2, 1]
    assert not shiboken6.isValid(history) or not history.isVisible()
