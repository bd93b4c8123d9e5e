"""Rate limits with an injected clock: per account (second, hour, day, a warm-up ramp, send windows), per
recipient domain, and slow-down.

A sliding window of send times (not a token bucket) so a limit of N per second is never exceeded in any
one-second window, which a bucket with a burst allowance cannot promise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Seconds since the epoch: hour and day windows must survive a restart, so not a monotonic clock."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock for tests: sleeping moves time forward at once."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.time = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)


class SlidingWindow:
    """At most ``limit`` events in any window of ``seconds``."""

    def __init__(self, limit: int, seconds: float, history: Iterable[float] = ()) -> None:
        if limit < 1:
            raise ValueError("a limit must allow at least one message")
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque(sorted(history)[-limit:], maxlen=limit)

    def wait_time(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        if len(self._times) < self.limit:
            return 0.0
        return max(0.0, self._times[0] + self.seconds - now)

    def record(self, at: float) -> None:
        self._times.append(at)

    def forget_last(self) -> None:
        if self._times:
            self._times.pop()


class CoarseWindow:
    """At most ``limit`` events in any window of ``seconds``, counted per whole second: an hour or a day of a
    fast account would otherwise keep hundreds of thousands of timestamps. Each event counts until the end of
    its second plus the window, so the limit is never exceeded (it may free up to a second late)."""

    def __init__(self, limit: int, seconds: float, history: Iterable[float] = ()) -> None:
        if limit < 1:
            raise ValueError("a limit must allow at least one message")
        self.limit = limit
        self.seconds = seconds
        self._buckets: deque[list[float]] = deque()  # [second the events expire from, count], oldest first
        self._total = 0
        for at in sorted(history):
            self.record(at)

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] + self.seconds <= now:
            self._total -= int(self._buckets.popleft()[1])

    def wait_time(self, now: float) -> float:
        self._prune(now)
        if self._total < self.limit:
            return 0.0
        excess = self._total - self.limit + 1
        for key, count in self._buckets:
            excess -= int(count)
            if excess <= 0:
                return max(0.0, key + self.seconds - now)
        return self.seconds  # pragma: no cover - the loop always ends above

    def record(self, at: float) -> None:
        key = float(int(at) + 1)
        if self._buckets and self._buckets[-1][0] == key:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([key, 1])
        self._total += 1

    def forget_last(self) -> None:
        if self._buckets:
            self._buckets[-1][1] -= 1
            self._total -= 1
            if self._buckets[-1][1] <= 0:
                self._buckets.pop()


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WarmupRamp:
    """A new account's daily cap: ``start`` on its first day, times ``factor`` each day after, up to ``ceiling``
    (the account's per-day limit; with none the ramp ends once the cap passes ``open_after``)."""

    started_on: dt.date
    start: int = 50
    factor: float = 2.0
    ceiling: int | None = None
    open_after: int = 100_000

    def cap(self, now: float) -> int | None:
        """Messages allowed in any 24 hours on the day of ``now`` (UTC); None once the ramp is over."""
        day = max(0, (dt.datetime.fromtimestamp(now, dt.UTC).date() - self.started_on).days)
        try:
            grown = self.start * max(1.0, self.factor) ** min(day, 64)
        except OverflowError:  # a huge factor: the ramp is over
            grown = math.inf
        limit = self.ceiling if self.ceiling is not None else self.open_after
        if grown >= limit:
            return self.ceiling
        return max(1, round(grown))


@dataclass(frozen=True)
class SendWindow:
    """When sending is allowed: some days of the week, between two times of day, in a time zone. A window whose
    end is not after its start runs past midnight (it belongs to the day it opens)."""

    days: frozenset[int]  # 0 Monday ... 6 Sunday
    start: int  # minutes after midnight
    end: int
    time_zone: str = "UTC"

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> SendWindow:
        """From ``{"days": ["mon", ...] or [0, ...], "start": "09:00", "end": "17:30", "time_zone": "Europe/Paris"}``;
        raises ValueError saying what is wrong."""
        days: set[int] = set()
        for day in spec.get("days") or range(7):
            if isinstance(day, int) and 0 <= day <= 6:
                days.add(day)
            elif isinstance(day, str) and day[:3].lower() in DAY_NAMES:
                days.add(DAY_NAMES.index(day[:3].lower()))
            else:
                raise ValueError(f"{day!r} is not a day of the week")
        zone = str(spec.get("time_zone") or "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not a time zone (for example Europe/Paris)") from None
        start, end = _minutes(spec.get("start", "00:00")), _minutes(spec.get("end", "24:00"))
        if start == end == 0 or (start == 0 and end == 24 * 60):
            end = 24 * 60
        return cls(frozenset(days), start, end, zone)

    def to_spec(self) -> dict[str, Any]:
        return {"days": [DAY_NAMES[d] for d in sorted(self.days)], "start": _hhmm(self.start),
                "end": _hhmm(self.end), "time_zone": self.time_zone}

    def describe(self) -> str:
        days = "every day" if len(self.days) == 7 else ", ".join(DAY_NAMES[d].title() for d in sorted(self.days))
        return f"{days} {_hhmm(self.start)}-{_hhmm(self.end)} ({self.time_zone})"

    def wait(self, now: float) -> float:
        """0 when sending is allowed at ``now``, else seconds until the window next opens."""
        if not self.days:
            return math.inf
        zone = ZoneInfo(self.time_zone)
        today = dt.datetime.fromtimestamp(now, zone).date()
        length = (self.end - self.start) % (24 * 60) or 24 * 60
        soonest = math.inf
        for offset in range(-1, 9):
            day = today + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = dt.datetime.combine(day, dt.time(), zone) + dt.timedelta(minutes=self.start)
            opens = opens.astimezone(dt.UTC).astimezone(zone)  # a wall time that DST skips moves forward
            begin = opens.timestamp()
            if begin <= now < begin + length * 60:
                return 0.0
            if begin > now:
                soonest = min(soonest, begin - now)
        return soonest


def _minutes(value: Any) -> int:
    text = str(value).strip()
    try:
        hours, _, minutes = text.partition(":")
        total = int(hours) * 60 + int(minutes or 0)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)") from None
    if not 0 <= total <= 24 * 60 or not 0 <= int(minutes or 0) < 60:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    return total


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class Limits:
    per_second: float | None = None
    per_hour: int | None = None
    per_day: int | None = None
    warmup: WarmupRamp | None = None
    window: SendWindow | None = None


class AccountThrottle:
    """An account's limits, lowered for a while when the server says "slow down" (421, 450, 451, 454, 4.7.x)."""

    def __init__(self, limits: Limits, clock: Clock, history: Iterable[float] = (), *,
                 slowdown_seconds: float = 60.0) -> None:
        self.clock = clock
        self.slowdown_seconds = slowdown_seconds
        self.limits = limits
        past = sorted(history)
        self._windows: list[SlidingWindow | CoarseWindow] = []
        self._second: SlidingWindow | None = None
        if limits.per_second:
            # A fractional rate (0.5/s) becomes "1 in every 2 seconds".
            if limits.per_second >= 1:
                self._second = SlidingWindow(int(limits.per_second), 1.0, past)
            else:
                self._second = SlidingWindow(1, 1.0 / limits.per_second, past)
            self._windows.append(self._second)
        self._quota: list[CoarseWindow] = []  # hour and day: reaching them means waiting, not pacing
        if limits.per_hour:
            self._quota.append(CoarseWindow(limits.per_hour, 3600.0, past))
        self._day: CoarseWindow | None = None
        if limits.per_day or limits.warmup:
            self._day = CoarseWindow(limits.per_day or 1 << 40, 86400.0, past)
            self._quota.append(self._day)
        self._windows.extend(self._quota)
        self._slow_factor = 1.0
        self._slow_until = 0.0
        self._last = 0.0
        self._lock = asyncio.Lock()

    def slow_down(self) -> None:
        """Halve the rate (down to 1/16) for a while; called on every "slow down" reply."""
        now = self.clock.now()
        self._slow_factor = min(16.0, self._slow_factor * 2)
        self._slow_until = now + self.slowdown_seconds

    @property
    def slowed(self) -> bool:
        return self._slow_factor > 1.0 and self.clock.now() < self._slow_until

    def _spacing(self, now: float) -> float:
        if now >= self._slow_until:
            self._slow_factor = 1.0
        if self._slow_factor <= 1.0:
            return 0.0
        base = self.limits.per_second or 10.0
        return self._slow_factor / base

    def daily_cap(self, now: float | None = None) -> int | None:
        """Today's per-day limit: the account's, or lower while it warms up."""
        limits = self.limits
        cap = limits.warmup.cap(self.clock.now() if now is None else now) if limits.warmup else None
        if cap is None:
            return limits.per_day
        return min(cap, limits.per_day) if limits.per_day else cap

    def quota_wait(self) -> float:
        """0 while the account may send, else seconds until it may again: outside its send window, or its
        hour, day or warm-up quota is used up. A wait here means "use another account or wait", not pacing."""
        now = self.clock.now()
        if self._day is not None:
            self._day.limit = self.daily_cap(now) or 1 << 40
        wait = max((window.wait_time(now) for window in self._quota), default=0.0)
        if self.limits.window is not None:
            wait = max(wait, self.limits.window.wait(now))
        return wait

    def wait_time(self) -> float:
        now = self.clock.now()
        wait = max((window.wait_time(now) for window in self._windows), default=0.0)
        spacing = self._spacing(now)
        if spacing:  # spaced out while slowed, but never kept waiting past the end of the slow-down
            wait = max(wait, min(self._last + spacing, self._slow_until) - now)
        return wait

    async def acquire(self, patience: float = math.inf) -> float:
        """Wait until one more message is allowed, then count it (FIFO among waiting connections); returns 0.

        When the account's quota or send window would keep it waiting longer than ``patience`` seconds, nothing
        is counted and that wait is returned instead (the caller hands the message to another account or waits).
        """
        async with self._lock:
            while True:
                quota = self.quota_wait()
                if quota > patience:
                    return quota
                wait = max(quota, self.wait_time())
                if wait <= 0:
                    break
                await self.clock.sleep(wait)
            now = self.clock.now()
            self._last = now
            for window in self._windows:
                window.record(now)
            return 0.0

    def refund(self) -> None:
        """Nothing was sent after all (the connection failed before MAIL FROM)."""
        for window in self._windows:
            window.forget_last()


class DomainThrottle:
    """Per recipient domain: at most N messages per minute (for example gmail.com: 600)."""

    def __init__(self, per_minute: dict[str, int], clock: Clock) -> None:
        self.clock = clock
        self._windows = {domain.lower(): SlidingWindow(limit, 60.0) for domain, limit in per_minute.items()
                         if limit and limit > 0}

    def take(self, domain: str) -> float:
        """0 and count it when a message to ``domain`` may go now, else seconds until one may."""
        window = self._windows.get(domain.lower())
        if window is None:
            return 0.0
        now = self.clock.now()
        wait = window.wait_time(now)
        if wait <= 0:
            window.record(now)
        return wait
