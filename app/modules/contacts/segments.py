"""Segments: JSON rules compiled into one SQL clause over contacts (bound values only), counted, previewed, saved."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Float, String, and_, extract, func, literal, not_, or_, select, text, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.modules.contacts.api import SegmentInfo
from app.modules.contacts.messages import ListsChanged
from app.modules.contacts.models import (
    Activity,
    Contact,
    ContactTag,
    CustomField,
    MailingList,
    Segment,
    Subscription,
    Suppression,
    Tag,
)
from app.modules.contacts.segment_rules import (
    KEY_PATTERN,
    OPERATOR_LABELS,
    OPERATORS,
    STANDARD_FIELDS,
    FieldDef,
    SegmentError,
    operators_for,
    validate_rules,
    value_kind,
)

__all__ = [
    "OPERATORS", "OPERATOR_LABELS", "STANDARD_FIELDS", "FieldDef", "SegmentCatalog", "SegmentError", "SegmentMember",
    "compile_rules", "count_segment", "delete_segment", "ensure_field_index", "event_names", "field_defs",
    "get_segment", "index_segment_fields", "operators_for", "preview_segment", "save_segment", "segment_catalog",
    "validate_rules", "value_kind",
]

# A negative operator is exactly "not" its positive one, so contacts without a value match it.
_NEGATIVE = {"not_equals": "equals", "not_contains": "contains", "!=": "=", "is_not": "is",
             "not_in_last_days": "in_last_days", "is_false": "is_true"}
_ENGAGEMENT = {"opened": Contact.last_open_at, "clicked": Contact.last_click_at, "sent": Contact.last_sent_at}
# SQLite tests the terms of an AND in the order written: cheap column tests first, JSON parsing last.
_COST = {"column": 0, "membership": 1, "json": 2, "event": 3}


@dataclass(frozen=True)
class SegmentMember:
    """One contact in a segment preview (plain data for views)."""

    id: int
    email: str
    first_name: str
    last_name: str


class JsonValue(ColumnElement[Any]):
    """``column[key]`` as SQL: ``json_extract`` on SQLite, ``->>`` on PostgreSQL.

    The key is checked against ``KEY_PATTERN`` and then written into the SQL (never a user value), so an
    expression index on the same text can serve the query.
    """

    __visit_name__ = "postroom_json_value"
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("key", InternalTraversal.dp_string),
                           ("mode", InternalTraversal.dp_string)]

    def __init__(self, column: Any, key: str, mode: str = "text") -> None:
        if not KEY_PATTERN.match(key):
            raise SegmentError([f"{key!r} is not a field key (lower-case letters, digits and _ only)"])
        self.column = column
        self.key = key
        self.mode = mode
        self.type = Float() if mode == "number" else String()

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)


@compiles(JsonValue)
def _json_value_sqlite(element: JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    value = f"json_extract({compiler.process(element.column, **kw)}, '$.\"{element.key}\"')"
    return f"CAST({value} AS REAL)" if element.mode == "number" else value


@compiles(JsonValue, "postgresql")
def _json_value_postgresql(element: JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    value = f"({compiler.process(element.column, **kw)} ->> '{element.key}')"
    if element.mode == "number":
        return f"CAST({value} AS DOUBLE PRECISION)"
    return f"CAST({value} AS BOOLEAN)" if element.mode == "boolean" else value


def _naive_utc(moment: dt.datetime | None) -> dt.datetime:
    if moment is None:
        return utcnow()
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def compile_rules(rules: Any, now: dt.datetime | None = None) -> ColumnElement[bool]:
    """One boolean clause over ``Contact`` for ``rules``; dates relative to today are taken from ``now``.

    Raises :class:`SegmentError` when the rules are malformed. Custom-field types are inferred from the
    operators (``validate_rules`` with the field definitions checks that they agree).
    """
    if isinstance(rules, Mapping) and "field" in rules:
        rules = {"match": "all", "rules": [rules]}
    problems = validate_rules(rules)
    if problems:
        raise SegmentError(problems)
    return _Compiler(_naive_utc(now)).group(rules)[1]


class _Compiler:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.today = now.date()

    def group(self, node: Mapping[str, Any]) -> tuple[int, ColumnElement[bool]]:
        parts = [self.group(rule) if "rules" in rule else self.condition(rule) for rule in node.get("rules", [])]
        if not parts:
            return 0, true()  # an empty group places no condition
        parts.sort(key=lambda part: part[0])
        clauses = [clause for _, clause in parts]
        combined = and_(*clauses) if node.get("match", "all") == "all" else or_(*clauses)
        return max(cost for cost, _ in parts), combined

    def condition(self, rule: Mapping[str, Any]) -> tuple[int, ColumnElement[bool]]:
        field, op, value = rule["field"], rule["op"], rule.get("value")
        special: dict[str, tuple[str, Callable[[str, Any], ColumnElement[bool]]]] = {
                   "tag": ("membership", self.tag), "list": ("membership", self.mailing_list),
                   "status": ("membership", self.status), "engagement": ("column", self.engagement),
                   "event": ("event", self.event)}
        if field in special:
            cost, build = special[field]
            return _COST[cost], build(op, value)
        if field == "created_at":
            return _COST["column"], self.negatable(op, value, None, self.datetime_column)
        if field == "email" and op == "equals":
            return _COST["column"], Contact.email_key == str(value).strip().lower()  # the indexed identity key
        if field in STANDARD_FIELDS:
            column = Contact.email_key if field == "email" else getattr(Contact, field)
            return _COST["column"], self.negatable(op, value, None, lambda o, v: _text(column, o, v))
        return _COST["json"], self.custom(field.removeprefix("field:"), op, value)

    def negatable(self, op: str, value: Any, raw: Any,
                  positive: Callable[[str, Any], ColumnElement[bool]]) -> ColumnElement[bool]:
        """``positive(op, value)``, or for a negative operator its exact complement (missing values included)."""
        if op == "is_not_empty":
            return not_(positive("is_empty", value))
        if op not in _NEGATIVE:
            return positive(op, value)
        inverse = not_(positive(_NEGATIVE[op], value))
        return or_(raw.is_(None), inverse) if raw is not None else inverse

    def custom(self, key: str, op: str, value: Any) -> ColumnElement[bool]:  # noqa: PLR0911 - one per type
        raw = JsonValue(Contact.fields, key)
        if op in ("is_empty", "is_not_empty"):
            return self.negatable(op, value, raw, lambda _o, _v: or_(raw.is_(None), raw == ""))
        base = _NEGATIVE.get(op, op)
        if base in OPERATORS["text"]:
            return self.negatable(op, value, raw, lambda o, v: _text(raw, o, v))
        if base in OPERATORS["number"]:
            number = JsonValue(Contact.fields, key, "number")
            return self.negatable(op, value, raw, lambda o, v: _number(number, o, v))
        if base in OPERATORS["date"]:
            return self.negatable(op, value, raw, lambda o, v: self.date_text(raw, o, v))
        if base == "is_true":
            flag = JsonValue(Contact.fields, key, "boolean")
            return self.negatable(op, value, raw, lambda _o, _v: flag == true())
        if op == "in":
            return raw.in_(list(value))
        return self.negatable(op, value, raw, lambda _o, v: raw == v)

    def tag(self, op: str, value: Any) -> ColumnElement[bool]:
        wanted: Any = value if isinstance(value, int) else select(Tag.id).where(
            func.lower(Tag.name) == func.lower(literal(str(value).strip())))
        tagged = Contact.id.in_(select(ContactTag.contact_id).where(
            ContactTag.tag_id == wanted if isinstance(value, int) else ContactTag.tag_id.in_(wanted)))
        return tagged if op == "has" else not_(tagged)

    def status(self, op: str, _value: Any) -> ColumnElement[bool]:
        suppressed = Contact.email_hash.in_(select(Suppression.email_hash))
        return suppressed if op == "suppressed" else not_(suppressed)

    def mailing_list(self, op: str, value: Any) -> ColumnElement[bool]:
        query = select(Subscription.contact_id)
        if isinstance(value, int):
            query = query.where(Subscription.list_id == value)
        else:
            query = query.where(Subscription.list_id.in_(select(MailingList.id).where(
                func.lower(MailingList.name) == func.lower(literal(str(value).strip())))))
        if op not in ("member", "not_member"):
            query = query.where(Subscription.status == op)
        member = Contact.id.in_(query)
        return not_(member) if op == "not_member" else member

    def engagement(self, op: str, value: Any) -> ColumnElement[bool]:
        action = op.removeprefix("never_").removeprefix("not_").split("_", 1)[0]
        column = _ENGAGEMENT[action]
        if op.startswith("never_"):
            return column.is_(None)
        recent = column >= self.now - dt.timedelta(days=int(value))
        return or_(column.is_(None), not_(recent)) if op.startswith("not_") else recent

    def event(self, op: str, value: Mapping[str, Any]) -> ColumnElement[bool]:
        query = select(Activity.contact_id).where(Activity.kind == "event", Activity.name == value["name"].strip())
        if value.get("in_last_days") is not None:
            query = query.where(Activity.occurred_at >= self.now - dt.timedelta(days=int(value["in_last_days"])))
        for item in value.get("where", []):
            raw = JsonValue(Activity.properties, item["property"])
            if item["op"] in OPERATORS["number"]:
                number = JsonValue(Activity.properties, item["property"], "number")
                query = query.where(self.negatable(item["op"], item["value"], raw, partial(_number, number)))
            else:
                query = query.where(self.negatable(item["op"], item["value"], raw, partial(_text, raw)))
        count = int(value.get("min_count", 1))
        if count > 1:
            query = query.group_by(Activity.contact_id).having(func.count() >= count)
        performed = Contact.id.in_(query)
        return performed if op == "performed" else not_(performed)

    def day_window(self, op: str, value: Any) -> tuple[dt.date | None, dt.date | None]:
        """[start, end) in days for on/before/after/in_last_days."""
        if op == "in_last_days":
            return self.today - dt.timedelta(days=int(value)), self.today + dt.timedelta(days=1)
        day = dt.date.fromisoformat(str(value).strip())
        following = day + dt.timedelta(days=1)
        return {"on": (day, following), "before": (None, day), "after": (following, None)}[op]

    def anniversaries(self, op: str, value: Any) -> list[tuple[int, int]]:
        """(month, day) pairs that have their anniversary on the target day (29 February on 28th in common years)."""
        target = self.today + dt.timedelta(days=int(value) if op == "anniversary_in_days" else 0)
        pairs = [(target.month, target.day)]
        if (target.month, target.day) == (2, 28) and not _leap(target.year):
            pairs.append((2, 29))
        return pairs

    def date_text(self, raw: Any, op: str, value: Any) -> ColumnElement[bool]:
        """Date custom fields hold ISO text (2025-01-31), which sorts like the dates it names."""
        if op.startswith("anniversary"):
            return func.substr(raw, 6, 5).in_([f"{m:02d}-{d:02d}" for m, d in self.anniversaries(op, value)])
        start, end = self.day_window(op, value)
        terms = ([raw >= start.isoformat()] if start else []) + ([raw < end.isoformat()] if end else [])
        return and_(*terms)

    def datetime_column(self, op: str, value: Any) -> ColumnElement[bool]:
        column = Contact.created_at
        if op == "is_empty":
            return column.is_(None)
        if op.startswith("anniversary"):
            return or_(*(and_(extract("month", column) == m, extract("day", column) == d)
                         for m, d in self.anniversaries(op, value)))
        start, end = self.day_window(op, value)
        terms = ([column >= _midnight(start)] if start else []) + ([column < _midnight(end)] if end else [])
        return and_(*terms)


def _text(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """Case-insensitive text tests; both sides go through the database's lower() so they agree."""
    if op == "is_empty":
        return or_(column.is_(None), column == "")
    lowered: ColumnElement[str] = func.lower(column)
    wanted = str(value)
    if op == "equals":
        return lowered == func.lower(literal(wanted))
    escaped = wanted.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%" if op == "contains" else f"{escaped}%"
    return lowered.like(func.lower(literal(pattern)), escape="/")


def _number(number: ColumnElement[float], op: str, value: Any) -> ColumnElement[bool]:
    if op == "between":
        return number.between(float(value[0]), float(value[1]))
    wanted = float(value)
    compare = {"=": number == wanted, ">": number > wanted, ">=": number >= wanted, "<": number < wanted,
               "<=": number <= wanted}
    return compare[op]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)  # stored times are naive UTC


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# -- using segments ---------------------------------------------------------------------------------


def field_defs(db: Database) -> list[FieldDef]:
    with db.read() as session:
        return [FieldDef(f.key, f.label, f.type, tuple(f.choices or ()))
                for f in session.scalars(select(CustomField).order_by(CustomField.label))]


@dataclass(frozen=True)
class SegmentCatalog:
    """What a segment can refer to in this database (for the builder's combos and for validation)."""

    fields: tuple[FieldDef, ...]
    tags: tuple[str, ...]
    lists: tuple[str, ...]


def segment_catalog(db: Database) -> SegmentCatalog:
    with db.read() as session:
        tags = tuple(session.scalars(select(Tag.name).order_by(func.lower(Tag.name))))
        lists = tuple(session.scalars(select(MailingList.name).order_by(func.lower(MailingList.name))))
    return SegmentCatalog(tuple(field_defs(db)), tags, lists)


def event_names(db: Database, limit: int = 500) -> list[str]:
    """Names of incoming events seen so far, one index seek per name (no scan of millions of events)."""
    names: list[str] = []
    with db.read() as session:
        while len(names) < limit:
            query = select(Activity.name).where(Activity.kind == "event", Activity.name > (names[-1] if names else ""))
            found = session.scalar(query.order_by(Activity.name).limit(1))
            if found is None:
                break
            names.append(found)
    return names


def count_segment(db: Database, rules: Any, now: dt.datetime | None = None) -> int:
    clause = compile_rules(rules, now)
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Contact).where(clause)) or 0)


def preview_segment(db: Database, rules: Any, limit: int = 20, now: dt.datetime | None = None) -> list[SegmentMember]:
    clause = compile_rules(rules, now)
    with db.read() as session:
        rows = session.execute(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name)
                               .where(clause).order_by(Contact.id).limit(limit))
        return [SegmentMember(*row) for row in rows]


def segment_problems(db: Database, rules: Any) -> list[str]:
    """``validate_rules`` against what exists in this database: its custom fields, tags and lists."""
    catalog = segment_catalog(db)
    return validate_rules(rules, catalog.fields, tags=catalog.tags, lists=catalog.lists)


def save_segment(db: Database, bus: MessageBus, name: str, rules: Any) -> SegmentInfo:
    """Create or replace the segment ``name``; raises :class:`SegmentError` listing every problem."""
    name = name.strip()
    if not name or len(name) > 200:
        raise SegmentError(["A segment needs a name of 1 to 200 characters"])
    problems = segment_problems(db, rules)
    if problems:
        raise SegmentError(problems)
    stored = json.loads(json.dumps(rules))  # a detached, JSON-clean copy
    with db.transaction() as session:
        segment = session.scalar(select(Segment).where(func.lower(Segment.name) == name.lower()))
        if segment is None:
            segment = Segment(name=name, rules=stored)
            session.add(segment)
        else:
            segment.name, segment.rules, segment.updated_at = name, stored, utcnow()
        session.flush()
        info = SegmentInfo(segment.id, segment.name, stored)
    bus.publish(ListsChanged())
    return info


def get_segment(db: Database, name: str) -> SegmentInfo | None:
    with db.read() as session:
        found = session.scalar(select(Segment).where(func.lower(Segment.name) == name.strip().lower()))
        return SegmentInfo(found.id, found.name, dict(found.rules)) if found else None


def delete_segment(db: Database, bus: MessageBus, name: str) -> bool:
    with db.transaction() as session:
        found = session.scalar(select(Segment).where(func.lower(Segment.name) == name.strip().lower()))
        if found is None:
            return False
        session.delete(found)
    bus.publish(ListsChanged())
    return True


def ensure_field_index(db: Database, key: str) -> str:
    """Create (once) an expression index on a custom field so segments on it need not parse every contact's JSON.

    The indexed expression is exactly what ``compile_rules`` writes for that field's type. Returns its name.
    """
    field = next((f for f in field_defs(db) if f.key == key), None)
    if field is None:
        raise SegmentError([f"there is no custom field {key!r}"])
    mode = {"number": "number", "boolean": "boolean"}.get(field.type, "text")
    expression = str(JsonValue(text("fields"), key, mode).compile(dialect=db.engine.dialect))
    if field.type == "text":
        expression = f"lower({expression})"
    name = f"ix_contacts_field_{key}"
    with db.transaction() as session:
        session.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON contacts_contact (({expression}))"))
    return name


def index_segment_fields(db: Database, rules: Any) -> list[str]:
    """``ensure_field_index`` for every custom field the rules test (a count on one such field: ~500 ms -> ~5 ms
    over a million contacts). Each index costs a little on every import, so callers choose when to pay it."""
    keys = sorted({rule["field"].removeprefix("field:") for rule in _conditions(rules)
                   if str(rule.get("field", "")).startswith("field:")})
    return [ensure_field_index(db, key) for key in keys]


def _conditions(node: Any) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for rule in node.get("rules", []) if isinstance(node, Mapping) else []:
        if isinstance(rule, Mapping):
            found.extend(_conditions(rule) if "rules" in rule else [rule])
    return found
