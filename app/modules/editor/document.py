"""The email document: versioned JSON of sections, columns and blocks, with validation that names what is wrong.

Shape (schema 1)::

    {"schema": 1,
     "sections": [{"id": "s1a2b3c4", "props": {...},
                   "columns": [{"width": 0, "blocks": [{"id": "b...", "type": "text", "props": {...},
                                                        "children": []}]}]}]}

Documents are *values*: the editing functions in ``edits.py`` never change the document they are given; they
return a new one (so an undo stack can keep the before and after documents). Do not mutate a Document you did
not just build yourself.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.modules.editor.blocks import BLOCK_TYPES, SECTION_DEFAULTS, SECTION_FIELDS, SOCIAL_NETWORKS, PropField
from app.modules.editor.conditions import rule_problems
from app.modules.editor.richtext import is_safe_href, sanitize_rich_text

SCHEMA_VERSION = 1
MAX_COLUMNS = 3


class DocumentError(ValueError):
    """A document that cannot be used; ``problems`` lists each thing wrong, naming the section and block."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def new_id(prefix: str = "b") -> str:
    """A short random id, unique within a document (``b`` blocks, ``s`` sections)."""
    return prefix + secrets.token_hex(4)


@dataclass
class Block:
    """One block. ``props`` follow ``BLOCK_TYPES[type].fields``; ``children`` only for a conditional block."""

    type: str
    props: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    children: list[Block] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type, "props": copy.deepcopy(self.props)}
        if self.children or (BLOCK_TYPES.get(self.type, None) and BLOCK_TYPES[self.type].container):
            data["children"] = [child.to_json() for child in self.children]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Block:
        """Read a block (not validated: use ``Document.from_json`` or ``validate_block``)."""
        if not isinstance(data, Mapping):
            raise DocumentError([f"a block must be an object, not {type(data).__name__}"])
        children = data.get("children") or []
        return cls(type=str(data.get("type", "")), props=dict(data.get("props") or {}),
                   id=str(data.get("id") or new_id()),
                   children=[cls.from_json(child) for child in children] if isinstance(children, list) else [])

    @property
    def title(self) -> str:
        spec = BLOCK_TYPES.get(self.type)
        return spec.title if spec else self.type

    def walk(self) -> Iterator[Block]:
        """This block and every block nested in it."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Column:
    """A column of a section. ``width`` is a percentage; 0 shares the section equally with other 0 columns."""

    blocks: list[Block] = field(default_factory=list)
    width: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "blocks": [block.to_json() for block in self.blocks]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Column:
        if not isinstance(data, Mapping):
            raise DocumentError([f"a column must be an object, not {type(data).__name__}"])
        blocks = data.get("blocks") or []
        return cls(blocks=[Block.from_json(b) for b in blocks] if isinstance(blocks, list) else [],
                   width=_int(data.get("width"), 0))


@dataclass
class Section:
    """A row of the email holding one to three columns; ``props`` follow ``SECTION_FIELDS``."""

    columns: list[Column] = field(default_factory=lambda: [Column()])
    props: dict[str, Any] = field(default_factory=lambda: dict(SECTION_DEFAULTS))
    id: str = field(default_factory=lambda: new_id("s"))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "props": copy.deepcopy(self.props),
                "columns": [column.to_json() for column in self.columns]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Section:
        if not isinstance(data, Mapping):
            raise DocumentError([f"a section must be an object, not {type(data).__name__}"])
        columns = data.get("columns") or []
        return cls(columns=[Column.from_json(c) for c in columns] if isinstance(columns, list) else [],
                   props={**SECTION_DEFAULTS, **dict(data.get("props") or {})},
                   id=str(data.get("id") or new_id("s")))

    def widths(self) -> list[int]:
        """Each column's width in percent (columns with width 0 share what the others leave)."""
        fixed = sum(c.width for c in self.columns if c.width > 0)
        flexible = [c for c in self.columns if c.width <= 0]
        share = (max(0, 100 - fixed) // len(flexible)) if flexible else 0
        return [c.width if c.width > 0 else share for c in self.columns]

    def walk(self) -> Iterator[Block]:
        for column in self.columns:
            for block in column.blocks:
                yield from block.walk()


@dataclass
class Document:
    """An email's content. ``to_json``/``from_json`` are the stored form; ``from_json`` validates and sanitizes."""

    sections: list[Section] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "sections": [section.to_json() for section in self.sections]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | Document) -> Document:
        """Read, upgrade, sanitize and validate a stored document; raises DocumentError listing every problem."""
        if isinstance(data, Document):
            data = data.to_json()
        if not isinstance(data, Mapping):
            raise DocumentError([f"a document must be an object, not {type(data).__name__}"])
        schema = data.get("schema", SCHEMA_VERSION)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise DocumentError([f"this document was written by a newer Postroom (schema {schema}); "
                                 f"this version reads schema {SCHEMA_VERSION}"])
        sections = data.get("sections", [])
        if not isinstance(sections, list):
            raise DocumentError(["'sections' must be a list"])
        document = cls(sections=[Section.from_json(s) for s in sections], schema=SCHEMA_VERSION)
        for block in document.blocks():
            sanitize_block(block)
        problems = validate_document(document)
        if problems:
            raise DocumentError(problems)
        return document

    def copy(self) -> Document:
        return copy.deepcopy(self)

    def blocks(self) -> Iterator[Block]:
        """Every block, nested ones included, in reading order."""
        for section in self.sections:
            yield from section.walk()

    def find_block(self, block_id: str) -> Block | None:
        return next((block for block in self.blocks() if block.id == block_id), None)

    def find_section(self, section_id: str) -> Section | None:
        return next((section for section in self.sections if section.id == section_id), None)


def new_block(block_type: str, **props: Any) -> Block:
    """A block of ``block_type`` with its default properties, overridden by ``props`` (sanitized)."""
    spec = BLOCK_TYPES.get(block_type)
    if spec is None:
        raise DocumentError([f"unknown block type {block_type!r} (known: {', '.join(BLOCK_TYPES)})"])
    block = Block(type=block_type, props={**copy.deepcopy(spec.defaults), **props})
    sanitize_block(block)
    return block


def new_section(columns: int = 1, **props: Any) -> Section:
    """An empty section with ``columns`` equal columns (1 to 3)."""
    if not 1 <= columns <= MAX_COLUMNS:
        raise DocumentError([f"a section has 1 to {MAX_COLUMNS} columns, not {columns}"])
    return Section(columns=[Column() for _ in range(columns)], props={**SECTION_DEFAULTS, **props})


def fresh_copy(item: Block | Section) -> Block | Section:
    """A deep copy with new ids everywhere (for duplicate, paste and saved blocks)."""
    clone = copy.deepcopy(item)
    if isinstance(clone, Section):
        clone.id = new_id("s")
        for block in clone.walk():
            block.id = new_id()
    else:
        for block in clone.walk():
            block.id = new_id()
    return clone


def sanitize_block(block: Block) -> None:
    """Clean a block's props in place: rich text to the safe subset, numbers to ints. Called on every input."""
    if block.type == "text" and isinstance(block.props.get("html"), str):
        block.props["html"] = sanitize_rich_text(block.props["html"])
    spec = BLOCK_TYPES.get(block.type)
    if spec is None:
        return
    for prop in spec.fields:
        value = block.props.get(prop.key)
        if prop.kind == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            block.props[prop.key] = int(value)
        elif prop.kind == "bool" and not isinstance(value, bool) and value is not None:
            block.props[prop.key] = bool(value)
    for child in block.children:
        sanitize_block(child)


def _int(value: Any, fallback: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return fallback


def _prop_problem(prop: PropField, value: Any) -> str | None:  # noqa: PLR0911, PLR0912 - one rule per kind
    if value is None:
        return f"{prop.label} is missing"
    if prop.kind in ("text", "multiline", "richtext", "html", "url", "color", "image", "choice"):
        if not isinstance(value, str):
            return f"{prop.label} must be text"
        if prop.kind == "choice" and value not in prop.choices:
            return f"{prop.label} must be one of {', '.join(prop.choices)} (not {value!r})"
        if prop.kind == "color" and value and not _is_colour(value):
            return f"{prop.label} must be a colour like #1a73e8 (not {value!r})"
        if prop.kind == "image" and value and not (value.startswith(("asset:", "http://", "https://", "{{"))):
            return f"{prop.label} must be a picture you added or an http(s) address (not {value[:60]!r})"
        if prop.kind == "url" and value and not is_safe_href(value):
            return f"{prop.label} must start with https://, mailto:, tel: or a merge tag (not {value[:60]!r})"
    elif prop.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{prop.label} must be a whole number"
        if not prop.minimum <= value <= prop.maximum:
            return f"{prop.label} must be between {prop.minimum} and {prop.maximum} (not {value})"
    elif prop.kind == "bool" and not isinstance(value, bool):
        return f"{prop.label} must be true or false"
    elif prop.kind == "links":
        return _links_problem(value)
    elif prop.kind == "rule":
        problems = rule_problems(value)
        return "; ".join(problems) if problems else None
    return None


def _links_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return "Profiles must be a list"
    for number, link in enumerate(value, 1):
        if not isinstance(link, Mapping) or not isinstance(link.get("url"), str):
            return f"profile {number} needs a network and an address"
        if link.get("network") not in SOCIAL_NETWORKS:
            return f"profile {number}: unknown network {link.get('network')!r}"
        if link["url"] and not is_safe_href(link["url"]):
            return f"profile {number}: {link['url'][:60]!r} is not a web address"
    return None


def _is_colour(value: str) -> bool:
    return len(value) in (4, 7) and value.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in value[1:])


def validate_block(block: Block, where: str) -> list[str]:
    """Problems with one block (and its children), each prefixed with ``where`` (e.g. "section 2, column 1")."""
    spec = BLOCK_TYPES.get(block.type)
    label = f"{where}, block {block.id} ({block.title})"
    if spec is None:
        return [f"{where}, block {block.id}: unknown block type {block.type!r}"]
    problems = []
    for prop in spec.fields:
        problem = _prop_problem(prop, block.props.get(prop.key, spec.defaults.get(prop.key)))
        if problem:
            problems.append(f"{label}: {problem}")
    if block.children and not spec.container:
        problems.append(f"{label}: only a conditional block can hold other blocks")
    for child in block.children:
        if child.type == "conditional":
            problems.append(f"{label}: a conditional block cannot hold another conditional block")
        problems.extend(validate_block(child, f"{label} > inside"))
    return problems


def validate_document(document: Document) -> list[str]:
    """Every problem in the document, in reading order; an empty list means it can be saved and rendered."""
    problems: list[str] = []
    seen: set[str] = set()
    for s_number, section in enumerate(document.sections, 1):
        where = f"section {s_number}"
        if section.id in seen:
            problems.append(f"{where}: the id {section.id} is used twice")
        seen.add(section.id)
        if not 1 <= len(section.columns) <= MAX_COLUMNS:
            problems.append(f"{where}: a section has 1 to {MAX_COLUMNS} columns, not {len(section.columns)}")
        if sum(c.width for c in section.columns) > 100 or any(c.width < 0 for c in section.columns):
            problems.append(f"{where}: column widths must be 0 to 100 percent in all")
        for prop in SECTION_FIELDS:
            problem = _prop_problem(prop, section.props.get(prop.key, SECTION_DEFAULTS[prop.key]))
            if problem:
                problems.append(f"{where}: {problem}")
        for c_number, column in enumerate(section.columns, 1):
            for block in column.blocks:
                for nested in block.walk():
                    if nested.id in seen:
                        problems.append(f"{where}, column {c_number}: the block id {nested.id} is used twice")
                    seen.add(nested.id)
                problems.extend(validate_block(block, f"{where}, column {c_number}"))
    return problems
