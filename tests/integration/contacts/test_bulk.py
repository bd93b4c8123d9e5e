"""Bulk actions and export of the contacts page, run as the page runs them: jobs on a real kernel."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.jobs import JobCancelled, JobHandle, run_inline
from app.kernel.messages import Event
from app.kernel.paths import AppPaths
from app.modules.contacts import api
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.bulk import CHUNK, BulkAction, BulkTarget, export_csv, run_bulk
from app.modules.contacts.contact_window import ContactWindow
from app.modules.contacts.messages import (
    ActivityItem,
    ContactsChanged,
    ContactSuppressed,
    ContactUnsubscribed,
    ListsChanged,
    RecordActivity,
    SuppressAddress,
)
from app.modules.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactTag,
    CustomField,
    MailingList,
    Subscription,
    Tag,
)
from app.modules.contacts.module import MODULE
from app.modules.contacts.queries import ContactFilter
from tests.conftest import MemoryKeyring


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


def seed(kernel: Kernel, count: int) -> dict[str, int]:
    """Contacts person0..; News: the even ones (with consent); Offers: every third."""
    with kernel.db.transaction() as session:
        news, offers = MailingList(name="News"), MailingList(name="Offers")
        session.add_all([news, offers, CustomField(key="city", label="City", type="text")])
        session.flush()
        session.execute(insert(Contact), [
            {"id": i + 1, "email": f"person{i}@example.com", "email_key": f"person{i}@example.com",
             "email_hash": email_hash(f"person{i}@example.com"), "fields": {"city": "=cmd|' /C calc'!A0"}
             if i == 1 else {}, "first_name": "-2+3" if i == 1 else f"P{i}", "created_at": dt.datetime(2024, 1, 1)}
            for i in range(count)])
        session.execute(insert(Subscription), [{"contact_id": i + 1, "list_id": news.id, "status": "subscribed"}
                                               for i in range(0, count, 2)])
        session.execute(insert(Subscription), [{"contact_id": i + 1, "list_id": offers.id, "status": "subscribed"}
                                               for i in range(0, count, 3)])
        session.execute(insert(Consent), [{"contact_id": i + 1, "list_id": news.id, "source": "form",
                                           "method": "form"} for i in range(0, count, 2)])
        return {"News": news.id, "Offers": offers.id}


def window(kernel: Kernel, flt: ContactFilter | None = None) -> ContactWindow:
    found = ContactWindow(kernel.db, flt or ContactFilter())
    found.count()
    return found


def run(kernel: Kernel, target: BulkTarget, action: BulkAction) -> tuple[object, list[Event]]:
    seen: list[Event] = []
    dispose = kernel.bus.subscribe(Event, seen.append)
    try:
        outcome = run_inline(lambda handle: run_bulk(kernel.db, kernel.bus, target, action, handle), kernel.bus)
    finally:
        dispose()
    return outcome, seen


def statuses(kernel: Kernel, list_id: int) -> dict[int, str]:
    with kernel.db.read() as session:
        return dict(session.execute(select(Subscription.contact_id, Subscription.status)
                                    .where(Subscription.list_id == list_id)).all())


def test_tag_selected_rows_creates_the_tag_once(kernel: Kernel) -> None:
    seed(kernel, 10)
    rows = window(kernel)  # newest first; all share a creation time, so by id descending
    outcome, events = run(kernel, BulkTarget(rows, 3, ((0, 2), (5, 1))), BulkAction("tag", "  Gold "))
    assert outcome.done == 3  # type: ignore[attr-defined]
    with kernel.db.read() as session:
        tagged = sorted(session.scalars(select(ContactTag.contact_id)))
        assert session.scalars(select(Tag.name)).all() == ["Gold"]
    assert tagged == [5, 9, 10]
    assert any(isinstance(e, ListsChanged) for e in events)
    changed = [e for e in events if isinstance(e, ContactsChanged)]
    assert sorted(changed[-1].contact_ids) == [5, 9, 10]


def test_add_to_list_skips_suppressed_and_those_who_left(kernel: Kernel) -> None:
    ids = seed(kernel, 12)
    kernel.bus.execute(SuppressAddress(email="person4@example.com", reason="hard_bounce"))
    with kernel.db.transaction() as session:  # person1 once left Offers
        session.add(Subscription(contact_id=2, list_id=ids["Offers"], status="unsubscribed"))
    outcome, _ = run(kernel, BulkTarget(window(kernel), 12, None), BulkAction("list", "offers"))
    assert (outcome.done, outcome.skipped) == (6, 6)  # type: ignore[attr-defined]
    offers = statuses(kernel, ids["Offers"])
    assert offers[2] == "unsubscribed"  # left once: stays out
    assert 5 not in offers  # suppressed: never added
    assert sum(1 for status in offers.values() if status == "subscribed") == 4 + 6
    with kernel.db.read() as session:
        manual = session.scalar(select(func.count()).select_from(Consent).where(Consent.method == "manual"))
    assert manual == 6


def test_unsubscribe_within_a_list_view_leaves_other_lists(kernel: Kernel) -> None:
    ids = seed(kernel, 12)
    news_view = window(kernel, ContactFilter(list_id=ids["News"]))
    outcome, events = run(kernel, BulkTarget(news_view, 6, None), BulkAction("unsubscribe", list_id=ids["News"]))
    assert outcome.done == 6  # type: ignore[attr-defined]
    assert set(statuses(kernel, ids["News"]).values()) == {"unsubscribed"}
    assert set(statuses(kernel, ids["Offers"]).values()) == {"subscribed"}
    assert len([e for e in events if isinstance(e, ContactUnsubscribed)]) == 6
    with kernel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Consent).where(Consent.withdrawn_at.is_(None))) == 0
    assert not api.is_suppressed(kernel.db, "person0@example.com")


def test_suppress_leaves_every_list_and_skips_the_already_suppressed(kernel: Kernel) -> None:
    ids = seed(kernel, 6)
    kernel.bus.execute(SuppressAddress(email="person0@example.com", reason="complaint"))
    outcome, events = run(kernel, BulkTarget(window(kernel), 6, None), BulkAction("suppress"))
    assert (outcome.done, outcome.skipped) == (5, 1)  # type: ignore[attr-defined]
    assert all(api.is_suppressed(kernel.db, f"person{i}@example.com") for i in range(6))
    assert set(statuses(kernel, ids["News"]).values()) == {"unsubscribed"}
    assert set(statuses(kernel, ids["Offers"]).values()) == {"unsubscribed"}
    assert sorted(e.email for e in events if isinstance(e, ContactSuppressed)) == [
        f"person{i}@example.com" for i in range(1, 6)]


def test_delete_removes_history_but_does_not_suppress(kernel: Kernel) -> None:
    seed(kernel, 5)
    kernel.bus.execute(RecordActivity(items=(ActivityItem(kind="opened", contact_id=1),)))
    outcome, _ = run(kernel, BulkTarget(window(kernel), 2, ((3, 2),)), BulkAction("delete"))
    assert outcome.done == 2  # type: ignore[attr-defined]
    with kernel.db.read() as session:
        assert sorted(session.scalars(select(Contact.id))) == [3, 4, 5]
        assert session.scalar(select(func.count()).select_from(Activity)) == 0
    assert not api.is_suppressed(kernel.db, "person0@example.com")


def test_everything_matching_goes_in_chunks_and_a_cancel_keeps_whole_chunks(kernel: Kernel) -> None:
    seed(kernel, CHUNK * 2 + 500)
    target = BulkTarget(window(kernel), CHUNK * 2 + 500, None)
    handle = JobHandle(1, "tag", kernel.bus)
    chunks_done = []

    def report(done: int, total: int | None = None, text: str = "", *, force: bool = False) -> None:
        chunks_done.append(done)
        if done >= CHUNK:
            handle.cancel()

    handle.report = report  # type: ignore[method-assign]
    with pytest.raises(JobCancelled):
        run_bulk(kernel.db, kernel.bus, target, BulkAction("tag", "big"), handle)
    with kernel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ContactTag)) == CHUNK


def test_an_empty_name_is_refused(kernel: Kernel) -> None:
    seed(kernel, 2)
    with pytest.raises(ValueError, match="a tag needs a name"):
        run(kernel, BulkTarget(window(kernel), 2, None), BulkAction("tag", "  "))


def test_export_writes_the_filtered_contacts_safely(kernel: Kernel, tmp_path: Path) -> None:
    ids = seed(kernel, 9)
    out = tmp_path / "news.csv"
    result = run_inline(lambda handle: export_csv(kernel.db, ContactFilter(list_id=ids["News"]), out, handle),
                        kernel.bus)
    assert result.rows == 5
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["email"] for r in rows] == [f"person{i}@example.com" for i in range(0, 9, 2)]
    assert rows[0]["lists"] == "News; Offers"
    assert rows[0]["status"] == "subscribed"
    assert not (tmp_path / "news.csv.part").exists()

    everyone = tmp_path / "all.csv"
    run_inline(lambda handle: export_csv(kernel.db, ContactFilter(), everyone, handle), kernel.bus)
    with everyone.open(encoding="utf-8-sig", newline="") as handle:
        second = list(csv.DictReader(handle))[1]
    # Cells a spreadsheet would run as formulas are written as text.
    assert second["first_name"] == "'-2+3"
    assert second["city"] == "'=cmd|' /C calc'!A0"
