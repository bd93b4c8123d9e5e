"""The sender: an asyncio pipeline per run (claim a batch as `sending`, build, send on N reused connections,
record outcomes in batches), throttled per account and domain, pausing itself when the server refuses us."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.kernel.database import Database
from app.modules.delivery import store
from app.modules.delivery.config import WorkerConfig
from app.modules.delivery.lanes import LaneHealth
from app.modules.delivery.pipeline import RunPipeline
from app.modules.delivery.run_context import RunContext, RunUnavailable, load
from app.modules.delivery.smtp import AccountConfig
from app.modules.delivery.throttle import (
    AccountThrottle,
    Clock,
    DomainThrottle,
    Limits,
    SendWindow,
    WallClock,
    WarmupRamp,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Report = Callable[[dict[str, Any]], None]


class Sender:
    """Sends every run in state ``sending`` until none is left (or it is told to stop)."""

    def __init__(self, config: WorkerConfig, db: Database, *, clock: Clock | None = None,
                 report: Report | None = None, poll_control: Callable[[], list[Any]] | None = None) -> None:
        self.config = config
        self.settings = config.settings
        self.db = db
        self.clock = clock or WallClock()
        self.report = report or (lambda _message: None)
        self.poll_control = poll_control or list
        self.stopping = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="postroom-delivery-db")
        self._throttles: dict[int, AccountThrottle] = {}
        self._health: dict[int, LaneHealth] = {}
        self._resume_at: dict[int, float] = {}  # runs whose accounts are all out, and when the first is back
        self._notes: dict[int, str] = {}
        self._note_tasks: set[asyncio.Task[None]] = set()
        self._domains = DomainThrottle(self.settings.domain_per_minute, self.clock)
        self._contexts: dict[int, RunContext] = {}
        self._sent_times: collections.deque[float] = collections.deque(maxlen=20_000)
        self._wake: asyncio.Event | None = None
        self._last_progress = 0.0
        self._pipeline: RunPipeline | None = None
        self.stop_grace = 5.0  # seconds in-flight transactions get to finish when told to stop

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- the main loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = asyncio.Event()
        control = asyncio.create_task(self._watch_control())
        try:
            while not self.stopping:
                runs = await self._db(store.sending_runs, self.db)
                if not runs:
                    if self.config.exit_when_idle:
                        break
                    await self._sleep(5.0)
                    continue
                progressed = False
                for run_id in runs:
                    if self.stopping:
                        break
                    progressed = await self.send_run(run_id) or progressed
                if not progressed and not self.stopping:
                    due = await self._db(store.next_due, self.db, runs)
                    waits = [self._resume_at[r] for r in runs if r in self._resume_at]
                    if waits:
                        due = min(due or math.inf, *waits)
                    await self._sleep(min(30.0, max(0.05, due - self.clock.now())) if due else 30.0)
        finally:
            control.cancel()
            await asyncio.gather(*self._note_tasks, return_exceptions=True)
            self._executor.shutdown(wait=True)

    async def _sleep(self, seconds: float) -> None:
        """Idle for ``seconds`` on the sender's clock (an injected clock in tests), or until woken."""
        assert self._wake is not None
        self._wake.clear()
        sleeping = asyncio.ensure_future(self.clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, woken):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sleeping, woken, return_exceptions=True)

    async def _watch_control(self) -> None:
        while True:
            for message in self.poll_control():
                if isinstance(message, WorkerConfig):
                    self._reconfigure(message)
                if message == "stop" and not self.stopping:
                    self.stopping = True
                    asyncio.get_running_loop().call_later(self.stop_grace, self._abort)
                if self._wake is not None:
                    self._wake.set()
            await asyncio.sleep(0.05)

    def _reconfigure(self, config: WorkerConfig) -> None:
        """Accounts or settings changed in the app: runs not being sent right now pick the new ones up."""
        changed = {account_id for account_id, account in config.accounts.items()
                   if self.config.accounts.get(account_id) != account}
        self.config = config
        self._resume_at.clear()  # a changed account or window may let a waiting run go now
        for account_id in changed:
            self._throttles.pop(account_id, None)
            self._health.pop(account_id, None)
        current = self._pipeline.ctx.run_id if self._pipeline is not None else None
        for run_id in [r for r in self._contexts if r != current]:
            del self._contexts[run_id]

    def _abort(self) -> None:
        if self._pipeline is not None:
            self._pipeline.abort()

    def throttle_for(self, account: AccountConfig) -> AccountThrottle:
        """The account's throttle, kept across runs (seeded from what it sent in the last day, after a restart)."""
        throttle = self._throttles.get(account.id)
        if throttle is None:
            settings = self.settings
            warmup = None
            if account.warmup_started_on is not None:
                warmup = WarmupRamp(account.warmup_started_on, settings.warmup_start, settings.warmup_factor,
                                    account.per_day)
            window_spec = account.send_window or settings.send_window
            window = None
            if window_spec:
                try:
                    window = SendWindow.parse(window_spec)
                except ValueError as exc:
                    log.warning("the send window of %s is ignored: %s", account.name, exc)
            limits = Limits(account.per_second, account.per_hour, account.per_day, warmup, window)
            history: list[float] = []
            if account.per_hour or account.per_day or warmup is not None:
                keep = max(account.per_hour or 0, account.per_day or 0,
                           (warmup.cap(self.clock.now()) or 0) if warmup else 0)
                history = store.sent_times(self.db, account.id, self.clock.now() - 86400, keep)
            throttle = self._throttles[account.id] = AccountThrottle(
                limits, self.clock, history, slowdown_seconds=settings.slowdown_seconds)
        return throttle

    def health_of(self, account_id: int) -> LaneHealth:
        return self._health.setdefault(account_id, LaneHealth())

    def note(self, ctx: RunContext, reason: str) -> None:
        """Say on a sending run what it is doing about its accounts (shown as its note; the state stays)."""
        if self._notes.get(ctx.run_id) == reason:
            return
        self._notes[ctx.run_id] = reason
        log.info("run %s: %s", ctx.run_id, reason)

        def write() -> bool:
            return store.set_run_state(self.db, ctx.run_id, "sending", reason, ("sending",))

        async def tell() -> None:
            if await self._db(write):
                self.report({"type": "state", "run_id": ctx.run_id, "campaign_id": ctx.campaign_id,
                             "state": "sending", "reason": reason})

        task = asyncio.get_running_loop().create_task(tell())
        self._note_tasks.add(task)
        task.add_done_callback(self._note_tasks.discard)

    # -- one run ---------------------------------------------------------------------------------------

    async def send_run(self, run_id: int) -> bool:
        """Send what is due now for one run; True when anything was sent or settled."""
        if self._resume_at.get(run_id, 0.0) > self.clock.now():
            return False
        self._resume_at.pop(run_id, None)
        ctx = self._contexts.get(run_id)
        if ctx is None:
            try:
                ctx = await self._db(load, self.db, self.config, run_id)
            except RunUnavailable as exc:
                await self._pause(run_id, None, str(exc))
                return False
            self._contexts[run_id] = ctx
        ctx.halted = False
        lanes = await self._db(RunPipeline.make_lanes, self, ctx)
        pipeline = self._pipeline = RunPipeline(self, ctx, lanes)
        try:
            await pipeline.run()
        finally:
            self._pipeline = None
        if pipeline.resume_at is not None and not ctx.halted:
            self._resume_at[run_id] = pipeline.resume_at
            self.note(ctx, pipeline.wait_reason)
        elif pipeline.settled and self._notes.get(run_id, "").startswith("waiting until"):
            self.note(ctx, "")
        if not ctx.halted and not self.stopping:
            await self._settle(ctx)
        if ctx.halted or await self._db(store.run_state, self.db, run_id) != "sending":
            self._contexts.pop(run_id, None)
        self._progress(ctx, force=True)
        return pipeline.settled > 0

    async def _settle(self, ctx: RunContext) -> None:
        """Finish the run when nobody is left to try; with "unknown" left, pause for the user's decision."""
        counts = await self._db(store.counts, self.db, ctx.run_id)
        ctx.counts = collections.Counter(counts)
        if counts.get("queued") or counts.get("sending") or counts.get("deferred") or not ctx.audience_done:
            return
        unknown = counts.get("unknown", 0)
        if unknown:
            await self._pause(ctx.run_id, ctx.campaign_id,
                              f"{unknown} message(s) may or may not have arrived (the connection dropped after "
                              "they were sent). Resend them, or finish the run.")
            return
        if await self._db(store.set_run_state, self.db, ctx.run_id, "finished", "", ("sending",)):
            self.report({"type": "state", "run_id": ctx.run_id, "campaign_id": ctx.campaign_id,
                         "state": "finished", "reason": ""})

    async def _pause(self, run_id: int, campaign_id: int | None, reason: str) -> None:
        log.warning("run %s paused: %s", run_id, reason)
        if await self._db(store.set_run_state, self.db, run_id, "paused", reason, ("sending",)):
            self.report({"type": "state", "run_id": run_id, "campaign_id": campaign_id, "state": "paused",
                         "reason": reason})

    def _progress(self, ctx: RunContext, *, force: bool = False) -> None:
        now = self.clock.now()
        if not force and now - self._last_progress < self.settings.progress_interval:
            return
        self._last_progress = now
        while self._sent_times and self._sent_times[0] < now - 10:
            self._sent_times.popleft()
        span = min(10.0, now - self._sent_times[0]) if self._sent_times else 10.0
        rate = len(self._sent_times) / max(1.0, span)  # over the last ten seconds, or since the first message
        counts = {state: int(ctx.counts.get(state, 0)) for state in
                  ("queued", "sending", "sent", "deferred", "failed", "unknown")}
        self.report({"type": "progress", "run_id": ctx.run_id, "campaign_id": ctx.campaign_id, "counts": counts,
                     "rate": rate, "total": ctx.audience_total})

    def note_sent(self) -> None:
        self._sent_times.append(self.clock.now())
