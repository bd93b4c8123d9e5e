"""Document to email HTML: table layout, brand styles inlined with css-inline, columns that stack on phones.

The result still holds the merge tags (Jinja source); it is compiled once per template version and only the
merge fields are filled per recipient. Jinja tags are hidden from css-inline (its HTML parser would move a
``{% if %}`` out of a ``<table>``) and put back after inlining.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import css_inline

from app.modules.editor.blocks import BLOCK_TYPES
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Block, Document, Section
from app.modules.editor.textpart import document_text, is_page, social_label

JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_EXPRESSION_TOKEN = re.compile(r"__PRJ_(\d+)__")
_STATEMENT_TOKEN = re.compile(r"(?:<|&lt;)!--PRJ_(\d+)--(?:>|&gt;)")
_INLINER = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)
PREHEADER_FILLER = "&#847;&zwnj;&nbsp;" * 60
MUTED = "#718096"


def restore_tags(markup: str) -> str:
    """Undo HTML escaping inside merge tags (``{{ x | default(&quot;a&quot;) }}`` -> ``"a"``)."""
    return JINJA_TAG.sub(lambda m: html.unescape(m.group(0)), markup)


def protect_tags(markup: str) -> tuple[str, list[str]]:
    """Replace merge tags with placeholders an HTML parser leaves where they are."""
    tags: list[str] = []

    def hide(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        number = len(tags) - 1
        return f"__PRJ_{number}__" if match.group(0).startswith("{{") else f"<!--PRJ_{number}-->"

    return JINJA_TAG.sub(hide, markup), tags


def unprotect_tags(markup: str, tags: list[str]) -> str:
    markup = _STATEMENT_TOKEN.sub(lambda m: tags[int(m.group(1))], markup)
    return _EXPRESSION_TOKEN.sub(lambda m: tags[int(m.group(1))], markup)


def inline_css(markup: str) -> str:
    """Inline the <style> rules into style attributes (keeping media queries), leaving merge tags intact."""
    protected, tags = protect_tags(markup)
    return unprotect_tags(_INLINER.inline(protected), tags)


@dataclass(frozen=True)
class Layout:
    """A document laid out once: HTML and text as Jinja source, plus what the compiled template needs."""

    html: str
    text: str
    rules: tuple[dict[str, Any], ...]
    assets: tuple[str, ...]
    problems: tuple[str, ...] = ()


@dataclass
class _Builder:
    brand: BrandKit
    asset_base: str | None
    rules: list[dict[str, Any]] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def text(value: Any) -> str:
        return html.escape(str(value or ""), quote=False)

    @staticmethod
    def attr(value: Any) -> str:
        return html.escape(str(value or ""), quote=True)

    def image_src(self, src: str) -> str:
        if src.startswith("asset:"):
            name = src.removeprefix("asset:")
            if name not in self.assets:
                self.assets.append(name)
            return f"{self.asset_base}{name}" if self.asset_base is not None else f"cid:{name}"
        return src

    # -- layout -------------------------------------------------------------------------------------

    def section(self, section: Section) -> str:
        brand = self.brand
        background = section.props.get("background") or brand.content_background
        padding = int(section.props.get("padding", 16))
        stack = bool(section.props.get("stack_on_mobile", True))
        widths = section.widths()
        many = len(section.columns) > 1
        # Columns get half the usual gutter each, and the section the other half, so the text of every
        # section starts at the same distance from the edge.
        gutter = 12 if many else 0
        cells = []
        for column, width in zip(section.columns, widths, strict=True):
            pixels = (brand.content_width - 2 * gutter) * width // 100
            inner = "".join(self.block(block, pixels, many) for block in column.blocks)
            cells.append(
                f'<td class="{"pr-col" if stack else "pr-col-keep"}" width="{width}%" valign="top" '
                f'style="width:{width}%;vertical-align:top">'
                f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
                f"{inner}</table></td>")
        return (f'<tr><td class="pr-section" style="background-color:{background};padding:{padding}px {gutter}px">'
                f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>'
                f'{"".join(cells)}</tr></table></td></tr>')

    def block(self, block: Block, column_px: int, many: bool) -> str:
        if block.type == "conditional":
            self.rules.append(dict(block.props.get("rule") or {}))
            inner = "".join(self.block(child, column_px, many) for child in block.children)
            return f"{{% if _pr_match(contact, _pr_rules[{len(self.rules) - 1}]) %}}{inner}{{% endif %}}"
        props = {**BLOCK_TYPES[block.type].defaults, **block.props}
        pad = 12 if many else 24
        content = getattr(self, f"_{block.type}")(props, column_px - 2 * pad)
        align = props.get("align", "left")
        return (f'<tr><td class="pr-block pr-block-{block.type}" align="{align}" '
                f'style="padding:8px {pad}px;text-align:{align}">{content}</td></tr>')

    def _heading(self, props: dict[str, Any], _width: int) -> str:
        level = min(3, max(1, int(props.get("level", 1))))
        colour = f' style="color:{props["color"]}"' if props.get("color") else ""
        return f'<h{level} class="pr-h{level}"{colour}>{self.text(props.get("text"))}</h{level}>'

    def _text(self, props: dict[str, Any], _width: int) -> str:
        colour = f' style="color:{props["color"]}"' if props.get("color") else ""
        return f'<div class="pr-text"{colour}>{props.get("html", "")}</div>'

    def _image(self, props: dict[str, Any], width: int) -> str:
        if not props.get("src"):
            return ""
        shown = min(int(props.get("width") or 0) or width, width)
        image = (f'<img class="pr-fluid" src="{self.attr(self.image_src(props["src"]))}" '
                 f'alt="{self.attr(props.get("alt"))}" width="{shown}" '
                 f'style="display:block;width:{shown}px;max-width:100%;height:auto;border:0;outline:none;'
                 f'text-decoration:none;margin:0 {"auto" if props.get("align") == "center" else "0"}">')
        if props.get("link"):
            return f'<a href="{self.attr(props["link"])}" target="_blank">{image}</a>'
        return image

    def _button(self, props: dict[str, Any], _width: int) -> str:
        colour = props.get("color") or self.brand.button_color
        label = props.get("text_color") or self.brand.button_text_color
        full = bool(props.get("full_width"))
        width = 'width="100%" ' if full else ""
        return (f'<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
                f'{width}align="{props.get("align", "center")}" '
                f'style="margin:0 {"auto" if props.get("align") == "center" else "0"}">'
                f'<tr><td class="pr-button-cell" align="center" bgcolor="{colour}" '
                f'style="background-color:{colour}">'
                f'<a class="pr-button" href="{self.attr(props.get("url"))}" target="_blank" '
                f'style="color:{label};background-color:{colour};{"display:block;" if full else ""}">'
                f"{self.text(props.get('text'))}</a></td></tr></table>")

    def _divider(self, props: dict[str, Any], _width: int) -> str:
        colour = props.get("color") or "#e2e8f0"
        return (f'<table role="presentation" width="{int(props.get("width", 100))}%" cellpadding="0" '
                f'cellspacing="0" border="0" align="center"><tr><td style="border-top:'
                f'{int(props.get("thickness", 1))}px solid {colour};font-size:0;line-height:0">&nbsp;</td>'
                f"</tr></table>")

    def _spacer(self, props: dict[str, Any], _width: int) -> str:
        height = int(props.get("height", 24))
        return f'<div style="height:{height}px;line-height:{height}px;font-size:1px">&nbsp;</div>'

    def _social(self, props: dict[str, Any], _width: int) -> str:
        links = [
            f'<a class="pr-social-link" href="{self.attr(link.get("url"))}" target="_blank">'
            f"{self.text(social_label(link.get('network', '')))}</a>"
            for link in props.get("links", []) if link.get("url")
        ]
        return f'<div class="pr-social">{" &nbsp; ".join(links)}</div>'

    def _html(self, props: dict[str, Any], _width: int) -> str:
        return str(props.get("html", ""))

    def _footer(self, props: dict[str, Any], _width: int) -> str:
        lines = []
        if props.get("text"):
            lines.append(self.text(props["text"]).replace("\n", "<br>"))
        if props.get("address"):
            lines.append(self.text(props["address"]).replace("\n", "<br>"))
        links = [f'<a href="{{{{ {url} }}}}">{self.text(props[key])}</a>'
                 for key, url in (("unsubscribe_text", "unsubscribe_url"), ("preferences_text", "preferences_url"),
                                  ("webview_text", "webview_url")) if props.get(key)]
        if links:
            lines.append(" &nbsp;|&nbsp; ".join(links))
        return f'<div class="pr-footer">{"<br><br>".join(lines)}</div>'


def stylesheet(brand: BrandKit) -> str:
    body, heading = brand.font_stack(), brand.font_stack(heading=True)
    size = brand.font_size
    return (
        f".pr-body{{margin:0;padding:0;background-color:{brand.background_color};"
        "-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}"
        f".pr-outer{{background-color:{brand.background_color}}}"
        f".pr-container{{background-color:{brand.content_background}}}"
        f".pr-block{{font-family:{body};font-size:{size}px;line-height:1.55;color:{brand.text_color}}}"
        f".pr-h1{{margin:0;font-family:{heading};font-size:{round(size * 2)}px;line-height:1.2;"
        f"font-weight:700;color:{brand.heading_color}}}"
        f".pr-h2{{margin:0;font-family:{heading};font-size:{round(size * 1.5)}px;line-height:1.25;"
        f"font-weight:700;color:{brand.heading_color}}}"
        f".pr-h3{{margin:0;font-family:{heading};font-size:{round(size * 1.2)}px;line-height:1.3;"
        f"font-weight:700;color:{brand.heading_color}}}"
        ".pr-text p{margin:0 0 12px}.pr-text ul,.pr-text ol{margin:0 0 12px;padding-left:24px}"
        ".pr-text li{margin:0 0 4px}"
        f".pr-text a{{color:{brand.link_color};text-decoration:underline}}"
        f".pr-button-cell{{border-radius:{brand.button_radius}px}}"
        f".pr-button{{display:inline-block;padding:12px 28px;font-family:{body};font-size:{size}px;"
        f"font-weight:700;line-height:1.2;text-decoration:none;border-radius:{brand.button_radius}px}}"
        f".pr-social-link{{color:{brand.link_color};font-weight:700;text-decoration:none}}"
        f".pr-footer{{font-size:12px;line-height:1.5;color:{MUTED}}}"
        f".pr-footer a{{color:{MUTED};text-decoration:underline}}"
    )


def mobile_css(brand: BrandKit) -> str:
    """Below the content width (plus a margin) columns stack and pictures shrink to the screen."""
    return (
        f"@media only screen and (max-width:{brand.content_width + 20}px){{"
        ".pr-container{width:100% !important;max-width:100% !important}"
        ".pr-col{display:block !important;width:100% !important;max-width:100% !important;"
        "box-sizing:border-box}"
        ".pr-fluid{width:100% !important;max-width:100% !important;height:auto !important}"
        ".pr-block{padding-left:16px !important;padding-right:16px !important}"
        ".pr-section{padding-left:0 !important;padding-right:0 !important}"
        ".pr-h1{font-size:26px !important}}"
    )


PREHEADER = ('{% if _pr_preheader %}<div class="pr-preheader" style="display:none;font-size:1px;line-height:1px;'
             "max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;color:transparent\">"
             "{{ _pr_preheader }}" + PREHEADER_FILLER + "</div>{% endif %}")


def _page(document: Document, brand: BrandKit) -> str:
    """An imported full HTML page: keep it, inline its styles, and add the hidden preheader after <body>."""
    source = str(document.sections[0].columns[0].blocks[0].props.get("html", ""))
    inlined = inline_css(source)
    if "_pr_preheader" in inlined:
        return inlined
    body = re.search(r"<body[^>]*>", inlined, re.IGNORECASE)
    if body is None:
        return PREHEADER + inlined
    return inlined[:body.end()] + PREHEADER + inlined[body.end():]


def render_layout(document: Document, brand: BrandKit | None = None, *, asset_base: str | None = None) -> Layout:
    """Lay out a document once: email HTML (inlined, merge tags kept) and the text part's source.

    ``asset_base`` is put in front of pictures added from the computer (``asset:NAME``): None gives
    ``cid:NAME`` for sending with the pictures attached; a ``file:///.../`` URL suits a preview.
    """
    brand = brand or BrandKit()
    builder = _Builder(brand, asset_base)
    if is_page(document):
        markup = _page(document, brand)
    else:
        body = "".join(builder.section(section) for section in document.sections)
        width = brand.content_width
        markup = inline_css(
            '<!DOCTYPE html><html lang="en" xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta http-equiv="X-UA-Compatible" content="IE=edge">'
            '<meta name="x-apple-disable-message-reformatting"><title>{{ _pr_subject }}</title>'
            f"<style>{mobile_css(brand)}{stylesheet(brand)}</style></head>"
            f'<body class="pr-body">{PREHEADER}'
            '<table role="presentation" class="pr-outer" width="100%" cellpadding="0" cellspacing="0" border="0">'
            '<tr><td align="center" style="padding:24px 0">'
            f'<!--[if mso]><table role="presentation" width="{width}" cellpadding="0" cellspacing="0" border="0">'
            "<tr><td><![endif]-->"
            f'<table role="presentation" class="pr-container" width="{width}" cellpadding="0" cellspacing="0" '
            f'border="0" style="width:{width}px;max-width:{width}px">{body}</table>'
            "<!--[if mso]></td></tr></table><![endif]--></td></tr></table></body></html>")
    # The text part numbers conditional blocks in the same reading order, so both share the rules.
    return Layout(html=restore_tags(markup), text=document_text(document), rules=tuple(builder.rules),
                  assets=tuple(builder.assets))
