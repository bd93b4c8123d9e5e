"""Public messages of the editor module: commands it handles and the events it publishes.

Documents travel as their JSON form (``Document.to_json()``), so other modules need not know the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.kernel.messages import Command, Event


class EditorError(ValueError):
    """A request the editor refuses (bad name, bad document, unknown template), with a message to show as is."""


# -- commands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedVersion:
    """What a save produced: the template and its new version number."""

    template_id: int
    version: int
    name: str


@dataclass(frozen=True, kw_only=True)
class SaveTemplate(Command[SavedVersion]):
    """Save ``document`` as a new version of ``template_id``, or as a new template when ``template_id`` is None.

    ``name`` renames the template when given (names are unique, ignoring case). Every save adds a version;
    nothing earlier is changed. Raises ``EditorError`` with a readable message for a bad document or name.
    """

    template_id: int | None
    document: Mapping[str, Any]
    name: str | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class RenameTemplate(Command[None]):
    template_id: int
    name: str


@dataclass(frozen=True, kw_only=True)
class DeleteTemplate(Command[bool]):
    """Delete a template and all its versions; False when it did not exist."""

    template_id: int


@dataclass(frozen=True, kw_only=True)
class DuplicateTemplate(Command[SavedVersion]):
    """Copy a template's current version into a new template (``name`` or "<name> (copy)")."""

    template_id: int
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class RestoreVersion(Command[SavedVersion]):
    """Make a new version equal to an old one (history is kept: the restore is itself a version)."""

    template_id: int
    version: int


@dataclass(frozen=True, kw_only=True)
class ImportHtmlTemplate(Command[SavedVersion]):
    """Create a template whose content is the given HTML, kept as one raw-HTML block (merge tags keep working)."""

    name: str
    html: str


@dataclass(frozen=True, kw_only=True)
class SetTemplateThumbnail(Command[None]):
    """Record the picture (a PNG the UI rendered) that shows ``version`` of a template in the library."""

    template_id: int
    version: int
    path: str


@dataclass(frozen=True, kw_only=True)
class SaveBrandKit(Command[None]):
    """Replace the brand kit (fields of ``BrandKit``); raises ``EditorError`` naming each bad value."""

    kit: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class SaveReusableBlock(Command[int]):
    """Save a block or section (its JSON form) under ``name`` for reuse; returns its id. Same name replaces."""

    name: str
    kind: str  # "block" or "section"
    content: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class DeleteReusableBlock(Command[bool]):
    saved_block_id: int


# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TemplateSaved(Event):
    """A template got a new version (saved, restored, duplicated or imported)."""

    template_id: int
    version: int
    name: str


@dataclass(frozen=True, kw_only=True)
class TemplateRenamed(Event):
    template_id: int
    name: str


@dataclass(frozen=True, kw_only=True)
class TemplateDeleted(Event):
    template_id: int


@dataclass(frozen=True, kw_only=True)
class TemplateThumbnailChanged(Event):
    template_id: int


@dataclass(frozen=True, kw_only=True)
class BrandKitChanged(Event):
    """The shared brand kit changed: previews and thumbnails redraw."""


@dataclass(frozen=True, kw_only=True)
class ReusableBlocksChanged(Event):
    """A reusable block was saved or deleted."""
