"""The plain-text part, written from the document model once per version (never converted per message)."""

from __future__ import annotations

import html
import re
from typing import Any

from app.modules.editor.blocks import BLOCK_TYPES
from app.modules.editor.document import Block, Document
from app.modules.editor.richtext import html_to_text

SOCIAL_LABELS = {"facebook": "Facebook", "instagram": "Instagram", "x": "X", "linkedin": "LinkedIn",
                 "youtube": "YouTube", "tiktok": "TikTok", "mastodon": "Mastodon", "website": "Website",
                 "email": "Email"}
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TOKEN = re.compile(r"PRJTAG(\d+)X")


def social_label(network: str) -> str:
    return SOCIAL_LABELS.get(network, network.title())


def is_page(document: Document) -> bool:
    """True for an imported full HTML page: one section holding one raw-HTML block with <html> or <body>."""
    if len(document.sections) != 1 or len(document.sections[0].columns) != 1:
        return False
    blocks = document.sections[0].columns[0].blocks
    if len(blocks) != 1 or blocks[0].type != "html":
        return False
    return bool(re.search(r"<(html|body)[\s>]", str(blocks[0].props.get("html", "")), re.IGNORECASE))


def markup_text(markup: str) -> str:
    """Text of an HTML fragment that may hold merge tags (kept as they are, even ``{% if a < b %}``)."""
    tags: list[str] = []

    def hide(match: re.Match[str]) -> str:
        tags.append(html.unescape(match.group(0)))
        return f"PRJTAG{len(tags) - 1}X"

    text = html_to_text(_TAG.sub(hide, markup))
    return _TOKEN.sub(lambda m: tags[int(m.group(1))], text)


def _plain(value: Any) -> str:
    return str(value or "").strip()


class _TextWriter:
    def __init__(self) -> None:
        self.rules = 0

    def block(self, block: Block) -> str:  # noqa: PLR0911 - one case per block type
        props = {**BLOCK_TYPES[block.type].defaults, **block.props} if block.type in BLOCK_TYPES else block.props
        if block.type == "heading":
            return _plain(props.get("text"))
        if block.type in ("text", "html"):
            if block.type == "html" and re.search(r"<(html|body)[\s>]", str(props.get("html", "")), re.I):
                body = re.search(r"<body[^>]*>(.*)</body>", str(props["html"]), re.IGNORECASE | re.DOTALL)
                return markup_text(body.group(1) if body else str(props["html"]))
            return markup_text(str(props.get("html", "")))
        if block.type == "image":
            alt, link = _plain(props.get("alt")), _plain(props.get("link"))
            return f"{alt} ({link})" if alt and link else (f"[{alt}]" if alt else link)
        if block.type == "button":
            return f"{_plain(props.get('text'))}: {_plain(props.get('url'))}"
        if block.type == "divider":
            return "-" * 40
        if block.type == "spacer":
            return ""
        if block.type == "social":
            return "\n".join(f"{social_label(link.get('network', ''))}: {link.get('url', '')}"
                             for link in props.get("links", []) if link.get("url"))
        if block.type == "footer":
            return self.footer(props)
        if block.type == "conditional":
            number = self.rules
            self.rules += 1
            inner = "\n\n".join(part for part in (self.block(child) for child in block.children) if part)
            return f"{{% if _pr_match(contact, _pr_rules[{number}]) %}}{inner}\n\n{{% endif %}}" if inner else ""
        return ""

    @staticmethod
    def footer(props: dict[str, Any]) -> str:
        lines = [_plain(props.get("text")), _plain(props.get("address"))]
        for key, url in (("unsubscribe_text", "unsubscribe_url"), ("preferences_text", "preferences_url"),
                         ("webview_text", "webview_url")):
            if props.get(key):
                lines.append(f"{_plain(props[key])}: {{{{ {url} }}}}")
        return "\n".join(line for line in lines if line)


def document_text(document: Document) -> str:
    """Jinja source of the text part: blocks in reading order (columns one after another), links as URLs."""
    writer = _TextWriter()
    parts: list[str] = []
    for section in document.sections:
        for column in section.columns:
            for block in column.blocks:
                text = writer.block(block)
                if text:
                    # A conditional's text ends with its own blank line inside the if, so hidden blocks leave none.
                    parts.append(text if block.type == "conditional" else text + "\n\n")
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip() + "\n"
