"""Merge tags: strict but with fallbacks, contact data is data, and templates cannot escape or run away."""

from __future__ import annotations

from typing import Any

import pytest

from app.modules.editor.api import RenderError, TemplateInvalid, compile_document, preview_values
from app.modules.editor.document import Document, new_block, new_section

CONTACT = {"email": "ann@example.com", "first_name": "Ann", "last_name": "", "language": "en", "time_zone": "",
           "fields": {"plan": "gold", "points": 12, "items": "three"}}


def email_with(source: str, subject: str = "Hello") -> Any:
    section = new_section(1)
    section.columns[0].blocks.append(new_block("html", html=source))
    return compile_document(Document([section]), subject=subject)


def body(source: str, contact: dict[str, Any] | None = None) -> str:
    return email_with(source).render(contact or CONTACT, **preview_values()).text.strip()


def test_fields_and_custom_fields_by_their_documented_names() -> None:
    source = ("{{ contact.email }} {{ contact.first_name }} {{ contact.plan }} {{ contact.points + 1 }} "
              "{{ contact.items }} {{ campaign.name }} {{ sender.name }} {{ sender.email }} {{ sender.postal_address }}"
              " {{ unsubscribe_url }} {{ preferences_url }} {{ webview_url }}")
    assert body(source) == ("ann@example.com Ann gold 13 three Preview Your company news@example.com "
                            "1 Example Street, 1000 Example City https://example.com/unsubscribe "
                            "https://example.com/preferences https://example.com/view")


def test_default_gives_a_fallback_for_missing_and_empty_values() -> None:
    assert body('{{ contact.nickname | default("there") }}') == "there"
    assert body('{{ contact.last_name | default("friend") }}') == "friend"
    assert body('{{ contact.first_name | d("x") }}') == "Ann"
    assert body("{% if contact.nickname %}yes{% else %}no{% endif %}") == "no"
    assert body("{% if contact.nickname is defined %}yes{% else %}no{% endif %}") == "no"


def test_a_missing_field_without_fallback_fails_that_recipient_by_name() -> None:
    compiled = email_with("Hi {{ contact.nickname }}")
    with pytest.raises(RenderError) as caught:
        compiled.render(CONTACT, **preview_values())
    assert caught.value.recipient == "ann@example.com"
    assert "contact.nickname is missing for this recipient" in caught.value.reason
    assert 'default("...")' in caught.value.reason


def test_a_missing_url_is_named() -> None:
    with pytest.raises(RenderError, match="unsubscribe_url was not given"):
        email_with('<a href="{{ unsubscribe_url }}">x</a>').render(CONTACT)


def test_contact_data_is_printed_as_typed_never_run() -> None:
    sneaky = {**CONTACT, "first_name": "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} <script>alert(1)</script>"}
    section = new_section(1)
    section.columns[0].blocks.append(new_block("heading", text="Hi {{ contact.first_name }}"))
    compiled = compile_document(Document([section]), subject="Hi {{ contact.first_name }}")

    message = compiled.render(sneaky, **preview_values())

    assert message.subject == "Hi {{ 7*7 }} {% for x in range(3) %}x{% endfor %} <script>alert(1)</script>"
    assert "Hi {{ 7*7 }} {% for x in range(3) %}x{% endfor %} &lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "<script>alert(1)</script>" in message.text  # the text part is not HTML: printed as typed
    assert "49" not in message.html


def test_line_breaks_in_contact_data_never_reach_the_subject_line() -> None:
    compiled = compile_document(Document([new_section(1)]), subject="Hi {{ contact.first_name }}!",
                                preheader="{{ contact.first_name }}")
    message = compiled.render({**CONTACT, "first_name": "Ann\r\nBcc: all@example.com\x00"}, **preview_values())
    assert message.subject == "Hi Ann Bcc: all@example.com!"
    assert "\n" not in message.preheader
    assert "\x00" not in message.preheader


def test_a_custom_field_named_like_a_dict_method_is_still_the_field() -> None:
    assert body("{{ contact.items }}|{{ contact['plan'] }}") == "three|gold"


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ contact.__class__ }}",
    "{{ contact._data }}",
    "{{ '{0.__class__.__base__}'.format(1) }}",
    "{{ contact.first_name.upper.__self__.__class__ }}",
    "{{ ''.format_map({}) }}{{ ''.__class__.__base__ }}",
    "{{ dict.mro() }}",
    "{{ range.__class__ }}",
    "{% set x = [].append(1) %}{{ x }}",
    "{{ {}.update(a=1) }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ lipsum.__globals__ }}",
])
def test_sandbox_escapes_fail_with_a_clear_message(payload: str) -> None:
    with pytest.raises(RenderError) as caught:
        body(payload)
    reason = caught.value.reason
    assert any(word in reason for word in ("not do", "unsafe", "missing", "not given", "not safely", "may not")), reason


def test_forbidden_filters_are_syntax_problems() -> None:
    compiled = email_with("{{ contact.first_name | safe }}")
    assert [p.kind for p in compiled.validate()] == ["syntax"]
    assert "no filter called 'safe'" in compiled.validate()[0].message
    with pytest.raises(TemplateInvalid, match="no filter called 'safe'"):
        compiled.render(CONTACT, **preview_values())


@pytest.mark.parametrize("runaway", [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ range(100000) | list | length }}{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ 9**9**9 }}",
    "{{ 'x' | center(10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999s' % 1 }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
])
def test_runaway_templates_fail_within_seconds(runaway: str) -> None:
    # No timing assertion (slow machines): the limits make each of these stop; pytest's timeout backs it up.
    with pytest.raises(RenderError) as caught:
        body(runaway)
    assert any(word in caught.value.reason for word in
               ("limit", "longer than", "more than", "huge", "largest allowed", "calls itself", "Range too big")), (
        caught.value.reason)


def test_a_normal_loop_still_works() -> None:
    assert body("{% for n in [1, 2, 3] %}{{ loop.index }}{{ n }} {% endfor %}") == "11 22 33"


def test_output_is_escaped_in_html_but_not_in_text() -> None:
    compiled = email_with("<p>{{ contact.first_name }}</p>")
    message = compiled.render({**CONTACT, "first_name": "Tom & <Jerry>"}, **preview_values())
    assert "<p>Tom &amp; &lt;Jerry&gt;</p>" in message.html
    assert message.text.strip() == "Tom & <Jerry>"


def test_rendering_is_repeatable_per_recipient() -> None:
    compiled = email_with("Hi {{ contact.first_name }}")
    first = compiled.render(CONTACT, **preview_values())
    other = compiled.render({**CONTACT, "first_name": "Bo"}, **preview_values())
    assert "Hi Ann" in first.text
    assert "Hi Bo" in other.text
    assert compiled.render(CONTACT, **preview_values()) == first
