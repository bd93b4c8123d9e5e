"""Rich text of text blocks: a small safe HTML subset (bold, italic, underline, links, lists), sanitized on input."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

# Tags kept as they are (all others are dropped, their text kept).
ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "u", "a", "ul", "ol", "li", "s"})
_RENAMED = {"b": "strong", "i": "em", "strike": "s", "del": "s", "div": "p", "h1": "p", "h2": "p", "h3": "p",
            "h4": "p", "h5": "p", "h6": "p"}
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object",
                                   "svg", "math", "textarea", "select"})
_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "source", "area", "col", "embed", "param",
                   "track", "base"})
_SAFE_URL = re.compile(r"^\s*(https?:|mailto:|tel:|#|\{\{)", re.IGNORECASE)
_BLOCK_LEVEL = frozenset({"p", "ul", "ol", "li"})


def is_safe_href(url: str) -> bool:
    """Links may point to the web, mail, phone, an anchor, or a merge tag such as ``{{ webview_url }}``."""
    return bool(_SAFE_URL.match(url))


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[tuple[str, str]] = []  # (tag as written, tag emitted or "" when dropped)
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        written = tag
        tag = self._qt_span(attrs) if tag == "span" else _RENAMED.get(tag, tag)
        if tag == "br":
            self.out.append("<br>")
            return
        if tag not in ALLOWED_TAGS:
            if tag not in _VOID:
                self.open.append((written, ""))
            return
        if tag == "a":
            href = next((value or "" for name, value in attrs if name == "href"), "")
            self.out.append(f'<a href="{escape(href.strip())}">' if is_safe_href(href) else "<a>")
        else:
            self.out.append(f"<{tag}>")
        self.open.append((written, tag))

    @staticmethod
    def _qt_span(attrs: list[tuple[str, str | None]]) -> str:
        # QTextEdit.toHtml() writes bold and italic as styled spans: keep their meaning.
        style = next((value or "" for name, value in attrs if name == "style"), "").replace(" ", "").lower()
        weight = re.search(r"font-weight:(\d+|bold)", style)
        if weight and (weight.group(1) == "bold" or int(weight.group(1)) >= 600):
            return "strong"
        if "font-style:italic" in style:
            return "em"
        if "text-decoration:underline" in style:
            return "u"
        return "span"

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth or tag in _VOID:
            return
        # Close the matching element and whatever was left open inside it; a stray end tag is ignored.
        if not any(written == tag for written, _ in self.open):
            return
        while self.open:
            written, emitted = self.open.pop()
            if emitted:
                self.out.append(f"</{emitted}>")
            if written == tag:
                return

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and tag not in _DROPPED_WITH_CONTENT:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        while self.open:
            _, emitted = self.open.pop()
            if emitted:
                self.out.append(f"</{emitted}>")
        return "".join(self.out)


def sanitize_rich_text(html: str) -> str:
    """Keep only the safe subset: p, br, strong, em, u, s, a[href], ul, ol, li. Scripts, styles and events go.

    Merge tags in the text (``{{ contact.first_name }}``) are kept; ``<``/``&`` inside them are stored as
    entities and restored when the template is compiled.
    """
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.IGNORECASE | re.DOTALL)
    parser = _Sanitizer()
    parser.feed(body.group(1) if body else html)
    parser.close()
    cleaned = parser.result()
    cleaned = re.sub(r"<p>\s*</p>", "", cleaned)
    return re.sub(r"<(strong|em|u|s)></\1>", "", cleaned).strip()


class _TextWriter(HTMLParser):
    """Rich text (or any HTML) to plain text for the text part: links as "text (url)", lists as "- item"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.lists: list[list[int]] = []  # [[counter or -1 for bullets]]
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skip_depth += 1
        elif self.skip_depth:
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("p", "div", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"):
            self.parts.append("\n\n")
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
            self.parts.append("\n")
        elif tag == "li":
            marker = "- "
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                marker = f"{self.lists[-1][0]}. "
            self.parts.append("\n" + "  " * max(0, len(self.lists) - 1) + marker)
        elif tag == "a":
            self.links.append(next((value or "" for name, value in attrs if name == "href"), ""))
        elif tag == "td":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif self.skip_depth:
            return
        elif tag in ("p", "div", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"):
            self.parts.append("\n\n")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop().strip()
            if href and not href.startswith("#") and not href.lower().startswith("mailto:"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(re.sub(r"\s+", " ", data))

    def result(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"[ \t]+\n", "\n", text)
        text = re.sub(r"\n[ \t]+(?![-\d])", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, for the text part (done once per template version, never per message)."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.result()


def is_block_level(tag: str) -> bool:
    return tag in _BLOCK_LEVEL
