"""Undoable changes: each keeps the whole document before and after (documents are values), plus the selection."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from app.modules.editor.document import Document

Selection = tuple[str, str]
Show = Callable[[Document, Selection], None]
MERGE_WINDOW_S = 2.0  # typing into one field within this long is one undo step
_MERGE_ID = 7301


class DocumentChange(QUndoCommand):
    """Replaces the document; undo puts the previous one back exactly (same JSON, same selection)."""

    def __init__(self, show: Show, text: str, before: Document, after: Document, *,
                 selection_before: Selection, selection_after: Selection, merge_key: str = "") -> None:
        super().__init__(text)
        self._show = show
        self.before, self.after = before, after
        self.selection_before, self.selection_after = selection_before, selection_after
        self.merge_key = merge_key
        self.at = time.monotonic()

    def redo(self) -> None:
        self._show(self.after, self.selection_after)

    def undo(self) -> None:
        self._show(self.before, self.selection_before)

    def id(self) -> int:
        return _MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, DocumentChange) or other.merge_key != self.merge_key:
            return False
        if other.at - self.at > MERGE_WINDOW_S:
            return False
        self.after, self.selection_after, self.at = other.after, other.selection_after, other.at
        return True
