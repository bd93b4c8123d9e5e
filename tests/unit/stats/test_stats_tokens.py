"""Link tokens: bound to their purpose, unforgeable by mutation, still valid after key rotation."""

from __future__ import annotations

import pickle
import string

import pytest

from app.modules.stats.api import TrackingLinks
from app.modules.stats.tokens import MIN_RETENTION_DAYS, PURPOSES, BadToken, KeyRing, TokenSigner

DAY = 86400
ALPHABET = string.ascii_letters + string.digits + "-_."


def mutations(token: str) -> set[str]:
    """Every one-character change, every truncation, every extension, swapped fields and case changes."""
    found: set[str] = set()
    for i in range(len(token)):
        for char in ALPHABET:
            if char != token[i]:
                found.add(token[:i] + char + token[i + 1:])
        found.add(token[:i] + token[i + 1:])
    found.update(token[:n] for n in range(len(token)))
    found.update(token + char for char in "A0.=")
    parts = token.split(".")
    found.add(".".join([parts[0], parts[2], parts[1], *parts[3:]]))
    found.add(".".join([parts[0], parts[1], parts[2], "7", *parts[4:]]))
    found.add(".".join([parts[0], "0" + parts[1], *parts[2:]]))  # the same number, written differently
    found.update({token.upper(), token.lower(), token.swapcase(), " " + token, token + "\n", token + "=="})
    found.discard(token)
    return found


def test_every_purpose_round_trips_and_carries_its_claims() -> None:
    signer = TokenSigner(KeyRing.new())
    for purpose in PURPOSES:
        token = signer.sign(purpose, 12, 4521, 9, issued_at=1_700_000_000)
        claims = signer.verify(purpose, token)
        assert (claims.purpose, claims.run_id, claims.recipient_id, claims.extra, claims.issued_at) == (
            purpose, 12, 4521, 9, 1_700_000_000)
        assert claims.key_id == "k1"


def test_a_token_for_one_purpose_never_works_for_another() -> None:
    signer = TokenSigner(KeyRing.new())
    for made_for in PURPOSES:
        token = signer.sign(made_for, 3, 5)
        for other in PURPOSES:
            if other != made_for:
                with pytest.raises(BadToken):
                    signer.verify(other, token)


@pytest.mark.parametrize("purpose", ["unsubscribe", "click"])
def test_forged_truncated_and_mutated_tokens_are_refused(purpose: str) -> None:
    signer = TokenSigner(KeyRing.new())
    token = signer.sign(purpose, 12, 4521, 3)
    tried = mutations(token)
    assert len(tried) > 2000
    accepted = []
    for forged in tried:
        try:
            signer.verify(purpose, forged)
        except BadToken:
            continue
        accepted.append(forged)
    assert accepted == []


def test_a_token_signed_with_another_ring_or_an_unknown_key_is_refused() -> None:
    ours, theirs = TokenSigner(KeyRing.new()), TokenSigner(KeyRing.new())
    token = theirs.sign("open", 1, 2)
    with pytest.raises(BadToken):
        ours.verify("open", token)
    with pytest.raises(BadToken):
        ours.verify("open", "k9" + token[2:])
    for garbage in ("", ".", "k1", "k1.1.2.0.0.", "../../etc/passwd", "k1.1.2.0.0." + "A" * 22 + "\x00", "é" * 40):
        with pytest.raises(BadToken):
            ours.verify("open", garbage)


def test_old_tokens_stay_valid_after_rotation_for_at_least_400_days() -> None:
    start = 1_700_000_000
    ring = KeyRing.new(now=start)
    old_token = TokenSigner(ring).sign("unsubscribe", 1, 2)
    rotated = ring.rotated(now=start + 10 * DAY)
    signer = TokenSigner(rotated)
    assert rotated.current_id == "k2"
    assert signer.sign("unsubscribe", 1, 2).startswith("k2.")
    assert signer.verify("unsubscribe", old_token).key_id == "k1"
    # Rotating again 399 days later (a retention shorter than 400 is not allowed) keeps k1 ...
    later = rotated.rotated(now=start + 10 * DAY + 399 * DAY, retention_days=30)
    assert TokenSigner(later).verify("unsubscribe", old_token).key_id == "k1"
    # ... and only a rotation more than 400 days after k1 was retired lets it go.
    much_later = later.rotated(now=start + 10 * DAY + (MIN_RETENTION_DAYS + 1) * DAY)
    assert [k.key_id for k in much_later.keys] == ["k2", "k3", "k4"]
    with pytest.raises(BadToken):
        TokenSigner(much_later).verify("unsubscribe", old_token)


def test_check_codes_are_short_case_blind_and_survive_rotation() -> None:
    ring = KeyRing.new()
    code = TokenSigner(ring).check_code("bounce", 12, 99)
    assert len(code) == 8
    assert code == code.lower()
    rotated = TokenSigner(ring.rotated())
    assert rotated.code_matches(code.upper(), "bounce", 12, 99)
    assert not rotated.code_matches(code, "bounce", 12, 98)
    assert not rotated.code_matches(code, "unsubscribe", 12, 99)


def test_the_ring_survives_json_and_says_when_damaged() -> None:
    ring = KeyRing.new().rotated()
    assert KeyRing.from_json(ring.to_json()) == ring
    with pytest.raises(ValueError, match="damaged"):
        KeyRing.from_json('{"current": "k1", "keys": [{"id": "k1", "secret": "zz"}]}')


def test_tracking_links_travel_to_another_process_and_build_every_url() -> None:
    links = pickle.loads(pickle.dumps(TrackingLinks("https://t.example.com/", KeyRing.new())))
    assert links.open_pixel_url(4, 7).startswith("https://t.example.com/o/k1.4.7.0.")
    assert links.open_pixel_url(4, 7).endswith(".gif")
    token = links.click_url(4, 7, 31).rsplit("/", 1)[1]
    assert links.verify("click", token).extra == 31
    assert links.confirm_url(7, 3).startswith("https://t.example.com/confirm/k1.0.7.3.")
    assert set(links.urls(4, 7)) == {"unsubscribe", "preferences", "webview"}
    with pytest.raises(BadToken):
        links.verify("unsubscribe", links.preferences_url(4, 7).rsplit("/", 1)[1])


def test_track_html_rewrites_only_registered_links_and_adds_the_pixel() -> None:
    links = TrackingLinks("https://t.example.com", KeyRing.new())
    html = ('<html><body><a href="https://shop.example.com/a?x=1&amp;y=2">A</a> '
            "<a class='b' href='https://other.example.com/'>B</a> <a href=\"mailto:me@example.com\">M</a>"
            "</body></html>")
    assert links.links_in(html) == ["https://shop.example.com/a?x=1&y=2", "https://other.example.com/"]
    tracked = links.track_html(html, 4, 7, {"https://shop.example.com/a?x=1&y=2": 31}, sent_at=1_700_000_000)
    assert "https://t.example.com/c/k1.4.7.31.1700000000." in tracked
    assert "https://shop.example.com" not in tracked
    assert "href='https://other.example.com/'" in tracked
    assert "mailto:me@example.com" in tracked
    assert tracked.index('src="https://t.example.com/o/') < tracked.index("</body>")
