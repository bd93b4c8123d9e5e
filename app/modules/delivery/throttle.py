"""Rate limits with an injected clock: per account (second, hour, day), per recipient domain, and slow-down.

A sliding window of send times (not a token bucket) so a limit of N per second is never exceeded in any
one-second window, which a bucket with a burst allowance cannot promise.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


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


@dataclass
class Limits:
    per_second: float | None = None
    per_hour: int | None = None
    per_day: int | None = None


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
        if limits.per_hour:
            self._windows.append(CoarseWindow(limits.per_hour, 3600.0, past))
        if limits.per_day:
            self._windows.append(CoarseWindow(limits.per_day, 86400.0, past))
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

    def wait_time(self) -> float:
        now = self.clock.now()
        wait = max((window.wait_time(now) for window in self._windows), default=0.0)
        spacing = self._spacing(now)
        if spacing:  # spaced out while slowed, but never kept waiting past the end of the slow-down
            wait = max(wait, min(self._last + spacing, self._slow_until) - now)
        return wait

    async def acquire(self) -> None:
        """Wait until one more message is allowed, then count it (FIFO among waiting connections)."""
        async with self._lock:
            while True:
                wait = self.wait_time()
                if wait <= 0:
                    break
                await self.clock.sleep(wait)
            now = self.clock.now()
            self._last = now
            for window in self._windows:
                window.record(now)

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
