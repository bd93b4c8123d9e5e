"""The CSV import engine on real SQLite files: encodings, delimiters, hostile files, duplicates, suppression, fields."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from app.kernel.boot import Kernel, start_kernel
from app.kernel.jobs import JobHandle
from app.kernel.paths import AppPaths
from app.modules.contacts import store
from app.modules.contacts.csvsource import CsvReader
from app.modules.contacts.import_report import ImportProgress
from app.modules.contacts.importer import (
    ImportOptions,
    ImportProblem,
    ImportReport,
    mark_interrupted_imports,
    run_import,
)
from app.modules.contacts.messages import ContactsChanged, ContactsImported, SuppressAddress
from app.modules.contacts.models import (
    Consent,
    Contact,
    ContactTag,
    CustomField,
    ImportRun,
    MailingList,
    Subscription,
    Suppression,
    Tag,
)
from app.modules.contacts.module import MODULE
from app.modules.contacts.presets import suggest_mapping
from tests.conftest import MemoryKeyring


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = start_kernel(AppPaths.inside(tmp_path / "data"), modules=[MODULE], secrets_backend=MemoryKeyring(),
                           log_to_file=False)
    yield started
    started.close()


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def run(kernel: Kernel, path: Path, mapping: dict[int, str] | None = None, **options: Any) -> ImportReport:
    if mapping is None:
        with CsvReader(path) as reader:
            suggestion = suggest_mapping(reader.columns, path.name)
        mapping = suggestion.mapping
        options.setdefault("file_status", suggestion.file_status)
    return run_import(kernel.db, kernel.bus, path, ImportOptions(mapping=mapping, **options))


def contacts(kernel: Kernel) -> dict[str, SimpleNamespace]:
    """Stored contacts as plain values, by identity key."""
    with kernel.db.read() as session:
        return {c.email_key: SimpleNamespace(id=c.id, email=c.email, first_name=c.first_name, last_name=c.last_name,
                                             fields=dict(c.fields or {})) for c in session.scalars(select(Contact))}


def count(kernel: Kernel, model: Any) -> int:
    with kernel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def statuses(kernel: Kernel, list_name: str) -> dict[str, str]:
    with kernel.db.read() as session:
        query = (select(Contact.email_key, Subscription.status).join(Subscription)
                 .join(MailingList).where(MailingList.name == list_name))
        return dict(session.execute(query).all())


def tags_of(kernel: Kernel, key: str) -> set[str]:
    with kernel.db.read() as session:
        query = select(Tag.name).join(ContactTag).join(Contact).where(Contact.email_key == key)
        return set(session.scalars(query))


# -- encodings and delimiters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252", "utf-8"])
def test_encodings_are_detected_and_accents_survive(kernel: Kernel, tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "people.csv", "Email,First name,Last name\r\nrene@example.com,René,Lefèvre\r\n"
                                         "zoe@example.com,Zoé,Ångström\r\n", encoding)
    report = run(kernel, path)
    assert report.status == "done"
    assert report.counts["created"] == 2
    found = contacts(kernel)
    assert (found["rene@example.com"].first_name, found["rene@example.com"].last_name) == ("René", "Lefèvre")
    assert found["zoe@example.com"].first_name == "Zoé"
    assert report.columns[0] == "Email"  # no BOM left in the first header


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiters_are_detected(kernel: Kernel, tmp_path: Path, delimiter: str, name: str) -> None:
    rows = [["E-mail", "Prénom", "Nom", "Notes"], ["a@example.com", "Ann", "Lee", "likes, commas"],
            ["b@example.com", "Bo", "Kim", "x"]]
    path = write(tmp_path, f"{name}.csv", "\n".join(delimiter.join(row) for row in rows) + "\n")
    with CsvReader(path) as reader:
        assert reader.format.delimiter == delimiter
    report = run(kernel, path)
    assert report.counts["created"] == 2
    assert contacts(kernel)["a@example.com"].first_name == "Ann"
    assert contacts(kernel)["b@example.com"].last_name == "Kim"


def test_mixed_encoding_bytes_are_read_and_reported(kernel: Kernel, tmp_path: Path) -> None:
    good = "email,first_name\n" + "".join(f"p{i}@example.com,Ann\n" for i in range(6000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(good.encode() + b"late@example.com,Ren\xe9\n")
    report = run(kernel, path)
    assert report.counts["created"] == 6001
    assert contacts(kernel)["late@example.com"].first_name == "René"
    assert any("Windows-1252" in note for note in report.notes)


# -- hostile files ---------------------------------------------------------------------------------------------------


def test_an_empty_file_is_refused_before_anything_is_written(kernel: Kernel, tmp_path: Path) -> None:
    for name, content in (("empty.csv", b""), ("blank.csv", b"\r\n\r\n"), ("bom.csv", b"\xef\xbb\xbf")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ImportProblem, match=r"empty|no rows"):
            run(kernel, path, {0: "email"})
    assert count(kernel, ImportRun) == 0


@pytest.mark.parametrize("content", [
    random.Random(7).randbytes(20_000),
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10,
    b"PK\x03\x04" + b"\x00" * 500,
    b"SQLite format 3\x00" + b"\x00\x01" * 400,
])
def test_a_binary_file_renamed_csv_is_not_a_text_csv_file(kernel: Kernel, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    with pytest.raises(ImportProblem, match="this is not a text CSV file"):
        run(kernel, path, {0: "email"})
    assert count(kernel, Contact) == 0


def test_nul_bytes_inside_fields_are_stripped_and_noted(kernel: Kernel, tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"email,first_name\nann@exa\x00mple.com,An\x00n\nbo@example.com,Bo\n")
    report = run(kernel, path)
    assert report.counts["created"] == 2
    assert contacts(kernel)["ann@example.com"].first_name == "Ann"
    assert any("NUL bytes were removed from 1 rows (rows 2)" in note for note in report.notes)


def test_an_unterminated_quote_is_reported_at_its_row_and_the_rest_is_still_read(kernel: Kernel,
                                                                               tmp_path: Path) -> None:
    lines = ["email,first_name,notes", "a@example.com,Ann,ok", 'b@example.com,Bo,"never closed',
             *[f"c{i}@example.com,C{i},fine" for i in range(5)]]
    path = write(tmp_path, "quote.csv", "\n".join(lines) + "\n")
    report = run(kernel, path)
    assert report.counts["invalid"] == 1
    assert report.counts["created"] == 6  # nothing silently swallowed
    [rejected] = report.rejected
    assert rejected.row == 3
    assert "quote opened in this row is never closed" in rejected.reason
    assert "b@example.com" not in contacts(kernel)


def test_a_quote_that_swallows_real_rows_mid_file_is_caught(kernel: Kernel, tmp_path: Path) -> None:
    lines = ["email,name", 'a@example.com,"Ann', 'b@example.com,"Bo",x', "c@example.com,Cy"]
    path = write(tmp_path, "swallow.csv", "\n".join(lines) + "\n")
    report = run(kernel, path, {0: "email", 1: "first_name"})
    assert [r.row for r in report.rejected] == [2]
    assert {"b@example.com", "c@example.com"} <= contacts(kernel).keys()


def test_a_200_kb_field_rejects_only_its_row_when_it_is_imported(kernel: Kernel, tmp_path: Path) -> None:
    big = "x" * 200_000
    lines = ["email,first_name,notes", f"a@example.com,Ann,{big}", f'b@example.com,"{big}",short',
             "c@example.com,Cy,short"]
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    report = run(kernel, path, {0: "email", 1: "first_name"})  # the notes column is not imported
    assert report.counts["created"] == 2
    [rejected] = report.rejected
    assert rejected.row == 3
    assert 'column "first_name"' in rejected.reason
    assert "200,000 characters long; at most 200 fit" in rejected.reason


def test_a_field_over_the_size_limit_rejects_its_row_and_reading_goes_on(kernel: Kernel, tmp_path: Path) -> None:
    huge = "y" * 1_200_000
    lines = ["email,notes", "a@example.com,ok", f'b@example.com,"{huge}"', "c@example.com,ok"]
    path = write(tmp_path, "huge.csv", "\n".join(lines) + "\n")
    report = run(kernel, path, {0: "email"})
    assert report.counts["created"] == 2
    assert [r.row for r in report.rejected] == [3]
    assert "longer than 1 MB" in report.rejected[0].reason


def test_ten_thousand_columns_are_read_and_too_many_mapped_ones_refused(kernel: Kernel, tmp_path: Path) -> None:
    header = ["email", *[f"c{i}" for i in range(9_999)]]
    row = ["wide@example.com", *["v"] * 9_999]
    path = write(tmp_path, "wide.csv", ",".join(header) + "\n" + ",".join(row) + "\n")
    with CsvReader(path) as reader:
        assert len(reader.columns) == 10_000
    with pytest.raises(ImportProblem, match=r"2,001 columns are mapped; at most 2,000"):
        run(kernel, path, dict.fromkeys(range(2_001), "tags"))
    report = run(kernel, path, {0: "email", 5: "first_name"})
    assert report.counts["created"] == 1


def test_repeated_and_blank_headers_are_renamed_and_said(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "dupes.csv", "Email,Name,,Email,Name\na@example.com,Ann,x,other@example.com,Bo\n")
    with CsvReader(path) as reader:
        assert reader.columns == ["Email", "Name", "Column 3", "Email (2)", "Name (2)"]
        assert any('"Email" -> "Email (2)"' in note for note in reader.notes)
        assert any("Column 3" in note for note in reader.notes)
    assert suggest_mapping(["Email", "Name", "Column 3", "Email (2)"]).mapping == {0: "email"}
    report = run(kernel, path)
    assert report.counts["created"] == 1
    assert any("Email (2)" in note for note in report.notes)


def test_a_row_without_an_address_or_with_an_invalid_one_is_rejected_with_the_reason(kernel: Kernel,
                                                                                    tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "email,name\nnot-an-address,A\n\nbob@@example.com,B\n,Cy\n,\n"
                                      "ok@example.com,D\n")
    report = run(kernel, path)
    assert report.counts["created"] == 1
    assert report.counts["invalid"] == 3
    reasons = {r.row: r.reason for r in report.rejected}
    assert "has no @" in reasons[2]
    assert "not a valid email address" in reasons[4]
    assert "there is no email address" in reasons[5]


# -- duplicates, updates and suppression -----------------------------------------------------------------------------


def test_duplicates_in_the_file_are_merged_within_and_across_batches(kernel: Kernel, tmp_path: Path) -> None:
    lines = ["email,first_name,last_name,tags", "ann@example.com,Ann,,a", "ANN@example.com,Annie,Lee,b",
             "bo@example.com,,,", "x@example.com,X,,", "y@example.com,Y,,", "Bo@Example.com,Bo,Kim,c"]
    path = write(tmp_path, "dupes.csv", "\n".join(lines) + "\n")
    report = run(kernel, path, batch_size=2)
    assert report.counts["created"] == 4
    assert report.counts["duplicates_in_file"] == 2
    found = contacts(kernel)
    assert (found["ann@example.com"].first_name, found["ann@example.com"].last_name) == ("Ann", "Lee")
    assert (found["bo@example.com"].first_name, found["bo@example.com"].last_name) == ("Bo", "Kim")
    assert tags_of(kernel, "ann@example.com") == {"a", "b"}
    assert tags_of(kernel, "bo@example.com") == {"c"}


def test_update_changes_existing_contacts_and_skip_existing_leaves_them(kernel: Kernel, tmp_path: Path) -> None:
    first = write(tmp_path, "first.csv", "email,first_name,last_name\nann@example.com,Ann,Lee\nbo@example.com,Bo,\n")
    run(kernel, first, list_name="News")
    second = write(tmp_path, "second.csv", "email,first_name,last_name\nann@example.com,Anne,\n"
                                           "bo@example.com,Bo,\nnew@example.com,New,\n")
    skipped = run(kernel, second, mode="skip_existing", list_name="News")
    assert (skipped.counts["created"], skipped.counts["skipped"], skipped.counts["updated"]) == (1, 2, 0)
    assert contacts(kernel)["ann@example.com"].first_name == "Ann"
    updated = run(kernel, second, mode="update", list_name="News")
    assert (updated.counts["updated"], updated.counts["unchanged"], updated.counts["created"]) == (1, 2, 0)
    ann = contacts(kernel)["ann@example.com"]
    assert (ann.first_name, ann.last_name) == ("Anne", "Lee")  # a blank cell never erases what is stored


def test_a_suppressed_address_is_never_resubscribed_and_is_counted(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "email,first_name\nann@example.com,Ann\nbo@example.com,Bo\n")
    run(kernel, path, list_name="News")
    kernel.bus.execute(SuppressAddress(email="ann@example.com", reason="complaint"))
    again = write(tmp_path, "again.csv", "email,first_name\nAnn@Example.com,Annie\ncy@example.com,Cy\n")
    report = run(kernel, again, list_name="News", tags=["again"])
    assert report.counts["suppressed"] == 1
    assert report.counts["created"] == 1
    assert statuses(kernel, "News")["ann@example.com"] == "unsubscribed"
    assert contacts(kernel)["ann@example.com"].first_name == "Ann"  # not changed either
    assert "again" not in tags_of(kernel, "ann@example.com")
    assert any(r.row == 2 and "suppression list" in r.reason for r in report.rejected)


def test_erasure_then_reimport_stays_suppressed(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "email,first_name\nann@example.com,Ann\n")
    run(kernel, path, list_name="News")
    with kernel.db.transaction() as session:
        store.erase_contact(session, contacts(kernel)["ann@example.com"].id)
    report = run(kernel, path, list_name="News")
    assert report.counts["suppressed"] == 1
    assert report.counts["created"] == 0
    assert contacts(kernel) == {}


def test_consent_and_subscription_are_recorded_for_new_subscribers(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "fair.csv", "email\nann@example.com\n")
    run(kernel, path, list_name="Fair", consent_text_version="form v3", tags=["fair"])
    with kernel.db.read() as session:
        [consent] = session.scalars(select(Consent))
        assert (consent.method, consent.source, consent.text_version) == ("import", "import: fair.csv", "form v3")
    assert statuses(kernel, "Fair") == {"ann@example.com": "subscribed"}
    assert tags_of(kernel, "ann@example.com") == {"fair"}
    unconfirmed = write(tmp_path, "later.csv", "email\nbo@example.com\n")
    run(kernel, unconfirmed, list_name="Fair", subscribe_status="unconfirmed")
    assert statuses(kernel, "Fair")["bo@example.com"] == "unconfirmed"
    assert count(kernel, Consent) == 1  # unconfirmed people have not agreed yet


def test_role_addresses_and_typos_are_imported_but_flagged(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "flags.csv", "email\ninfo@acme.com\nbob@gmial.com\nok@example.com\n")
    report = run(kernel, path)
    assert report.counts["created"] == 3
    assert (report.counts["role_addresses"], report.counts["typo_suggestions"]) == (1, 1)
    assert "bob@gmial.com" in contacts(kernel)  # never rewritten
    notes = {flag.email: flag.note for flag in report.flagged}
    assert notes["bob@gmial.com"] == "did you mean bob@gmail.com?"
    assert "role address" in notes["info@acme.com"]


def test_events_are_published_for_what_was_imported(kernel: Kernel, tmp_path: Path) -> None:
    seen: list[Any] = []
    kernel.bus.subscribe(ContactsImported, seen.append)
    kernel.bus.subscribe(ContactsChanged, seen.append)
    path = write(tmp_path, "e.csv", "email\na@example.com\nb@example.com\n")
    report = run(kernel, path, list_name="News")
    imported = [e for e in seen if isinstance(e, ContactsImported)]
    assert [(e.import_id, e.created, e.file_name) for e in imported] == [(report.import_id, 2, "e.csv")]
    assert imported[0].list_id == report.list_id
    assert any(isinstance(e, ContactsChanged) for e in seen)


# -- presets ---------------------------------------------------------------------------------------------------------


MAILCHIMP_HEADER = ('"Email Address","First Name","Last Name","MEMBER_RATING","OPTIN_TIME","CONFIRM_TIME",'
                    '"LAST_CHANGED","LEID","EUID","NOTES","TAGS"')


def test_mailchimp_subscribed_export_keeps_names_and_tags(kernel: Kernel, tmp_path: Path) -> None:
    text = (MAILCHIMP_HEADER + '\n"ann@example.com","Ann","Lee","4","2024-01-02","","","1","a1","",'
            '"""VIP"",""Spring Fair"""\n')
    path = write(tmp_path, "subscribed_members_export_5f2.csv", text)
    report = run(kernel, path, list_name="Newsletter")
    assert report.counts["created"] == 1
    assert tags_of(kernel, "ann@example.com") == {"VIP", "Spring Fair"}
    assert statuses(kernel, "Newsletter") == {"ann@example.com": "subscribed"}


def test_mailchimp_unsubscribed_and_cleaned_exports_become_suppressions(kernel: Kernel, tmp_path: Path) -> None:
    unsub = write(tmp_path, "unsubscribed_members_export_5f2.csv",
                  MAILCHIMP_HEADER + ',"UNSUB_TIME","UNSUB_REASON"\n'
                  '"gone@example.com","Go","","1","","","","2","b","","","2024-02-01","spam"\n')
    cleaned = write(tmp_path, "cleaned_members_export_5f2.csv",
                    MAILCHIMP_HEADER + ',"CLEAN_TIME"\n"bounce@example.com","Bo","","1","","","","3","c","","",'
                                       '"2024-02-01"\n')
    for path in (unsub, cleaned):
        report = run(kernel, path, list_name="Newsletter")
        assert report.counts["newly_suppressed"] == 1
    assert statuses(kernel, "Newsletter") == {"gone@example.com": "unsubscribed",
                                              "bounce@example.com": "unsubscribed"}
    with kernel.db.read() as session:
        reasons = dict(session.execute(select(Suppression.email, Suppression.reason)).all())
    assert reasons == {"gone@example.com": "unsubscribed", "bounce@example.com": "hard_bounce"}
    assert count(kernel, Consent) == 0


def test_hubspot_export_keeps_opt_outs_and_lifecycle_stage(kernel: Kernel, tmp_path: Path) -> None:
    text = ("Record ID,First Name,Last Name,Email,Lifecycle Stage,Marketing contact status,"
            "Unsubscribed from all email\n"
            "1,Ann,Lee,ann@example.com,Customer,Marketing contact,false\n"
            "2,Bo,Kim,bo@example.com,Lead,Marketing contact,true\n"
            "3,Cy,Ng,cy@example.com,Lead,Non-marketing contact,\n")
    path = write(tmp_path, "hubspot-crm-exports-all-contacts.csv", text)
    report = run(kernel, path, list_name="News")
    assert report.counts["created"] == 3
    assert statuses(kernel, "News") == {"ann@example.com": "subscribed", "bo@example.com": "unsubscribed"}
    assert report.counts["newly_suppressed"] == 1
    found = contacts(kernel)
    assert found["ann@example.com"].fields == {"lifecycle_stage": "Customer"}
    assert found["cy@example.com"].first_name == "Cy"


def test_google_contacts_export_uses_the_first_address_and_labels(kernel: Kernel, tmp_path: Path) -> None:
    text = ("Name,Given Name,Family Name,Group Membership,E-mail 1 - Type,E-mail 1 - Value\n"
            'Ann Lee,Ann,Lee,* myContacts ::: Friends ::: Book club,* Home,ann@example.com ::: ann@work.example\n')
    path = write(tmp_path, "contacts.csv", text)
    report = run(kernel, path)
    assert report.counts["created"] == 1
    assert contacts(kernel)["ann@example.com"].last_name == "Lee"
    assert tags_of(kernel, "ann@example.com") == {"Friends", "Book club"}


def test_outlook_export_categories_become_tags(kernel: Kernel, tmp_path: Path) -> None:
    text = ("First Name,Middle Name,Last Name,E-mail Address,E-mail Type,E-mail Display Name,Categories\n"
            'Ann,,Lee,ann@example.com,SMTP,Ann Lee (ann@example.com),"Clients;Spring Fair"\n')
    path = write(tmp_path, "outlook.csv", text)
    report = run(kernel, path)
    assert report.counts["created"] == 1
    assert tags_of(kernel, "ann@example.com") == {"Clients", "Spring Fair"}


# -- custom fields ---------------------------------------------------------------------------------------------------


def test_custom_fields_are_created_and_values_converted_by_type(kernel: Kernel, tmp_path: Path) -> None:
    text = ("email,score,birthday,member,plan\n"
            'a@example.com,"1,234.5",31/12/1990,yes,Gold\n'
            "b@example.com,42,1985-03-04,no,silver\n"
            "c@example.com,,,,gold\n")
    path = write(tmp_path, "fields.csv", text)
    mapping = {0: "email", 1: "new_field:Score:number", 2: "new_field:Birthday:date",
               3: "new_field:Member:boolean", 4: "new_field:Plan:choice"}
    report = run(kernel, path, mapping)
    assert report.counts["created"] == 3, report.rejected
    found = contacts(kernel)
    assert found["a@example.com"].fields == {"score": 1234.5, "birthday": "1990-12-31", "member": True,
                                             "plan": "Gold"}
    assert found["b@example.com"].fields == {"score": 42, "birthday": "1985-03-04", "member": False,
                                             "plan": "silver"}
    assert found["c@example.com"].fields == {"plan": "Gold"}
    with kernel.db.read() as session:
        plan = session.scalar(select(CustomField).where(CustomField.key == "plan"))
        assert plan is not None
        assert plan.choices == ["Gold", "silver"]


def test_bad_typed_values_reject_the_row_naming_row_and_column(kernel: Kernel, tmp_path: Path) -> None:
    with kernel.db.transaction() as session:
        session.add(CustomField(key="plan", label="Plan", type="choice", choices=["Gold", "Silver"]))
    text = ("email,score,when,plan\n"
            "a@example.com,12,2024-01-31,Gold\n"
            "b@example.com,twelve,2024-01-31,Gold\n"
            "c@example.com,3,31/31/2024,Gold\n"
            "d@example.com,3,2024-01-01,Platinum\n")
    path = write(tmp_path, "typed.csv", text)
    mapping = {0: "email", 1: "new_field:Score:number", 2: "new_field:When:date", 3: "field:plan"}
    report = run(kernel, path, mapping)
    assert report.counts["created"] == 1
    reasons = {r.row: r.reason for r in report.rejected}
    assert reasons[3] == 'row 3, column "score": "twelve" is not a number'
    assert reasons[4].startswith('row 4, column "when": "31/31/2024" is not a date')
    assert reasons[5].startswith('row 5, column "plan": "Platinum" is not one of the choices (Gold, Silver')


def test_month_first_dates_are_recognised_from_the_file(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "us.csv", "email,joined\na@example.com,03/04/2024\nb@example.com,12/25/2023\n")
    report = run(kernel, path, {0: "email", 1: "new_field:Joined:date"})
    assert report.counts["created"] == 2
    assert contacts(kernel)["a@example.com"].fields == {"joined": "2024-03-04"}
    assert any("month/day/year" in note for note in report.notes)


def test_mapping_problems_are_refused_before_anything_is_written(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "email,name\na@example.com,Ann\n")
    for mapping, message in (({1: "first_name"}, "no column is mapped to the email address"),
                             ({0: "email", 1: "email"}, "both mapped to the same field"),
                             ({0: "email", 1: "field:nope"}, "does not exist"),
                             ({0: "email", 1: "new_field:Age:colour"}, "needs a label and a type")):
        with pytest.raises(ImportProblem, match=message):
            run(kernel, path, mapping)
    assert count(kernel, ImportRun) == 0
    assert count(kernel, Contact) == 0


# -- rejects, cancel, kill -------------------------------------------------------------------------------------------


def test_rejected_rows_are_written_as_csv_with_reasons(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "email,first_name\nbad,=HYPERLINK(1)\nok@example.com,Ok\n@x.com,Y\n")
    report = run(kernel, path)
    out = tmp_path / "rejected.csv"
    assert report.write_rejects(out) == 2
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Row", "Reason", "email", "first_name"]
    assert rows[1][:3] == ["2", 'row 2: "bad" is not a valid email address: the address has no @', "bad"]
    assert rows[1][3] == "'=HYPERLINK(1)"  # a spreadsheet will not run it
    assert rows[2][0] == "4"
    assert "There must be something before the @-sign" in rows[2][1]


def test_cancel_mid_import_keeps_whole_batches_and_says_so(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "email\n" + "".join(f"p{i}@example.com\n" for i in range(2_500)))
    handle = JobHandle(1, "import", kernel.bus)

    def after_batch(progress: ImportProgress) -> None:
        if progress.rows >= 1_000:
            handle.cancel()

    report = run_import(kernel.db, kernel.bus, path, ImportOptions(mapping={0: "email"}, batch_size=500,
                                                                  list_name="News"),
                        handle, on_progress=after_batch)
    assert report.status == "cancelled"
    assert report.rows_committed == 1_000
    assert count(kernel, Contact) == 1_000
    assert count(kernel, Subscription) == 1_000
    with kernel.db.read() as session:
        run_row = session.get(ImportRun, report.import_id)
        assert run_row is not None
        assert (run_row.status, run_row.rows_committed) == ("cancelled", 1_000)
        assert run_row.counts["created"] == 1_000
    assert any("the first 1,000 rows were imported" in note for note in report.notes)


KILLED_IMPORT = """
import sys
from pathlib import Path
from app.kernel.boot import start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.module import MODULE
from app.modules.contacts.importer import ImportOptions, run_import
from tests.conftest import MemoryKeyring
kernel = start_kernel(AppPaths.inside(Path(sys.argv[1])), modules=[MODULE], secrets_backend=MemoryKeyring(),
                      log_to_file=False)
run_import(kernel.db, kernel.bus, Path(sys.argv[2]), ImportOptions(mapping={0: "email", 1: "first_name"},
           list_name="News", batch_size=1000))
"""


def test_a_killed_import_leaves_whole_batches_and_is_marked_interrupted(kernel: Kernel, tmp_path: Path) -> None:
    path = write(tmp_path, "many.csv", "email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n"
                                                                        for i in range(200_000)))
    data_dir = tmp_path / "data"
    child = subprocess.Popen([sys.executable, "-c", KILLED_IMPORT, str(data_dir), str(path)],
                             cwd=Path(__file__).resolve().parents[3], env={**os.environ, "PYTHONPATH": "."})
    try:
        deadline = time.monotonic() + 60
        committed = 0
        while time.monotonic() < deadline and committed < 3_000 and child.poll() is None:
            time.sleep(0.05)
            with kernel.db.read() as session:
                committed = int(session.scalar(select(func.max(ImportRun.rows_committed))) or 0)
        assert committed >= 3_000, "the child import did not get going"
    finally:
        child.kill()
        child.wait()
    with kernel.db.read() as session:
        run_row = session.scalars(select(ImportRun)).one()
        assert run_row.status == "running"
        kept = run_row.rows_committed
    assert kept % 1_000 == 0
    assert count(kernel, Contact) == kept  # no half-written batch
    assert count(kernel, Subscription) == kept
    assert mark_interrupted_imports(kernel.db) == 1
    with kernel.db.read() as session:
        marked = session.scalars(select(ImportRun)).one()
        assert marked.status == "interrupted"
        assert f"The first {kept:,} rows were imported" in marked.error


def test_a_running_import_of_a_live_process_is_not_marked(kernel: Kernel) -> None:
    with kernel.db.transaction() as session:
        session.add(ImportRun(file_name="live.csv", status="running", options={"_owner": {
            "pid": os.getpid(), "host": __import__("socket").gethostname()}}, counts={}, rows_committed=0))
        session.add(ImportRun(file_name="old.csv", status="running", options={}, counts={}, rows_committed=5000))
    assert mark_interrupted_imports(kernel.db) == 0  # the one without an owner is recent: could be another app
    with kernel.db.transaction() as session:
        for row in session.scalars(select(ImportRun)):
            if row.file_name == "old.csv":
                row.counts = {"_heartbeat": "2000-01-01T00:00:00"}
    assert mark_interrupted_imports(kernel.db) == 1
    with kernel.db.read() as session:
        states = dict(session.execute(select(ImportRun.file_name, ImportRun.status)).all())
    assert states == {"live.csv": "running", "old.csv": "interrupted"}
