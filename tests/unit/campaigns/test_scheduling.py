"""Schedule maths with an injected clock: zones, daylight-saving changes, RFC 5545 rules, local-hour slots."""

from __future__ import annotations

import datetime as dt

import pytest

from app.modules.campaigns import scheduling
from app.modules.campaigns.scheduling import ScheduleError

MONDAY_9 = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"


def test_wall_time_in_a_zone_becomes_utc_and_back() -> None:
    assert scheduling.to_utc(dt.datetime(2027, 1, 15, 9, 0), "Europe/Paris") == dt.datetime(2027, 1, 15, 8, 0)
    assert scheduling.to_utc(dt.datetime(2027, 7, 15, 9, 0), "Europe/Paris") == dt.datetime(2027, 7, 15, 7, 0)
    assert scheduling.to_local(dt.datetime(2027, 7, 15, 7, 0), "Europe/Paris") == dt.datetime(2027, 7, 15, 9, 0)


def test_a_time_skipped_by_spring_forward_lands_after_the_gap() -> None:
    # Paris, 28 March 2027: 02:00 becomes 03:00, so 02:30 does not exist; it is sent at 03:30 local (01:30 UTC).
    instant = scheduling.to_utc(dt.datetime(2027, 3, 28, 2, 30), "Europe/Paris")
    assert instant == dt.datetime(2027, 3, 28, 1, 30)
    assert scheduling.to_local(instant, "Europe/Paris") == dt.datetime(2027, 3, 28, 3, 30)


def test_every_monday_nine_stays_at_nine_across_both_dst_changes() -> None:
    start = dt.datetime(2027, 3, 1, 9, 0)
    runs = scheduling.recurrences(MONDAY_9, start, "Europe/Paris", after=dt.datetime(2027, 3, 20), count=3)
    # 22 March: CET (UTC+1); 29 and 5 April: CEST (UTC+2).
    assert runs == [dt.datetime(2027, 3, 22, 8, 0), dt.datetime(2027, 3, 29, 7, 0), dt.datetime(2027, 4, 5, 7, 0)]
    autumn = scheduling.recurrences(MONDAY_9, start, "America/New_York", after=dt.datetime(2027, 10, 30), count=2)
    # New York falls back on 7 November 2027: 9:00 EDT is 13:00 UTC, 9:00 EST is 14:00 UTC.
    assert autumn == [dt.datetime(2027, 11, 1, 13, 0), dt.datetime(2027, 11, 8, 14, 0)]
    assert all(scheduling.to_local(r, "America/New_York").hour == 9 for r in autumn)


def test_the_next_occurrence_is_strictly_after_now() -> None:
    start = dt.datetime(2027, 3, 1, 9, 0)
    monday = dt.datetime(2027, 3, 22, 8, 0)
    assert scheduling.recurrences(MONDAY_9, start, "Europe/Paris", after=monday, count=1) == \
        [dt.datetime(2027, 3, 29, 7, 0)]


def test_bad_rules_and_zones_say_why() -> None:
    with pytest.raises(ScheduleError, match="not valid"):
        scheduling.recurrences("FREQ=SOMETIMES", dt.datetime(2027, 1, 1), "UTC", dt.datetime(2027, 1, 1))
    with pytest.raises(ScheduleError, match="unknown time zone"):
        scheduling.to_utc(dt.datetime(2027, 1, 1), "Mars/Olympus")
    with pytest.raises(ScheduleError, match="HH:MM"):
        scheduling.parse_hhmm("nine")


def test_local_hour_slots_per_zone_earliest_first_with_a_default_group() -> None:
    slots = scheduling.local_slots(dt.date(2027, 6, 1), dt.time(9, 0),
                                   ["Asia/Tokyo", "", None, "Not/AZone", "America/New_York", "Asia/Tokyo"],
                                   "Europe/London")
    assert [(s.zone, s.due_at) for s in slots] == [
        ("Asia/Tokyo", dt.datetime(2027, 6, 1, 0, 0)),
        ("Europe/London", dt.datetime(2027, 6, 1, 8, 0)),
        ("America/New_York", dt.datetime(2027, 6, 1, 13, 0)),
    ]
    london = slots[1]
    assert set(london.zones) == {"", "Not/AZone"}  # no zone and a made-up zone go with the default


def test_rules_read_as_sentences() -> None:
    assert scheduling.describe_rule(MONDAY_9) == "Every Monday at 09:00"
    assert scheduling.describe_rule("FREQ=DAILY;BYHOUR=7;BYMINUTE=30") == "Every day at 07:30"
