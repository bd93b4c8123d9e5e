"""A template version compiled once (layout, inlining, text part); per recipient only merge fields are filled."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError

from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document
from app.modules.editor.merge import LimitExceeded, MergeEnvironment, Record, render_bounded
from app.modules.editor.render import Layout, render_layout
from app.modules.editor.validation import (
    Source,
    TemplateProblem,
    contact_field_set,
    document_sources,
    field_problems,
    rule_problems,
    syntax_problem,
)

HTML_ENV = MergeEnvironment(html=True)
TEXT_ENV = MergeEnvironment(html=False)
_UNSUBSCRIBE_LINK = re.compile(r"""href\s*=\s*["']?\s*\{\{[^}]*\bunsubscribe_url\b""", re.IGNORECASE)


class RenderError(Exception):
    """One recipient's message could not be made; ``reason`` says why in words (the others still go)."""

    def __init__(self, reason: str, *, recipient: str = "", part: str = "") -> None:
        super().__init__(f"{recipient}: {reason}" if recipient else reason)
        self.reason = reason
        self.recipient = recipient
        self.part = part


class TemplateInvalid(ValueError):  # noqa: N818 - reads as what it is
    """The template itself is broken (syntax); no recipient can be rendered. ``problems`` says where."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("the template has errors: " + "; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class RenderedMessage:
    """What one recipient receives: subject and preheader (one line each), HTML and text."""

    subject: str
    preheader: str
    html: str
    text: str


def _header(value: str) -> str:
    # A subject is one line: line breaks or NUL from contact data must not reach the header.
    return " ".join(value.replace("\x00", "").split())


def _reason(error: Exception) -> str:
    if isinstance(error, LimitExceeded):
        return str(error)
    if isinstance(error, SecurityError):
        return f"the template tried something templates may not do ({error})"
    if isinstance(error, UndefinedError):
        undefined = re.fullmatch(r"'(\w+)' is undefined", str(error))
        if undefined:
            return f"{undefined.group(1)} was not given for this recipient"
        return str(error)
    if isinstance(error, RecursionError):
        return "the template calls itself without end"
    return f"the template failed: {type(error).__name__}: {error}"


def contact_values(contact: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a recipient: custom ``fields`` next to the standard ones (which win a clash)."""
    values: dict[str, Any] = {}
    custom = contact.get("fields")
    if isinstance(custom, Mapping):
        values.update(custom)
    values.update({key: value for key, value in contact.items() if key != "fields"})
    return values


class CompiledTemplate:
    """A compiled template version. Thread-safe: delivery may render from several threads at once."""

    def __init__(self, layout: Layout, document: Document, *, subject: str, preheader: str, version_key: str,
                 template_id: int | None = None, version: int | None = None) -> None:
        self.layout = layout
        self.document = document
        self.version_key = version_key
        self.template_id = template_id
        self.version = version
        self.subject_source = subject
        self.preheader_source = preheader
        self.assets = layout.assets
        self.html_source = layout.html
        self.text_source = layout.text
        self.has_unsubscribe_link = bool(_UNSUBSCRIBE_LINK.search(layout.html))
        self.has_postal_address = "sender.postal_address" in layout.html or any(
            block.type == "footer" and str(block.props.get("address", "")).strip() for block in document.blocks())
        self.syntax_problems = self._syntax_problems()
        self._templates: tuple[Any, Any, Any, Any] | None = None
        if not self.syntax_problems:
            self._templates = self._compile()

    def _sources(self) -> Iterable[Source]:
        yield Source("subject", self.subject_source, html=False)
        yield Source("preheader", self.preheader_source, html=False)
        yield from document_sources(self.document)

    def _syntax_problems(self) -> list[TemplateProblem]:
        problems = [p for p in (syntax_problem(s, HTML_ENV if s.html else TEXT_ENV) for s in self._sources()) if p]
        if problems:
            return problems
        for part, env, source in (("body", HTML_ENV, self.layout.html), ("text", TEXT_ENV, self.layout.text)):
            # Blocks are fine one by one; a tag opened in one block and closed in another is still an error.
            problem = syntax_problem(Source(part, source), env)
            if problem:
                return [TemplateProblem("syntax", problem.message + " (an {% if %} or {% for %} must end in the "
                                        "same block it starts in)", "body", line=problem.line, column=problem.column)]
        return []

    def _compile(self) -> tuple[Any, Any, Any, Any]:
        constants = {"_pr_rules": self.layout.rules}
        return (TEXT_ENV.compile_bounded(self.subject_source, "subject"),
                TEXT_ENV.compile_bounded(self.preheader_source, "preheader"),
                HTML_ENV.compile_bounded(self.layout.html, "html", constants),
                TEXT_ENV.compile_bounded(self.layout.text, "text", constants))

    def validate(self, known_contact_fields: Iterable[str] = ()) -> list[TemplateProblem]:
        """Syntax errors (with block, line, column) and unknown merge fields (by name), in reading order.

        ``known_contact_fields`` are the custom field keys; the standard fields are always known.
        """
        if self.syntax_problems:
            return list(self.syntax_problems)
        fields = contact_field_set(known_contact_fields)
        found: list[TemplateProblem] = []
        for source in self._sources():
            found.extend(field_problems(source, HTML_ENV, fields))
        found.extend(rule_problems(self.document, fields))
        return found

    def render(self, contact: Mapping[str, Any], *, campaign: Mapping[str, Any] | None = None,
               sender: Mapping[str, Any] | None = None, urls: Mapping[str, str] | None = None) -> RenderedMessage:
        """The message ``contact`` receives. Raises RenderError (this recipient only) or TemplateInvalid."""
        if self._templates is None:
            raise TemplateInvalid(self.syntax_problems)
        subject_t, preheader_t, html_t, text_t = self._templates
        variables: dict[str, Any] = dict(urls or {})
        variables["contact"] = Record("contact", contact_values(contact))
        variables["campaign"] = Record("campaign", campaign or {})
        variables["sender"] = Record("sender", sender or {})
        part = "subject"
        try:
            subject = _header(render_bounded(subject_t, variables))
            part = "preheader"
            preheader = _header(render_bounded(preheader_t, variables))
            variables["_pr_subject"], variables["_pr_preheader"] = subject, preheader
            part = "html"
            html = render_bounded(html_t, variables)
            part = "text"
            text = render_bounded(text_t, variables)
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as error:
            raise RenderError(_reason(error), recipient=str(contact.get("email", "")), part=part) from error
        return RenderedMessage(subject, preheader, html, text)


def compile_layout(layout: Layout, document: Document, *, subject: str, preheader: str = "",
                   template_id: int | None = None, version: int | None = None) -> CompiledTemplate:
    if template_id is not None:
        key = f"{template_id}:{version}"
    else:
        digest = hashlib.sha256(json.dumps([document.to_json(), subject, preheader], sort_keys=True).encode())
        key = f"document:{digest.hexdigest()[:16]}"
    return CompiledTemplate(layout, document, subject=subject, preheader=preheader, version_key=key,
                            template_id=template_id, version=version)


def compile_document(document: Mapping[str, Any] | Document, *, subject: str, preheader: str = "",
                     brand: BrandKit | None = None, asset_base: str | None = None,
                     template_id: int | None = None, version: int | None = None) -> CompiledTemplate:
    """Lay out and compile a document (no database): the expensive step, once per version."""
    document = document if isinstance(document, Document) else Document.from_json(document)
    layout = render_layout(document, brand, asset_base=asset_base)
    return compile_layout(layout, document, subject=subject, preheader=preheader, template_id=template_id,
                          version=version)


__all__ = ["CompiledTemplate", "RenderError", "RenderedMessage", "TemplateInvalid", "TemplateProblem",
           "TemplateSyntaxError", "compile_document"]
