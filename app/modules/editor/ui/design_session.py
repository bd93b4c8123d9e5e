"""The open email being designed: its document, selection and undo stack, and every edit the canvas asks for."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from app.modules.editor import edits
from app.modules.editor.document import Block, Document, DocumentError, Section, fresh_copy, new_block, new_section
from app.modules.editor.edits import EditError
from app.modules.editor.ui.dnd import CLIPBOARD_MIME, MOVE_BLOCK, MOVE_SECTION, NEW_BLOCK, NEW_SECTION, DragPayload
from app.modules.editor.ui.email_layout import DropTarget
from app.modules.editor.ui.undo import DocumentChange, Selection

NOTHING: Selection = ("", "")
log = logging.getLogger(__name__)


class DesignSession(QObject):
    """Edits go through ``apply`` as undoable changes; ``changed`` fires for every document shown."""

    changed = Signal(object, object)  # Document, Selection
    failed = Signal(str)  # an edit that could not be done, in words

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = Document()
        self.selection: Selection = NOTHING
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        # Called before any change, undo or redo: the panel sends the value still being typed first, so it
        # becomes its own step instead of arriving in the middle of another change.
        self.before_change: Callable[[], None] = lambda: None
        self._showing = False

    # -- state ---------------------------------------------------------------------------------------------

    def load(self, document: Document) -> None:
        """Start over on ``document`` (a template opened or restored): nothing to undo."""
        self.undo_stack.clear()
        self.show(document, NOTHING)
        self.undo_stack.setClean()

    def show(self, document: Document, selection: Selection) -> None:
        self.document = document
        self.selection = selection
        self._showing = True
        try:
            self.changed.emit(document, selection)
        finally:
            self._showing = False

    def undo(self) -> None:
        self.before_change()
        self.undo_stack.undo()

    def redo(self) -> None:
        self.before_change()
        self.undo_stack.redo()

    def select(self, kind: str, item_id: str) -> None:
        self.selection = (kind, item_id) if item_id else NOTHING

    def apply(self, text: str, after: Document, select: Selection | None = None, merge_key: str = "") -> None:
        if self._showing:
            log.warning("an edit arrived while the document was being shown; ignored: %s", text)
            return
        selection = self.selection if select is None else select
        self.undo_stack.push(DocumentChange(self.show, text, self.document, after, selection_before=self.selection,
                                            selection_after=selection, merge_key=merge_key))

    def attempt(self, text: str, change: object, select: Selection | None = None, merge_key: str = "") -> bool:
        """Run ``change()`` (an edit returning a new document); an EditError becomes a readable failure."""
        self.before_change()
        try:
            after = change() if callable(change) else change
        except (EditError, DocumentError) as exc:
            self.failed.emit(f"{text} failed: {exc}")
            return False
        assert isinstance(after, Document)
        self.apply(text, after, select, merge_key)
        return True

    # -- drops -----------------------------------------------------------------------------------------------

    def drop(self, dropped: DragPayload | list[Path], target: DropTarget,
             picture: object = None) -> bool:
        """Carry out a drop on the canvas. ``picture(path)`` turns a dropped file into an ``asset:`` reference."""
        self.before_change()
        if isinstance(dropped, list):
            return self._drop_pictures(dropped, target, picture)
        payload = dropped
        if payload.kind == MOVE_SECTION:
            return self.attempt("Move section", lambda: edits.move_section(self.document, payload.item_id,
                                                                           target.section_index))
        if payload.kind == MOVE_BLOCK:
            return self._move_block(payload.item_id, target)
        item = self._new_item(payload)
        if isinstance(item, Section):
            text = "Add section" if payload.kind == NEW_SECTION else "Add saved section"
            return self.attempt(text, lambda: edits.insert_section(self.document, target.section_index, item),
                                ("section", item.id))
        return self._place_blocks(f"Add {item.title.lower()}", [item], target)

    def _drop_pictures(self, paths: list[Path], target: DropTarget, picture: object) -> bool:
        references = [picture(path) for path in paths] if callable(picture) else []
        blocks = [new_block("image", src=ref, alt=path.stem.replace("_", " ").replace("-", " "))
                  for ref, path in zip(references, paths, strict=True) if ref]
        if not blocks:
            return False
        if target.kind == "replace-image" and target.parent_id:
            return self.set_block_props(target.parent_id, {"src": blocks[0].props["src"]}) == ""
        return self._place_blocks("Add picture" if len(blocks) == 1 else "Add pictures", blocks, target)

    def _new_item(self, payload: DragPayload) -> Block | Section:
        if payload.kind == NEW_SECTION:
            return new_section(max(1, min(3, payload.columns)))
        if payload.kind == NEW_BLOCK:
            return new_block(payload.block_type)
        if payload.saved_kind == "section":
            clone = fresh_copy(Section.from_json(payload.content))
        else:
            clone = fresh_copy(Block.from_json(payload.content))
        return clone

    def _place_blocks(self, text: str, blocks: list[Block], target: DropTarget) -> bool:
        def change() -> Document:
            document = self.document
            if target.kind == "block":
                for offset, block in enumerate(blocks):
                    document = edits.insert_block(document, target.section_id, target.column, target.index + offset,
                                                  block, parent_id=target.parent_id)
                return document
            section = new_section(1)
            section.columns[0].blocks.extend(blocks)
            return edits.insert_section(document, target.section_index, section)

        return self.attempt(text, change, ("block", blocks[-1].id))

    def _move_block(self, block_id: str, target: DropTarget) -> bool:
        def change() -> Document:
            if target.kind == "block":
                return edits.move_block(self.document, block_id, target.section_id, target.column, target.index,
                                        parent_id=target.parent_id)
            block = self.document.find_block(block_id)
            if block is None:
                raise EditError(f"there is no block {block_id} in this email")
            section = new_section(1)
            section.columns[0].blocks.append(block)
            return edits.insert_section(edits.remove_block(self.document, block_id), target.section_index, section)

        return self.attempt("Move block", change, ("block", block_id))

    def target_after_selection(self) -> DropTarget:
        """Where a clicked palette tile or a paste goes: after the selected block, else at the end."""
        kind, item = self.selection
        line = (0.0, 0.0, 0.0)
        if kind == "block" and self.document.find_block(item) is not None:
            place = edits.locate_block(self.document, item)
            return DropTarget("block", line, place.section_id, place.column, place.index + 1, place.parent_id)
        if kind == "section":
            section = self.document.find_section(item)
            if section is not None:
                return DropTarget("block", line, section.id, 0, len(section.columns[0].blocks))
        return DropTarget("new-section", line, section_index=len(self.document.sections))

    def section_slot_after_selection(self) -> int:
        kind, item = self.selection
        for index, section in enumerate(self.document.sections):
            if (kind == "section" and section.id == item) or (kind == "block" and any(
                    b.id == item for b in section.walk())):
                return index + 1
        return len(self.document.sections)

    def add(self, payload: DragPayload) -> bool:
        self.before_change()
        if payload.places_section:
            slot = self.section_slot_after_selection()
            return self.drop(payload, DropTarget("section", (0.0, 0.0, 0.0), section_index=slot))
        return self.drop(payload, self.target_after_selection())

    # -- actions on the selection ------------------------------------------------------------------------------

    def delete(self) -> bool:
        self.before_change()
        kind, item = self.selection
        if kind == "block":
            return self.attempt("Delete block", lambda: edits.remove_block(self.document, item), NOTHING)
        if kind == "section":
            return self.attempt("Delete section", lambda: edits.remove_section(self.document, item), NOTHING)
        return False

    def duplicate(self) -> bool:
        self.before_change()
        kind, item = self.selection
        if kind == "block":
            place = edits.locate_block(self.document, item)
            after = edits.duplicate_block(self.document, item)
            holder = after.find_block(place.parent_id) if place.parent_id else None
            column = (holder.children if holder else
                      after.find_section(place.section_id).columns[place.column].blocks)  # type: ignore[union-attr]
            return self.attempt("Duplicate block", after, ("block", column[place.index + 1].id))
        if kind == "section":
            after = edits.duplicate_section(self.document, item)
            index = [s.id for s in after.sections].index(item) + 1
            return self.attempt("Duplicate section", after, ("section", after.sections[index].id))
        return False

    def move(self, direction: int) -> bool:
        self.before_change()
        kind, item = self.selection
        if kind == "section":
            index = [s.id for s in self.document.sections].index(item)
            slot = index - 1 if direction < 0 else index + 2
            if not 0 <= slot <= len(self.document.sections):
                return False
            return self.attempt("Move section", lambda: edits.move_section(self.document, item, slot))
        if kind != "block":
            return False
        place = edits.locate_block(self.document, item)
        slot = place.index - 1 if direction < 0 else place.index + 2
        holder = self.document.find_block(place.parent_id) if place.parent_id else None
        section = self.document.find_section(place.section_id)
        length = len(holder.children) if holder else len(section.columns[place.column].blocks) if section else 0
        if not 0 <= slot <= length:
            return False
        return self.attempt("Move block", lambda: edits.move_block(self.document, item, place.section_id,
                                                                   place.column, slot, parent_id=place.parent_id))

    def selected_item(self) -> Block | Section | None:
        kind, item = self.selection
        if kind == "block":
            return self.document.find_block(item)
        if kind == "section":
            return self.document.find_section(item)
        return None

    def copy(self) -> bool:
        item = self.selected_item()
        if item is None:
            return False
        mime = QMimeData()
        data = {"kind": "section" if isinstance(item, Section) else "block", "content": item.to_json()}
        mime.setData(CLIPBOARD_MIME, json.dumps(data).encode())
        mime.setText(json.dumps(data["content"], indent=1))
        QApplication.clipboard().setMimeData(mime)
        return True

    def paste(self) -> bool:
        self.before_change()
        mime = QApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(CLIPBOARD_MIME):
            return False
        try:
            data = json.loads(bytes(mime.data(CLIPBOARD_MIME).data()).decode())
        except (UnicodeDecodeError, ValueError):
            return False
        if not isinstance(data, dict) or not isinstance(data.get("content"), dict):
            return False
        payload = DragPayload("saved", saved_kind=str(data.get("kind")), content=data["content"])
        return self.add(payload)

    # -- properties ----------------------------------------------------------------------------------------------

    def set_block_props(self, block_id: str, changes: dict[str, object]) -> str:
        """Change a block's properties; returns the problem in words ("" when done)."""
        try:
            after = edits.update_block_props(self.document, block_id, changes)
        except EditError as exc:
            return _short(str(exc))
        key = next(iter(changes), "")
        block = self.document.find_block(block_id)
        self.apply(f"Change {block.title.lower() if block else 'block'}", after, ("block", block_id),
                   merge_key=f"{block_id}:{key}")
        return ""

    def set_section_props(self, section_id: str, changes: dict[str, object]) -> str:
        try:
            after = edits.update_section_props(self.document, section_id, changes)
        except EditError as exc:
            return _short(str(exc))
        self.apply("Change section", after, ("section", section_id), merge_key=f"{section_id}:{next(iter(changes))}")
        return ""

    def set_columns(self, section_id: str, count: int, widths: list[int]) -> bool:
        self.before_change()
        return self.attempt(f"{count} columns", lambda: edits.set_columns(self.document, section_id, count,
                                                                        widths), ("section", section_id))


def _short(message: str) -> str:
    """"new block, block b1 (Image): Link must ..." -> "Link must ..." (the panel shows it under the field)."""
    return message.split("): ", 1)[-1]
