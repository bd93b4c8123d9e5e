"""CSV export (safe in spreadsheets, streamed, complete or absent), per-person export, and erasure that sticks."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.jobs import JobCancelled, JobHandle
from app.kernel.paths import AppPaths
from app.modules.contacts import store
from app.modules.contacts.addresses import email_hash
from app.modules.contacts.api import Audience, count_audience
from app.modules.contacts.export import (
    ExportError,
    erase,
    export_contact,
    export_csv,
    find_contact_id,
    neutralise,
)
from app.modules.contacts.messages import ActivityItem, ContactErased, ContactsChanged
from app.modules.contacts.models import (
    Activity,
    Consent,
    Contact,
    CustomField,
    Subscription,
    Suppression,
)
from app.modules.contacts.module import MODULE
from tests.conftest import MemoryKeyring

HOSTILE = {
    "=HYPERLINK(\"http://evil.example\",\"click\")": "'=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1 555 0100": "'+1 555 0100",
    "-2+3": "'-2+3",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "\tTabbed": "'\tTabbed",
    "\rReturn": "'\rReturn",
    "\x00=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
    "Nul\x00in the middle": "Nulin the middle",
    "Ann": "Ann",
    "line\nbreak, \"quoted\"; semi": "line\nbreak, \"quoted\"; semi",
    "Zoë Ørsted 東京": "Zoë Ørsted 東京",
}


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


def add_contact(kernel: Kernel, email: str, **values: Any) -> int:
    key = email.lower()
    with kernel.db.transaction() as session:
        contact = Contact(email=email, email_key=key, email_hash=email_hash(key), fields=values.pop("fields", {}),
                          **values)
        session.add(contact)
        session.flush()
        return contact.id


def read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize(("raw", "cell"), list(HOSTILE.items()))
def test_neutralise_escapes_formula_starts(raw: str, cell: str) -> None:
    assert neutralise(raw) == cell


def test_real_numbers_stay_numbers() -> None:
    assert neutralise(-5) == "-5"
    assert neutralise(12.5) == "12.5"
    assert neutralise(True) == "yes"
    assert neutralise("-5") == "'-5"  # text that looks like a number is still text


def test_export_neutralises_every_cell_and_reads_back(kernel: Kernel, tmp_path: Path) -> None:
    with kernel.db.transaction() as session:
        session.add(CustomField(key="note", label="Note", type="text", choices=[]))
        tag = store.get_or_create_tags(session, ["=2+2"])[0]
        session.flush()
        tag_id = tag.id
    ids = [add_contact(kernel, f"p{i}@example.com", first_name=raw, fields={"note": raw})
           for i, raw in enumerate(HOSTILE)]
    with kernel.db.transaction() as session:
        store.add_tags(session, ids[:1], [tag_id])
    out = tmp_path / "contacts.csv"
    result = export_csv(kernel.db, out, None, ["email", "first_name", "note", "tags"])
    assert result.rows == len(HOSTILE)
    assert result.columns == ("email", "first_name", "field:note", "tags")
    rows = read_csv(out)
    assert [r["first_name"] for r in rows] == list(HOSTILE.values())
    assert [r["note"] for r in rows] == list(HOSTILE.values())
    assert rows[0]["tags"] == "'=2+2"
    assert "\x00" not in out.read_text(encoding="utf-8")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_excel_option_writes_a_bom(kernel: Kernel, tmp_path: Path) -> None:
    add_contact(kernel, "zoe@example.com", first_name="Zoë")
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    export_csv(kernel.db, plain, None, ["email", "first_name"])
    export_csv(kernel.db, excel, None, ["email", "first_name"], excel=True)
    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_csv(excel, "utf-8-sig") == [{"email": "zoe@example.com", "first_name": "Zoë"}]
    assert excel.read_bytes().endswith(b"\r\n")


def test_export_streams_in_id_order_in_batches(kernel: Kernel, tmp_path: Path) -> None:
    with kernel.db.transaction() as session:
        session.execute(insert(Contact), [{"email": f"c{i:05d}@example.com", "email_key": f"c{i:05d}@example.com",
                                           "email_hash": email_hash(f"c{i:05d}@example.com"), "fields": {"n": i},
                                           "first_name": f"N{i}"} for i in range(20_000, 0, -1)])
    batches: list[int] = []

    def count_reads(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT contacts_contact.id") and "LIMIT" in statement:
            batches.append(1)

    handle = JobHandle(1, "export", kernel.bus, _min_interval=0.0)
    progress: list[int] = []
    handle.report = lambda done, total=None, text="", **_kw: progress.append(done)  # type: ignore[method-assign]
    event.listen(kernel.db.engine, "before_cursor_execute", count_reads)
    try:
        result = export_csv(kernel.db, tmp_path / "all.csv", None, ["id", "email", "first_name"], handle,
                            batch_size=1000)
    finally:
        event.remove(kernel.db.engine, "before_cursor_execute", count_reads)
    assert result.rows == 20_000
    ids = [int(r["id"]) for r in read_csv(tmp_path / "all.csv")]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20_000
    assert len(batches) == 21  # 20 full batches and the empty read that ends it: never one big read
    assert progress == list(range(1000, 20_001, 1000))


def test_a_cancelled_export_leaves_the_old_file_and_no_part(kernel: Kernel, tmp_path: Path) -> None:
    with kernel.db.transaction() as session:
        session.execute(insert(Contact), [{"email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
                                           "email_hash": email_hash(f"c{i}@example.com"), "fields": {}}
                                          for i in range(50)])
    out = tmp_path / "export.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    handle = JobHandle(1, "export", kernel.bus)
    handle.cancel()
    with pytest.raises(JobCancelled):
        export_csv(kernel.db, out, None, ["email"], handle, batch_size=10)
    assert out.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "export.csv"]


def test_export_of_a_list_is_its_subscribed_members(kernel: Kernel, tmp_path: Path) -> None:
    ids = {status: add_contact(kernel, f"{status}@example.com") for status in
           ("subscribed", "unconfirmed", "unsubscribed", "suppressed", "elsewhere")}
    with kernel.db.transaction() as session:
        weekly = store.get_or_create_list(session, "Weekly").id
        other = store.get_or_create_list(session, "Other").id
        for status in ("subscribed", "unconfirmed", "unsubscribed", "suppressed"):
            store.subscribe(session, ids[status], weekly, "subscribed" if status == "suppressed" else status)
        store.subscribe(session, ids["elsewhere"], other)
        session.add(Suppression(email_hash=email_hash("suppressed@example.com"), email="suppressed@example.com",
                                reason="complaint"))
    export_csv(kernel.db, tmp_path / "weekly.csv", Audience(lists=(weekly,)), ["email", "lists"])
    assert read_csv(tmp_path / "weekly.csv") == [{"email": "subscribed@example.com", "lists": "Weekly"}]


def test_export_of_a_segment_and_of_everyone(kernel: Kernel, tmp_path: Path) -> None:
    add_contact(kernel, "a@example.com", first_name="Ann", fields={"plan": "pro"})
    add_contact(kernel, "b@example.com", first_name="Bob", fields={"plan": "free"})
    with kernel.db.transaction() as session:
        session.add(CustomField(key="plan", label="Plan", type="choice", choices=["free", "pro"]))
    rules = {"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "pro"}]}
    export_csv(kernel.db, tmp_path / "pro.csv", rules, ["email", "plan"])
    assert read_csv(tmp_path / "pro.csv") == [{"email": "a@example.com", "plan": "pro"}]
    result = export_csv(kernel.db, tmp_path / "all.csv")
    assert result.columns == ("email", "first_name", "last_name", "language", "time_zone", "created_at",
                              "field:plan", "tags", "lists")
    assert [r["plan"] for r in read_csv(tmp_path / "all.csv")] == ["pro", "free"]


def test_unknown_columns_are_named(kernel: Kernel, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown columns 'shoe_size', 'field:nope'"):
        export_csv(kernel.db, tmp_path / "x.csv", None, ["email", "shoe_size", "field:nope"])
    assert not (tmp_path / "x.csv").exists()


# -- one person -------------------------------------------------------------------------------------------


def person_with_history(kernel: Kernel) -> int:
    with kernel.db.transaction() as session:
        session.add(CustomField(key="city", label="City", type="text", choices=[]))
    contact_id = add_contact(kernel, "Jane.Doe@Example.com", first_name="Jane", last_name="Doe", language="fr",
                             fields={"city": "Lyon"})
    with kernel.db.transaction() as session:
        weekly = store.get_or_create_list(session, "Weekly").id
        store.subscribe(session, contact_id, weekly)
        store.add_tags(session, [contact_id], [t.id for t in store.get_or_create_tags(session, ["vip", "buyer"])])
        session.add(Consent(contact_id=contact_id, list_id=weekly, source="signup form", method="double-opt-in",
                            text_version="v3", evidence="ip 203.0.113.9"))
        store.record_activity(session, [
            ActivityItem(kind="sent", contact_id=contact_id, campaign_id=4, occurred_at=dt.datetime(2025, 1, 2, 9)),
            ActivityItem(kind="opened", contact_id=contact_id, campaign_id=4, occurred_at=dt.datetime(2025, 1, 2, 10)),
            ActivityItem(kind="event", contact_id=contact_id, name="order_completed", value=49.0,
                         properties={"product": "Shoe"}, occurred_at=dt.datetime(2025, 1, 3, 8)),
        ])
    return contact_id


def test_export_contact_holds_everything_about_them(kernel: Kernel) -> None:
    contact_id = person_with_history(kernel)
    data = export_contact(kernel.db, contact_id)
    json.dumps(data)  # JSON-ready as it is
    assert data["contact"]["email"] == "Jane.Doe@Example.com"
    assert data["contact"]["last_open_at"] == "2025-01-02T10:00:00Z"
    assert data["fields"] == {"city": {"label": "City", "type": "text", "value": "Lyon"}}
    assert [(s["list"], s["status"]) for s in data["lists"]] == [("Weekly", "subscribed")]
    assert data["tags"] == ["buyer", "vip"]
    assert data["consents"][0] | {"given_at": None} == {
        "list": "Weekly", "purpose": "", "given_at": None, "source": "signup form", "method": "double-opt-in",
        "text_version": "v3", "evidence": "ip 203.0.113.9", "withdrawn_at": None}
    assert data["suppression"]["suppressed"] is False
    assert [(t["kind"], t["name"]) for t in data["timeline"]] == [("sent", ""), ("opened", ""),
                                                                  ("event", "order_completed")]
    assert data["timeline"][2]["properties"] == {"product": "Shoe"}
    assert data["timeline"][2]["value"] == 49.0


def test_export_of_a_missing_contact_says_so(kernel: Kernel) -> None:
    with pytest.raises(store.ContactsError, match="no contact with id 404"):
        export_contact(kernel.db, 404)


def test_erasure_removes_the_person_and_keeps_only_the_hash(kernel: Kernel) -> None:
    contact_id = person_with_history(kernel)
    seen: list[Any] = []
    disposers = [kernel.bus.subscribe(ContactErased, seen.append), kernel.bus.subscribe(ContactsChanged, seen.append)]
    try:
        assert erase(kernel.db, kernel.bus, contact_id) == "Jane.Doe@Example.com"
    finally:
        for dispose in disposers:
            dispose()
    assert seen == [ContactErased(contact_id=contact_id), ContactsChanged(contact_ids=(contact_id,))]
    assert find_contact_id(kernel.db, "jane.doe@example.com") is None
    with kernel.db.read() as session:
        for table in (Contact, Subscription, Consent, Activity):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table.__name__
        kept = session.execute(select(Suppression.email_hash, Suppression.email)).all()
    assert [tuple(row) for row in kept] == [(email_hash("jane.doe@example.com"), None)]
    with pytest.raises(store.ContactsError):
        erase(kernel.db, kernel.bus, contact_id)


def test_an_erased_person_is_never_subscribed_again(kernel: Kernel, tmp_path: Path) -> None:
    contact_id = person_with_history(kernel)
    erase(kernel.db, kernel.bus, contact_id)
    # Added again by hand: the contact row may exist, but no list will take them.
    again = add_contact(kernel, "jane.doe@example.com")
    with kernel.db.transaction() as session:
        weekly = store.get_or_create_list(session, "Weekly").id
        with pytest.raises(store.ContactsError, match="suppression list"):
            store.subscribe(session, again, weekly)
    assert count_audience(kernel.db, Audience(lists=(weekly,))) == 0


def test_an_erased_person_is_refused_by_the_importer(kernel: Kernel, tmp_path: Path) -> None:
    importer = pytest.importorskip("app.modules.contacts.importer")
    contact_id = person_with_history(kernel)
    erase(kernel.db, kernel.bus, contact_id)
    source = tmp_path / "again.csv"
    source.write_text("email,first_name\nJANE.DOE@example.com,Jane\nnew@example.com,New\n", encoding="utf-8")
    report = importer.run_import(kernel.db, kernel.bus, source,
                                 importer.ImportOptions(mapping={0: "email", 1: "first_name"}, list_name="Weekly"))
    assert report.counts["suppressed"] == 1
    assert report.counts["created"] == 1
    assert find_contact_id(kernel.db, "jane.doe@example.com") is None
    with kernel.db.read() as session:
        weekly = store.list_by_name(session, "Weekly")
        assert weekly is not None
        weekly_id = weekly.id
    assert count_audience(kernel.db, Audience(lists=(weekly_id,))) == 1
