"""Reading and writing templates, versions, the brand kit, reusable blocks and image assets.

Read functions take the Database and return plain dataclasses (for views). Write functions take a Session
inside a unit of work and are called by the command handlers (handlers.py), which then publish events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.kernel.database import Database, utcnow
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document, DocumentError
from app.modules.editor.messages import EditorError
from app.modules.editor.models import BrandKitRow, SavedBlock, Template, TemplateVersion

NAME_LIMIT = 200
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
IMAGE_LIMIT = 5 * 1024 * 1024


@dataclass(frozen=True)
class TemplateInfo:
    """A template as the library shows it."""

    id: int
    name: str
    current_version: int
    updated_at: dt.datetime
    thumbnail: Path | None = None
    thumbnail_version: int | None = None


@dataclass(frozen=True)
class VersionInfo:
    """One entry of a template's history."""

    version: int
    created_at: dt.datetime
    note: str
    is_current: bool


@dataclass(frozen=True)
class TemplateContent:
    """A template's name and the document of one of its versions (the current one unless asked otherwise)."""

    id: int
    name: str
    version: int
    current_version: int
    document: Document
    updated_at: dt.datetime


@dataclass(frozen=True)
class SavedBlockInfo:
    """A reusable block or section; ``content`` is its JSON form (insert a ``fresh_copy`` of it)."""

    id: int
    name: str
    kind: str
    content: dict[str, Any]


# -- reads -------------------------------------------------------------------------------------------


def _info(row: Template) -> TemplateInfo:
    thumbnail = Path(row.thumbnail_path) if row.thumbnail_path else None
    return TemplateInfo(row.id, row.name, row.current_version, row.updated_at, thumbnail, row.thumbnail_version)


def list_templates(db: Database, search: str = "") -> list[TemplateInfo]:
    """Templates whose name contains ``search`` (ignoring case), most recently changed first."""
    with db.read() as session:
        query = select(Template).order_by(Template.updated_at.desc(), Template.id.desc())
        if search.strip():
            pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(Template.name_key.like(pattern, escape="\\"))
        return [_info(row) for row in session.scalars(query)]


def template_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Template)) or 0)


def get_template(db: Database, template_id: int) -> TemplateInfo | None:
    with db.read() as session:
        row = session.get(Template, template_id)
        return _info(row) if row else None


def find_template(db: Database, name: str) -> TemplateInfo | None:
    """The template called ``name`` (ignoring case), or None."""
    with db.read() as session:
        row = session.scalar(select(Template).where(Template.name_key == _key(name)))
        return _info(row) if row else None


def load_template(db: Database, template_id: int, version: int | None = None) -> TemplateContent:
    """A template's document at ``version`` (default: current). Raises EditorError when it does not exist."""
    with db.read() as session:
        row = session.get(Template, template_id)
        if row is None:
            raise EditorError(f"there is no template with id {template_id}")
        wanted = version if version is not None else row.current_version
        stored = session.scalar(select(TemplateVersion).where(
            TemplateVersion.template_id == template_id, TemplateVersion.version == wanted))
        if stored is None:
            raise EditorError(f"{row.name} has no version {wanted} (it has 1 to {row.current_version})")
        try:
            document = Document.from_json(stored.document)
        except DocumentError as exc:
            raise EditorError(f"version {wanted} of {row.name} cannot be read: {exc}") from exc
        return TemplateContent(row.id, row.name, wanted, row.current_version, document, row.updated_at)


def versions(db: Database, template_id: int) -> list[VersionInfo]:
    """A template's history, newest first."""
    with db.read() as session:
        current = session.scalar(select(Template.current_version).where(Template.id == template_id))
        rows = session.execute(select(TemplateVersion.version, TemplateVersion.created_at, TemplateVersion.note)
                               .where(TemplateVersion.template_id == template_id)
                               .order_by(TemplateVersion.version.desc())).all()
        return [VersionInfo(v, created, note, v == current) for v, created, note in rows]


def version_html(db: Database, template_id: int, version: int) -> str | None:
    """The stored HTML snapshot of a version (merge tags still in it), if one was kept."""
    with db.read() as session:
        return session.scalar(select(TemplateVersion.html).where(
            TemplateVersion.template_id == template_id, TemplateVersion.version == version))


def brand_kit(db: Database) -> BrandKit:
    with db.read() as session:
        row = session.get(BrandKitRow, 1)
        return BrandKit.from_json(row.data if row else None)


def saved_blocks(db: Database) -> list[SavedBlockInfo]:
    with db.read() as session:
        return [SavedBlockInfo(row.id, row.name, row.kind, dict(row.content))
                for row in session.scalars(select(SavedBlock).order_by(SavedBlock.name))]


# -- writes (inside a unit of work) ------------------------------------------------------------------


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def clean_name(name: str) -> str:
    """A usable template name: trimmed, single-spaced, 1 to 200 characters."""
    cleaned = " ".join(str(name).replace("\x00", "").split())
    if not cleaned:
        raise EditorError("a template needs a name")
    if len(cleaned) > NAME_LIMIT:
        raise EditorError(f"a template name has at most {NAME_LIMIT} characters (this one has {len(cleaned)})")
    return cleaned


def _check_free(session: Session, name: str, template_id: int | None = None) -> None:
    other = session.scalar(select(Template.id).where(Template.name_key == _key(name)))
    if other is not None and other != template_id:
        raise EditorError(f"a template called {name!r} already exists; choose another name")


def create_template(session: Session, name: str, document: Document, note: str = "",
                    html: str | None = None) -> Template:
    """A new template whose version 1 is ``document``."""
    name = clean_name(name)
    _check_free(session, name)
    row = Template(name=name, name_key=_key(name), current_version=1)
    session.add(row)
    session.flush()
    session.add(TemplateVersion(template_id=row.id, version=1, document=document.to_json(), html=html,
                                note=note[:500]))
    return row


def _template(session: Session, template_id: int) -> Template:
    row = session.get(Template, template_id, with_for_update=True)
    if row is None:
        raise EditorError(f"there is no template with id {template_id} (was it deleted?)")
    return row


def add_version(session: Session, template_id: int, document: Document, note: str = "", *,
                html: str | None = None, name: str | None = None) -> Template:
    """Store ``document`` as the next version of the template (and rename it when ``name`` is given)."""
    row = _template(session, template_id)
    if name is not None:
        rename(session, row.id, name)
    latest = session.scalar(select(func.max(TemplateVersion.version))
                            .where(TemplateVersion.template_id == template_id)) or 0
    row.current_version = latest + 1
    row.updated_at = utcnow()
    session.add(TemplateVersion(template_id=row.id, version=row.current_version, document=document.to_json(),
                                html=html, note=note[:500]))
    return row


def rename(session: Session, template_id: int, name: str) -> Template:
    row = _template(session, template_id)
    name = clean_name(name)
    _check_free(session, name, template_id)
    row.name, row.name_key = name, _key(name)
    return row


def stored_document(session: Session, template_id: int, version: int) -> Document:
    stored = session.scalar(select(TemplateVersion).where(
        TemplateVersion.template_id == template_id, TemplateVersion.version == version))
    if stored is None:
        raise EditorError(f"template {template_id} has no version {version}")
    return Document.from_json(stored.document)


def delete_template(session: Session, template_id: int) -> bool:
    if session.get(Template, template_id) is None:
        return False
    # Versions first and explicitly: the foreign key cascades too, but a database set up by hand may not.
    session.execute(delete(TemplateVersion).where(TemplateVersion.template_id == template_id))
    session.execute(delete(Template).where(Template.id == template_id))
    session.expunge_all()
    return True


def copy_name(session: Session, name: str) -> str:
    """``name (copy)``, ``name (copy 2)``, ... whichever is free."""
    base = f"{name} (copy)"
    candidate, number = base, 2
    while session.scalar(select(Template.id).where(Template.name_key == _key(candidate))) is not None:
        candidate = f"{name} (copy {number})"
        number += 1
    return candidate[:NAME_LIMIT]


def set_thumbnail(session: Session, template_id: int, version: int, path: str) -> None:
    row = _template(session, template_id)
    row.thumbnail_path, row.thumbnail_version = path, version


def save_brand_kit(session: Session, kit: BrandKit) -> None:
    problems = kit.problems()
    if problems:
        raise EditorError("; ".join(message for _, message in problems))
    row = session.get(BrandKitRow, 1)
    if row is None:
        session.add(BrandKitRow(id=1, data=kit.to_json()))
    else:
        row.data, row.updated_at = kit.to_json(), utcnow()


def save_block(session: Session, name: str, kind: str, content: dict[str, Any]) -> int:
    name = clean_name(name)
    if kind not in ("block", "section"):
        raise EditorError(f"a reusable block is a 'block' or a 'section', not {kind!r}")
    row = session.scalar(select(SavedBlock).where(SavedBlock.name == name))
    if row is None:
        row = SavedBlock(name=name, kind=kind, content=content)
        session.add(row)
    else:
        row.kind, row.content = kind, content
    session.flush()
    return row.id


def delete_block(session: Session, saved_block_id: int) -> bool:
    row = session.get(SavedBlock, saved_block_id)
    if row is None:
        return False
    session.delete(row)
    return True


# -- files: image assets and thumbnails ------------------------------------------------------------


def assets_dir(data_dir: Path) -> Path:
    return data_dir / "editor" / "assets"


def thumbnails_dir(data_dir: Path) -> Path:
    return data_dir / "editor" / "thumbnails"


def thumbnail_file(data_dir: Path, template_id: int, version: int) -> Path:
    """Where the UI writes the PNG that shows a template version in the library."""
    return thumbnails_dir(data_dir) / f"template-{template_id}-v{version}.png"


def add_asset(data_dir: Path, source: Path) -> str:
    """Copy a picture into the app's assets folder; returns the ``asset:NAME`` an image block refers to.

    The name is the content's hash, so adding the same picture twice stores it once.
    """
    if source.suffix.lower() not in IMAGE_SUFFIXES:
        raise EditorError(f"{source.name} is not a picture Postroom can use ({', '.join(IMAGE_SUFFIXES)})")
    try:
        size = source.stat().st_size
        if size > IMAGE_LIMIT:
            raise EditorError(f"{source.name} is {size // 1024} KB; pictures in emails must be under "
                              f"{IMAGE_LIMIT // 1024 // 1024} MB (make it smaller first)")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:20]
    except OSError as exc:
        raise EditorError(f"cannot read {source}: {exc.strerror or exc}") from exc
    name = f"{digest}{source.suffix.lower()}"
    target = assets_dir(data_dir) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return f"asset:{name}"


def asset_file(data_dir: Path, reference: str) -> Path | None:
    """The file behind an ``asset:NAME`` reference (None for URLs or names that try to leave the folder)."""
    if not reference.startswith("asset:"):
        return None
    name = reference.removeprefix("asset:")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    return assets_dir(data_dir) / name


def version_html_in(session: Session, template_id: int, version: int) -> str | None:
    return session.scalar(select(TemplateVersion.html).where(
        TemplateVersion.template_id == template_id, TemplateVersion.version == version))
