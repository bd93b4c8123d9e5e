"""One pass over one run: claim a batch as `sending` -> build each message -> N reused connections -> outcomes
written in batches. Halts (and hands back what is not on the wire) when the run is paused, cancelled or refused."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
from typing import TYPE_CHECKING, Any

from app.modules.delivery import replies, store
from app.modules.delivery.content import RenderFailed
from app.modules.delivery.mime import MessageError
from app.modules.delivery.run_context import Prepared, RunContext
from app.modules.delivery.smtp import AccountRefused, Attempt, ConnectFailed, SmtpConnection
from app.modules.delivery.store import Claimed, Outcome
from app.modules.delivery.throttle import AccountThrottle

if TYPE_CHECKING:
    from app.modules.delivery.sender import Sender


class RunPipeline:
    """Claimer -> bounded queue -> N connections -> batched outcome writer, for one pass over one run."""

    def __init__(self, sender: Sender, ctx: RunContext, throttle: AccountThrottle) -> None:
        self.sender = sender
        self.ctx = ctx
        self.throttle = throttle
        self.settings = sender.settings
        self.connections = max(1, min(ctx.account.connections, self.settings.max_connections))
        self.queue: asyncio.Queue[Prepared | None] = asyncio.Queue(maxsize=self.connections * 2)
        self.pending: list[Outcome] = []
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

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        producer = asyncio.create_task(self._producer())
        consumers = [asyncio.create_task(self._consumer()) for _ in range(self.connections)]
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
            while not self.queue.empty():  # claimed and built but never handed to a connection: not sent
                item = self.queue.get_nowait()
                if item is not None:
                    self._settle(Outcome(item.claimed.id, "queued"))
            await asyncio.gather(*self._announcements, return_exceptions=True)
            self.done = True
            self.flush_now.set()
            await writer

    # -- claiming and building

    def _claim(self) -> tuple[str, list[Claimed], collections.Counter[str]]:
        """(In the database thread.) Copy more audience in if needed, then mark the next due batch `sending`.

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
        claimed: list[Claimed] = []
        waiting: list[tuple[int, float, str]] = []
        settled: list[Outcome] = []
        for row in rows:
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
            claimed.append(row)
            delta["sending"] += 1
        ctx.queued_unclaimed = max(0, ctx.queued_unclaimed - sum(1 for r in rows if not r.was_deferred))
        store.claim(db, claimed, waiting, ctx.account.id, now)
        store.record(db, settled, now)
        if claimed:
            return "claimed", claimed, delta
        return ("waiting" if rows else "empty"), claimed, delta

    async def _producer(self) -> None:
        batch = self.settings.batch_size
        while not self.halted():
            async with self.room:
                await self.room.wait_for(lambda: self.in_flight + batch <= self.settings.in_flight or self.halted())
            if self.halted():
                break
            status, claimed, delta = await self.sender._db(self._claim)
            self.ctx.counts.update(delta)
            if status == "stopped":  # paused or cancelled by the user: hand back what is not on the wire yet
                self.ctx.halted = True
                break
            if status == "empty":
                break
            self.in_flight += len(claimed)
            for row in claimed:
                try:
                    prepared = self.ctx.prepare(row)
                except (RenderFailed, MessageError) as exc:
                    self._settle(Outcome(row.id, "failed", "content", None, str(exc), report=True))
                    continue
                await self.queue.put(prepared)
        for _ in range(self.connections):
            await self.queue.put(None)

    # -- sending

    async def _consumer(self) -> None:
        async with self.sender._slots:
            connection = SmtpConnection(self.ctx.account, self.settings.local_hostname)
            try:
                while (item := await self.queue.get()) is not None:
                    if self.halted():
                        self._settle(Outcome(item.claimed.id, "queued"))
                        continue
                    await self.throttle.acquire()
                    try:
                        attempt = await connection.send(item.envelope_from, item.recipient, item.stuffed)
                    except AccountRefused as exc:
                        self.throttle.refund()
                        self._settle(Outcome(item.claimed.id, "queued", "", None, str(exc)))
                        self._halt(f"The SMTP account {self.ctx.account.name} cannot be used: {exc}")
                        continue
                    except ConnectFailed as exc:
                        self.throttle.refund()
                        attempt = Attempt("retry", None, str(exc), "connect")
                    self._settle(self._judge(item, attempt))
                    if attempt.result == "retry":
                        await self.sender.clock.sleep(min(5.0, self.settings.retry_base / 10))
            finally:
                await connection.close()

    def _retry_at(self, claimed: Claimed, now: float) -> float:
        delay = min(self.settings.retry_max, self.settings.retry_base * 2.0 ** max(0, claimed.attempts - 1))
        return now + delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security

    def _judge(self, item: Prepared, attempt: Attempt) -> Outcome:  # noqa: PLR0911 - one exit per verdict
        ctx, claimed, now = self.ctx, item.claimed, self.sender.clock.now()
        words = replies.describe(attempt.code, attempt.text)
        rid, mid = claimed.id, item.message_id
        if attempt.result == "unknown":
            self._error(words)
            return Outcome(rid, "unknown", "unknown", None, words, message_id=mid)
        if attempt.result == "retry":
            self._error(words)
            return Outcome(rid, "deferred", "connection", None, words, now + min(60.0, self.settings.retry_base))
        verdict = replies.classify(attempt.code or 0, attempt.text)
        if verdict.outcome == replies.SENT:
            ctx.consecutive_errors = 0
            self.sender.note_sent()
            return Outcome(rid, "sent", "sent", attempt.code, words, message_id=mid, report=True)
        if verdict.slow_down:
            self.throttle.slow_down()
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
