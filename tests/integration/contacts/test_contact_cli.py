"""``postroom contacts show|add|tag|unsubscribe|lists`` through the real command line, in process."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.cli import parse_global, run_cli
from app.kernel.boot import Kernel, start_kernel
from app.kernel.paths import AppPaths
from app.modules.contacts import api
from app.modules.contacts.messages import ActivityItem, RecordActivity, SuppressAddress
from app.modules.contacts.models import Consent, Contact
from app.modules.contacts.module import MODULE
from tests.conftest import MemoryKeyring


def postroom(data_dir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def factory(paths: AppPaths, **kwargs: Any) -> Kernel:
        return start_kernel(paths, secrets_backend=MemoryKeyring(), log_to_file=False, **kwargs)

    code = run_cli(parse_global(["--data-dir", str(data_dir), *argv]), [MODULE], out=out, err=err,
                   kernel_factory=factory)
    return code, out.getvalue(), err.getvalue()


def as_json(data_dir: Path, *argv: str) -> Any:
    code, out, err = postroom(data_dir, *argv, "--json")
    assert code == 0, (out, err)
    return json.loads(out)


def with_kernel(data_dir: Path) -> Kernel:
    return start_kernel(AppPaths.inside(data_dir), modules=[MODULE], secrets_backend=MemoryKeyring(),
                        log_to_file=False)


def test_add_creates_subscribes_with_consent_and_tags(tmp_path: Path) -> None:
    code, out, err = postroom(tmp_path, "contacts", "add", "Ada@Example.com", "--first-name", "Ada",
                              "--last-name", "Lovelace", "--list", "News", "--tag", "vip", "--tag", "speaker")
    assert (code, err) == (0, "")
    assert out == "Added Ada@example.com, subscribed to News, tagged vip, speaker.\n"

    shown = as_json(tmp_path, "contacts", "show", "ada@example.com")
    assert (shown["first_name"], shown["last_name"]) == ("Ada", "Lovelace")
    assert [(m["list"], m["status"]) for m in shown["lists"]] == [("News", "subscribed")]
    assert shown["tags"] == ["speaker", "vip"]
    assert [(c["list"], c["source"], c["method"]) for c in shown["consent"]] == [("News", "command line", "manual")]
    assert shown["suppression"] is None

    again = as_json(tmp_path, "contacts", "add", "ada@example.com", "--first-name", "Augusta")
    assert again["created"] is False
    assert as_json(tmp_path, "contacts", "show", "ada@example.com")["first_name"] == "Augusta"


def test_add_explains_hints_without_rewriting(tmp_path: Path) -> None:
    result = as_json(tmp_path, "contacts", "add", "info@gmial.com")
    assert result["email"] == "info@gmial.com"
    assert any("role address" in note for note in result["notes"])
    assert any("did you mean info@gmail.com" in note for note in result["notes"])


def test_add_refuses_a_bad_address_naming_it(tmp_path: Path) -> None:
    code, out, err = postroom(tmp_path, "contacts", "add", "ada@@example")
    assert code == 1
    assert out == ""
    assert err.startswith("postroom: error: 'ada@@example' is not a valid address")


def test_add_never_subscribes_a_suppressed_or_unsubscribed_address(tmp_path: Path) -> None:
    kernel = with_kernel(tmp_path)
    kernel.bus.execute(SuppressAddress(email="bounced@example.com", reason="hard_bounce"))
    kernel.close()
    result = as_json(tmp_path, "contacts", "add", "bounced@example.com", "--list", "News")
    assert result["subscribed_to"] is None
    assert any("suppression list" in note for note in result["notes"])

    as_json(tmp_path, "contacts", "add", "left@example.com", "--list", "News")
    as_json(tmp_path, "contacts", "unsubscribe", "left@example.com", "--list", "News")
    code, out, _ = postroom(tmp_path, "contacts", "add", "left@example.com", "--list", "News")
    assert code == 0
    assert "not subscribed to News: left@example.com unsubscribed from it" in out
    shown = as_json(tmp_path, "contacts", "show", "left@example.com")
    assert [(m["list"], m["status"]) for m in shown["lists"]] == [("News", "unsubscribed")]


def test_show_prints_everything_held_with_the_last_20_activities(tmp_path: Path) -> None:
    as_json(tmp_path, "contacts", "add", "grace@example.com", "--first-name", "Grace", "--list", "News",
            "--tag", "admiral")
    kernel = with_kernel(tmp_path)
    start = dt.datetime(2025, 1, 1, 9, 0)
    items = tuple(ActivityItem(kind="opened", email="grace@example.com", campaign_id=1,
                               occurred_at=start + dt.timedelta(days=day)) for day in range(24))
    kernel.bus.execute(RecordActivity(items=(*items, ActivityItem(
        kind="event", email="grace@example.com", name="order_completed", occurred_at=start + dt.timedelta(days=30),
        properties={"product": "Compiler"}, value=99.0))))
    kernel.close()

    shown = as_json(tmp_path, "contacts", "show", "GRACE@example.com")
    assert len(shown["activity"]) == 20
    assert shown["activity"][0]["name"] == "order_completed"
    assert shown["activity"][0]["properties"] == {"product": "Compiler"}
    assert shown["activity"][1]["at"] == "2025-01-24 09:00:00"
    assert shown["last_open_at"] == "2025-01-24 09:00:00"

    code, text, _ = postroom(tmp_path, "contacts", "show", "grace@example.com")
    assert code == 0
    assert text.startswith("grace@example.com  (Grace)")
    assert "  News: subscribed since" in text
    assert "Tags: admiral" in text
    assert "command line, manual" in text
    assert "Activity (last 20):" in text
    assert "order_completed" in text


def test_show_an_unknown_or_erased_address(tmp_path: Path) -> None:
    code, _, err = postroom(tmp_path, "contacts", "show", "nobody@example.com")
    assert (code, err) == (1, "postroom: error: nobody@example.com is not a contact\n")
    as_json(tmp_path, "contacts", "unsubscribe", "gone@example.com")
    code, _, err = postroom(tmp_path, "contacts", "show", "gone@example.com")
    assert code == 1
    assert "is not a contact, but it is on the suppression list (unsubscribed)" in err


def test_unsubscribe_from_one_list_or_from_everything(tmp_path: Path) -> None:
    as_json(tmp_path, "contacts", "add", "alan@example.com", "--list", "News")
    as_json(tmp_path, "contacts", "add", "alan@example.com", "--list", "Offers")

    code, out, _ = postroom(tmp_path, "contacts", "unsubscribe", "alan@example.com", "--list", "news")
    assert (code, out) == (0, "alan@example.com unsubscribed from news.\n")
    statuses = {m["list"]: m["status"] for m in as_json(tmp_path, "contacts", "show", "alan@example.com")["lists"]}
    assert statuses == {"News": "unsubscribed", "Offers": "subscribed"}

    code, out, _ = postroom(tmp_path, "contacts", "unsubscribe", "alan@example.com")
    assert (code, out) == (0, "alan@example.com unsubscribed from every list and suppressed.\n")
    shown = as_json(tmp_path, "contacts", "show", "alan@example.com")
    assert {m["status"] for m in shown["lists"]} == {"unsubscribed"}
    assert shown["suppression"]["reason"] == "unsubscribed"
    assert all(c["withdrawn_at"] for c in shown["consent"])

    code, _, err = postroom(tmp_path, "contacts", "unsubscribe", "alan@example.com", "--list", "Nope")
    assert (code, err) == (1, "postroom: error: no list named 'Nope'\n")


def test_unsubscribing_a_stranger_from_one_list_does_not_claim_to_suppress(tmp_path: Path) -> None:
    as_json(tmp_path, "contacts", "add", "someone@example.com", "--list", "News")
    code, out, _ = postroom(tmp_path, "contacts", "unsubscribe", "stranger@example.com", "--list", "News")
    assert code == 0
    assert "suppressed" not in out
    kernel = with_kernel(tmp_path)
    try:
        assert not api.is_suppressed(kernel.db, "stranger@example.com")
    finally:
        kernel.close()


def test_tag_adds_tags_to_an_existing_contact_only(tmp_path: Path) -> None:
    as_json(tmp_path, "contacts", "add", "linus@example.com")
    code, out, _ = postroom(tmp_path, "contacts", "tag", "linus@example.com", "kernel", "Kernel", "finland")
    assert (code, out) == (0, "Tagged linus@example.com: kernel, Kernel, finland.\n")
    assert as_json(tmp_path, "contacts", "show", "linus@example.com")["tags"] == ["finland", "kernel"]

    code, _, err = postroom(tmp_path, "contacts", "tag", "ghost@example.com", "x")
    assert code == 1
    assert "ghost@example.com is not a contact" in err


def test_lists_shows_counts_by_status(tmp_path: Path) -> None:
    code, out, _ = postroom(tmp_path, "contacts", "lists")
    assert (code, out) == (0, "No lists yet (postroom contacts add EMAIL --list NAME creates one).\n")
    for name in ("a", "b", "c"):
        as_json(tmp_path, "contacts", "add", f"{name}@example.com", "--list", "News")
    as_json(tmp_path, "contacts", "add", "c@example.com", "--list", "VIPs")
    as_json(tmp_path, "contacts", "unsubscribe", "b@example.com", "--list", "News")

    rows = as_json(tmp_path, "contacts", "lists")
    assert rows == [{"name": "News", "subscribed": 2, "unconfirmed": 0, "unsubscribed": 1},
                    {"name": "VIPs", "subscribed": 1, "unconfirmed": 0, "unsubscribed": 0}]
    code, out, _ = postroom(tmp_path, "contacts", "lists")
    assert out.splitlines()[0].split() == ["List", "subscribed", "unconfirmed", "unsubscribed"]
    assert out.splitlines()[1].split() == ["News", "2", "0", "1"]

    kernel = with_kernel(tmp_path)
    try:
        with kernel.db.read() as session:
            assert len(session.scalars(select(Consent)).all()) == 4
            assert len(session.scalars(select(Contact)).all()) == 3
    finally:
        kernel.close()
