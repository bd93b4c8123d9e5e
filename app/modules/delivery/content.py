"""What a run sends: a message source renders subject, HTML and text per recipient (or fails that recipient).

The editor's compiled template fits behind :class:`MessageSource` through :class:`EditorSource`; the simple
:class:`JinjaSource` serves test sends, the command line and the tests until (and besides) the editor.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from app.modules.delivery.mime import MessageParts


class RenderFailed(ValueError):  # noqa: N818 - what happened, in the user's words
    """This recipient's message cannot be rendered (missing data, a template error); the text says why."""


class MessageSource(Protocol):
    """Renders one recipient's parts; raises :class:`RenderFailed` for that recipient only."""

    version_key: str

    def render(self, contact: Mapping[str, Any], *, urls: Mapping[str, str],
               sender: Mapping[str, Any] | None = None, campaign: Mapping[str, Any] | None = None) -> MessageParts:
        ...


_TAG = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/tr|/li|/table)\b[^>]*>", re.IGNORECASE)
_LINKS = re.compile(r"<a\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]+>")


def text_from_html(source: str) -> str:
    """A readable plain-text version of HTML, derived once per template (merge tags pass through untouched)."""
    text = _TAG.sub("", source)
    text = _LINKS.sub(lambda m: f"{m[2]} ({m[1]})" if m[1] not in m[2] else m[2], text)
    text = _BREAKS.sub("\n", text)
    text = html_lib.unescape(_ANY_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


_SPLIT = "\x00\x1e-postroom-part-\x1e\x00"  # contact data holding this (NUL and all) fails that recipient


class JinjaSource:
    """Subject, HTML and text as Jinja2 templates in a sandbox; a missing merge field fails the recipient.

    The three are rendered as one template (the subject and text outside autoescape), which costs a third of
    rendering them one by one; each is also compiled alone first so a syntax error names its part and line.
    """

    def __init__(self, subject: str, html: str, text: str = "", preheader: str = "") -> None:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        text = text or text_from_html(html)
        if preheader:
            html = _with_preheader(html, preheader)
        self.version_key = "jinja:" + hashlib.sha256(
            json.dumps([subject, html, text]).encode()).hexdigest()[:32]
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)
        for part, source in (("subject", subject), ("text", text), ("HTML", html)):
            try:
                env.parse(source)
            except TemplateSyntaxError as exc:
                raise ValueError(f"the {part} has a syntax error on line {exc.lineno}: {exc.message}") from None
        self._template = env.from_string(
            "{% autoescape false %}" + subject + _SPLIT + text + "{% endautoescape %}" + _SPLIT + html)

    def render(self, contact: Mapping[str, Any], *, urls: Mapping[str, str],
               sender: Mapping[str, Any] | None = None, campaign: Mapping[str, Any] | None = None) -> MessageParts:
        from jinja2 import TemplateError

        context = {**contact, **urls, "contact": contact, "urls": urls, "sender": sender or {},
                   "campaign": campaign or {}}
        try:
            rendered = self._template.render(context).split(_SPLIT)
        except TemplateError as exc:
            raise RenderFailed(f"the template could not be filled in: {exc}") from None
        except Exception as exc:  # a filter on odd data (a number where text was expected): this recipient only
            raise RenderFailed(f"the template could not be filled in: {type(exc).__name__}: {exc}") from None
        if len(rendered) != 3:
            raise RenderFailed("the contact's data contains control characters (NUL)")
        subject, text, html = rendered
        return MessageParts(subject=" ".join(subject.split()), html=html, text=text)


def _with_preheader(html: str, preheader: str) -> str:
    """The preview text as a hidden first element of the body (what inbox lists show after the subject)."""
    hidden = ('<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">' + preheader + "</div>")
    match = re.search(r"<body\b[^>]*>", html, re.IGNORECASE)
    return html[:match.end()] + hidden + html[match.end():] if match else hidden + html


class EditorSource:
    """Adapts the editor's ``CompiledTemplate`` (``render(contact, campaign=, sender=, urls=)``)."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self.version_key = str(compiled.version_key)

    def render(self, contact: Mapping[str, Any], *, urls: Mapping[str, str],
               sender: Mapping[str, Any] | None = None, campaign: Mapping[str, Any] | None = None) -> MessageParts:
        try:
            rendered = self._compiled.render(contact, campaign=campaign, sender=sender, urls=urls)
        except Exception as exc:  # the editor's RenderError, or anything else from one contact's data
            raise RenderFailed(str(exc) or type(exc).__name__) from None
        return MessageParts(subject=" ".join(str(rendered.subject).split()), html=rendered.html, text=rendered.text)


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


class UtmSource:
    """Adds UTM parameters to every http(s) link of the HTML part, except the message's own unsubscribe,
    preference and web-view links and links that already carry ``utm_`` parameters. Each distinct URL is
    rewritten once per run (a cache), so the cost per message is one regex pass."""

    def __init__(self, inner: MessageSource, params: Mapping[str, str]) -> None:
        self._inner = inner
        self._params = {k: v for k, v in params.items() if k and v}
        self.version_key = inner.version_key
        self._cache: dict[str, str] = {}

    def _tagged(self, url: str, own: frozenset[str]) -> str:
        cached = self._cache.get(url)
        if cached is None:
            from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

            parts = urlsplit(html_lib.unescape(url))
            query = parse_qsl(parts.query, keep_blank_values=True)
            if any(k.lower().startswith("utm_") for k, _ in query):
                cached = url
            else:
                query.extend(self._params.items())
                cached = html_lib.escape(urlunsplit(parts._replace(query=urlencode(query))), quote=True)
            if len(self._cache) < 10_000:
                self._cache[url] = cached
        return url if url in own else cached

    def render(self, contact: Mapping[str, Any], *, urls: Mapping[str, str],
               sender: Mapping[str, Any] | None = None, campaign: Mapping[str, Any] | None = None) -> MessageParts:
        parts = self._inner.render(contact, urls=urls, sender=sender, campaign=campaign)
        if not self._params:
            return parts
        own = frozenset(str(u) for u in urls.values()) | frozenset(html_lib.escape(str(u)) for u in urls.values())
        html = _HREF.sub(lambda m: m[1] + m[2] + self._tagged(m[3], own) + m[2], parts.html)
        return MessageParts(subject=parts.subject, html=html, text=parts.text)


def source_for(content: Mapping[str, Any], db: Any = None) -> MessageSource:
    """Build the source a run's stored content describes (an editor template, or Jinja subject/HTML/text),
    with UTM parameters on its links when the content asks for them."""
    source = _plain_source(content, db)
    utm = content.get("utm") or {}
    return UtmSource(source, utm) if utm else source


def _plain_source(content: Mapping[str, Any], db: Any = None) -> MessageSource:
    if content.get("template_id") is not None:
        try:
            from app.modules.editor.api import compile_template  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ValueError("this run uses an editor template, but the editor module is not installed") from None
        compiled = compile_template(db, int(content["template_id"]), content.get("template_version"),
                                    subject=content.get("subject", ""), preheader=content.get("preheader", ""))
        return EditorSource(compiled)
    return JinjaSource(content.get("subject", ""), content.get("html", ""), content.get("text", ""),
                       content.get("preheader", ""))


def contact_mapping(contact_id: int, email: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """What templates see of a contact: its standard fields, and custom fields both under ``fields`` and flat."""
    data = data or {}
    fields = dict(data.get("fields") or {})
    mapping: dict[str, Any] = dict(fields)
    mapping.update({
        "id": contact_id, "email": email, "first_name": data.get("first_name", ""),
        "last_name": data.get("last_name", ""), "language": data.get("language", ""),
        "time_zone": data.get("time_zone", ""), "fields": fields,
    })
    return mapping
