"""Editing operations on documents, for the editor's undoable commands.

Every function is pure: it returns a NEW Document and leaves the one it was given untouched, so an undo command
can keep the document before and after. Blocks and sections are addressed by id; a place in a column is
(section_id, column, index), and ``parent_id`` (a conditional block's id) puts a block inside that block instead.
Bad addresses raise ``EditError`` with a message naming what was not found.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.modules.editor.document import (
    MAX_COLUMNS,
    Block,
    Column,
    Document,
    DocumentError,
    Section,
    fresh_copy,
    sanitize_block,
    validate_block,
)


class EditError(ValueError):
    """An edit that cannot be done (unknown id, index out of range, a rule broken)."""


@dataclass(frozen=True)
class Place:
    """Where a block sits: its section, column and index in that column, or in ``parent_id``'s children."""

    section_id: str
    column: int
    index: int
    parent_id: str | None = None


def locate_block(document: Document, block_id: str) -> Place:
    """Where the block with ``block_id`` is; raises EditError when there is no such block."""
    for section in document.sections:
        for c_index, column in enumerate(section.columns):
            for index, block in enumerate(column.blocks):
                if block.id == block_id:
                    return Place(section.id, c_index, index)
                for child_index, child in enumerate(block.children):
                    if child.id == block_id:
                        return Place(section.id, c_index, child_index, parent_id=block.id)
    raise EditError(f"there is no block {block_id} in this email")


def _list_at(document: Document, section_id: str, column: int, parent_id: str | None) -> list[Block]:
    if parent_id is not None:
        parent = document.find_block(parent_id)
        if parent is None:
            raise EditError(f"there is no block {parent_id} in this email")
        if parent.type != "conditional":
            raise EditError(f"blocks can be put inside a conditional block only, not inside a {parent.title}")
        return parent.children
    section = _section(document, section_id)
    if not 0 <= column < len(section.columns):
        raise EditError(f"the section has {len(section.columns)} column(s); there is no column {column + 1}")
    return section.columns[column].blocks


def _section(document: Document, section_id: str) -> Section:
    section = document.find_section(section_id)
    if section is None:
        raise EditError(f"there is no section {section_id} in this email")
    return section


def _check_index(index: int, length: int) -> int:
    if not 0 <= index <= length:
        raise EditError(f"position {index} is outside 0..{length}")
    return index


def insert_block(document: Document, section_id: str, column: int, index: int, block: Block, *,
                 parent_id: str | None = None) -> Document:
    """Put ``block`` at ``index`` of a column (or inside conditional ``parent_id``). The block is sanitized;
    its ids must be new to this document (use ``fresh_copy`` when pasting)."""
    result = document.copy()
    target = _list_at(result, section_id, column, parent_id)
    block = copy.deepcopy(block)
    sanitize_block(block)
    if parent_id is not None and block.type == "conditional":
        raise EditError("a conditional block cannot hold another conditional block")
    existing = {b.id for b in result.blocks()} | {s.id for s in result.sections}
    clash = next((b.id for b in block.walk() if b.id in existing), None)
    if clash:
        raise EditError(f"the block id {clash} is already in this email (paste a fresh copy)")
    problems = validate_block(block, "new block")
    if problems:
        raise EditError("; ".join(problems))
    target.insert(_check_index(index, len(target)), block)
    return result


def remove_block(document: Document, block_id: str) -> Document:
    """The document without that block (and the blocks inside it)."""
    result = document.copy()
    place = locate_block(result, block_id)
    del _list_at(result, place.section_id, place.column, place.parent_id)[place.index]
    return result


def move_block(document: Document, block_id: str, section_id: str, column: int, index: int, *,
               parent_id: str | None = None) -> Document:
    """Move a block to a place. ``index`` counts positions in the target list as shown before the move (with
    the moved block still in it), which is what a drop indicator gives; moving onto itself changes nothing."""
    result = document.copy()
    place = locate_block(result, block_id)
    if parent_id == block_id:
        raise EditError("a block cannot be moved inside itself")
    source = _list_at(result, place.section_id, place.column, place.parent_id)
    target = _list_at(result, section_id, column, parent_id)
    _check_index(index, len(target))
    block = source[place.index]
    if parent_id is not None and block.type == "conditional":
        raise EditError("a conditional block cannot hold another conditional block")
    del source[place.index]
    if source is target and index > place.index:
        index -= 1
    target.insert(index, block)
    return result


def update_block_props(document: Document, block_id: str, changes: Mapping[str, Any]) -> Document:
    """The document with ``changes`` merged into that block's props (sanitized and validated)."""
    result = document.copy()
    block = result.find_block(block_id)
    if block is None:
        raise EditError(f"there is no block {block_id} in this email")
    block.props.update(copy.deepcopy(dict(changes)))
    sanitize_block(block)
    problems = validate_block(Block(block.type, block.props, block.id), block.title)
    if problems:
        raise EditError("; ".join(problems))
    return result


def duplicate_block(document: Document, block_id: str) -> Document:
    """A copy of the block (with new ids) placed right after it; find it with ``locate_block`` +1."""
    place = locate_block(document, block_id)
    original = document.find_block(block_id)
    assert original is not None
    clone = fresh_copy(original)
    assert isinstance(clone, Block)
    return insert_block(document, place.section_id, place.column, place.index + 1, clone,
                        parent_id=place.parent_id)


def insert_section(document: Document, index: int, section: Section) -> Document:
    """Put ``section`` at ``index`` (0 is the top). Its ids must be new to this document."""
    result = document.copy()
    existing = {b.id for b in result.blocks()} | {s.id for s in result.sections}
    if section.id in existing or any(b.id in existing for b in section.walk()):
        raise EditError("the section's ids are already in this email (insert a fresh copy)")
    if not 1 <= len(section.columns) <= MAX_COLUMNS:
        raise EditError(f"a section has 1 to {MAX_COLUMNS} columns")
    section = copy.deepcopy(section)
    for block in section.walk():
        sanitize_block(block)
    result.sections.insert(_check_index(index, len(result.sections)), section)
    return result


def remove_section(document: Document, section_id: str) -> Document:
    result = document.copy()
    result.sections.remove(_section(result, section_id))
    return result


def move_section(document: Document, section_id: str, index: int) -> Document:
    """Move a section; ``index`` counts positions as shown before the move (like ``move_block``)."""
    result = document.copy()
    section = _section(result, section_id)
    _check_index(index, len(result.sections))
    old = result.sections.index(section)
    del result.sections[old]
    result.sections.insert(index - 1 if index > old else index, section)
    return result


def duplicate_section(document: Document, section_id: str) -> Document:
    """A copy of the section (new ids) placed right after it."""
    section = _section(document, section_id)
    clone = fresh_copy(section)
    assert isinstance(clone, Section)
    return insert_section(document, document.sections.index(section) + 1, clone)


def update_section_props(document: Document, section_id: str, changes: Mapping[str, Any]) -> Document:
    result = document.copy()
    section = _section(result, section_id)
    section.props.update(copy.deepcopy(dict(changes)))
    from app.modules.editor.document import validate_document

    problems = [p for p in validate_document(Document([section])) if "used twice" not in p]
    if problems:
        raise EditError("; ".join(p.replace("section 1", "this section") for p in problems))
    return result


def set_columns(document: Document, section_id: str, count: int, widths: list[int] | None = None) -> Document:
    """Give a section ``count`` columns (1 to 3). Blocks of removed columns move to the end of the last kept
    column, so nothing is lost. ``widths`` are percentages (0 = equal share)."""
    if not 1 <= count <= MAX_COLUMNS:
        raise EditError(f"a section has 1 to {MAX_COLUMNS} columns, not {count}")
    if widths is not None and (len(widths) != count or sum(widths) > 100 or min(widths) < 0):
        raise EditError("give one width per column, 0 to 100 percent in all")
    result = document.copy()
    section = _section(result, section_id)
    while len(section.columns) > count:
        removed = section.columns.pop()
        section.columns[-1].blocks.extend(removed.blocks)
    while len(section.columns) < count:
        section.columns.append(Column())
    for column, width in zip(section.columns, widths or [0] * count, strict=True):
        column.width = width
    return result


def replace_document(document: Document) -> Document:
    """A validated copy (for "paste a whole email" or restoring a version into the canvas)."""
    try:
        return Document.from_json(document.to_json())
    except DocumentError as exc:
        raise EditError(str(exc)) from exc
