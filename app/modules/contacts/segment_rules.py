"""Segment rules as data: the fields and operators a segment may use, and readable problems with given rules."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KEY_PATTERN = re.compile(r"^[a-z0-9_]+$")
MAX_DEPTH = 5
MAX_DAYS = 36_500

STANDARD_FIELDS: dict[str, tuple[str, str]] = {
    "email": ("Email", "text"), "first_name": ("First name", "text"), "last_name": ("Last name", "text"),
    "language": ("Language", "text"), "time_zone": ("Time zone", "text"), "created_at": ("Created", "date"),
}
SPECIAL_FIELDS: dict[str, str] = {"tag": "Tag", "list": "List", "status": "Status", "engagement": "Engagement",
                                  "event": "Event"}

OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("equals", "not_equals", "contains", "not_contains", "starts_with", "is_empty", "is_not_empty"),
    "number": ("=", "!=", ">", ">=", "<", "<=", "between", "is_empty", "is_not_empty"),
    "date": ("on", "before", "after", "in_last_days", "not_in_last_days", "anniversary_today",
             "anniversary_in_days", "is_empty", "is_not_empty"),
    "boolean": ("is_true", "is_false"),
    "choice": ("is", "is_not", "in", "is_empty", "is_not_empty"),
    "tag": ("has", "has_not"),
    "list": ("subscribed", "unsubscribed", "unconfirmed", "member", "not_member"),
    "status": ("suppressed", "not_suppressed"),
    "engagement": ("opened_in_last_days", "not_opened_in_last_days", "clicked_in_last_days",
                   "not_clicked_in_last_days", "sent_in_last_days", "not_sent_in_last_days",
                   "never_opened", "never_clicked", "never_sent"),
    "event": ("performed", "not_performed"),
}
OPERATOR_LABELS: dict[str, str] = {
    "equals": "is", "not_equals": "is not", "contains": "contains", "not_contains": "does not contain",
    "starts_with": "starts with", "is_empty": "is empty", "is_not_empty": "is not empty", "=": "=", "!=": "≠",
    ">": ">", ">=": "≥", "<": "<", "<=": "≤", "between": "between", "on": "is on", "before": "is before",
    "after": "is after", "in_last_days": "is in the last", "not_in_last_days": "is not in the last",
    "anniversary_today": "has its anniversary today", "anniversary_in_days": "has its anniversary in",
    "is_true": "is yes", "is_false": "is no", "is": "is", "is_not": "is not", "in": "is one of",
    "has": "has tag", "has_not": "does not have tag", "subscribed": "is subscribed to",
    "unsubscribed": "is unsubscribed from", "unconfirmed": "is unconfirmed on", "member": "is on",
    "not_member": "is not on", "suppressed": "is suppressed", "not_suppressed": "is not suppressed",
    "opened_in_last_days": "opened in the last", "not_opened_in_last_days": "did not open in the last",
    "clicked_in_last_days": "clicked in the last", "not_clicked_in_last_days": "did not click in the last",
    "sent_in_last_days": "was sent mail in the last", "not_sent_in_last_days": "was not sent mail in the last",
    "never_opened": "never opened", "never_clicked": "never clicked", "never_sent": "was never sent mail",
    "performed": "happened", "not_performed": "did not happen",
}
EVENT_PROPERTY_OPS = ("equals", "not_equals", "contains", "=", "!=", ">", ">=", "<", "<=")
_CUSTOM_FAMILIES = ("text", "number", "date", "boolean", "choice")


def operators_for(family: str) -> tuple[str, ...]:
    """The operators of a field family; "custom" (a custom field of unknown type) allows any custom operator."""
    if family == "custom":
        return tuple(dict.fromkeys(op for f in _CUSTOM_FAMILIES for op in OPERATORS[f]))
    return OPERATORS.get(family, ())


def value_kind(op: str) -> str:
    """What an operator's value is: none, text, number, range, date, days, choice, choices, tag, list or event."""
    if op in ("is_empty", "is_not_empty", "anniversary_today", "is_true", "is_false", "suppressed",
              "not_suppressed", "never_opened", "never_clicked", "never_sent"):
        return "none"
    if op.endswith("_days"):
        return "days"
    kinds = {"between": "range", "on": "date", "before": "date", "after": "date", "is": "choice",
             "is_not": "choice", "in": "choices", "performed": "event", "not_performed": "event"}
    if op in kinds:
        return kinds[op]
    if op in OPERATORS["number"]:
        return "number"
    return {**dict.fromkeys(OPERATORS["tag"], "tag"), **dict.fromkeys(OPERATORS["list"], "list")}.get(op, "text")


class SegmentError(ValueError):
    """Rules that cannot be used; ``problems`` lists each one in words a user understands."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class FieldDef:
    """A custom field as segments see it (plain data)."""

    key: str
    label: str
    type: str
    choices: tuple[str, ...] = ()


# -- checking ---------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, fields: Mapping[str, FieldDef] | None, tags: Iterable[str] | None,
                 lists: Iterable[str] | None) -> None:
        self.fields = fields
        self.tags = None if tags is None else {t.lower() for t in tags}
        self.lists = None if lists is None else {name.lower() for name in lists}
        self.problems: list[str] = []

    def group(self, node: Any, path: str, depth: int) -> None:
        where = f"Group {path}" if path else "The segment"
        if not isinstance(node, Mapping):
            self.problems.append(f"{where} must be an object with 'match' and 'rules', not {_show(node)}")
            return
        if depth > MAX_DEPTH:
            self.problems.append(f"{where} is nested {depth} deep; groups can be nested at most {MAX_DEPTH} deep")
            return
        if node.get("match", "all") not in ("all", "any"):
            self.problems.append(f"{where}: match must be 'all' or 'any', not {_show(node.get('match'))}")
        rules = node.get("rules", [])
        if not isinstance(rules, list):
            self.problems.append(f"{where}: 'rules' must be a list")
            return
        for index, rule in enumerate(rules, start=1):
            child = f"{path}.{index}" if path else str(index)
            if isinstance(rule, Mapping) and "rules" in rule:
                self.group(rule, child, depth + 1)
            else:
                self.condition(rule, child)

    def condition(self, rule: Any, path: str) -> None:
        if not isinstance(rule, Mapping) or not isinstance(rule.get("field"), str):
            self.problems.append(f"Condition {path} needs a 'field', an 'op' and usually a 'value'")
            return
        field, op, value = rule["field"], rule.get("op"), rule.get("value")
        family, label = self.family(field)
        if family is None:
            self.problems.append(f"Condition {path}: {label}")
            return
        where = f"Condition {path} ({label})"
        allowed = operators_for(family)
        if op not in allowed:
            kind = "a custom" if family == "custom" else f"a {family}"
            self.problems.append(f"{where}: {_show(op)} does not apply to {kind} field; use one of: "
                                 f"{', '.join(allowed)}")
            return
        problem = self.value_problem(field, op, value)
        if problem:
            self.problems.append(f"{where}: {problem}")

    def family(self, field: str) -> tuple[str | None, str]:  # noqa: PLR0911 - one answer per kind of field
        """(operator family, label), or (None, why the field is unknown)."""
        if field in STANDARD_FIELDS:
            return STANDARD_FIELDS[field][1], STANDARD_FIELDS[field][0]
        if field in SPECIAL_FIELDS:
            return field, SPECIAL_FIELDS[field]
        if not field.startswith("field:"):
            return None, (f"unknown field {_show(field)} (use a contact field, field:<key>, tag, list, status, "
                          "engagement or event)")
        key = field.removeprefix("field:")
        if not KEY_PATTERN.match(key):
            return None, f"{_show(key)} is not a custom field key (lower-case letters, digits and _ only)"
        if self.fields is None:
            return "custom", key
        found = self.fields.get(key)
        if found is None:
            return None, f"there is no custom field {_show(key)}"
        return found.type, found.label or key

    def value_problem(self, field: str, op: str, value: Any) -> str:  # noqa: PLR0911 - one answer per kind
        """What is wrong with ``value`` for ``op``, as the end of a sentence (empty when nothing is)."""
        kind, said = value_kind(op), f'"{OPERATOR_LABELS[op]}"'
        if kind == "none":
            return ""
        if kind == "text":
            return "" if isinstance(value, str) and value.strip() else f"{said} needs some text"
        if kind == "tag":
            return self.tag_problem(said, value)
        if kind == "number":
            return "" if _is_number(value) else f"{said} needs a number, not {_show(value)}"
        if kind == "range":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
                return f"{said} needs two numbers [low, high], not {_show(value)}"
            return "" if value[0] <= value[1] else f"{said} needs the lower number first"
        if kind == "date":
            return "" if _parse_day(value) else f"{said} needs a date like 2025-01-31, not {_show(value)}"
        if kind == "days":
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS
            return "" if ok else f"{said} needs a number of days from 0 to {MAX_DAYS}, not {_show(value)}"
        if kind in ("choice", "choices"):
            return self.choice_problem(said, field, kind, value)
        if kind == "list":
            return self.list_problem(said, value)
        problem = _event_problem(value)
        return f"{said} {problem}" if problem else ""

    def choice_problem(self, said: str, field: str, kind: str, value: Any) -> str:
        values = value if kind == "choices" else [value]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            return f"{said} needs at least one choice" if kind == "choices" else f"{said} needs a choice"
        found = self.fields.get(field.removeprefix("field:")) if self.fields else None
        unknown = [v for v in values if found and found.choices and v not in found.choices]
        if unknown:
            return f"{_show(unknown[0])} is not one of the field's choices ({', '.join(found.choices)})"  # type: ignore[union-attr]
        return ""

    def list_problem(self, said: str, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return ""
        if not isinstance(value, str) or not value.strip():
            return f"{said} needs a list"
        if self.lists is not None and value.strip().lower() not in self.lists:
            return f"there is no list {_show(value.strip())}"
        return ""

    def tag_problem(self, said: str, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return ""
        if not isinstance(value, str) or not value.strip():
            return f"{said} needs a tag"
        if self.tags is not None and value.strip().lower() not in self.tags:
            return f"there is no tag {_show(value.strip())}"
        return ""


def _event_problem(value: Any) -> str:  # noqa: PLR0911 - one answer per mistake
    if not isinstance(value, Mapping):
        return "needs an event such as {\"name\": \"order_completed\"}"
    name = value.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        return "needs the event's name (up to 100 characters)"
    count, days = value.get("min_count", 1), value.get("in_last_days")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1_000_000:
        return f"needs min_count to be a whole number of at least 1, not {_show(count)}"
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_DAYS):
        return f"needs in_last_days to be a number of days from 0 to {MAX_DAYS}, not {_show(days)}"
    where = value.get("where", [])
    if not isinstance(where, list):
        return "needs 'where' to be a list of property filters"
    for index, item in enumerate(where, start=1):
        if not isinstance(item, Mapping) or not isinstance(item.get("property"), str) \
                or not KEY_PATTERN.match(item["property"]):
            return f"filter {index} needs a property name (lower-case letters, digits and _ only)"
        if item.get("op") not in EVENT_PROPERTY_OPS:
            ops = ", ".join(EVENT_PROPERTY_OPS)
            return f"filter {index} has no operator {_show(item.get('op'))}; use one of: {ops}"
        numeric = item["op"] in OPERATORS["number"]
        if numeric and not _is_number(item.get("value")):
            return f"filter {index} needs a number, not {_show(item.get('value'))}"
        if not numeric and not isinstance(item.get("value"), str):
            return f"filter {index} needs some text"
    return ""


def validate_rules(rules: Any, custom_fields: Mapping[str, Any] | Iterable[Any] | None = None, *,
                   tags: Iterable[str] | None = None, lists: Iterable[str] | None = None) -> list[str]:
    """Every problem with ``rules``, in words a user understands (an empty list means the rules can be used).

    ``custom_fields`` maps keys to types (or is a sequence of FieldDef/CustomField); with ``tags`` and ``lists``
    (names that exist) unknown names are reported too.
    """
    checker = _Checker(_field_map(custom_fields), tags, lists)
    checker.group(rules, "", 1)
    return checker.problems


def _field_map(fields: Mapping[str, Any] | Iterable[Any] | None) -> dict[str, FieldDef] | None:
    if fields is None:
        return None
    if isinstance(fields, Mapping):
        return {k: v if isinstance(v, FieldDef) else FieldDef(k, k, str(v)) for k, v in fields.items()}
    items: Iterable[Any] = fields
    return {f.key: FieldDef(f.key, f.label, f.type, tuple(f.choices or ())) for f in items}


def describe_rules(rules: Any, custom_fields: Mapping[str, Any] | Iterable[Any] | None = None,
                   indent: str = "") -> str:
    """The rules in words, one condition per line, nested groups indented (for people, not for parsing)."""
    if not isinstance(rules, Mapping):
        return f"{indent}(not a segment)"
    labels = {k: f.label for k, f in (_field_map(custom_fields) or {}).items()}
    rules_list = rules.get("rules") if isinstance(rules.get("rules"), list) else []
    if not rules_list:
        return f"{indent}Everyone (no conditions)"
    lines = [f"{indent}{'All' if rules.get('match', 'all') == 'all' else 'Any'} of:"]
    for rule in rules_list:
        if isinstance(rule, Mapping) and "rules" in rule:
            lines.append(describe_rules(rule, custom_fields, indent + "  "))
        elif isinstance(rule, Mapping):
            lines.append(f"{indent}  {_describe_condition(rule, labels)}")
    return "\n".join(lines)


def _describe_condition(rule: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    field, op, value = str(rule.get("field")), str(rule.get("op")), rule.get("value")
    key = field.removeprefix("field:")
    name = STANDARD_FIELDS.get(field, (None,))[0] or SPECIAL_FIELDS.get(field) or labels.get(key, key)
    said = OPERATOR_LABELS.get(op, op)
    kind = value_kind(op) if op in OPERATOR_LABELS else "text"
    if kind == "none":
        shown = ""
    elif kind == "days":
        shown = f"{value} days"
    elif kind == "range" and isinstance(value, list) and len(value) == 2:
        shown = f"{value[0]} and {value[1]}"
    elif kind == "choices" and isinstance(value, list):
        shown = ", ".join(map(str, value))
    elif kind == "event" and isinstance(value, Mapping):
        shown = _describe_event(value)
    else:
        shown = str(value)
    if field == "event":
        said = "did" if op == "performed" else "did not do"
    text = f"{said} {shown}" if field in ("tag", "list", "status", "engagement", "event") else f"{name} {said} {shown}"
    text = text.strip()
    return text[:1].upper() + text[1:]


def _describe_event(value: Mapping[str, Any]) -> str:
    parts = [str(value.get("name", "?"))]
    filters = [f"{f.get('property')} {OPERATOR_LABELS.get(str(f.get('op')), f.get('op'))} {f.get('value')}"
               for f in value.get("where", []) if isinstance(f, Mapping)]
    if filters:
        parts.append("where " + " and ".join(filters))
    count = value.get("min_count", 1)
    if count != 1:
        parts.append(f"at least {count} times")
    if value.get("in_last_days") is not None:
        parts.append(f"in the last {value['in_last_days']} days")
    return ", ".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # noqa: PLR0124 - NaN


def _parse_day(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
