"""Handlers of the editor's commands: each is one unit of work, then the events that say what changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.kernel.bus import MessageBus
from app.kernel.database import Database
from app.kernel.registry import ModuleContext
from app.modules.editor import store
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Block, Document, DocumentError, Section, new_block, new_section
from app.modules.editor.messages import (
    BrandKitChanged,
    DeleteReusableBlock,
    DeleteTemplate,
    DuplicateTemplate,
    EditorError,
    ImportHtmlTemplate,
    RenameTemplate,
    RestoreVersion,
    ReusableBlocksChanged,
    SaveBrandKit,
    SavedVersion,
    SaveReusableBlock,
    SaveTemplate,
    SetTemplateThumbnail,
    TemplateDeleted,
    TemplateRenamed,
    TemplateSaved,
    TemplateThumbnailChanged,
)
from app.modules.editor.models import Template

log = logging.getLogger(__name__)
IMPORT_LIMIT = 2 * 1024 * 1024


def document_of(data: Mapping[str, Any] | Document) -> Document:
    """A validated document, or EditorError listing what is wrong."""
    try:
        return Document.from_json(data)
    except DocumentError as exc:
        raise EditorError(f"the email cannot be saved: {exc}") from exc


def html_document(html: str) -> Document:
    """A document holding ``html`` as one raw-HTML block (how imported emails are kept)."""
    if not isinstance(html, str) or not html.strip():
        raise EditorError("the HTML file is empty")
    if len(html) > IMPORT_LIMIT:
        raise EditorError(f"the HTML is {len(html) // 1024} KB; an email must be under {IMPORT_LIMIT // 1024} KB")
    section = new_section(1, padding=0)
    section.columns[0].blocks.append(new_block("html", html=html.replace("\x00", "")))
    return Document([section])


class EditorHandlers:
    def __init__(self, db: Database, bus: MessageBus) -> None:
        self.db = db
        self.bus = bus

    def register(self, context: ModuleContext) -> None:
        context.handle(SaveTemplate, self.save)
        context.handle(RenameTemplate, self.rename)
        context.handle(DeleteTemplate, self.delete)
        context.handle(DuplicateTemplate, self.duplicate)
        context.handle(RestoreVersion, self.restore)
        context.handle(ImportHtmlTemplate, self.import_html)
        context.handle(SetTemplateThumbnail, self.set_thumbnail)
        context.handle(SaveBrandKit, self.save_brand_kit)
        context.handle(SaveReusableBlock, self.save_block)
        context.handle(DeleteReusableBlock, self.delete_block)

    def _snapshot(self, document: Document) -> str | None:
        """The version's HTML with merge tags kept (for export and comparison); a failure never blocks a save."""
        from app.modules.editor.render import render_layout

        try:
            return render_layout(document, store.brand_kit(self.db)).html
        except Exception:
            log.exception("could not keep an HTML snapshot of a template version")
            return None

    def save(self, command: SaveTemplate) -> SavedVersion:
        document = document_of(command.document)
        html = self._snapshot(document)
        with self.db.transaction() as session:
            if command.template_id is None:
                row = store.create_template(session, command.name or "Untitled", document, command.note, html)
            else:
                row = store.add_version(session, command.template_id, document, command.note, html=html,
                                        name=command.name)
            saved = SavedVersion(row.id, row.current_version, row.name)
        self.bus.publish(TemplateSaved(template_id=saved.template_id, version=saved.version, name=saved.name))
        return saved

    def rename(self, command: RenameTemplate) -> None:
        with self.db.transaction() as session:
            name = store.rename(session, command.template_id, command.name).name
        self.bus.publish(TemplateRenamed(template_id=command.template_id, name=name))

    def delete(self, command: DeleteTemplate) -> bool:
        with self.db.transaction() as session:
            deleted = store.delete_template(session, command.template_id)
        if deleted:
            self.bus.publish(TemplateDeleted(template_id=command.template_id))
        return deleted

    def duplicate(self, command: DuplicateTemplate) -> SavedVersion:
        with self.db.transaction() as session:
            original = session.get(Template, command.template_id)
            if original is None:
                raise EditorError(f"there is no template with id {command.template_id}")
            document = store.stored_document(session, original.id, original.current_version)
            name = command.name or store.copy_name(session, original.name)
            html = store.version_html_in(session, original.id, original.current_version)
            row = store.create_template(session, name, document, f"copy of {original.name}", html)
            saved = SavedVersion(row.id, row.current_version, row.name)
        self.bus.publish(TemplateSaved(template_id=saved.template_id, version=saved.version, name=saved.name))
        return saved

    def restore(self, command: RestoreVersion) -> SavedVersion:
        with self.db.transaction() as session:
            document = store.stored_document(session, command.template_id, command.version)
            html = store.version_html_in(session, command.template_id, command.version)
            row = store.add_version(session, command.template_id, document, f"restored version {command.version}",
                                    html=html)
            saved = SavedVersion(row.id, row.current_version, row.name)
        self.bus.publish(TemplateSaved(template_id=saved.template_id, version=saved.version, name=saved.name))
        return saved

    def import_html(self, command: ImportHtmlTemplate) -> SavedVersion:
        document = html_document(command.html)
        with self.db.transaction() as session:
            row = store.create_template(session, command.name, document, "imported HTML", self._snapshot(document))
            saved = SavedVersion(row.id, row.current_version, row.name)
        self.bus.publish(TemplateSaved(template_id=saved.template_id, version=saved.version, name=saved.name))
        return saved

    def set_thumbnail(self, command: SetTemplateThumbnail) -> None:
        with self.db.transaction() as session:
            store.set_thumbnail(session, command.template_id, command.version, command.path)
        self.bus.publish(TemplateThumbnailChanged(template_id=command.template_id))

    def save_brand_kit(self, command: SaveBrandKit) -> None:
        try:
            kit = BrandKit(**dict(command.kit))
        except TypeError as exc:
            raise EditorError(f"the brand kit has an unknown setting: {exc}") from exc
        with self.db.transaction() as session:
            store.save_brand_kit(session, kit)
        self.bus.publish(BrandKitChanged())

    def save_block(self, command: SaveReusableBlock) -> int:
        # Validate the content the same way a document does, so a saved block can always be inserted.
        try:
            item: Block | Section = (Section.from_json(command.content) if command.kind == "section"
                                     else Block.from_json(command.content))
            probe = Document([item]) if isinstance(item, Section) else Document([Section()])
            if isinstance(item, Block):
                probe.sections[0].columns[0].blocks.append(item)
            Document.from_json(probe.to_json())
        except DocumentError as exc:
            raise EditorError(f"this {command.kind} cannot be saved: {exc}") from exc
        with self.db.transaction() as session:
            saved_id = store.save_block(session, command.name, command.kind, item.to_json())
        self.bus.publish(ReusableBlocksChanged())
        return saved_id

    def delete_block(self, command: DeleteReusableBlock) -> bool:
        with self.db.transaction() as session:
            deleted = store.delete_block(session, command.saved_block_id)
        if deleted:
            self.bus.publish(ReusableBlocksChanged())
        return deleted
