"""Validation before sending: a syntax error's block, line and column; unknown merge fields by name."""

from __future__ import annotations

from app.modules.editor.api import compile_document
from app.modules.editor.document import Document, new_block, new_section


def document(*blocks: object) -> Document:
    section = new_section(1)
    section.columns[0].blocks.extend(blocks)  # type: ignore[arg-type]
    return Document([section])


def test_a_syntax_error_names_its_block_line_and_column() -> None:
    good = new_block("heading", text="Fine {{ contact.first_name }}")
    bad = new_block("text", html="<p>First line</p>\n<p>Hello {{ contact.first_name }</p>")

    problems = compile_document(document(good, bad), subject="Hi").validate()

    assert len(problems) == 1
    problem = problems[0]
    assert (problem.kind, problem.part, problem.block_id, problem.block_title, problem.prop) == (
        "syntax", "body", bad.id, "Text", "html")
    assert (problem.line, problem.column) == (2, 10)
    assert f"Text block {bad.id}, line 2, column 10" in str(problem)


def test_an_unclosed_if_points_at_the_if() -> None:
    bad = new_block("html", html="<p>a</p>\n  {% if contact.plan == 'gold' %}<p>VIP</p>\n<p>end</p>")
    problem = compile_document(document(bad), subject="x").validate()[0]
    assert (problem.line, problem.column) == (2, 3)
    assert "endif" in problem.message


def test_a_syntax_error_in_the_subject_is_placed_too() -> None:
    problems = compile_document(document(), subject="Hi {{ contact.first_name | }}").validate()
    assert [(p.part, p.line, p.column) for p in problems] == [("subject", 1, 4)]


def test_a_tag_spanning_two_blocks_is_an_error() -> None:
    problems = compile_document(document(new_block("text", html="<p>{% if contact.plan %}</p>"),
                                         new_block("text", html="<p>{% endif %}</p>")), subject="x").validate()
    assert problems
    assert all(p.kind == "syntax" for p in problems)


def test_unknown_fields_are_named() -> None:
    compiled = compile_document(document(
        new_block("text", html="<p>{{ contact.first_name }} {{ contact.plan }} {{ contact.nickname }}</p>"),
        new_block("button", text="Go", url="https://x.example/{{ contact.promo_code }}"),
        new_block("text", html="<p>{{ first_name }} {{ campaign.title }} {{ sender.phone }}</p>"),
    ), subject="{{ contact.nickname }}", preheader="{{ unsubscribe_url }}")

    problems = compiled.validate(known_contact_fields={"plan", "contact.promo_code"})

    assert sorted(p.name for p in problems if p.kind == "unknown_field") == [
        "campaign.title", "contact.nickname", "contact.nickname", "first_name", "sender.phone"]
    subject = next(p for p in problems if p.part == "subject")
    assert subject.message == "unknown contact field 'contact.nickname'"
    first = next(p for p in problems if p.name == "first_name")
    assert "did you mean contact.first_name?" in first.message


def test_names_a_template_defines_itself_are_known() -> None:
    compiled = compile_document(document(new_block("html", html=(
        "{% set greeting = 'Hi' %}{% for item in [1, 2] %}{{ greeting }} {{ item }} {{ loop.index }}{% endfor %}"
        "{% macro shout(word) %}{{ word | upper }}{% endmacro %}{{ shout('x') }}"))), subject="x")
    assert compiled.validate() == []


def test_underscore_names_are_refused_by_validation() -> None:
    problems = compile_document(document(new_block("html", html="{{ contact.first_name.__class__ }}")),
                                subject="x").validate()
    assert [(p.kind, p.name) for p in problems] == [("not_allowed", "__class__")]


def test_a_rule_over_an_unknown_field_is_reported() -> None:
    conditional = new_block("conditional", rule={"match": "any", "conditions": [
        {"field": "contact.country", "op": "equals", "value": "BE"}]})
    problems = compile_document(document(conditional), subject="x").validate()
    assert [(p.kind, p.name, p.block_id) for p in problems] == [("unknown_field", "contact.country", conditional.id)]
    assert compile_document(document(conditional), subject="x").validate({"country"}) == []
