"""Keyset windows give exactly the rows a plain sort in Python gives, at any offset, before and after indexing."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.contact_window import BLOCK, ContactWindow
from app.modules.contacts.models import Contact, MailingList, Subscription
from app.modules.contacts.module import MODULE
from app.modules.contacts.queries import ContactFilter, ContactSort, QueryProblem
from tests.conftest import MemoryKeyring

COUNT = 1337  # a few anchors, and a last block that is not full
BASE = dt.datetime(2024, 1, 1)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kernel, list[dict[str, object]]]]:
    folder: Path = tmp_path_factory.mktemp("window")
    kernel = start_kernel(AppPaths.inside(folder), modules=[MODULE], secrets_backend=MemoryKeyring(),
                          log_to_file=False)
    rnd = random.Random(11)
    rows: list[dict[str, object]] = []
    for i in range(1, COUNT + 1):
        email = f"{rnd.choice(['ada', 'bob', 'cy', 'dee'])}{rnd.randrange(10**6):06d}.{i}@example.com"
        rows.append({
            "id": i, "email": email, "email_key": email, "email_hash": email_hash(email), "fields": {},
            "first_name": rnd.choice(["Ada", "Bob", "Cy"]), "last_name": "Test",
            # Many ties on both sort columns: the id must break them the same way everywhere.
            "created_at": BASE + dt.timedelta(minutes=rnd.randrange(200)),
            "updated_at": BASE,
            "last_open_at": BASE + dt.timedelta(hours=rnd.randrange(50)) if rnd.random() < 0.4 else None,
        })
    with kernel.db.transaction() as session:
        news = MailingList(name="News")
        session.add(news)
        session.flush()
        session.execute(insert(Contact), rows)
        session.execute(insert(Subscription), [{"contact_id": r["id"], "list_id": news.id, "status": "subscribed"}
                                               for r in rows if int(str(r["id"])) % 3 == 0])
    yield kernel, rows
    kernel.close()


def expected(rows: list[dict[str, object]], sort: ContactSort, keep: object = None) -> list[int]:
    chosen = [r for r in rows if keep is None or keep(r)]  # type: ignore[operator]
    if sort.key == "email":
        ordered = sorted(chosen, key=lambda r: str(r["email_key"]), reverse=sort.descending)
    elif sort.key == "created":
        ordered = sorted(chosen, key=lambda r: (r["created_at"], r["id"]), reverse=sort.descending)
    else:
        opened = sorted((r for r in chosen if r["last_open_at"] is not None),
                        key=lambda r: (r["last_open_at"], r["id"]), reverse=sort.descending)
        never = sorted((r for r in chosen if r["last_open_at"] is None), key=lambda r: r["id"],
                       reverse=sort.descending)
        ordered = opened + never  # never-opened last, in both directions
    return [int(str(r["id"])) for r in ordered]


SORTS = [ContactSort(key, descending) for key in ("created", "email", "last_open") for descending in (True, False)]


@pytest.mark.parametrize("sort", SORTS, ids=lambda s: f"{s.key}-{'desc' if s.descending else 'asc'}")
def test_every_offset_matches_a_plain_sort(people: tuple[Kernel, list[dict[str, object]]],
                                           sort: ContactSort) -> None:
    kernel, rows = people
    want = expected(rows, sort)
    window = ContactWindow(kernel.db, ContactFilter(), sort)
    assert window.count() == COUNT
    offsets = [0, 1, 99, BLOCK - 1, BLOCK, BLOCK + 7, 2 * BLOCK - 3, COUNT - 40, COUNT - 1]
    # Before indexing: seeks from the start or from anchors learned on the way.
    for offset in offsets:
        assert [r.id for r in window.rows(offset, 100)] == want[offset:offset + 100], offset
    assert window.build_index() is True
    assert window.anchor_count() == sum(-(-size // BLOCK) for size in _phase_sizes(rows, sort))
    for offset in [*offsets, *random.Random(5).sample(range(COUNT), 25)]:
        assert [r.id for r in window.rows(offset, 100)] == want[offset:offset + 100], offset
    assert window.ids(BLOCK - 10, 30) == want[BLOCK - 10:BLOCK + 20]
    assert window.rows(COUNT, 10) == []


def _phase_sizes(rows: list[dict[str, object]], sort: ContactSort) -> list[int]:
    if sort.key != "last_open":
        return [len(rows)]
    opened = sum(1 for r in rows if r["last_open_at"] is not None)
    return [opened, len(rows) - opened]


def test_filtered_windows_count_and_read_the_same_rows(people: tuple[Kernel, list[dict[str, object]]]) -> None:
    kernel, rows = people
    news = ContactFilter(list_id=1)
    window = ContactWindow(kernel.db, news, ContactSort("last_open", True))
    want = expected(rows, ContactSort("last_open", True), lambda r: int(str(r["id"])) % 3 == 0)
    assert window.count() == len(want)
    window.build_index()
    assert [r.id for r in window.rows(0, len(want) + 10)] == want
    assert [r.lists for r in window.rows(0, 3)] == [("News",)] * 3

    search = ContactWindow(kernel.db, ContactFilter(search="ADA"), ContactSort("email", False))
    want = expected(rows, ContactSort("email", False), lambda r: str(r["email"]).startswith("ada")
                    or r["first_name"] == "Ada")
    assert search.count() == len(want)
    assert [r.id for r in search.rows(0, COUNT)] == want


def test_a_missing_segment_is_a_clear_problem(people: tuple[Kernel, list[dict[str, object]]]) -> None:
    kernel, _ = people
    with pytest.raises(QueryProblem, match="segment with id 999 no longer exists"):
        ContactWindow(kernel.db, ContactFilter(segment_id=999)).count()


def test_search_treats_like_wildcards_as_text(people: tuple[Kernel, list[dict[str, object]]]) -> None:
    kernel, _ = people
    assert ContactWindow(kernel.db, ContactFilter(search="%")).count() == 0
    assert ContactWindow(kernel.db, ContactFilter(search="_da")).count() == 0
    assert ContactWindow(kernel.db, ContactFilter(search="@example.com")).count() == COUNT
