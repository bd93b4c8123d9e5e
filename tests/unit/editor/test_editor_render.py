"""Document to email: every block type, inlined styles, stacking columns, the hidden preheader, the text part."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from app.modules.editor.api import compile_document, preview_values
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document, new_block, new_section
from app.modules.editor.render import render_layout
from app.modules.editor.starters import STARTERS

CONTACT = {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "language": "fr", "time_zone": ""}


def full_document() -> Document:
    top = new_section(1)
    top.columns[0].blocks += [
        new_block("heading", text="Hello {{ contact.first_name }}", level=1),
        new_block("text", html='<p>Read <strong>this</strong> <a href="https://example.com/a?x=1&amp;y=2">article'
                               "</a></p><ol><li>first</li><li>second</li></ol>"),
        new_block("image", src="https://example.com/cat.png", alt="A cat", link="https://example.com/cats",
                  width=300),
        new_block("image", src="asset:abc.png", alt="Logo"),
    ]
    middle = new_section(2)
    conditional = new_block("conditional", rule={"match": "all", "conditions": [
        {"field": "language", "op": "equals", "value": "fr"}]})
    conditional.children.append(new_block("text", html="<p>Bonjour, lecteur</p>"))
    middle.columns[0].blocks += [new_block("button", text="Buy now", url="https://shop.example.com"),
                                 new_block("divider", color="#ff0000", thickness=2), conditional]
    middle.columns[1].blocks += [new_block("spacer", height=30),
                                 new_block("social", links=[{"network": "x", "url": "https://x.com/us"}]),
                                 new_block("html", html='<table><tr>{% for n in ["a", "b"] %}<td class="raw">{{ n }}'
                                                        "</td>{% endfor %}</tr></table>")]
    bottom = new_section(1)
    bottom.columns[0].blocks.append(new_block("footer"))
    return Document([top, middle, bottom])


def render(document: Document, contact: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    compiled = compile_document(document, subject="News for {{ contact.first_name }}",
                                preheader="Inside: {{ contact.last_name }}", **kwargs)
    return compiled, compiled.render(contact or CONTACT, **preview_values())


class Elements(HTMLParser):
    """Every start tag with its attributes, to look at the HTML as a mail client would."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.found
                if name == tag and all(w in attrs.get(k, "") for k, w in wanted.items())]


def test_every_block_type_appears_in_the_html() -> None:
    _, message = render(full_document())
    html = message.html
    assert "<h1" in html
    assert "Hello Ann" in html
    assert "<strong>this</strong>" in html
    assert 'href="https://example.com/a?x=1&amp;y=2"' in html
    assert '<a href="https://example.com/cats" target="_blank"><img' in html
    assert 'src="cid:abc.png"' in html
    assert "Buy now" in html
    assert 'href="https://shop.example.com"' in html
    assert "border-top:2px solid #ff0000" in html
    assert "height:30px" in html
    assert 'href="https://x.com/us"' in html
    assert ">X</a>" in html
    assert '<td class="raw">a</td><td class="raw">b</td>' in html  # a loop inside a table survived inlining
    assert "Bonjour, lecteur" in html
    assert 'href="https://example.com/unsubscribe"' in html
    assert "1 Example Street" in html


def test_a_conditional_block_shows_only_to_matching_contacts() -> None:
    compiled, french = render(full_document())
    english = compiled.render({**CONTACT, "language": "EN"}, **preview_values())
    assert "Bonjour, lecteur" in french.html
    assert "Bonjour, lecteur" in french.text
    assert "Bonjour" not in english.html
    assert "Bonjour" not in english.text


def test_styles_are_inlined_on_the_elements() -> None:
    brand = BrandKit(text_color="#123456", heading_color="#654321", button_color="#00aa00", body_font="Georgia")
    _, message = render(full_document(), brand=brand)
    elements = Elements(message.html)

    heading = elements.all("h1")[0]
    assert "color: #654321" in heading["style"]
    assert "Georgia" in elements.all("td", **{"class": "pr-block"})[0]["style"]
    assert "color: #123456" in elements.all("td", **{"class": "pr-block"})[0]["style"]
    assert "margin: 0 0 12px" in elements.all("p")[0]["style"]
    button = elements.all("a", **{"class": "pr-button"})[0]
    assert "background-color:#00aa00" in button["style"].replace(" ", "")
    assert "padding:12px28px" in button["style"].replace(" ", "")
    # Only the media query stays in a <style> element; everything else lives on the elements.
    styles = re.findall(r"<style[^>]*>(.*?)</style>", message.html, re.DOTALL)
    assert len(styles) == 1
    assert styles[0].strip().startswith("@media")


def test_columns_stack_on_phones_through_a_media_query() -> None:
    _, message = render(full_document())
    style = re.search(r"<style[^>]*>(.*?)</style>", message.html, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert "@media only screen and (max-width:620px)" in style
    assert re.search(r"\.pr-col\{display:block !important;width:100% !important", style)
    columns = Elements(message.html).all("td", **{"class": "pr-col"})
    assert [c["width"] for c in columns] == ["100%", "50%", "50%", "100%"]


def test_a_section_can_keep_its_columns_side_by_side_on_phones() -> None:
    document = full_document()
    document.sections[1].props["stack_on_mobile"] = False
    _, message = render(document)
    assert len(Elements(message.html).all("td", **{"class": "pr-col-keep"})) == 2


def test_images_are_sized_to_their_column() -> None:
    _, message = render(full_document())
    images = Elements(message.html).all("img")
    assert images[0]["width"] == "300"
    assert "width:300px" in images[0]["style"]
    assert images[1]["width"] == "552"  # 600 px content minus 2 x 24 px padding
    assert all("max-width:100%" in image["style"] and image["alt"] for image in images)


def test_the_preheader_is_hidden_and_personalised() -> None:
    _, message = render(full_document())
    preheader = Elements(message.html).all("div", **{"class": "pr-preheader"})[0]
    assert "display:none" in preheader["style"]
    assert "mso-hide:all" in preheader["style"]
    assert message.preheader == "Inside: Lee"
    assert message.html.index("Inside: Lee") < message.html.index("Hello Ann")
    assert "<title>News for Ann</title>" in message.html


def test_no_preheader_no_hidden_text() -> None:
    compiled = compile_document(full_document(), subject="Hi")
    assert "pr-preheader" not in compiled.render(CONTACT, **preview_values()).html


def test_the_text_part_is_written_from_the_document() -> None:
    _, message = render(full_document())
    text = message.text
    assert text.startswith("Hello Ann\n\nRead this article (https://example.com/a?x=1&y=2)\n\n1. first\n2. second")
    assert "A cat (https://example.com/cats)" in text
    assert "Buy now: https://shop.example.com" in text
    assert "-" * 40 in text
    assert "X: https://x.com/us" in text
    assert "Unsubscribe: https://example.com/unsubscribe" in text
    assert "<" not in text
    assert "{{" not in text
    assert "{%" not in text


def test_the_text_part_is_made_once_per_version_not_per_recipient() -> None:
    compiled = compile_document(full_document(), subject="Hi")
    assert "{{ contact.first_name }}" in compiled.text_source
    assert compiled.render(CONTACT, **preview_values()).text.startswith("Hello Ann")


def test_imported_full_page_keeps_its_own_layout_and_merge_tags() -> None:
    page = ("<!DOCTYPE html><html><head><style>.hi{color:#aa0000}@media (max-width:500px){.hi{color:blue}}</style>"
            '</head><body><table><tr>{% if contact.first_name %}<td class="hi">Hi {{ contact.first_name }}</td>'
            '{% endif %}</tr></table><a href="{{ unsubscribe_url }}">leave</a></body></html>')
    section = new_section(1)
    section.columns[0].blocks.append(new_block("html", html=page))
    compiled, message = render(Document([section]))

    assert '<td class="hi" style="color: #aa0000;">Hi Ann</td>' in message.html
    assert "@media (max-width:500px)" in message.html
    assert "Inside: Lee" in message.html  # preheader added after <body>
    assert compiled.has_unsubscribe_link
    assert message.text.strip().startswith("Hi Ann")


def test_unsubscribe_and_postal_address_are_detected() -> None:
    with_footer = compile_document(full_document(), subject="x")
    assert with_footer.has_unsubscribe_link
    assert with_footer.has_postal_address
    bare = Document([new_section(1)])
    bare.sections[0].columns[0].blocks.append(new_block("text", html="<p>No footer</p>"))
    compiled = compile_document(bare, subject="x")
    assert not compiled.has_unsubscribe_link
    assert not compiled.has_postal_address


def test_preview_pictures_come_from_the_assets_folder() -> None:
    layout = render_layout(full_document(), asset_base="file:///data/editor/assets/")
    assert 'src="file:///data/editor/assets/abc.png"' in layout.html
    assert layout.assets == ("abc.png",)


def test_starters_render_cleanly() -> None:
    for name, build in STARTERS.items():
        compiled = compile_document(build(), subject=f"{name} for {{{{ contact.first_name }}}}")
        assert compiled.validate() == [], name
        message = compiled.render({"email": "a@b.c", "first_name": "", "language": "fr"}, **preview_values())
        assert "there" in message.html, name
        assert compiled.has_unsubscribe_link, name
        assert compiled.has_postal_address, name
        assert len(message.text) > 200, name
