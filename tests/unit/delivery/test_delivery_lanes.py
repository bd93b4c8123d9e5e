"""Warm-up ramps, send windows and the choice between a run's accounts, on an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from app.modules.delivery.lanes import Lane, LaneHealth, pick, share_connections
from app.modules.delivery.smtp import AccountConfig
from app.modules.delivery.throttle import AccountThrottle, FakeClock, Limits, SendWindow, WarmupRamp

PARIS = ZoneInfo("Europe/Paris")


def at(year: int, month: int, day: int, hour: int, minute: int = 0, zone: ZoneInfo = PARIS) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


def test_the_warm_up_cap_doubles_each_day_up_to_the_accounts_own_limit() -> None:
    ramp = WarmupRamp(dt.date(2026, 11, 20), start=50, factor=2.0, ceiling=500)
    day = 86_400.0
    first = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC).timestamp()
    assert [ramp.cap(first + n * day) for n in range(6)] == [50, 100, 200, 400, 500, 500]
    assert ramp.cap(first - 3 * day) == 50  # a clock before the start counts as the first day
    open_ended = WarmupRamp(dt.date(2026, 11, 20), start=50, factor=2.0, open_after=1000)
    assert open_ended.cap(first + 4 * day) == 800
    assert open_ended.cap(first + 5 * day) is None  # the ramp is over: no cap
    assert open_ended.cap(first + 400 * day) is None  # no overflow a year on


def test_a_warming_up_account_waits_for_tomorrow_once_todays_cap_is_used() -> None:
    start = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    clock = FakeClock(start=start.timestamp())
    ramp = WarmupRamp(start.date() - dt.timedelta(days=1), start=3, factor=2.0)  # day 2: 6 a day
    throttle = AccountThrottle(Limits(per_day=1000, warmup=ramp), clock)
    assert throttle.daily_cap() == 6

    async def send(n: int) -> list[float]:
        return [await throttle.acquire(patience=60.0) for _ in range(n)]

    assert asyncio.run(send(6)) == [0.0] * 6
    assert throttle.quota_wait() > 80_000  # the 24-hour window frees tomorrow
    assert asyncio.run(send(1))[0] > 60.0  # not counted: handed to another account or waited for


@pytest.mark.parametrize(("when", "wait_hours"), [
    (at(2026, 11, 23, 8), 1.0),  # Monday before opening
    (at(2026, 11, 23, 9), 0.0),  # opening minute
    (at(2026, 11, 23, 17, 29), 0.0),
    (at(2026, 11, 23, 17, 30), 15.5),  # closed: tomorrow 09:00
    (at(2026, 11, 27, 18), 63.0),  # Friday evening -> Monday 09:00
])
def test_a_send_window_is_open_on_its_days_and_hours_in_its_time_zone(when: float, wait_hours: float) -> None:
    window = SendWindow.parse({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:30",
                               "time_zone": "Europe/Paris"})
    assert window.wait(when) == pytest.approx(wait_hours * 3600)


def test_an_overnight_window_and_a_daylight_saving_change() -> None:
    night = SendWindow.parse({"days": [5], "start": "22:00", "end": "02:00", "time_zone": "Europe/Paris"})
    assert night.wait(at(2026, 11, 29, 1)) == 0  # Sunday 01:00 belongs to Saturday's window
    assert night.wait(at(2026, 11, 29, 3)) == pytest.approx((6 * 24 + 19) * 3600)
    # The clocks go forward on 29 March 2026 in Paris: 09:00 is 07:00 UTC after, not 08:00.
    morning = SendWindow.parse({"start": "09:00", "end": "10:00", "time_zone": "Europe/Paris"})
    opens = at(2026, 3, 29, 9)
    assert morning.wait(opens - 60) == pytest.approx(60)
    assert dt.datetime.fromtimestamp(opens, dt.UTC).hour == 7


@pytest.mark.parametrize(("spec", "words"), [
    ({"days": ["someday"]}, "not a day"),
    ({"start": "9h"}, "not a time of day"),
    ({"start": "25:00"}, "not a time of day"),
    ({"time_zone": "Mars/Olympus"}, "not a time zone"),
])
def test_a_bad_send_window_says_what_is_wrong(spec: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        SendWindow.parse(spec)


def _lane(account_id: int, weight: int, clock: FakeClock, connections: int = 2) -> Lane:
    account = AccountConfig(account_id, f"a{account_id}", "127.0.0.1", 25, "none", weight=weight)
    return Lane(account, AccountThrottle(Limits(), clock), LaneHealth(), connections)


def test_recipients_are_shared_exactly_by_weight_and_interleaved() -> None:
    async def choose() -> list[int]:
        clock = FakeClock(start=0.0)
        lanes = [_lane(1, 5, clock), _lane(2, 1, clock), _lane(3, 2, clock)]
        order = []
        for _ in range(80):
            chosen = pick(lanes, 0.0)
            assert chosen is not None
            order.append(chosen.account.id)
        lanes[0].health.out_until = 100.0  # out: the others share its part
        rest = [lane.account.id for lane in (pick(lanes, 1.0) for _ in range(30)) if lane is not None]
        lanes[1].quota_until = lanes[2].quota_until = 50.0
        return [*order, 0, *rest, 0, pick(lanes, 2.0) is None]  # type: ignore[list-item]

    chosen = asyncio.run(choose())
    first, rest, nothing = chosen[:80], chosen[81:111], chosen[-1]
    assert Counter(first) == {1: 50, 2: 10, 3: 20}
    assert max(len(run) for run in "".join(map(str, first)).split("2")) <= 8  # account 2 is never starved long
    assert Counter(rest) == {2: 10, 3: 20}
    assert nothing is True


def test_connections_are_shared_within_the_global_cap() -> None:
    assert share_connections([4, 4], 8) == [4, 4]
    assert sum(share_connections([8, 8, 4], 8)) == 8
    assert share_connections([1, 50], 8) == [1, 7]
    assert share_connections([2] * 10, 8) == [1] * 10  # one each even over the cap
