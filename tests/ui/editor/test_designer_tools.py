"""The Designer's helpers: merge fields, problems shown in place, reusable blocks, conditions, columns, brand kit."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLineEdit, QMenu, QMessageBox, QPushButton, QToolButton

from app.modules.editor import store
from app.modules.editor.document import Document, new_block, new_section
from app.modules.editor.messages import SaveTemplate
from app.modules.editor.ui.dnd import MOVE_BLOCK, DragPayload
from app.modules.editor.ui.editor_page import EditorPage
from tests.ui.editor.conftest import TIMEOUT, open_template, send_drop


@pytest.fixture
def designer_page(qtbot: Any, page: EditorPage) -> EditorPage:
    top = new_section(1)
    top.columns[0].blocks.extend([new_block("heading", text="Hello"), new_block("text", html="<p>Body</p>"),
                                  new_block("conditional")])
    page.ctx.bus.execute(SaveTemplate(template_id=None, document=Document([top]).to_json(), name="Tools"))
    open_template(qtbot, page, "Tools")
    return page


@pytest.mark.qt_log_ignore("This plugin does not support")
def test_the_merge_field_menu_inserts_a_tag_with_a_fallback(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.canvas.select("block", heading.id)
    edit = designer.panel.findChild(QLineEdit, "Edit-text")
    edit.setCursorPosition(len(edit.text()))
    edit.insert(" ")
    designer.panel.findChild(QToolButton, "MergeButton-text").click()
    menu = designer.panel.findChild(QMenu, "MergeFieldMenu")
    assert menu is not None
    titles = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert {"First name", "Email address", "Postal address", "Unsubscribe link"} <= set(titles)
    next(a for a in menu.actions() if a.text() == "First name").trigger()
    menu.close()
    qtbot.waitUntil(lambda: "default" in designer.document.find_block(heading.id).props["text"], timeout=TIMEOUT)
    assert designer.document.find_block(heading.id).props["text"] == \
        'Hello {{ contact.first_name | default("there") }}'  # type: ignore[union-attr]


def test_template_problems_are_shown_on_the_block_and_its_field(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.session.set_block_props(heading.id, {"text": "Hi {{ contact.first_name | shout }}"})
    designer.canvas.select("block", heading.id)
    qtbot.waitUntil(lambda: heading.id in designer.canvas.problem_blocks, timeout=TIMEOUT)
    error = designer.panel.errors["text"]
    assert not error.isHidden()
    assert "line 1, column 4" in error.text()
    assert "shout" in error.text()
    assert designer.bar.problems.text() == "1 problem"

    designer.session.set_block_props(heading.id, {"text": "Hi {{ contact.shoe_size }}"})
    qtbot.waitUntil(lambda: "shoe_size" in designer.panel.errors["text"].text(), timeout=TIMEOUT)
    designer.session.set_block_props(heading.id, {"text": "Hi {{ contact.first_name }}"})
    qtbot.waitUntil(lambda: not designer.canvas.problem_blocks, timeout=TIMEOUT)
    assert designer.panel.errors["text"].isHidden()
    assert designer.bar.problems.isHidden()


def test_a_block_saved_as_reusable_can_be_dragged_back_in(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.canvas.select("block", heading.id)
    assert designer.save_reusable("Greeting")
    qtbot.waitUntil(lambda: any(k.startswith("saved:") for k in designer.palette.tiles), timeout=TIMEOUT)
    tile = next(t for k, t in designer.palette.tiles.items() if k.startswith("saved:"))
    assert tile.text() == "Greeting"
    body = designer.document.sections[0].columns[0].blocks[1]
    rect = designer.canvas.block_rect(body.id)
    send_drop(designer.canvas, tile.payload.to_mime(), QPointF(rect.center().x(), rect.bottom() - 2))
    types = [b.type for b in designer.document.sections[0].columns[0].blocks]
    assert types.count("heading") == 2
    ids = [b.id for b in designer.document.blocks()]
    assert len(ids) == len(set(ids))
    assert [s.name for s in store.saved_blocks(designer_page.db)] == ["Greeting"]


def test_blocks_dropped_into_a_conditional_block_go_inside_it(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    canvas = designer.canvas
    condition = designer.document.sections[0].columns[0].blocks[2]
    slot = canvas.to_widget(canvas.layout_.block_box(condition.id).slot)  # type: ignore[arg-type, union-attr]
    send_drop(canvas, designer.palette.tiles["text"].payload.to_mime(), slot.center())
    inside = designer.document.find_block(condition.id).children  # type: ignore[union-attr]
    assert [b.type for b in inside] == ["text"]
    # A conditional block never lands inside another one: it goes beside it.
    send_drop(canvas, designer.palette.tiles["conditional"].payload.to_mime(), slot.center())
    assert len(designer.document.find_block(condition.id).children) == 1  # type: ignore[union-attr]
    heading = designer.document.sections[0].columns[0].blocks[0]
    slot = canvas.to_widget(canvas.layout_.block_box(condition.id).slot)  # type: ignore[arg-type, union-attr]
    send_drop(canvas, DragPayload(MOVE_BLOCK, item_id=heading.id).to_mime(), slot.center())
    assert heading.id in [b.id for b in designer.document.find_block(condition.id).children]  # type: ignore


def test_the_rule_of_a_conditional_block_is_edited_in_the_panel(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    condition = designer.document.sections[0].columns[0].blocks[2]
    designer.canvas.select("block", condition.id)
    value = designer.panel.findChild(QLineEdit, "RuleValue-0")
    value.setText("fr")
    value.editingFinished.emit()
    rule = designer.document.find_block(condition.id).props["rule"]  # type: ignore[union-attr]
    assert rule["conditions"] == [{"field": "language", "op": "equals", "value": "fr"}]
    designer.panel.findChild(QPushButton, "Add-rule").click()
    rule = designer.document.find_block(condition.id).props["rule"]  # type: ignore[union-attr]
    assert len(rule["conditions"]) == 2


def test_section_columns_change_from_the_panel_without_losing_blocks(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    section = designer.document.sections[0]
    designer.canvas.select("section", section.id)
    designer.panel.findChild(QToolButton, "Choice-columns-2").click()
    assert len(designer.document.sections[0].columns) == 2
    designer.panel.findChild(QToolButton, "Choice-columns-1").click()
    assert len(designer.document.sections[0].columns) == 1
    assert len(designer.document.sections[0].columns[0].blocks) == 3


def test_the_brand_kit_restyles_the_canvas(qtbot: Any, designer_page: EditorPage) -> None:
    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    before = designer.canvas.block_rect(heading.id).height()
    dialog = designer.open_brand_kit()
    dialog.numbers["font_size"].setValue(22)
    dialog.set_colour("heading_color", "#aa0000")
    assert dialog.save()
    qtbot.waitUntil(lambda: designer.brand.font_size == 22, timeout=TIMEOUT)
    assert designer.canvas.block_rect(heading.id).height() > before
    assert store.brand_kit(designer_page.db).heading_color == "#aa0000"


def test_leaving_with_unsaved_changes_asks(qtbot: Any, designer_page: EditorPage,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    designer = designer_page.designer
    designer.session.delete() if designer.session.selection[0] else None
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.session.set_block_props(heading.id, {"text": "Changed"})
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save]
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: answers.pop(0))
    designer.bar.back.click()
    assert designer_page.in_designer
    designer.bar.back.click()
    assert not designer_page.in_designer
    info = store.find_template(designer_page.db, "Tools")
    qtbot.waitUntil(lambda: store.versions(designer_page.db, info.id)[0].version == 2, timeout=TIMEOUT)  # type: ignore


def test_clicking_a_tile_adds_after_the_selection(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.canvas.select("block", heading.id)
    designer.palette.tiles["spacer"].click()
    assert [b.type for b in designer.document.sections[0].columns[0].blocks][:2] == ["heading", "spacer"]
    designer.canvas.select("", "")
    designer.palette.tiles["section-2"].click()
    assert len(designer.document.sections[-1].columns) == 2


def test_rename_and_save_with_a_note(qtbot: Any, designer_page: EditorPage, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    designer = designer_page.designer
    designer.bar.name_edit.setText("Tools, renamed")
    designer.bar.name_edit.editingFinished.emit()
    assert store.find_template(designer_page.db, "Tools, renamed") is not None
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("New footer wording", True))
    designer.bar.findChild(QToolButton, "DesignerSaveNote").click()
    info = store.find_template(designer_page.db, "Tools, renamed")
    qtbot.waitUntil(lambda: store.versions(designer_page.db, info.id)[0].version == 2, timeout=TIMEOUT)  # type: ignore
    assert store.versions(designer_page.db, info.id)[0].note == "New footer wording"  # type: ignore[union-attr]


def test_a_name_already_taken_is_refused_and_put_back(designer_page: EditorPage) -> None:
    designer = designer_page.designer
    designer.bar.name_edit.setText("welcome")
    designer.bar.name_edit.editingFinished.emit()
    assert designer.bar.name_edit.text() == "Tools"
    assert designer_page.notice.kind == "error"
    assert "already exists" in designer_page.notice.text.text()


def test_ctrl_s_while_typing_saves_what_was_typed(qtbot: Any, designer_page: EditorPage) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    designer = designer_page.designer
    heading = designer.document.sections[0].columns[0].blocks[0]
    designer.canvas.select("block", heading.id)
    designer_page.activateWindow()
    edit = designer.panel.findChild(QLineEdit, "Edit-text")
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "Saved while typing")
    QTest.keyClick(edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    info = store.find_template(designer_page.db, "Tools")
    qtbot.waitUntil(lambda: store.versions(designer_page.db, info.id)[0].version == 2, timeout=TIMEOUT)  # type: ignore
    saved = store.load_template(designer_page.db, info.id).document.find_block(heading.id)  # type: ignore[union-attr]
    assert saved.props["text"] == "Saved while typing"  # type: ignore[union-attr]
