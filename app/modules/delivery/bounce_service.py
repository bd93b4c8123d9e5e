"""The bounce commands (save, test, fetch, parse) and the poller that reads the bounce mailbox every few
minutes in the running app (its own thread; one read at a time per data folder)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.kernel.events import SettingChanged
from app.kernel.locks import ExclusiveFileLock
from app.kernel.registry import ModuleContext
from app.modules.delivery import bounce_mailbox, links
from app.modules.delivery.bounce_processor import DEFAULT_SOFT_LIMIT, BounceProcessor, EntryResult
from app.modules.delivery.messages import (
    BounceEntryInfo,
    BounceMailboxInfo,
    BounceReport,
    ConnectionReport,
    FetchBounces,
    FetchReport,
    ParseBounce,
    SaveBounceMailbox,
    TestBounceMailbox,
)

log = logging.getLogger(__name__)
_WATCHER: contextvars.ContextVar[Any] = contextvars.ContextVar("bounce_fetch_job", default=None)
SOFT_LIMIT_KEY = "delivery.bounces.soft_limit"
FIRST_READ_KEY = "delivery.bounces.first_read_seconds"  # after the app starts


@contextlib.contextmanager
def watched(handle: Any) -> Iterator[None]:
    """Within this block, a ``FetchBounces`` on this thread reports its progress to the job ``handle`` and stops
    between chunks of messages when it is cancelled (``handle.check()`` raises)."""
    token = _WATCHER.set(handle)
    try:
        yield
    finally:
        _WATCHER.reset(token)


class BounceService:
    def __init__(self, context: ModuleContext, link_sources: Callable[[], Sequence[links.LinkSource]]) -> None:
        self.context = context
        self.processor = BounceProcessor(context.db, context.bus, link_sources, self.soft_limit)
        self._lock = threading.Lock()  # one read at a time in this process
        self._file_lock = ExclusiveFileLock(context.paths.data_dir / "bounce-mailbox.lock")  # and per data folder
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._services = False

    def register(self, context: ModuleContext) -> None:
        context.handle(SaveBounceMailbox, self.save)
        context.handle(TestBounceMailbox, self.test)
        context.handle(FetchBounces, self.fetch)
        context.handle(ParseBounce, self.parse)
        context.subscribe(SettingChanged, self._setting_changed)

    def soft_limit(self) -> int:
        value = self.context.settings.get_optional(SOFT_LIMIT_KEY)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else DEFAULT_SOFT_LIMIT

    # -- commands

    def info(self) -> BounceMailboxInfo:
        return bounce_mailbox.stored(self.context.settings, self.context.secrets)

    def save(self, command: SaveBounceMailbox) -> BounceMailboxInfo:
        info = bounce_mailbox.save(self.context.settings, self.context.secrets, command)
        self._wake.set()
        self._start_poller()
        return info

    def test(self, _command: TestBounceMailbox) -> ConnectionReport:
        try:
            steps = bounce_mailbox.probe(bounce_mailbox.config(self.context.settings, self.context.secrets))
        except bounce_mailbox.MailboxError as exc:
            return ConnectionReport(ok=False, steps=(), error=str(exc))
        return ConnectionReport(ok=True, steps=tuple(steps))

    def fetch(self, _command: FetchBounces | None = None, *, check: Callable[[], None] | None = None,
              progress: Callable[[int, int], None] | None = None) -> FetchReport:
        job = _WATCHER.get()
        if job is not None:  # a job in the window follows it and may stop it between chunks
            check = check or job.check
            progress = progress or (lambda done, total: job.report(done, total, f"{done} of {total} messages"))
        try:
            cfg = bounce_mailbox.config(self.context.settings, self.context.secrets)
        except bounce_mailbox.MailboxError as exc:
            return FetchReport(error=str(exc))
        with self._lock:
            if not self._file_lock.acquire():
                return FetchReport(error="another Postroom is reading the bounce mailbox right now; try again soon")
            try:
                report = bounce_mailbox.fetch(cfg, self.processor.process, check=check, progress=progress)
            finally:
                self._file_lock.release()
        if report.error:
            log.warning("reading the bounce mailbox failed: %s", report.error)
        else:
            log.info("bounce mailbox read", extra={"fetched": report.fetched, "bounces": report.bounces,
                                                   "complaints": report.complaints})
        return report

    def parse(self, command: ParseBounce) -> BounceReport:
        if command.apply:
            handled = self.processor.process(command.raw)
            return BounceReport(kind=handled.kind, note=handled.note,
                                entries=tuple(_info(e, counted=e.new) for e in handled.entries))
        report, pairs = self.processor.examine(command.raw)
        if report.kind == "unsubscribe" and not pairs:
            return BounceReport(kind="unreadable", note="sent to an unsubscribe address whose check code is not ours")
        entries = tuple(_info(EntryResult(email=match.email or entry.recipient, kind=entry.kind,
                                          status=entry.status, action=entry.action, diagnostic=entry.diagnostic,
                                          match=match)) for entry, match in pairs)
        return BounceReport(kind=report.kind, entries=entries, note=report.note)

    # -- the poller (only in the app)

    def start_services(self) -> None:
        self._services = True
        self._start_poller()

    def _setting_changed(self, event: SettingChanged) -> None:
        if event.key.startswith(bounce_mailbox.PREFIX):
            self._wake.set()

    def _interval(self) -> float | None:
        info = self.info()
        if not info.configured or info.poll_minutes <= 0:
            return None
        return info.poll_minutes * 60.0

    def _start_poller(self) -> None:
        if not self._services or self._stop.is_set():
            return
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._interval() is None:
                return
            self._thread = threading.Thread(target=self._run, name="postroom-bounces")
            self._thread.start()

    def _run(self) -> None:
        # The first read waits a little: the window and the sender come first at start-up.
        delay = self.context.settings.get_optional(FIRST_READ_KEY)
        self._stop.wait(float(delay) if isinstance(delay, int | float) else 20.0)
        while not self._stop.is_set():
            interval = self._interval()
            if interval is None:
                return  # switched off: saving the mailbox again starts a new poller
            self._wake.clear()  # before the read: a save or a teardown during it is not missed
            try:
                self.fetch(check=self._check)
            except _Stopping:
                return
            except Exception:
                log.exception("reading the bounce mailbox failed; trying again at the next interval")
            self._wake.wait(interval)  # saved settings (or teardown) wake it early

    def _check(self) -> None:
        if self._stop.is_set():
            raise _Stopping

    def stop(self) -> None:
        """At teardown: stop between chunks of messages (a round trip in flight ends by its own timeout)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=35)


class _Stopping(Exception):  # noqa: N818 - a signal, not an error
    pass


def _info(entry: EntryResult, *, counted: bool = False) -> BounceEntryInfo:
    match: Any = entry.match
    return BounceEntryInfo(email=entry.email, kind=entry.kind, label=entry.label, status=entry.status,
                           action=entry.action, diagnostic=entry.diagnostic, matched_by=match.matched_by,
                           run_id=match.run_id, recipient_id=match.recipient_id, contact_id=match.contact_id,
                           counted=counted)


def sender_links(service: Any) -> Callable[[], list[links.LinkSource]]:
    """The link builders a VERP check may come from: the one sending now (the stats module's when installed),
    and the local fallback (messages sent before the stats module was installed, or while it was off)."""

    def sources() -> list[links.LinkSource]:
        current = service.links()
        if isinstance(current, links.LocalLinks):
            return [current]
        return [current, links.LocalLinks(service.link_key)]

    return sources
