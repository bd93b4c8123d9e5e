"""What a drag carries inside the editor: a custom MIME type with a small JSON payload, and dropped picture files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData

from app.modules.editor.store import IMAGE_SUFFIXES

MIME_TYPE = "application/x-postroom-editor-item"
CLIPBOARD_MIME = "application/x-postroom-editor-clipboard"

# What is dragged: a new block from the palette, a new 1/2/3-column section, a block or section already on the
# canvas, or a reusable block saved earlier.
NEW_BLOCK, NEW_SECTION, MOVE_BLOCK, MOVE_SECTION, SAVED = "new-block", "new-section", "move-block", "move-section", \
    "saved"
KINDS = (NEW_BLOCK, NEW_SECTION, MOVE_BLOCK, MOVE_SECTION, SAVED)


@dataclass(frozen=True)
class DragPayload:
    """One dragged thing. ``content`` is the JSON of a saved block or section (``saved_kind`` says which)."""

    kind: str
    block_type: str = ""
    columns: int = 0
    item_id: str = ""
    saved_kind: str = ""
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def places_section(self) -> bool:
        """True when the drop makes or moves a whole section (it lands between sections, not in a column)."""
        return self.kind in (NEW_SECTION, MOVE_SECTION) or (self.kind == SAVED and self.saved_kind == "section")

    def to_mime(self) -> QMimeData:
        mime = QMimeData()
        data = {"kind": self.kind, "block_type": self.block_type, "columns": self.columns, "item_id": self.item_id,
                "saved_kind": self.saved_kind, "content": self.content}
        mime.setData(MIME_TYPE, json.dumps(data).encode())
        return mime

    @classmethod
    def from_mime(cls, mime: QMimeData) -> DragPayload | None:
        """The payload of an editor drag, or None for anything else (text, files, broken data)."""
        if not mime.hasFormat(MIME_TYPE):
            return None
        try:
            data = json.loads(bytes(mime.data(MIME_TYPE).data()).decode())
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            return None
        content = data.get("content")
        return cls(kind=data["kind"], block_type=str(data.get("block_type", "")),
                   columns=int(data.get("columns") or 0), item_id=str(data.get("item_id", "")),
                   saved_kind=str(data.get("saved_kind", "")), content=content if isinstance(content, dict) else {})


def picture_files(mime: QMimeData) -> list[Path]:
    """Local picture files in a drag from the desktop (other files are ignored)."""
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [path for path in paths if path.suffix.lower() in IMAGE_SUFFIXES]


def accepts(mime: QMimeData) -> bool:
    return DragPayload.from_mime(mime) is not None or bool(picture_files(mime))
