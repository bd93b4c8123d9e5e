"""Checks before sending: syntax errors with their place (block, line, column) and merge fields nobody has."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from app.modules.editor.blocks import TEMPLATE_PROPS
from app.modules.editor.conditions import rule_fields
from app.modules.editor.document import Block, Document
from app.modules.editor.merge import MergeEnvironment
from app.modules.editor.render import restore_tags

STANDARD_FIELDS = ("email", "first_name", "last_name", "language", "time_zone")
RECORD_FIELDS = {"campaign": ("name",), "sender": ("name", "email", "postal_address")}
URL_NAMES = ("unsubscribe_url", "preferences_url", "webview_url")
# Names a template may read besides what it defines itself.
KNOWN_NAMES = frozenset({"contact", *RECORD_FIELDS, *URL_NAMES, "range", "dict", "cycler", "joiner", "namespace",
                         "loop", "_pr_subject", "_pr_preheader", "_pr_rules", "_pr_match", "_pr_loop", "_pr_concat",
                         "true", "false", "none", "True", "False", "None", "caller", "varargs", "kwargs"})


@dataclass(frozen=True)
class TemplateProblem:
    """Something that would stop or spoil sending. ``kind`` is "syntax", "unknown_field" or "not_allowed".

    ``part`` is "subject", "preheader" or "body"; for the body, ``block_id``/``block_title``/``prop`` say which
    block and property, ``line``/``column`` (1-based) where in that text; ``name`` is the unknown field.
    """

    kind: str
    message: str
    part: str
    block_id: str | None = None
    block_title: str | None = None
    prop: str | None = None
    line: int | None = None
    column: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        where = self.part if self.block_id is None else f"{self.block_title} block {self.block_id}"
        if self.line is not None:
            where += f", line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Source:
    """One piece of template text and where it comes from."""

    part: str
    text: str
    block: Block | None = None
    prop: str | None = None
    html: bool = True


def document_sources(document: Document) -> Iterator[Source]:
    """Every property of every block that may hold merge tags."""
    for block in document.blocks():
        for prop in TEMPLATE_PROPS.get(block.type, ()):
            value = block.props.get(prop)
            if isinstance(value, str) and value:
                # Rich text stores "<" and "&" inside merge tags as entities; the renderer restores them.
                yield Source("body", restore_tags(value) if block.type == "text" else value, block, prop)
        if block.type == "social":
            for number, link in enumerate(block.props.get("links", []), 1):
                if isinstance(link, dict) and link.get("url"):
                    yield Source("body", str(link["url"]), block, f"links[{number}].url")


def _column(source: str, error: TemplateSyntaxError, env: MergeEnvironment) -> tuple[int, int | None]:
    """The line and column of a syntax error (Jinja gives the line only)."""
    lines = source.splitlines() or [""]
    message = error.message or ""
    missing = re.search(r"looking for the following tags: '(end)?(\w+)'", message)
    if missing and "Unexpected end of template" in message:
        # The block that was never closed is the place to look, not the end of the text.
        unclosed_blocks = list(re.finditer(r"\{%-?\s*" + re.escape(missing.group(2)) + r"\b", source))
        if unclosed_blocks:
            start = unclosed_blocks[-1].start()
            line = source.count("\n", 0, start) + 1
            return line, start - (source.rfind("\n", 0, start) + 1) + 1
    line = min(max(error.lineno or 1, 1), len(lines))
    text = lines[line - 1]
    openers = [m.start() for m in re.finditer(r"\{\{|\{%", text)]
    for start in openers:
        closer = "}}" if text.startswith("{{", start) else "%}"
        end = text.find(closer, start + 2)
        if end < 0 or (closer == "}}" and _broken(env, text[start:end + 2])):
            return line, start + 1
    unclosed = [m.start() for m in re.finditer(r"\}\}|%\}", text)]
    return line, (openers[0] + 1 if openers else (unclosed[0] + 1 if unclosed else None))


def _broken(env: MergeEnvironment, expression: str) -> bool:
    try:
        env.parse(expression)
    except TemplateSyntaxError:
        return True
    return False


def syntax_problem(source: Source, env: MergeEnvironment) -> TemplateProblem | None:
    """The first syntax error in one source, placed, or None."""
    try:
        env.parse(source.text)
        # Filters are resolved at compile time: an unknown or forbidden filter is found here.
        env.compile_bounded(source.text)
    except TemplateSyntaxError as error:
        line, column = _column(source.text, error, env)
        message = (error.message or "syntax error").replace("No filter named", "no filter called")
        if "no filter called" in message:
            message += " (allowed: default, upper, lower, title, capitalize, trim, truncate, replace, ...)"
        return TemplateProblem("syntax", message, source.part, source.block.id if source.block else None,
                               source.block.title if source.block else None, source.prop, line, column)
    return None


def _names(tree: nodes.Template) -> tuple[set[str], list[tuple[str, str | None]]]:
    """Names the template defines itself, and (name, attribute) pairs it reads."""
    defined: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx in ("store", "param"):
            defined.add(name.name)
    for macro in tree.find_all(nodes.Macro):
        defined.add(macro.name)
    reads: list[tuple[str, str | None]] = []
    for loaded in tree.find_all(nodes.Name):
        if loaded.ctx == "load":
            reads.append((loaded.name, None))
    for attribute in tree.find_all(nodes.Getattr):
        if attribute.attr.startswith("_"):
            reads.append(("_", attribute.attr))
        elif isinstance(attribute.node, nodes.Name) and attribute.node.ctx == "load":
            reads.append((attribute.node.name, attribute.attr))
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            reads.append((item.node.name, item.arg.value))
    return defined, reads


def field_problems(source: Source, env: MergeEnvironment, contact_fields: set[str]) -> list[TemplateProblem]:
    """Unknown merge fields in one (syntactically valid) source, each named."""
    try:
        defined, reads = _names(env.parse(source.text))
    except TemplateSyntaxError:
        return []
    found: list[TemplateProblem] = []
    seen: set[str] = set()

    def add(kind: str, name: str, message: str) -> None:
        if name not in seen:
            seen.add(name)
            found.append(TemplateProblem(kind, message, source.part, source.block.id if source.block else None,
                                         source.block.title if source.block else None, source.prop, name=name))

    for name, attribute in reads:
        if name == "_":
            add("not_allowed", str(attribute), f"{attribute!r}: names starting with _ are not allowed in templates")
        elif attribute is None:
            if name not in KNOWN_NAMES and name not in defined:
                add("unknown_field", name, f"unknown merge field {name!r} (did you mean contact.{name}?)")
        elif name == "contact" and "contact" not in defined and attribute not in contact_fields:
            add("unknown_field", f"contact.{attribute}", f"unknown contact field 'contact.{attribute}'")
        elif name in RECORD_FIELDS and name not in defined and attribute not in RECORD_FIELDS[name]:
            known = ", ".join(f"{name}.{a}" for a in RECORD_FIELDS[name])
            add("unknown_field", f"{name}.{attribute}", f"unknown field '{name}.{attribute}' (known: {known})")
    return found


def rule_problems(document: Document, contact_fields: set[str]) -> list[TemplateProblem]:
    found = []
    for block in document.blocks():
        if block.type == "conditional":
            for key in rule_fields(block.props.get("rule") or {}):
                if key not in contact_fields:
                    found.append(TemplateProblem("unknown_field", f"the rule reads unknown contact field {key!r}",
                                                 "body", block.id, block.title, "rule", name=f"contact.{key}"))
    return found


def contact_field_set(known: Iterable[str]) -> set[str]:
    """Standard fields plus the custom keys given (``plan`` or ``contact.plan``)."""
    return {*STANDARD_FIELDS, *(name.removeprefix("contact.") for name in known)}
