"""The importer's fast address check gives parse_address's exact answers; typed cell values convert or explain."""

from __future__ import annotations

import random

import pytest

from app.modules.contacts.addresses import InvalidAddress, parse_address
from app.modules.contacts.import_values import fast_parse_address, to_date, to_number
from app.modules.contacts.presets import split_tags, status_from_text

TRICKY = [
    "Bob@Example.COM", "Postmaster@Example.COM", "INFO@x.org", "Abuse@bücher.de", "user@bücher.de",
    "user@xn--bcher-kva.de", "josé@example.com", '"john doe"@example.com', "Bob <bob@example.com>",
    "<bob@example.com>", " <USER@example.com> ", "bob.@example.com", "bo..b@example.com", ".bob@example.com",
    "bob smith@example.com", "bob\x00@example.com", "a" * 64 + "@example.com", "a" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com", "a@" + ".".join(["b" * 63] * 4) + ".com",
    "x" * 60 + "@" + ("y" * 60 + ".") * 3 + "com", "user@localhost", "user@[1.2.3.4]", "a@b@c.com", "@example.com",
    "user@", "", "   ", "user@example..com", "user@-example.com", "user@exam_ple.com", "USER+tag@Gmail.com",
    "\uff55\uff53\uff45\uff52@example.com", "user@example.com.", "!#$%&'*+/=?^_`{|}~-@example.com",
    "user@sub.domain.co.uk",
    "user@123.com", "user@example.c", "user@.example.com", "user@example.com>", "i̇@example.com",
    "user@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "user@straße.de", "user@faß.de", "user@test",
    "user@example.invalid",
    "user@xn--ls8h.la", "user@😀.la", "a@b.c\u0301om", "a@\u0301b.com", "user@exa mple.com", "user@example.com\n",
    "us\ter@x.com", "user@1.2.3.4", "user@xn--.com", "user@a.b-.com", "user@EXAMPLE.com ", "www@Example.com",
]


def outcome(parse: object, raw: str) -> tuple[str, ...]:
    try:
        address = parse(raw)  # type: ignore[operator]
    except InvalidAddress as exc:
        return ("invalid", str(exc))
    return ("valid", address.email, address.key)


@pytest.mark.parametrize("raw", TRICKY)
def test_fast_path_agrees_with_parse_address_on_tricky_addresses(raw: str) -> None:
    assert outcome(fast_parse_address, raw) == outcome(parse_address, raw)


def test_fast_path_agrees_on_random_addresses() -> None:
    rng = random.Random(3)
    alphabet = "abcAB.@-_+!\"<> \x00éü1ß"
    for _ in range(5_000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.7:
            raw += rng.choice(["@example.com", "@Gmail.com", "@bücher.de", "@x", "", "@EXAMPLE.org."])
        assert outcome(fast_parse_address, raw) == outcome(parse_address, raw), repr(raw)


@pytest.mark.parametrize(("text", "order", "expected"), [
    ("2024-03-05", "dmy", "2024-03-05"), ("2024/3/5", "mdy", "2024-03-05"), ("05/03/2024", "dmy", "2024-03-05"),
    ("03/05/2024", "mdy", "2024-03-05"), ("5.3.2024", "dmy", "2024-03-05"), ("5 March 2024", "dmy", "2024-03-05"),
    ("March 5, 2024", "dmy", "2024-03-05"), ("2024-03-05T10:00:00Z", "dmy", "2024-03-05"),
])
def test_dates_in_common_forms(text: str, order: str, expected: str) -> None:
    assert to_date(text, order) == expected


def test_a_bad_date_says_how_the_column_is_read() -> None:
    with pytest.raises(ValueError, match=r'"13/25/2024" is not a date \(this column is read as day/month/year'):
        to_date("13/25/2024", "dmy")


@pytest.mark.parametrize(("text", "expected"), [("42", 42), ("1,234.5", 1234.5), ("1.234,5", 1234.5),
                                                ("12,5", 12.5), ("1 000", 1000), ("-3", -3), ("2.0", 2.0)])
def test_numbers_in_common_forms(text: str, expected: float) -> None:
    assert to_number(text) == expected


def test_tags_and_statuses_from_exports() -> None:
    assert split_tags('"VIP","Spring Fair"') == ["VIP", "Spring Fair"]
    assert split_tags("* myContacts ::: Friends ::: * starred") == ["Friends"]
    assert split_tags("Clients;Partners") == ["Clients", "Partners"]
    assert status_from_text("Non-marketing contact") == "none"
    assert status_from_text("cleaned") == "cleaned"
    assert status_from_text(" ") is None
    with pytest.raises(ValueError, match="not a subscription status"):
        status_from_text("maybe")
