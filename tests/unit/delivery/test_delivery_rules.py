"""Pure rules of the sender: reply classification, signed links, throttles (with a fake clock), templates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.modules.delivery import replies
from app.modules.delivery.content import JinjaSource, RenderFailed, contact_mapping, text_from_html
from app.modules.delivery.links import LocalLinks, StatsLinks, parse_return_path, return_path
from app.modules.delivery.throttle import AccountThrottle, DomainThrottle, FakeClock, Limits, SlidingWindow


@pytest.mark.parametrize(("code", "text", "outcome", "slow"), [
    (250, "2.0.0 OK", replies.SENT, False),
    (450, "4.2.1 mailbox busy", replies.DEFERRED, True),
    (452, "4.2.2 mailbox full", replies.DEFERRED, False),
    (421, "4.7.0 too many connections", replies.DEFERRED, True),
    (451, "4.7.1 greylisted, try again", replies.DEFERRED, True),
    (550, "5.1.1 <a@b.c>: user unknown", replies.HARD, False),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", replies.HARD, False),
    (550, "5.4.4 unable to route", replies.HARD, False),
    (553, "5.1.8 sender domain does not exist", replies.POLICY, False),
    (554, "5.7.1 client host blocked using Spamhaus", replies.POLICY, False),
    (550, "5.7.515 Access denied, sending domain does not meet the required authentication level",
     replies.POLICY, False),
    (552, "5.4.5 Daily user sending quota exceeded", replies.POLICY, False),
    (552, "5.2.2 mailbox full", replies.FAILED, False),
    (550, "No such user here", replies.HARD, False),
    (550, "Message rejected as spam", replies.POLICY, False),
    (554, "Transaction failed", replies.POLICY, False),
])
def test_replies_are_classified(code: int, text: str, outcome: str, slow: bool) -> None:
    verdict = replies.classify(code, text)
    assert (verdict.outcome, verdict.slow_down) == (outcome, slow)


def test_bounce_addresses_map_back_and_refuse_forgeries() -> None:
    links = LocalLinks(b"k" * 32)
    address = return_path("bounces@example.com", links, 12, 345)
    assert address.startswith("bounces+12-345-")
    assert address.endswith("@example.com")
    assert parse_return_path(address, links) == (12, 345)
    assert parse_return_path(address.upper(), links) == (12, 345)  # servers may fold case
    assert parse_return_path(address.replace("-345-", "-346-"), links) is None
    assert parse_return_path(address, LocalLinks(b"o" * 32)) is None  # another key: not ours
    assert parse_return_path("someone@example.com", links) is None


def test_the_stats_modules_links_are_used_under_the_editors_names() -> None:
    import pickle

    from app.modules.stats.api import TrackingLinks
    from app.modules.stats.tokens import KeyRing

    tracking = TrackingLinks("https://t.example.com", KeyRing.new())
    links = pickle.loads(pickle.dumps(StatsLinks(tracking)))  # it travels to the sender process
    urls = links.urls(12, 345)
    assert sorted(urls) == ["preferences_url", "unsubscribe_url", "webview_url"]
    token = urls["unsubscribe_url"].rsplit("/", 1)[1]
    assert tracking.verify("unsubscribe", token).run_id == 12
    address = return_path("bounces@example.com", links, 12, 7)
    assert parse_return_path(address, links) == (12, 7)


def test_sliding_window_allows_no_burst_over_the_limit() -> None:
    window = SlidingWindow(3, 1.0)
    for t in (0.0, 0.1, 0.2):
        assert window.wait_time(t) == 0
        window.record(t)
    assert window.wait_time(0.3) == pytest.approx(0.7)
    assert window.wait_time(1.0) == 0


def test_account_throttle_paces_per_second_hour_and_day_with_a_fake_clock() -> None:
    clock = FakeClock(start=0.0)
    throttle = AccountThrottle(Limits(per_second=5, per_hour=12), clock)

    async def send(n: int) -> list[float]:
        times = []
        for _ in range(n):
            await throttle.acquire()
            times.append(clock.now())
        return times

    times = asyncio.run(send(14))
    assert all(sum(1 for t in times if s <= t < s + 1) <= 5 for s in times)
    assert times[11] < 3
    assert times[12] >= 3600


def test_history_counts_against_the_daily_limit_after_a_restart() -> None:
    clock = FakeClock(start=100_000.0)
    throttle = AccountThrottle(Limits(per_day=3), clock, history=[99_000.0, 99_500.0, 99_900.0])
    # Counted per whole second: it frees up at most a second late, never early.
    assert 99_000.0 + 86_400 - 100_000.0 <= throttle.wait_time() <= 99_000.0 + 86_400 - 100_000.0 + 1


def test_coarse_window_never_lets_more_through_than_the_limit() -> None:
    import random

    from app.modules.delivery.throttle import CoarseWindow

    rng = random.Random(3)
    window, now, sent = CoarseWindow(50, 60.0), 0.0, []
    for _ in range(2000):
        now += rng.uniform(0, 0.5)
        wait = window.wait_time(now)
        if wait > 0:
            now += wait
            assert window.wait_time(now) == 0
        window.record(now)
        sent.append(now)
    assert max(sum(1 for t in sent if s <= t < s + 60) for s in sent) <= 50


def test_slow_down_spaces_messages_then_recovers() -> None:
    clock = FakeClock(start=0.0)
    throttle = AccountThrottle(Limits(per_second=10), clock, slowdown_seconds=60)
    asyncio.run(throttle.acquire())
    throttle.slow_down()
    throttle.slow_down()
    assert throttle.slowed
    assert throttle.wait_time() == pytest.approx(0.4)
    clock.time = 61.0
    assert not throttle.slowed
    assert throttle.wait_time() == 0


def test_domain_throttle() -> None:
    clock = FakeClock(start=0.0)
    domains = DomainThrottle({"gmail.com": 2}, clock)
    assert domains.take("gmail.com") == 0
    assert domains.take("Gmail.com") == 0
    assert domains.take("gmail.com") == pytest.approx(60.0)
    assert domains.take("example.com") == 0


def test_jinja_source_fills_in_and_fails_one_recipient_clearly() -> None:
    source = JinjaSource("Hi {{ first_name }}", "<p>{{ first_name }} {{ fields.company }}</p>"
                         "<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>")
    contact = contact_mapping(1, "a@example.com", {"first_name": "<Ann>", "fields": {"company": "ACME"}})
    parts = source.render(contact, urls={"unsubscribe_url": "https://x/u/1"})
    assert parts.subject == "Hi <Ann>"
    assert "&lt;Ann&gt; ACME" in parts.html  # HTML is escaped, the subject is not
    assert "Unsubscribe (https://x/u/1)" in parts.text  # the text part is derived once, with its links
    with pytest.raises(RenderFailed, match="company"):
        source.render(contact_mapping(2, "b@example.com", {"first_name": "Bob"}), urls={})


def test_a_template_cannot_escape_the_sandbox() -> None:
    source = JinjaSource("x", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(RenderFailed):
        source.render(contact_mapping(1, "a@example.com", {}), urls={})
    with pytest.raises(ValueError, match="syntax error"):
        JinjaSource("{{ broken", "")


def test_text_from_html() -> None:
    assert text_from_html("<style>p{}</style><h1>Title</h1><p>One&amp;two<br>three</p>") == \
        "Title\nOne&two\nthree\n"


def test_link_key_falls_back_to_a_private_file_without_a_keyring(tmp_path: Path) -> None:
    from app.modules.delivery.links import load_or_create_key

    class NoKeyring:
        def problem(self) -> str:
            return "no keyring"

    key = load_or_create_key(NoKeyring(), tmp_path)
    assert load_or_create_key(NoKeyring(), tmp_path) == key
    assert (tmp_path / "link-signing.key").stat().st_mode & 0o777 == 0o600
