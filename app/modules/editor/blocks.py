"""The kinds of block an email is made of: their titles, editable properties and defaults (drives palette and panel)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Property kinds the property panel knows how to edit.
#   text       one line of text (merge tags allowed)      multiline  several lines of plain text
#   richtext   sanitized HTML (bold, italic, links, lists) html       raw HTML (not sanitized)
#   url        a link (merge tags allowed)                 color      "#rrggbb" or "" (= brand kit)
#   int        whole number within [minimum, maximum]      bool       checkbox
#   choice     one of ``choices``                          image      "asset:NAME" or an http(s) URL
#   links      list of {"network", "url"} (social)         rule       a condition rule (see conditions.py)
PROP_KINDS = ("text", "multiline", "richtext", "html", "url", "color", "int", "bool", "choice", "image", "links",
              "rule")

ALIGNMENTS = ("left", "center", "right")
SOCIAL_NETWORKS = ("facebook", "instagram", "x", "linkedin", "youtube", "tiktok", "mastodon", "website", "email")


@dataclass(frozen=True)
class PropField:
    """One editable property of a block: what the property panel shows and what validation checks."""

    key: str
    label: str
    kind: str
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    help: str = ""


@dataclass(frozen=True)
class BlockType:
    """A kind of block: its name in the document, its title and icon in the palette, and its properties."""

    name: str
    title: str
    icon: str
    description: str
    fields: tuple[PropField, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    container: bool = False  # holds child blocks (only the conditional block)

    def field(self, key: str) -> PropField | None:
        return next((f for f in self.fields if f.key == key), None)


_ALIGN = PropField("align", "Alignment", "choice", ALIGNMENTS)

BLOCK_TYPES: dict[str, BlockType] = {
    spec.name: spec
    for spec in (
        BlockType("heading", "Heading", "heading", "A title in the brand's heading font",
                  (PropField("text", "Text", "text"),
                   PropField("level", "Size", "int", minimum=1, maximum=3, help="1 is the largest"),
                   _ALIGN, PropField("color", "Colour", "color")),
                  {"text": "Your heading", "level": 1, "align": "left", "color": ""}),
        BlockType("text", "Text", "text", "Paragraphs with bold, italic, links and lists",
                  (PropField("html", "Text", "richtext"), _ALIGN, PropField("color", "Colour", "color")),
                  {"html": "<p>Write your message here.</p>", "align": "left", "color": ""}),
        BlockType("image", "Image", "image", "A picture from your computer or the web",
                  (PropField("src", "Image", "image"), PropField("alt", "Alternative text", "text",
                                                                  help="Shown when images are off; read aloud"),
                   PropField("link", "Link", "url"),
                   PropField("width", "Width (px)", "int", minimum=0, maximum=1200, help="0 fills the column"),
                   _ALIGN),
                  {"src": "", "alt": "", "link": "", "width": 0, "align": "center"}),
        BlockType("button", "Button", "button", "A call to action",
                  (PropField("text", "Label", "text"), PropField("url", "Link", "url"), _ALIGN,
                   PropField("color", "Button colour", "color"), PropField("text_color", "Label colour", "color"),
                   PropField("full_width", "Full width", "bool")),
                  {"text": "Read more", "url": "https://example.com", "align": "center", "color": "",
                   "text_color": "", "full_width": False}),
        BlockType("divider", "Divider", "divider", "A horizontal line",
                  (PropField("color", "Colour", "color"),
                   PropField("thickness", "Thickness (px)", "int", minimum=1, maximum=10),
                   PropField("width", "Width (%)", "int", minimum=10, maximum=100)),
                  {"color": "", "thickness": 1, "width": 100}),
        BlockType("spacer", "Spacer", "spacer", "Empty vertical space",
                  (PropField("height", "Height (px)", "int", minimum=4, maximum=200),),
                  {"height": 24}),
        BlockType("social", "Social links", "social", "Links to your profiles",
                  (PropField("links", "Profiles", "links", SOCIAL_NETWORKS), _ALIGN),
                  {"links": [{"network": "facebook", "url": "https://facebook.com/"},
                             {"network": "instagram", "url": "https://instagram.com/"}],
                   "align": "center"}),
        BlockType("html", "HTML", "html", "Your own HTML (merge tags work here too)",
                  (PropField("html", "HTML", "html"),),
                  {"html": "<p>Custom HTML</p>"}),
        BlockType("footer", "Footer", "footer", "Postal address and unsubscribe link (every email needs one)",
                  (PropField("text", "Text", "multiline"), PropField("address", "Postal address", "multiline"),
                   PropField("unsubscribe_text", "Unsubscribe link text", "text"),
                   PropField("preferences_text", "Preferences link text", "text", help="Empty hides the link"),
                   PropField("webview_text", "Web view link text", "text", help="Empty hides the link"), _ALIGN),
                  {"text": "You receive this email because you subscribed to our news.",
                   "address": "{{ sender.postal_address }}", "unsubscribe_text": "Unsubscribe",
                   "preferences_text": "Update your preferences", "webview_text": "View in your browser",
                   "align": "center"}),
        BlockType("conditional", "Conditional", "conditional", "Shows its blocks only to contacts matching a rule",
                  (PropField("rule", "Show to contacts where", "rule"),
                   PropField("label", "Name in the editor", "text")),
                  {"rule": {"match": "all", "conditions": [{"field": "language", "op": "equals", "value": "en"}]},
                   "label": ""},
                  container=True),
    )
}

# Section properties (sections are not blocks, but the panel edits them the same way).
SECTION_FIELDS: tuple[PropField, ...] = (
    PropField("background", "Background", "color"),
    PropField("padding", "Padding (px)", "int", minimum=0, maximum=80),
    PropField("stack_on_mobile", "Stack columns on phones", "bool"),
)
SECTION_DEFAULTS: dict[str, Any] = {"background": "", "padding": 16, "stack_on_mobile": True}

# Blocks whose properties carry text a recipient reads (merge tags are looked for here).
TEMPLATE_PROPS: dict[str, tuple[str, ...]] = {
    "heading": ("text",), "text": ("html",), "image": ("src", "alt", "link"), "button": ("text", "url"),
    "social": (), "html": ("html",), "footer": ("text", "address", "unsubscribe_text", "preferences_text",
                                                  "webview_text"),
}
