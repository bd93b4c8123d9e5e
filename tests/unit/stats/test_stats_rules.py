"""Machine traffic, address classes, intake validation and where the keys are kept."""

from __future__ import annotations

import datetime as dt
import logging
import stat
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as NoKeyring

from app.kernel.secrets import SecretStore
from app.modules.stats.bots import ip_class, machine_reason
from app.modules.stats.keystore import RING_SECRET, TrackingSecrets
from app.modules.stats.tracker.intake import IntakeError, event_row, parse_body
from tests.conftest import MemoryKeyring

PERSON = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def reason(**overrides: object) -> str:
    values: dict[str, object] = {"method": "GET", "user_agent": PERSON, "address": "203.0.113.9", "kind": "open",
                                 "issued_at": 1_000, "now": 5_000.0}
    values.update(overrides)
    return machine_reason(**values)  # type: ignore[arg-type]


def test_people_pass_and_machines_are_named() -> None:
    assert reason() == ""
    assert reason(user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) GoogleImageProxy") == ""
    assert reason(method="HEAD") == "head"
    assert reason(user_agent="") == "no-user-agent"
    assert reason(user_agent="Mozilla/5.0 (compatible; Barracuda Sentinel)") == "scanner"
    assert reason(user_agent="python-requests/2.31") == "scanner"
    assert reason(user_agent="Mozilla/5.0 (compatible; bingbot/2.0)") == "scanner"
    assert reason(user_agent="Mozilla/5.0") == "apple-mpp"
    assert reason(address="17.58.101.4") == "apple-mpp"
    assert reason(kind="click", address="17.58.101.4") == ""  # Apple's proxies load images, they do not click
    assert reason(issued_at=4_995) == "prefetch"
    assert reason(issued_at=4_995, prefetch_seconds=2) == ""


def test_only_a_class_of_the_address_is_kept() -> None:
    assert ip_class("203.0.113.77") == "203.0.113.0/24"
    assert ip_class("2001:db8:1234:5678::9") == "2001:db8:1234::/48"
    assert ip_class("::ffff:198.51.100.20") == "198.51.100.0/24"
    assert ip_class("not an address") == ""
    assert ip_class(None) == ""


NOW = dt.datetime(2025, 5, 1, 12, 0)


@pytest.mark.parametrize(("event", "field"), [
    ({"name": "order_completed"}, "email"),
    ({"email": "not-an-address", "name": "x"}, "email"),
    ({"email": "a@example.com"}, "name"),
    ({"email": "a@example.com", "name": "has space"}, "name"),
    ({"email": "a@example.com", "name": "x", "properties": [1]}, "properties"),
    ({"email": "a@example.com", "name": "x", "value": "12"}, "value"),
    ({"email": "a@example.com", "name": "x", "value": float("nan")}, "value"),
    ({"email": "a@example.com", "name": "x", "currency": "euro"}, "currency"),
    ({"email": "a@example.com", "name": "x", "time": "yesterday"}, "time"),
    ({"email": "a@example.com", "name": "x", "time": "2025-05-01T10:00:00"}, "time"),
    ({"email": "a@example.com", "name": "x", "time": "2030-01-01T00:00:00Z"}, "time"),
    ({"email": "a@example.com", "name": "x", "colour": "red"}, "colour"),
])
def test_each_bad_field_is_named(event: dict[str, object], field: str) -> None:
    with pytest.raises(IntakeError) as caught:
        event_row(event, 3, token_id=1, now=NOW)
    assert caught.value.field == field
    assert caught.value.as_json()["index"] == 3


def test_a_good_event_and_the_same_id_twice() -> None:
    event = {"email": "ann@example.com", "name": "order_completed", "value": 42.5, "currency": "EUR",
             "properties": {"sku": "B-1"}, "time": "2025-05-01T09:30:00+02:00", "id": "order-991"}
    row = event_row(event, 0, token_id=7, now=NOW)
    assert row["occurred_at"] == dt.datetime(2025, 5, 1, 7, 30)
    assert row["data"] == {"properties": {"sku": "B-1"}, "value": 42.5, "currency": "EUR", "id": "order-991"}
    assert event_row(event, 0, token_id=7, now=NOW)["uid"] == row["uid"]  # a retry is the same event
    assert event_row(event, 0, token_id=8, now=NOW)["uid"] != row["uid"]


def test_bodies_that_are_not_json_or_hold_nothing_are_refused() -> None:
    with pytest.raises(IntakeError, match="not valid JSON: Expecting"):
        parse_body(b'{"email": ')
    with pytest.raises(IntakeError, match="UTF-8"):
        parse_body(b"\xff\xfe")
    with pytest.raises(IntakeError, match="no events"):
        parse_body(b"[]")
    assert len(parse_body(b'{"events": [{}, {}]}')) == 2


def test_keys_go_to_the_keyring_when_one_is_trusted(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    secrets = TrackingSecrets(SecretStore(keyring), tmp_path)
    ring = secrets.ring()
    assert ("postroom", RING_SECRET) in keyring.store
    assert not secrets.path.exists()
    assert secrets.ring() == ring
    assert secrets.rotate().current_id == "k2"
    assert TrackingSecrets(SecretStore(keyring), tmp_path).ring().current_id == "k2"


def test_without_a_keyring_keys_go_to_a_private_file_and_the_log_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secrets = TrackingSecrets(SecretStore(NoKeyring()), tmp_path)
    with caplog.at_level(logging.WARNING):
        ring = secrets.ring()
    assert secrets.path.exists()
    assert stat.S_IMODE(secrets.path.stat().st_mode) == 0o600
    assert "no trusted keyring" in caplog.text
    assert str(secrets.path) in caplog.text
    assert TrackingSecrets(SecretStore(NoKeyring()), tmp_path).ring() == ring
    # When a keyring appears later, the ring moves into it and the file goes.
    keyring = MemoryKeyring()
    assert TrackingSecrets(SecretStore(keyring), tmp_path).ring() == ring
    assert ("postroom", RING_SECRET) in keyring.store
    assert not secrets.path.exists()
