"""When a campaign is due: once at a time in a zone, on an RFC 5545 rule, or at a local hour in each recipient's
own time zone. Pure functions over plain values and an explicit ``now`` (UTC, naive), so every kind is tested
with an injected clock, daylight-saving changes included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

UTC = dt.UTC


class ScheduleError(ValueError):
    """A schedule the user gave cannot be used; the text says why."""


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``, or :class:`ScheduleError` with a readable reason."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (use a name such as Europe/Paris)") from None


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The zone called ``name``, or UTC when it is empty or not a real zone (a contact's stored zone may be junk)."""
    return ZoneInfo(name) if name and is_zone(name) else ZoneInfo("UTC")


def is_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def to_utc(local: dt.datetime, zone_name: str) -> dt.datetime:
    """A wall-clock time in ``zone_name`` as a naive UTC instant.

    A wall time skipped by a spring-forward change (02:30 that night) is taken with the offset before the change,
    which lands just after the gap (03:30); a repeated one (autumn) means its first occurrence.
    """
    return local.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC).replace(tzinfo=None)


def to_local(instant: dt.datetime, zone_name: str) -> dt.datetime:
    """A naive UTC instant as wall-clock time in ``zone_name`` (naive)."""
    return instant.replace(tzinfo=UTC).astimezone(zone(zone_name)).replace(tzinfo=None)


def parse_rule(rule: str, dtstart_local: dt.datetime, zone_name: str) -> object:
    """An RFC 5545 recurrence rule ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0") anchored at a local start."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise ScheduleError("the recurrence rule is empty")
    try:
        return rrulestr(text, dtstart=dtstart_local.replace(tzinfo=zone(zone_name)))
    except (ValueError, TypeError) as exc:
        raise ScheduleError(f"the recurrence rule is not valid: {exc}") from None


def recurrences(rule: str, dtstart_local: dt.datetime, zone_name: str, after: dt.datetime,
                count: int = 5) -> list[dt.datetime]:
    """The next ``count`` occurrences strictly after ``after`` (naive UTC), as naive UTC instants.

    The rule runs on wall-clock time in the zone, so "every Monday 9:00" stays at 9:00 across DST changes.
    """
    parsed = parse_rule(rule, dtstart_local, zone_name)
    cursor = after.replace(tzinfo=UTC).astimezone(zone(zone_name))
    found: list[dt.datetime] = []
    while len(found) < count:
        nxt = parsed.after(cursor, inc=False)  # type: ignore[attr-defined]
        if nxt is None:
            break
        found.append(nxt.astimezone(UTC).replace(tzinfo=None))
        cursor = nxt
    return found


@dataclass(frozen=True)
class LocalSlot:
    """One send of a "local hour" schedule: the instant it is due and the recipients' time zones it covers.

    ``zones`` holds the contacts' stored zone names; the default group also holds "" (no zone) and every
    stored name that is not a real zone.
    """

    due_at: dt.datetime
    zone: str
    zones: tuple[str, ...]


def local_slots(day: dt.date, at: dt.time, contact_zones: Iterable[str | None], default_zone: str) -> list[LocalSlot]:
    """One slot per distinct real zone among the audience, each due at ``day`` ``at`` in that zone, earliest first.

    Contacts with no zone, or a zone name that is not real, go with ``default_zone``.
    """
    zone(default_zone)
    groups: dict[str, set[str]] = {default_zone: {""}}
    for name in contact_zones:
        stored = name or ""
        real = stored if is_zone(stored) else default_zone
        groups.setdefault(real, set()).add(stored)
    slots = [LocalSlot(to_utc(dt.datetime.combine(day, at), name), name, tuple(sorted(stored)))
             for name, stored in groups.items()]
    return sorted(slots, key=lambda s: (s.due_at, s.zone))


def parse_hhmm(text: str) -> dt.time:
    try:
        hours, minutes = text.strip().split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ScheduleError(f"{text!r} is not a time of day (use HH:MM, e.g. 09:00)") from None


def describe_rule(rule: str) -> str:
    """A short human reading of common rules; the rule itself otherwise."""
    parts = dict(p.split("=", 1) for p in rule.upper().removeprefix("RRULE:").split(";") if "=" in p)
    days = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
            "SA": "Saturday", "SU": "Sunday"}
    hour, minute = parts.get("BYHOUR"), parts.get("BYMINUTE", "0")
    at = f" at {int(hour):02d}:{int(minute.split(',')[0]):02d}" if hour and hour.isdigit() else ""
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1") or 1)
    if freq == "WEEKLY" and "BYDAY" in parts:
        names = [days.get(d[-2:], d) for d in parts["BYDAY"].split(",")]
        every = "Every" if interval == 1 else f"Every {interval} weeks on"
        return f"{every} {', '.join(names)}{at}"
    if freq == "DAILY":
        return ("Every day" if interval == 1 else f"Every {interval} days") + at
    if freq == "MONTHLY" and "BYMONTHDAY" in parts:
        return f"Monthly on day {parts['BYMONTHDAY']}{at}"
    return rule
