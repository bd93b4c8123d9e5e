"""Rules of conditional blocks: "show to contacts where language equals fr", checked safely in Python.

A rule is ``{"match": "all" | "any", "conditions": [{"field": "language", "op": "equals", "value": "fr"}]}``.
``field`` is a contact field key (``contact.`` may be written in front). The renderer compiles a conditional
block to ``{% if _rule(contact, N) %}``: the rule's values never become template source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OPERATORS: dict[str, str] = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "greater_than": "is greater than",
    "less_than": "is less than",
}
UNARY = frozenset({"is_empty", "is_not_empty"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def field_key(name: str) -> str:
    """``contact.language`` and ``language`` both name the field ``language``."""
    return name.removeprefix("contact.").strip()


def rule_problems(rule: Any) -> list[str]:
    """What is wrong with a rule, in words; empty when it is usable."""
    if not isinstance(rule, Mapping):
        return ["the rule must be an object"]
    problems = []
    if rule.get("match", "all") not in ("all", "any"):
        problems.append("the rule must match 'all' or 'any' conditions")
    conditions = rule.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        return [*problems, "the rule needs at least one condition"]
    for number, condition in enumerate(conditions, 1):
        if not isinstance(condition, Mapping):
            problems.append(f"condition {number} must be an object")
            continue
        key = field_key(str(condition.get("field", "")))
        if not FIELD_NAME.match(key):
            problems.append(f"condition {number}: {condition.get('field')!r} is not a contact field name")
        if condition.get("op") not in OPERATORS:
            problems.append(f"condition {number}: unknown comparison {condition.get('op')!r} "
                            f"(use one of {', '.join(OPERATORS)})")
        if condition.get("op") not in UNARY and not isinstance(condition.get("value", ""), str | int | float):
            problems.append(f"condition {number}: the value must be text or a number")
    return problems


def describe_rule(rule: Mapping[str, Any]) -> str:
    """The rule in words, for the canvas: "language is fr and country is not BE"."""
    joiner = " or " if rule.get("match") == "any" else " and "
    parts = []
    for condition in rule.get("conditions", []):
        op = condition.get("op", "")
        text = f"{field_key(str(condition.get('field', '')))} {OPERATORS.get(op, op)}"
        if op not in UNARY:
            text += f" {condition.get('value', '')}"
        parts.append(text)
    return joiner.join(parts) or "(no conditions)"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _matches(condition: Mapping[str, Any], contact: Mapping[str, Any]) -> bool:  # noqa: PLR0911
    op = condition.get("op")
    actual = contact.get(field_key(str(condition.get("field", ""))))
    empty = actual is None or (isinstance(actual, str) and not actual.strip()) or actual == []
    if op == "is_empty":
        return empty
    if op == "is_not_empty":
        return not empty
    expected = condition.get("value", "")
    if op in ("greater_than", "less_than"):
        a, b = _number(actual), _number(expected)
        if a is None or b is None:
            return False
        return a > b if op == "greater_than" else a < b
    left = "" if actual is None else str(actual).strip().casefold()
    right = str(expected).strip().casefold()
    if isinstance(actual, list):
        members = [str(item).strip().casefold() for item in actual]
        found = right in members
        return {"equals": found, "contains": found, "not_equals": not found, "not_contains": not found}.get(
            str(op), False)
    if op == "equals":
        return left == right
    if op == "not_equals":
        return left != right
    if op == "contains":
        return right in left
    if op == "not_contains":
        return right not in left
    if op == "starts_with":
        return left.startswith(right)
    if op == "ends_with":
        return left.endswith(right)
    return False


def rule_matches(rule: Mapping[str, Any], contact: Mapping[str, Any]) -> bool:
    """Whether ``contact`` (a mapping of field key to value) matches ``rule``. Text compares ignoring case."""
    results = (_matches(condition, contact) for condition in rule.get("conditions", []))
    return any(results) if rule.get("match") == "any" else all(results)


def rule_fields(rule: Mapping[str, Any]) -> list[str]:
    """The contact fields a rule reads (for validation against the known fields)."""
    return [field_key(str(c.get("field", ""))) for c in rule.get("conditions", []) if isinstance(c, Mapping)]
