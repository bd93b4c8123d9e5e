"""Segments on a real database: every operator agrees with a plain Python reading of the same data."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import api
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.messages import ListsChanged
from app.modules.contacts.models import (
    Activity,
    Contact,
    ContactTag,
    CustomField,
    MailingList,
    Subscription,
    Suppression,
    Tag,
)
from app.modules.contacts.module import MODULE
from app.modules.contacts.segments import (
    JsonValue,
    SegmentError,
    SegmentMember,
    compile_rules,
    count_segment,
    delete_segment,
    ensure_field_index,
    get_segment,
    index_segment_fields,
    preview_segment,
    save_segment,
    validate_rules,
)
from tests.conftest import MemoryKeyring

NOW = dt.datetime(2025, 2, 28, 12, 0, 0)  # a common year's 28 February: birthdays on the 29th are today
TODAY = NOW.date()
TAGS = ("customer", "vip", "Newsletter", "trial", "partner")
LISTS = ("Weekly", "Product news", "Events")
FIRST = ("Ana", "ben", "CHLOE", "David", "", "Zoé", "x' OR 1=1 --", "Anabel", "50%_off")
CITIES = ("Paris", "paris", "Berlin", "Lisbon", "", "Oslo", "New York")
PLANS = ("free", "pro", "team")
PRODUCTS = ("X", "Y", "Shoe 42", "x")


@dataclass
class Person:
    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    time_zone: str
    created_at: dt.datetime
    fields: dict[str, Any]
    tags: set[str] = field(default_factory=set)
    lists: dict[str, str] = field(default_factory=dict)
    suppressed: bool = False
    last_open_at: dt.datetime | None = None
    last_click_at: dt.datetime | None = None
    last_sent_at: dt.datetime | None = None
    events: list[tuple[str, dt.datetime, dict[str, Any]]] = field(default_factory=list)


def _maybe(rng: random.Random, value: Any, chance: float = 0.8) -> Any:
    return value if rng.random() < chance else None


def _day(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(["2000-02-29", "1990-02-28", "1985-03-01", f"1999-{TODAY:%m-%d}"])
    return (TODAY - dt.timedelta(days=rng.randrange(-30, 3000))).isoformat()


def make_people(count: int, seed: int = 7) -> list[Person]:
    rng = random.Random(seed)
    people = []
    for i in range(1, count + 1):
        fields: dict[str, Any] = {}
        for key, value in (("plan", rng.choice(PLANS)), ("score", rng.choice([rng.randint(0, 100), 12.5, 50])),
                           ("city", rng.choice(CITIES)), ("birthday", _day(rng)),
                           ("vip", rng.random() < 0.3)):
            if _maybe(rng, value) is not None:
                fields[key] = value
        created = NOW - dt.timedelta(days=rng.randrange(0, 1200), seconds=rng.randrange(86400))
        if rng.random() < 0.05:
            created = dt.datetime(2020, 2, 29, 9, 30)
        person = Person(i, f"person{i}@{['example.com', 'Mail.org', 'shop.fr'][i % 3]}".lower(),
                        rng.choice(FIRST), rng.choice(["Martin", "O'Brien", "", "Dubois"]),
                        rng.choice(["en", "fr", "de", ""]), rng.choice(["Europe/Paris", "", "America/New_York"]),
                        created, fields)
        person.tags = {t for t in TAGS if rng.random() < 0.3}
        person.lists = {name: rng.choice(["subscribed", "unsubscribed", "unconfirmed"])
                        for name in LISTS if rng.random() < 0.5}
        person.suppressed = rng.random() < 0.05
        for kind in ("open", "click", "sent"):
            if rng.random() < 0.6:
                setattr(person, f"last_{kind}_at", NOW - dt.timedelta(days=rng.uniform(0, 200)))
        for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
            props = {"product": rng.choice(PRODUCTS), "amount": rng.choice([5, 20, 99.5, 150])}
            person.events.append((rng.choice(["order_completed", "page_viewed"]),
                                  NOW - dt.timedelta(days=rng.uniform(0, 90)), props))
        people.append(person)
    return people


def store_people(kernel: Kernel, people: list[Person]) -> None:
    with kernel.db.transaction() as session:
        session.add_all([
            CustomField(key="plan", label="Plan", type="choice", choices=list(PLANS)),
            CustomField(key="score", label="Score", type="number", choices=[]),
            CustomField(key="city", label="City", type="text", choices=[]),
            CustomField(key="birthday", label="Birthday", type="date", choices=[]),
            CustomField(key="vip", label="VIP", type="boolean", choices=[]),
        ])
        tag_ids = {name: i for i, name in enumerate(TAGS, start=1)}
        list_ids = {name: i for i, name in enumerate(LISTS, start=1)}
        session.execute(insert(Tag), [{"id": i, "name": n} for n, i in tag_ids.items()])
        session.execute(insert(MailingList), [{"id": i, "name": n} for n, i in list_ids.items()])
        session.execute(insert(Contact), [{
            "id": p.id, "email": p.email, "email_key": p.email, "email_hash": email_hash(p.email),
            "first_name": p.first_name, "last_name": p.last_name, "language": p.language, "time_zone": p.time_zone,
            "fields": p.fields, "created_at": p.created_at, "updated_at": p.created_at,
            "last_open_at": p.last_open_at, "last_click_at": p.last_click_at, "last_sent_at": p.last_sent_at,
        } for p in people])
        session.execute(insert(ContactTag), [{"contact_id": p.id, "tag_id": tag_ids[t]}
                                             for p in people for t in p.tags])
        session.execute(insert(Subscription), [{"contact_id": p.id, "list_id": list_ids[n], "status": s}
                                               for p in people for n, s in p.lists.items()])
        session.execute(insert(Suppression), [{"email_hash": email_hash(p.email), "email": p.email, "reason": "manual"}
                                              for p in people if p.suppressed])
        session.execute(insert(Activity), [{"contact_id": p.id, "kind": "event", "name": name, "occurred_at": at,
                                            "properties": props} for p in people for name, at, props in p.events])


def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every segment test runs on SQLite (the default) and on PostgreSQL (the team set-up)."""
    if request.param == "sqlite":
        return None
    from tests.postgres import empty_database

    url: str = request.getfixturevalue("postgres_server")
    empty_database(url)
    return url


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return make_people(2500)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           people: list[Person]) -> Iterator[Kernel]:
    folder = tmp_path_factory.mktemp("segments")
    kernel = start_kernel(AppPaths.inside(folder), database_url=database_url(request), modules=[MODULE],
                          secrets_backend=MemoryKeyring(), log_to_file=False)
    try:
        store_people(kernel, people)
        yield kernel
    finally:
        kernel.close()


# -- the reference: a plain Python reading of the documented meaning of each operator ---------------


def _text_op(value: Any, op: str, wanted: Any) -> bool:
    text_value = None if value is None else str(value).lower()
    positive = {
        "equals": lambda: text_value is not None and text_value == str(wanted).lower(),
        "contains": lambda: text_value is not None and str(wanted).lower() in text_value,
        "starts_with": lambda: text_value is not None and text_value.startswith(str(wanted).lower()),
        "is_empty": lambda: text_value in (None, ""),
    }
    negative = {"not_equals": "equals", "not_contains": "contains", "is_not_empty": "is_empty"}
    return not positive[negative[op]]() if op in negative else positive[op]()


def _number_op(value: Any, op: str, wanted: Any) -> bool:
    if op in ("!=",):
        return not _number_op(value, "=", wanted)
    if op in ("is_empty", "is_not_empty"):
        return (value is None) == (op == "is_empty")
    if value is None:
        return False
    if op == "between":
        return wanted[0] <= value <= wanted[1]
    return {"=": value == wanted, ">": value > wanted, ">=": value >= wanted, "<": value < wanted,
            "<=": value <= wanted}[op]


def _anniversary(day: dt.date, offset: int) -> bool:
    target = TODAY + dt.timedelta(days=offset)
    pairs = {(target.month, target.day)}
    if (target.month, target.day) == (2, 28) and target.year % 4:
        pairs.add((2, 29))
    return (day.month, day.day) in pairs


def _date_op(day: dt.date | None, op: str, wanted: Any) -> bool:
    if op in ("is_empty", "is_not_empty"):
        return (day is None) == (op == "is_empty")
    if op == "not_in_last_days":
        return not _date_op(day, "in_last_days", wanted)
    if day is None:
        return False
    if op == "anniversary_today":
        return _anniversary(day, 0)
    if op == "anniversary_in_days":
        return _anniversary(day, wanted)
    if op == "in_last_days":
        return TODAY - dt.timedelta(days=wanted) <= day <= TODAY
    given = dt.date.fromisoformat(wanted)
    return {"on": day == given, "before": day < given, "after": day > given}[op]


def _event_matches(person: Person, value: dict[str, Any]) -> bool:
    count = 0
    for name, at, props in person.events:
        if name != value["name"]:
            continue
        if value.get("in_last_days") is not None and at < NOW - dt.timedelta(days=value["in_last_days"]):
            continue
        ok = True
        for item in value.get("where", []):
            prop = props.get(item["property"])
            if item["op"] in ("=", "!=", ">", ">=", "<", "<="):
                ok = ok and _number_op(prop if isinstance(prop, int | float) else None, item["op"], item["value"])
            else:
                ok = ok and _text_op(prop, item["op"], item["value"])
        count += ok
    return count >= value.get("min_count", 1)


def matches(person: Person, node: dict[str, Any]) -> bool:
    if "rules" in node:
        results = [matches(person, rule) for rule in node["rules"]]
        return all(results) if node.get("match", "all") == "all" else (any(results) or not results)
    fld, op, value = node["field"], node["op"], node.get("value")
    if fld in ("email", "first_name", "last_name", "language", "time_zone"):
        return _text_op(getattr(person, fld), op, value)
    if fld == "created_at":
        return _date_op(person.created_at.date(), op, value)
    if fld == "tag":
        return (value.lower() in {t.lower() for t in person.tags}) == (op == "has")
    if fld == "list":
        status = {n.lower(): s for n, s in person.lists.items()}.get(value.lower())
        if op in ("member", "not_member"):
            return (status is not None) == (op == "member")
        return status == op
    if fld == "status":
        return person.suppressed == (op == "suppressed")
    if fld == "engagement":
        action = op.removeprefix("never_").removeprefix("not_").split("_")[0]
        last = {"opened": person.last_open_at, "clicked": person.last_click_at, "sent": person.last_sent_at}[action]
        if op.startswith("never_"):
            return last is None
        recent = last is not None and last >= NOW - dt.timedelta(days=value)
        return not recent if op.startswith("not_") else recent
    if fld == "event":
        return _event_matches(person, value) == (op == "performed")
    key = fld.removeprefix("field:")
    raw = person.fields.get(key)
    if key == "score":
        return _number_op(raw, op, value)
    if key == "birthday":
        return _date_op(None if raw is None else dt.date.fromisoformat(raw), op, value)
    if key == "vip":
        return (raw is True) == (op == "is_true")
    if key == "plan" and op in ("is", "is_not", "in"):
        hit = raw in value if op == "in" else raw == value
        return hit == (op != "is_not")
    return _text_op(raw, op, value)


def expected(people: list[Person], rules: dict[str, Any]) -> int:
    return sum(matches(p, rules) for p in people)


def one(fld: str, op: str, value: Any = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"field": fld, "op": op}
    if value is not None:
        rule["value"] = value
    return {"match": "all", "rules": [rule]}


EVERY_OPERATOR = [
    one("email", "equals", "PERSON7@Mail.org"), one("email", "contains", "mail.org"),
    one("email", "starts_with", "person1"), one("email", "not_contains", "shop"),
    one("first_name", "equals", "ana"), one("first_name", "not_equals", "Ana"), one("first_name", "contains", "AN"),
    one("first_name", "not_contains", "a"), one("first_name", "starts_with", "an"),
    one("first_name", "is_empty"), one("first_name", "is_not_empty"), one("first_name", "contains", "%_"),
    one("first_name", "contains", "_"), one("last_name", "equals", "o'brien"), one("language", "equals", "FR"),
    one("time_zone", "is_empty"), one("created_at", "on", "2020-02-29"), one("created_at", "before", "2023-01-01"),
    one("created_at", "after", "2024-12-31"), one("created_at", "in_last_days", 30),
    one("created_at", "not_in_last_days", 30), one("created_at", "anniversary_today"),
    one("created_at", "anniversary_in_days", 3),
    one("field:city", "equals", "PARIS"), one("field:city", "not_equals", "paris"),
    one("field:city", "contains", "o"), one("field:city", "not_contains", "o"),
    one("field:city", "starts_with", "new"), one("field:city", "is_empty"), one("field:city", "is_not_empty"),
    one("field:score", "=", 50), one("field:score", "!=", 50), one("field:score", ">", 12),
    one("field:score", ">=", 12.5), one("field:score", "<", 12.5), one("field:score", "<=", 50),
    one("field:score", "between", [10, 60]), one("field:score", "is_empty"),
    one("field:birthday", "on", "2000-02-29"), one("field:birthday", "before", "2020-01-01"),
    one("field:birthday", "after", "2024-06-01"), one("field:birthday", "in_last_days", 45),
    one("field:birthday", "not_in_last_days", 45), one("field:birthday", "anniversary_today"),
    one("field:birthday", "anniversary_in_days", 1), one("field:birthday", "is_not_empty"),
    one("field:vip", "is_true"), one("field:vip", "is_false"),
    one("field:plan", "is", "pro"), one("field:plan", "is_not", "pro"), one("field:plan", "in", ["free", "team"]),
    one("field:plan", "is_empty"),
    one("tag", "has", "customer"), one("tag", "has", "NEWSLETTER"), one("tag", "has_not", "vip"),
    one("list", "subscribed", "Weekly"), one("list", "unsubscribed", "weekly"), one("list", "unconfirmed", "Events"),
    one("list", "member", "Product news"), one("list", "not_member", "Product news"),
    one("status", "suppressed"), one("status", "not_suppressed"),
    one("engagement", "opened_in_last_days", 90), one("engagement", "not_opened_in_last_days", 90),
    one("engagement", "clicked_in_last_days", 30), one("engagement", "not_clicked_in_last_days", 30),
    one("engagement", "sent_in_last_days", 7), one("engagement", "not_sent_in_last_days", 7),
    one("engagement", "never_opened"), one("engagement", "never_clicked"), one("engagement", "never_sent"),
    one("event", "performed", {"name": "order_completed"}),
    one("event", "performed", {"name": "order_completed", "where": [{"property": "product", "op": "equals",
                                                                      "value": "x"}], "in_last_days": 30}),
    one("event", "performed", {"name": "order_completed", "min_count": 2, "in_last_days": 60}),
    one("event", "not_performed", {"name": "page_viewed", "in_last_days": 10}),
    one("event", "performed", {"name": "order_completed", "where": [
        {"property": "amount", "op": ">=", "value": 99.5}, {"property": "product", "op": "not_equals", "value": "Y"},
        {"property": "product", "op": "contains", "value": "shoe"}]}),
]


@pytest.mark.parametrize("rules", EVERY_OPERATOR, ids=lambda r: f"{r['rules'][0]['field']} {r['rules'][0]['op']}")
def test_every_operator_counts_what_python_counts(loaded: Kernel, people: list[Person], rules: dict[str, Any]) -> None:
    assert count_segment(loaded.db, rules, now=NOW) == expected(people, rules)


def test_the_operator_tests_are_not_vacuous(people: list[Person]) -> None:
    """Most rules select some people and leave others out, so a wrong clause cannot pass by accident."""
    informative = [r for r in EVERY_OPERATOR if 0 < expected(people, r) < len(people)]
    assert len(informative) >= len(EVERY_OPERATOR) - 4


def random_rules(rng: random.Random, depth: int = 1) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 4)):
        if depth < 4 and rng.random() < 0.3:
            rules.append(random_rules(rng, depth + 1))
        else:
            rules.append(rng.choice(EVERY_OPERATOR)["rules"][0])
    return {"match": rng.choice(["all", "any"]), "rules": rules}


def test_random_nested_groups_count_what_python_counts(loaded: Kernel, people: list[Person]) -> None:
    rng = random.Random(2024)
    for _ in range(60):
        rules = random_rules(rng)
        assert count_segment(loaded.db, rules, now=NOW) == expected(people, rules), rules


def test_two_level_groups(loaded: Kernel, people: list[Person]) -> None:
    rules = {"match": "all", "rules": [
        {"field": "tag", "op": "has", "value": "customer"},
        {"match": "any", "rules": [
            {"field": "field:plan", "op": "is", "value": "pro"},
            {"match": "all", "rules": [{"field": "field:score", "op": ">", "value": 80},
                                       {"field": "list", "op": "subscribed", "value": "Weekly"}]}]},
    ]}
    count = count_segment(loaded.db, rules, now=NOW)
    assert count == expected(people, rules)
    assert 0 < count < count_segment(loaded.db, one("tag", "has", "customer"), now=NOW)


def test_an_empty_segment_is_everyone(loaded: Kernel, people: list[Person]) -> None:
    assert count_segment(loaded.db, {"match": "all", "rules": []}, now=NOW) == len(people)
    assert count_segment(loaded.db, {"match": "any", "rules": []}, now=NOW) == len(people)


def test_relative_dates_move_with_now(loaded: Kernel, people: list[Person]) -> None:
    rules = one("engagement", "opened_in_last_days", 30)
    now_count = count_segment(loaded.db, rules, now=NOW)
    later = count_segment(loaded.db, rules, now=NOW + dt.timedelta(days=60))
    assert now_count == expected(people, rules)
    assert later < now_count  # nobody opened after NOW, so the window slides away from them


def test_preview_gives_plain_members_in_id_order(loaded: Kernel, people: list[Person]) -> None:
    rules = one("tag", "has", "vip")
    members = preview_segment(loaded.db, rules, limit=5, now=NOW)
    wanted = [p for p in people if matches(p, rules)][:5]
    assert members == [SegmentMember(p.id, p.email, p.first_name, p.last_name) for p in wanted]


# -- hostile and broken rules ----------------------------------------------------------------------


@pytest.mark.parametrize("rule", [
    {"field": "first_name", "op": "equals", "value": "nobody' OR 1=1 --"},
    {"field": "first_name", "op": "contains", "value": "'; DROP TABLE contacts_contact; --"},
    {"field": "field:city", "op": "equals", "value": "x' OR '1'='1"},
    {"field": "tag", "op": "has", "value": "x' OR 1=1 --"},
    {"field": "list", "op": "member", "value": "x\" OR 1=1 --"},
    {"field": "event", "op": "performed", "value": {"name": "x' OR 1=1 --"}},
])
def test_sql_in_values_is_only_data(loaded: Kernel, rule: dict[str, Any]) -> None:
    rules = {"match": "all", "rules": [rule]}
    assert count_segment(loaded.db, rules, now=NOW) == 0
    assert "OR 1=1" not in str(compile_rules(rules, NOW).compile())  # the value travels as a bound parameter
    assert count_segment(loaded.db, {"match": "all", "rules": []}) == 2500  # nothing was dropped


def test_a_name_that_looks_like_sql_is_found_exactly(loaded: Kernel, people: list[Person]) -> None:
    rules = one("first_name", "equals", "x' OR 1=1 --")
    assert count_segment(loaded.db, rules, now=NOW) == sum(p.first_name == "x' OR 1=1 --" for p in people) > 0


@pytest.mark.parametrize("key", ["plan' OR 1=1 --", 'plan"', "Plan", "plan.x", "a b", "$.plan", ""])
def test_field_keys_outside_the_pattern_are_refused(key: str) -> None:
    rules = one(f"field:{key}", "equals", "x")
    problems = validate_rules(rules)
    assert problems
    assert "not a custom field key" in problems[0]
    with pytest.raises(SegmentError):
        compile_rules(rules)
    with pytest.raises(SegmentError):
        JsonValue(Contact.fields, key)


def test_event_property_keys_are_checked_too() -> None:
    rules = one("event", "performed", {"name": "order_completed",
                                       "where": [{"property": "product') OR 1=1 --", "op": "equals", "value": "X"}]})
    assert "property name" in validate_rules(rules)[0]


def test_invalid_rules_get_readable_problems() -> None:
    fields = {"plan": "choice", "score": "number", "birthday": "date"}
    rules = {"match": "some", "rules": [
        {"field": "favourite_colour", "op": "equals", "value": "red"},
        {"field": "field:plan", "op": "contains", "value": "pro"},
        {"field": "field:score", "op": ">", "value": "lots"},
        {"field": "field:birthday", "op": "on", "value": "31/12/2024"},
        {"field": "engagement", "op": "opened_in_last_days", "value": -3},
        {"field": "field:nope", "op": "equals", "value": "x"},
        {"match": "all", "rules": [{"field": "tag", "op": "has"}, {"op": "equals"}]},
        {"field": "field:score", "op": "between", "value": [9, 1]},
        {"field": "event", "op": "performed", "value": {"name": "", "min_count": 0}},
    ]}
    problems = validate_rules(rules, fields)
    assert problems == [
        "The segment: match must be 'all' or 'any', not 'some'",
        "Condition 1: unknown field 'favourite_colour' (use a contact field, field:<key>, tag, list, status, "
        "engagement or event)",
        "Condition 2 (plan): 'contains' does not apply to a choice field; use one of: is, is_not, in, is_empty, "
        "is_not_empty",
        "Condition 3 (score): \">\" needs a number, not 'lots'",
        "Condition 4 (birthday): \"is on\" needs a date like 2025-01-31, not '31/12/2024'",
        "Condition 5 (Engagement): \"opened in the last\" needs a number of days from 0 to 36500, not -3",
        "Condition 6: there is no custom field 'nope'",
        "Condition 7.1 (Tag): \"has tag\" needs a tag",
        "Condition 7.2 needs a 'field', an 'op' and usually a 'value'",
        "Condition 8 (score): \"between\" needs the lower number first",
        "Condition 9 (Event): \"happened\" needs the event's name (up to 100 characters)",
    ]


def test_groups_nest_at_most_five_deep() -> None:
    deep: dict[str, Any] = {"match": "all", "rules": [{"field": "status", "op": "suppressed"}]}
    for _ in range(4):
        deep = {"match": "any", "rules": [deep]}
    assert validate_rules(deep) == []
    too_deep = {"match": "all", "rules": [deep]}
    assert validate_rules(too_deep) == ["Group 1.1.1.1.1 is nested 6 deep; groups can be nested at most 5 deep"]


@pytest.mark.parametrize("bad", [None, [], "all", {"match": "all", "rules": "tag"}, {"rules": [42]}])
def test_malformed_rules_raise_segment_error(bad: Any) -> None:
    with pytest.raises(SegmentError) as caught:
        compile_rules(bad)
    assert caught.value.problems


# -- saving ---------------------------------------------------------------------------------------------


def test_save_validates_against_the_database_and_announces(loaded: Kernel) -> None:
    seen: list[ListsChanged] = []
    dispose = loaded.bus.subscribe(ListsChanged, seen.append)
    try:
        with pytest.raises(SegmentError) as caught:
            save_segment(loaded.db, loaded.bus, "Ghosts", {"match": "all", "rules": [
                {"field": "tag", "op": "has", "value": "ghost"}, {"field": "list", "op": "member", "value": "Nope"},
                {"field": "field:plan", "op": "is", "value": "platinum"}]})
        assert caught.value.problems == [
            "Condition 1 (Tag): there is no tag 'ghost'",
            "Condition 2 (List): there is no list 'Nope'",
            "Condition 3 (Plan): 'platinum' is not one of the field's choices (free, pro, team)",
        ]
        assert get_segment(loaded.db, "Ghosts") is None
        assert seen == []

        rules = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}
        saved = save_segment(loaded.db, loaded.bus, "  VIPs ", rules)
        assert saved.name == "VIPs"
        assert len(seen) == 1
        again = save_segment(loaded.db, loaded.bus, "vips", one("tag", "has", "trial"))
        assert again.id == saved.id  # same segment, renamed and with new rules
        found = get_segment(loaded.db, "VIPS")
        assert found is not None
        assert found.rules == one("tag", "has", "trial")
        assert api.count_audience(loaded.db, api.Audience(segments=(saved.id,))) > 0  # the read API compiles it
        assert delete_segment(loaded.db, loaded.bus, "vips") is True
        assert delete_segment(loaded.db, loaded.bus, "vips") is False
        assert len(seen) == 3
    finally:
        dispose()


def test_a_segment_needs_a_name(loaded: Kernel) -> None:
    with pytest.raises(SegmentError, match="needs a name"):
        save_segment(loaded.db, loaded.bus, "   ", {"match": "all", "rules": []})


def test_expression_index_on_a_field_serves_the_same_count(loaded: Kernel, people: list[Person]) -> None:
    rules = one("field:plan", "is", "team")
    before = count_segment(loaded.db, rules, now=NOW)
    name = ensure_field_index(loaded.db, "plan")
    assert ensure_field_index(loaded.db, "plan") == name  # twice is harmless
    assert count_segment(loaded.db, rules, now=NOW) == before == expected(people, rules)
    if loaded.db.url.get_backend_name() != "sqlite":
        return  # the plan check below reads SQLite's EXPLAIN
    statement = select(Contact.id).where(compile_rules(rules, NOW))
    sql = str(statement.compile(dialect=loaded.db.engine.dialect, compile_kwargs={"literal_binds": True}))
    assert name in query_plan(loaded, sql)


def query_plan(kernel: Kernel, sql: str) -> str:
    """The database's plan for ``sql`` (PostgreSQL is told to avoid sequential scans, as on a big table)."""
    if kernel.db.is_sqlite:
        with sqlite3.connect(kernel.db.url.database or "") as raw:
            return " ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql))
    with kernel.db.read() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        return " ".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def test_text_field_index_matches_the_case_insensitive_test(loaded: Kernel) -> None:
    rules = {"match": "any", "rules": [{"field": "tag", "op": "has", "value": "vip"}, one("field:city", "equals", "x"),
                                       one("field:score", ">", 3)]}
    assert index_segment_fields(loaded.db, rules) == ["ix_contacts_field_city", "ix_contacts_field_score"]
    name = "ix_contacts_field_city"
    statement = select(Contact.id).where(compile_rules(one("field:city", "equals", "Oslo"), NOW))
    sql = str(statement.compile(dialect=loaded.db.engine.dialect, compile_kwargs={"literal_binds": True}))
    assert name in query_plan(loaded, sql)

