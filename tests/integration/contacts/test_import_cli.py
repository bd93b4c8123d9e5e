"""``postroom contacts import`` through the real command line entry point, on a real data folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts.models import Contact, CustomField, MailingList, Subscription
from app.modules.contacts.module import MODULE
from tests.conftest import MemoryKeyring


def postroom(data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=MemoryKeyring(), log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data), *argv]), [MODULE], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def stored(data: Path) -> dict[str, Any]:
    kernel = start_kernel(AppPaths.inside(data), modules=[MODULE], secrets_backend=MemoryKeyring(),
                          log_to_file=False)
    try:
        with kernel.db.read() as session:
            people = {c.email_key: (c.first_name, c.last_name, dict(c.fields or {}))
                      for c in session.scalars(select(Contact))}
            subscribed = dict(session.execute(
                select(Contact.email_key, Subscription.status).join(Subscription).join(MailingList)).all())
            fields = {f.key: f.type for f in session.scalars(select(CustomField))}
        return {"people": people, "subscriptions": subscribed, "fields": fields}
    finally:
        kernel.close()


def sheet(folder: Path, text: str, name: str = "leads.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_with_list_tags_and_json_counts(tmp_path: Path) -> None:
    path = sheet(tmp_path, "Email,First name,Last name\nann@example.com,Ann,Lee\nnope,X,Y\nbo@example.com,Bo,\n"
                           "ANN@example.com,,Lee\n")
    code, out, err = postroom(tmp_path / "data", "contacts", "import", str(path), "--list", "Fair", "--tag", "fair",
                              "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "done"
    assert result["counts"]["created"] == 2
    assert result["counts"]["duplicates_in_file"] == 1
    assert result["counts"]["invalid"] == 1
    assert result["rejected"] == 1
    assert isinstance(result["import_id"], int)
    assert stored(tmp_path / "data")["subscriptions"] == {"ann@example.com": "subscribed",
                                                          "bo@example.com": "subscribed"}


def test_text_summary_and_rejects_file(tmp_path: Path) -> None:
    path = sheet(tmp_path, "email\nann@example.com\nbad-one\ninfo@gmial.com\n")
    rejects = tmp_path / "out" / "rejected.csv"
    rejects.parent.mkdir()
    code, out, err = postroom(tmp_path / "data", "contacts", "import", str(path), "--rejects", str(rejects))
    assert code == 0, err
    assert "Imported leads.csv (UTF-8, comma)" in out
    assert "New contacts" in out
    assert '"bad-one" is not a valid email address' in out
    assert "did you mean info@gmail.com?" in out
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Row", "Reason", "email"]
    assert rows[1][0] == "3"


def test_map_overrides_matching_and_creates_a_field(tmp_path: Path) -> None:
    path = sheet(tmp_path, "Contact,Given,Points,Joined\nann@example.com,Ann,12,2024-01-31\n")
    code, out, err = postroom(tmp_path / "data", "contacts", "import", str(path), "--map", "Contact=email",
                              "--map", "2=first name", "--map", "Points=new:Points:number",
                              "--map", "joined=new:Joined on:date", "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["created"] == 1
    data = stored(tmp_path / "data")
    assert data["people"]["ann@example.com"] == ("Ann", "", {"points": 12, "joined_on": "2024-01-31"})
    assert data["fields"] == {"points": "number", "joined_on": "date"}


def test_skip_existing_leaves_people_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = sheet(tmp_path, "email,first_name\nann@example.com,Ann\n", "one.csv")
    assert postroom(data, "contacts", "import", str(first))[0] == 0
    second = sheet(tmp_path, "email,first_name\nann@example.com,Annie\n", "two.csv")
    code, out, _ = postroom(data, "contacts", "import", str(second), "--skip-existing", "--json")
    assert code == 0
    assert json.loads(out)["counts"]["skipped"] == 1
    assert stored(data)["people"]["ann@example.com"][0] == "Ann"
    code, out, _ = postroom(data, "contacts", "import", str(second), "--update", "--json")
    assert json.loads(out)["counts"]["updated"] == 1


def test_an_unreadable_file_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    code, out, err = postroom(tmp_path / "data", "contacts", "import", str(binary))
    assert (code, out) == (1, "")
    assert "cannot import" in err
    assert "this is not a text CSV file" in err
    code, out, _ = postroom(tmp_path / "data", "contacts", "import", str(tmp_path / "missing.csv"), "--json")
    assert code == 1
    assert "does not exist" in json.loads(out)["error"]


def test_no_email_column_says_how_to_map_one(tmp_path: Path) -> None:
    path = sheet(tmp_path, "Who,Name\nann@example.com,Ann\n")
    code, _, err = postroom(tmp_path / "data", "contacts", "import", str(path))
    assert code == 1
    assert "no column is mapped to the email address; add --map COLUMN=email" in err
    assert '"Who"' in err
    code, _, err = postroom(tmp_path / "data", "contacts", "import", str(path), "--map", "Nobody=email")
    assert code == 1
    assert "no column 'Nobody' in the file" in err
