"""One pass over one run: claim a batch as `sending` (each recipient given to one of the run's accounts by
weight) -> build each message -> N reused connections per account -> outcomes written in batches. Halts (and hands
back what is not on the wire) when the run is paused, cancelled or refused; an account that fails or reaches its
quota drops out and what it had not sent goes back to the others; when none is left the run waits."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from app.modules.delivery import replies, store
from app.modules.delivery.content import RenderFailed
from app.modules.delivery.lanes import Lane, pick, share_connections
from app.modules.delivery.mime import MessageError
from app.modules.delivery.run_context import Prepared, RunContext
from app.modules.delivery.smtp import AccountRefused, Attempt, ConnectFailed, SmtpConnection
from app.modules.delivery.store import Claimed, Outcome

if TYPE_CHECKING:
    from app.modules.delivery.sender import Sender


class RunPipeline:
    """Claimer -> a bounded queue per account -> its connections -> batched outcome writer, for one pass over
    one run."""

    def __init__(self, sender: Sender, ctx: RunContext, lanes: list[Lane]) -> None:
        self.sender = sender
        self.ctx = ctx
        self.lanes = lanes
        self.settings = sender.settings
        self.pending: list[Outcome] = []
        self.resume_at: float | None = None  # every account is out: when the first may send again
        self.wait_reason = ""
        self.in_flight = 0
        self.room = asyncio.Condition()
        self.flush_now = asyncio.Event()
        self.settled = 0
        self.done = False
        self.aborted = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._announcements: list[asyncio.Task[Any]] = []

    def halted(self) -> bool:
        return self.ctx.halted or self.sender.stopping

    def abort(self) -> None:
        """Stop now, mid-transaction if need be: what was being sent stays `sending` (unknown at next start)."""
        self.aborted = True
        for task in self._tasks:
            task.cancel()

    @staticmethod
    def make_lanes(sender: Sender, ctx: RunContext) -> list[Lane]:
        shares = share_connections([a.connections for a in ctx.accounts], sender.settings.max_connections)
        return [Lane(account, sender.throttle_for(account), sender.health_of(account.id), connections)
                for account, connections in zip(ctx.accounts, shares, strict=True)]

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        producer = asyncio.create_task(self._producer())
        consumers = [asyncio.create_task(self._consumer(lane)) for lane in self.lanes
                     for _ in range(lane.connections)]
        self._tasks = [producer, *consumers]
        try:
            await producer
            await asyncio.gather(*consumers)
        except asyncio.CancelledError:
            if not self.aborted:
                raise
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for lane in self.lanes:  # claimed and built but never handed to a connection: not sent
                while not lane.queue.empty():
                    item = lane.queue.get_nowait()
                    if item is not None:
                        self._settle(Outcome(item.claimed.id, "queued"))
            await asyncio.gather(*self._announcements, return_exceptions=True)
            self.done = True
            self.flush_now.set()
            await writer

    # -- claiming and building

    def _claim(self) -> tuple[str, list[tuple[Claimed, Lane]], collections.Counter[str]]:
        """(In the database thread.) Copy more audience in if needed, then mark the next due batch `sending`,
        each recipient for the account (lane) that will send it.

        Returns ("stopped" | "empty" | "waiting" | "claimed", rows, change in counts).
        """
        from app.modules.contacts.api import is_suppressed

        ctx, db, batch = self.ctx, self.sender.db, self.settings.batch_size
        delta: collections.Counter[str] = collections.Counter()
        if store.run_state(db, ctx.run_id) != "sending":
            return "stopped", [], delta
        while not ctx.audience_done and ctx.queued_unclaimed < batch:
            added, ctx.audience_done = store.materialise(db, ctx.run_id, ctx.batches)
            ctx.queued_unclaimed += added
            delta["queued"] += added
        now = self.sender.clock.now()
        rows = store.due(db, ctx.run_id, batch, now)
        claimed: list[tuple[Claimed, Lane]] = []
        waiting: list[tuple[int, float, str]] = []
        settled: list[Outcome] = []
        taken = 0
        for row in rows:
            if not any(lane.usable(now) for lane in self.lanes):  # all out (quota, window, failures): the rest
                break  # stay as they are
            taken += 1
            origin = "deferred" if row.was_deferred else "queued"
            delta[origin] -= 1
            if row.attempts > 0 and is_suppressed(db, row.email):  # it may have bounced or unsubscribed since
                settled.append(Outcome(row.id, "failed", "suppressed", None,
                                       "not retried: the address was suppressed meanwhile"))
                delta["failed"] += 1
                continue
            domain = row.email.rpartition("@")[2].lower()
            wait = self.sender._domains.take(domain)
            if wait > 0:
                waiting.append((row.id, now + wait, f"waiting for the per-domain limit of {domain}"))
                delta["deferred"] += 1
                continue
            lane = pick(self.lanes, now)  # only for a message that goes out, so the shares follow the weights
            assert lane is not None
            claimed.append((row, lane))
            delta["sending"] += 1
        ctx.queued_unclaimed = max(0, ctx.queued_unclaimed - sum(1 for r in rows[:taken] if not r.was_deferred))
        store.claim(db, [(row, lane.account.id) for row, lane in claimed], waiting, now)
        store.record(db, settled, now)
        if claimed:
            return "claimed", claimed, delta
        return ("waiting" if taken else "empty" if not rows else "out"), claimed, delta

    async def _producer(self) -> None:
        batch = self.settings.batch_size
        while not self.halted():
            async with self.room:
                await self.room.wait_for(lambda: self.in_flight + batch <= self.settings.in_flight or self.halted())
            if self.halted() or not self._any_lane():
                break
            status, claimed, delta = await self.sender._db(self._claim)
            self.ctx.counts.update(delta)
            if status == "stopped":  # paused or cancelled by the user: hand back what is not on the wire yet
                self.ctx.halted = True
                break
            if status == "empty":
                break
            if status == "out" and not self._any_lane():
                break
            self.in_flight += len(claimed)
            for row, lane in claimed:
                try:
                    prepared = self.ctx.prepare(row)
                except (RenderFailed, MessageError) as exc:
                    self._settle(Outcome(row.id, "failed", "content", None, str(exc), report=True))
                    continue
                await lane.queue.put(prepared)
        for lane in self.lanes:
            for _ in range(lane.connections):
                await lane.queue.put(None)

    # -- accounts in and out of rotation

    def _any_lane(self) -> bool:
        """Is any account usable now? Checks quotas and windows first; when none is, decides what the run does:
        waits until the first is back (``resume_at``), or pauses when every account refused us."""
        now = self.sender.clock.now()
        for lane in self.lanes:
            if lane.usable(now):
                wait = lane.throttle.quota_wait()
                if wait > self.settings.quota_patience:
                    lane.quota_until = now + wait
        if any(lane.usable(now) for lane in self.lanes):
            return True
        if all(lane.health.refused and now < lane.health.out_until for lane in self.lanes):
            if len(self.lanes) == 1:
                only = self.lanes[0]
                self._halt(f"The SMTP account {only.account.name} cannot be used: {only.health.refused}")
            else:
                reasons = "; ".join(f"{lane.account.name}: {lane.health.refused}" for lane in self.lanes)
                self._halt(f"None of this run's SMTP accounts can be used ({reasons})")
            for lane in self.lanes:  # resuming the run tries them again
                lane.health.refused, lane.health.out_until = "", 0.0
            return False
        first = min(self.lanes, key=lambda lane: lane.back_at(now))
        self.resume_at = first.back_at(now)
        when = dt.datetime.fromtimestamp(self.resume_at).strftime("%a %H:%M")
        self.wait_reason = f"waiting until {when}: " + "; ".join(self._why_out(lane, now) for lane in self.lanes)
        return False

    def _why_out(self, lane: Lane, now: float) -> str:
        name = lane.account.name
        if now < lane.health.out_until and lane.health.refused:
            return f"{name} refused us ({lane.health.refused})"
        if now < lane.health.out_until:
            return f"{name} failed ({lane.health.out_reason})"
        window = lane.throttle.limits.window
        if window is not None and window.wait(now) > 0:
            return f"{name} is outside its send window ({window.describe()})"
        cap = lane.throttle.daily_cap(now)
        if lane.throttle.limits.warmup is not None and cap is not None and cap != lane.throttle.limits.per_day:
            return f"{name} reached today's warm-up cap of {cap:,}"
        return f"{name} reached its hourly or daily limit"

    def _others(self, lane: Lane) -> bool:
        """Can another account of the run take over from ``lane`` now?"""
        now = self.sender.clock.now()
        return any(other is not lane and other.usable(now) for other in self.lanes)

    def _strike(self, lane: Lane, reason: str) -> bool:
        """A connection failure or "421" on ``lane``. True when another account can take the message (after a few
        in a row this one is left alone for a while); False when it is the only one left (retry as usual)."""
        if not self._others(lane):
            return False
        health = lane.health
        health.strikes += 1
        if health.strikes >= self.settings.failover_after:
            health.strikes = 0
            health.out_until = self.sender.clock.now() + self.settings.account_cooldown
            health.out_reason = reason
            self.sender.note(self.ctx, f"{lane.account.name} failed ({reason}); sending through the other accounts")
        return True

    def _refused(self, lane: Lane, reason: str) -> None:
        """The account cannot be used as configured (login or TLS refused)."""
        lane.health.refused = reason
        lane.health.out_until = self.sender.clock.now() + self.settings.account_cooldown
        if self._others(lane):
            self.sender.note(self.ctx, f"{lane.account.name} cannot be used ({reason}); "
                                       "sending through the other accounts")
        else:
            self._any_lane()  # pauses the run with every account's reason

    # -- sending

    async def _consumer(self, lane: Lane) -> None:
        connection = SmtpConnection(lane.account, self.settings.local_hostname)
        clock = self.sender.clock
        try:
            while (item := await lane.queue.get()) is not None:
                if self.halted() or not lane.usable(clock.now()):
                    self._settle(Outcome(item.claimed.id, "queued"))
                    continue
                wait = await lane.throttle.acquire(self.settings.quota_patience)
                if wait > 0:  # its quota is used up or its window closed: the others (or later) take it
                    lane.quota_until = clock.now() + wait
                    self._settle(Outcome(item.claimed.id, "queued"))
                    continue
                try:
                    attempt = await connection.send(item.envelope_from, item.recipient, item.stuffed,
                                                    smtputf8=item.smtputf8)
                except AccountRefused as exc:
                    lane.throttle.refund()
                    self._settle(Outcome(item.claimed.id, "queued", "", None, str(exc)))
                    self._refused(lane, str(exc))
                    continue
                except ConnectFailed as exc:
                    lane.throttle.refund()
                    if self._strike(lane, str(exc)):
                        self._settle(Outcome(item.claimed.id, "queued", "", None, str(exc)))
                        continue
                    attempt = Attempt("retry", None, str(exc), "connect")
                if (attempt.result == "reply" and attempt.code == 421 and attempt.phase != "content"
                        and self._strike(lane, replies.describe(attempt.code, attempt.text))):
                    lane.throttle.refund()  # "421 closing": nothing was sent; another account takes it
                    lane.throttle.slow_down()
                    self._settle(Outcome(item.claimed.id, "queued", "", 421, attempt.text))
                    continue
                if attempt.result == "unsupported":
                    lane.throttle.refund()
                self._settle(self._judge(item, attempt, lane))
                if attempt.result == "retry":
                    await clock.sleep(min(5.0, self.settings.retry_base / 10))
        finally:
            await connection.close()

    def _retry_at(self, claimed: Claimed, now: float) -> float:
        delay = min(self.settings.retry_max, self.settings.retry_base * 2.0 ** max(0, claimed.attempts - 1))
        return now + delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security

    def _judge(self, item: Prepared, attempt: Attempt, lane: Lane) -> Outcome:  # noqa: PLR0911 - one exit per verdict
        ctx, claimed, now = self.ctx, item.claimed, self.sender.clock.now()
        words = replies.describe(attempt.code, attempt.text)
        rid, mid = claimed.id, item.message_id
        if attempt.result == "unsupported":  # this recipient only; nothing was sent
            return Outcome(rid, "failed", "failed", None, words, report=True)
        if attempt.result == "unknown":
            self._error(words)
            return Outcome(rid, "unknown", "unknown", None, words, message_id=mid)
        if attempt.result == "retry":
            self._error(words)
            return Outcome(rid, "deferred", "connection", None, words, now + min(60.0, self.settings.retry_base))
        verdict = replies.classify(attempt.code or 0, attempt.text)
        if verdict.outcome == replies.SENT:
            ctx.consecutive_errors = 0
            lane.health.strikes, lane.health.refused = 0, ""
            lane.sent += 1
            self.sender.note_sent()
            return Outcome(rid, "sent", "sent", attempt.code, words, message_id=mid, report=True)
        if verdict.slow_down:
            lane.throttle.slow_down()
        if verdict.outcome == replies.POLICY:
            self._halt(f"The server refused the campaign: {words}")
            return Outcome(rid, "queued", "policy", attempt.code, words)
        self._error(words)
        if verdict.outcome == replies.DEFERRED:
            retry_at = self._retry_at(claimed, now)
            if retry_at - claimed.first_attempt_at > self.settings.lifetime:
                return Outcome(rid, "failed", "expired", attempt.code, f"gave up after retrying: {words}",
                               report=True)
            return Outcome(rid, "deferred", "soft", attempt.code, words, retry_at, message_id=mid)
        return Outcome(rid, "failed", verdict.outcome, attempt.code, words, message_id=mid, report=True)

    def _error(self, words: str) -> None:
        self.ctx.consecutive_errors += 1
        limit = self.settings.max_consecutive_errors
        if self.ctx.consecutive_errors >= limit:
            self._halt(f"{limit} messages in a row could not be sent; the last answer was: {words}")

    def _halt(self, reason: str) -> None:
        """Stop this run at once (no further message starts) and pause it with ``reason``."""
        if self.ctx.halted:
            return
        self.ctx.halted = True
        self._announcements.append(asyncio.get_running_loop().create_task(self._announce_pause(reason)))

    async def _announce_pause(self, reason: str) -> None:
        async with self.room:
            self.room.notify_all()
        await self.sender._pause(self.ctx.run_id, self.ctx.campaign_id, reason)

    # -- recording

    def _settle(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= self.settings.batch_size:
            self.flush_now.set()

    async def _writer(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_now.wait(), timeout=0.1)
            self.flush_now.clear()
            if self.pending:
                batch, self.pending = self.pending, []
                if self.ctx.tracking is not None:  # the web views of these messages, before they count as sent
                    self.ctx.tracking.flush()
                await self.sender._db(store.record, self.sender.db, batch, self.sender.clock.now())
                for outcome in batch:
                    self.ctx.counts["sending"] -= 1
                    self.ctx.counts[outcome.state] += 1
                    if outcome.state == "queued":
                        self.ctx.queued_unclaimed += 1
                self.settled += sum(1 for o in batch if o.state != "queued")
                async with self.room:
                    self.in_flight -= len(batch)
                    self.room.notify_all()
                failures = [o for o in batch if o.state == "failed" or o.outcome == "policy"]
                if failures:
                    self.sender.report({"type": "failed", "run_id": self.ctx.run_id,
                                        "campaign_id": self.ctx.campaign_id,
                                        "items": [(o.id, o.outcome, o.reply_text) for o in failures]})
                if any(o.report for o in batch):
                    self.sender.report({"type": "outcomes"})
                self.sender._progress(self.ctx)
            elif self.done:
                return
