"""The email document: stored form, validation that names the block, sanitized rich text and pure edits."""

from __future__ import annotations

import pytest

from app.modules.editor.blocks import BLOCK_TYPES
from app.modules.editor.document import Block, Document, DocumentError, fresh_copy, new_block, new_section
from app.modules.editor.edits import (
    EditError,
    duplicate_block,
    duplicate_section,
    insert_block,
    insert_section,
    locate_block,
    move_block,
    move_section,
    remove_block,
    remove_section,
    set_columns,
    update_block_props,
    update_section_props,
)
from app.modules.editor.richtext import sanitize_rich_text


def two_column_document() -> Document:
    section = new_section(2)
    section.columns[0].blocks += [new_block("heading", text="A"), new_block("text", html="<p>B</p>")]
    section.columns[1].blocks += [new_block("button")]
    return Document([new_section(1), section])


def test_every_block_type_survives_the_stored_form() -> None:
    section = new_section(1)
    for block_type in BLOCK_TYPES:
        section.columns[0].blocks.append(new_block(block_type))
    conditional = section.columns[0].blocks[-1]
    conditional.children.append(new_block("text", html="<p>Bonjour</p>"))
    document = Document([section])

    again = Document.from_json(document.to_json())

    assert again == document
    assert [b.type for b in again.sections[0].columns[0].blocks] == list(BLOCK_TYPES)
    assert again.find_block(conditional.children[0].id) is not None


def test_validation_names_the_section_column_block_and_property() -> None:
    data = {"schema": 1, "sections": [{"columns": [{"blocks": [
        {"id": "b1", "type": "image", "props": {"src": "javascript:alert(1)", "width": 5000}},
        {"id": "b2", "type": "button", "props": {"url": "javascript:void(0)", "color": "red"}},
        {"id": "b3", "type": "sparkles", "props": {}},
    ]}]}]}

    with pytest.raises(DocumentError) as caught:
        Document.from_json(data)

    problems = caught.value.problems
    assert any("section 1, column 1, block b1 (Image)" in p and "http(s)" in p for p in problems)
    assert any("b1 (Image): Width (px) must be between 0 and 1200 (not 5000)" in p for p in problems)
    assert any("b2 (Button): Link must start with https://" in p for p in problems)
    assert any("b2 (Button): Button colour must be a colour like #1a73e8 (not 'red')" in p for p in problems)
    assert any("unknown block type 'sparkles'" in p for p in problems)


def test_duplicate_ids_and_too_many_columns_are_refused() -> None:
    block = {"id": "same", "type": "spacer", "props": {"height": 10}}
    with pytest.raises(DocumentError, match="the block id same is used twice"):
        Document.from_json({"sections": [{"columns": [{"blocks": [block, block]}]}]})
    with pytest.raises(DocumentError, match="1 to 3 columns, not 4"):
        Document.from_json({"sections": [{"columns": [{}, {}, {}, {}]}]})


def test_a_newer_schema_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DocumentError, match="written by a newer Postroom"):
        Document.from_json({"schema": 99, "sections": []})


def test_rich_text_keeps_the_safe_subset_and_drops_the_rest() -> None:
    dirty = ('<p onclick="x()">Hi <b>bold</b> <i>it</i> <script>alert(1)</script><style>p{}</style>'
             '<a href="javascript:alert(1)">bad</a> <a href="https://ok.example/?a=1&amp;b=2">good</a>'
             '<img src=x onerror=alert(1)><iframe src="https://evil"></iframe></p>'
             "<ul><li>one</li><li>two</li></ul>")

    clean = sanitize_rich_text(dirty)

    assert clean == ('<p>Hi <strong>bold</strong> <em>it</em> <a>bad</a> '
                     '<a href="https://ok.example/?a=1&amp;b=2">good</a></p><ul><li>one</li><li>two</li></ul>')


def test_rich_text_from_a_qt_text_edit_keeps_bold_and_italic() -> None:
    qt = ('<!DOCTYPE HTML><html><head><meta name="qrichtext" content="1" /><style>p {}</style></head>'
          '<body style="font-family:Sans"><p style="margin:0px;">Hello <span style=" font-weight:700;">you</span>'
          ' <span style=" font-style:italic;">there</span></p></body></html>')
    assert sanitize_rich_text(qt) == "<p>Hello <strong>you</strong> <em>there</em></p>"


def test_merge_tags_in_rich_text_are_kept() -> None:
    assert sanitize_rich_text('<p>Hi {{ contact.first_name | default("there") }}</p>') == (
        '<p>Hi {{ contact.first_name | default("there") }}</p>')
    assert sanitize_rich_text('<a href="{{ webview_url }}">view</a>') == '<a href="{{ webview_url }}">view</a>'


def test_edits_return_a_new_document_and_leave_the_old_one_alone() -> None:
    document = two_column_document()
    before = document.to_json()
    section = document.sections[1]
    block = new_block("spacer", height=40)

    inserted = insert_block(document, section.id, 1, 0, block)

    assert document.to_json() == before
    assert locate_block(inserted, block.id).column == 1
    assert inserted.sections[1].columns[1].blocks[0].props["height"] == 40


def test_move_block_uses_the_index_a_drop_indicator_shows() -> None:
    document = two_column_document()
    section = document.sections[1]
    heading, text = section.columns[0].blocks

    # Dropping the heading below the text: the indicator shows position 2 (the heading still counted).
    moved = move_block(document, heading.id, section.id, 0, 2)
    assert [b.id for b in moved.sections[1].columns[0].blocks] == [text.id, heading.id]

    across = move_block(document, heading.id, section.id, 1, 1)
    assert [b.type for b in across.sections[1].columns[1].blocks] == ["button", "heading"]
    assert [b.type for b in across.sections[1].columns[0].blocks] == ["text"]

    assert move_block(document, heading.id, section.id, 0, 0).to_json() == document.to_json()


def test_blocks_go_inside_a_conditional_block_but_not_conditional_in_conditional() -> None:
    document = two_column_document()
    section = document.sections[1]
    conditional = new_block("conditional")
    document = insert_block(document, section.id, 0, 0, conditional)
    text = section.columns[0].blocks[1]

    inside = move_block(document, text.id, section.id, 0, 0, parent_id=conditional.id)

    assert locate_block(inside, text.id).parent_id == conditional.id
    with pytest.raises(EditError, match="cannot hold another conditional"):
        insert_block(inside, section.id, 0, 0, new_block("conditional"), parent_id=conditional.id)
    with pytest.raises(EditError, match="inside a conditional block only"):
        insert_block(inside, section.id, 0, 0, new_block("spacer"), parent_id=text.id)


def test_update_props_sanitizes_and_validates() -> None:
    document = two_column_document()
    text = document.sections[1].columns[0].blocks[1]

    updated = update_block_props(document, text.id, {"html": "<p>Hi<script>x</script></p>"})
    assert updated.find_block(text.id).props["html"] == "<p>Hi</p>"  # type: ignore[union-attr]

    with pytest.raises(EditError, match="Alignment must be one of left, center, right"):
        update_block_props(document, text.id, {"align": "justify"})
    with pytest.raises(EditError, match="there is no block nope"):
        remove_block(document, "nope")


def test_duplicate_remove_and_sections() -> None:
    document = two_column_document()
    button = document.sections[1].columns[1].blocks[0]

    doubled = duplicate_block(document, button.id)
    copies = doubled.sections[1].columns[1].blocks
    assert [b.type for b in copies] == ["button", "button"]
    assert copies[0].id != copies[1].id
    assert remove_block(doubled, copies[1].id).to_json() == document.to_json()

    two = duplicate_section(document, document.sections[1].id)
    assert len(two.sections) == 3
    assert {b.id for b in two.sections[1].walk()}.isdisjoint(b.id for b in two.sections[2].walk())
    Document.from_json(two.to_json())  # still valid: all ids unique

    reordered = move_section(document, document.sections[0].id, 2)
    assert [s.id for s in reordered.sections] == [document.sections[1].id, document.sections[0].id]
    assert len(remove_section(document, document.sections[0].id).sections) == 1
    assert len(insert_section(document, 0, new_section(3)).sections[0].columns) == 3
    with pytest.raises(EditError, match="already in this email"):
        insert_section(document, 0, document.sections[0])


def test_fewer_columns_keep_every_block() -> None:
    document = two_column_document()
    section = document.sections[1]

    one = set_columns(document, section.id, 1)

    assert [b.type for b in one.sections[1].columns[0].blocks] == ["heading", "text", "button"]
    widened = set_columns(one, section.id, 2, [70, 30])
    assert widened.sections[1].widths() == [70, 30]
    with pytest.raises(EditError, match="1 to 3 columns"):
        set_columns(document, section.id, 4)


def test_section_props_are_validated() -> None:
    document = two_column_document()
    with pytest.raises(EditError, match="Background must be a colour"):
        update_section_props(document, document.sections[0].id, {"background": "url(evil)"})
    changed = update_section_props(document, document.sections[0].id, {"background": "#112233"})
    assert changed.sections[0].props["background"] == "#112233"


def test_fresh_copy_gives_new_ids_everywhere() -> None:
    conditional = new_block("conditional")
    conditional.children.append(new_block("text"))
    clone = fresh_copy(conditional)
    assert isinstance(clone, Block)
    assert clone.id != conditional.id
    assert clone.children[0].id != conditional.children[0].id
