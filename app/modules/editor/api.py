"""Public render API of the editor: list templates, compile a version once, render it per recipient.

Merge names, the same in blocks, imported HTML and subjects:
``contact.<field>`` (email, first_name, last_name, language, time_zone and every custom field key),
``campaign.name``, ``sender.name``, ``sender.email``, ``sender.postal_address``, ``unsubscribe_url``,
``preferences_url``, ``webview_url``. ``{{ contact.first_name | default("there") }}`` gives a fallback;
a field used without one that a recipient lacks fails that recipient with a RenderError naming it.

Typical use by delivery::

    compiled = compile_template(db, template_id, subject=campaign.subject, preheader=campaign.preheader)
    problems = compiled.validate(custom_field_keys)          # before sending: stop if any
    message = compiled.render(contact, campaign={"name": ...}, sender={...}, urls={...})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.kernel.database import Database
from app.modules.editor import store
from app.modules.editor.brand import BrandKit
from app.modules.editor.compiled import (
    CompiledTemplate,
    RenderedMessage,
    RenderError,
    TemplateInvalid,
    compile_layout,
)
from app.modules.editor.compiled import compile_document as _compile_document
from app.modules.editor.document import Document
from app.modules.editor.messages import EditorError
from app.modules.editor.render import render_layout
from app.modules.editor.store import TemplateInfo
from app.modules.editor.validation import RECORD_FIELDS, STANDARD_FIELDS, URL_NAMES, TemplateProblem

__all__ = [
    "MERGE_NAMES",
    "CompiledTemplate",
    "EditorError",
    "RenderError",
    "RenderedMessage",
    "TemplateInfo",
    "TemplateInvalid",
    "TemplateProblem",
    "asset_file",
    "compile_document",
    "compile_template",
    "list_templates",
    "merge_names",
    "preview_values",
]

MERGE_NAMES: tuple[str, ...] = (
    *(f"contact.{name}" for name in STANDARD_FIELDS),
    *(f"{record}.{name}" for record, names in RECORD_FIELDS.items() for name in names),
    *URL_NAMES,
)


def merge_names(custom_fields: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Every merge name a template may use, for a field picker: standard ones plus ``contact.<custom key>``."""
    return [*MERGE_NAMES[:len(STANDARD_FIELDS)], *(f"contact.{key}" for key in custom_fields),
            *MERGE_NAMES[len(STANDARD_FIELDS):]]


def list_templates(db: Database, search: str = "") -> list[TemplateInfo]:
    """The template library, most recently changed first (``search`` filters by name)."""
    return store.list_templates(db, search)


def find_template(db: Database, name: str) -> TemplateInfo | None:
    """The template with that name (ignoring case), or None."""
    return store.find_template(db, name)


def compile_template(db: Database, template_id: int, version: int | None = None, *, subject: str,
                     preheader: str = "", asset_base: str | None = None) -> CompiledTemplate:
    """Compile a stored template version (default: its current one) with the current brand kit.

    Pictures added from the computer are referenced as ``cid:NAME`` (``compiled.assets`` lists the names;
    ``asset_file(data_dir, name)`` gives each file) unless ``asset_base`` is given.
    Raises EditorError when the template or version does not exist.
    """
    content = store.load_template(db, template_id, version)
    layout = render_layout(content.document, store.brand_kit(db), asset_base=asset_base)
    return compile_layout(layout, content.document, subject=subject, preheader=preheader,
                          template_id=content.id, version=content.version)


def compile_document(document: Mapping[str, Any] | Document, *, subject: str, preheader: str = "",
                     brand: BrandKit | None = None, asset_base: str | None = None) -> CompiledTemplate:
    """Compile a document without a database (for previews, tests and benchmarks)."""
    return _compile_document(document, subject=subject, preheader=preheader, brand=brand, asset_base=asset_base)


def asset_file(data_dir: Path, name: str) -> Path | None:
    """The picture file behind ``cid:NAME`` / ``asset:NAME`` (None when the name is not a stored asset)."""
    return store.asset_file(data_dir, name if name.startswith("asset:") else f"asset:{name}")


def preview_values(email: str = "alex@example.com") -> dict[str, Any]:
    """Sample keyword arguments for ``CompiledTemplate.render`` when no real campaign exists (previews, tests)."""
    return {
        "campaign": {"name": "Preview"},
        "sender": {"name": "Your company", "email": "news@example.com",
                   "postal_address": "1 Example Street, 1000 Example City"},
        "urls": {"unsubscribe_url": "https://example.com/unsubscribe", "preferences_url":
                 "https://example.com/preferences", "webview_url": "https://example.com/view"},
    }
