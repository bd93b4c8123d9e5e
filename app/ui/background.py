"""Runs slow work (database reads, renders) on worker threads and hands results back on the GUI thread."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)


class BackgroundWork(QObject):
    """A small private pool for one page; ``done`` callbacks run on the GUI thread, never after ``close()``."""

    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None, *, workers: int = 2, name: str = "page-work") -> None:
        super().__init__(parent)
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._finished.connect(self._deliver)
        self._tickets = itertools.count(1)
        self._latest: dict[str, int] = {}
        self.in_flight = 0

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None] | None = None) -> bool:
        """Start ``work``; False when the pool is already closed (the page is going away)."""
        if self._pool is None:
            return False
        self.in_flight += 1
        future = self._pool.submit(work)

        def finished(f: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the owner is gone; nobody waits for this result
                self._finished.emit((f, done, failed))

        future.add_done_callback(finished)
        return True

    def submit_latest(self, key: str, work: Callable[[], Any], done: Callable[[Any], None],
                      failed: Callable[[BaseException], None] | None = None) -> bool:
        """Like ``submit``, but only the newest request under ``key`` is answered: a slow old read never wins."""
        ticket = next(self._tickets)
        self._latest[key] = ticket

        def if_latest(result: Any) -> None:
            if self._latest.get(key) == ticket:
                done(result)

        return self.submit(work, if_latest, failed)

    @Slot(object)
    def _deliver(self, payload: tuple[Future[Any], Callable[[Any], None], Any]) -> None:
        future, done, failed = payload
        self.in_flight -= 1
        if self._pool is None or future.cancelled():
            return
        error = future.exception()
        if error is None:
            done(future.result())
        elif failed is not None:
            failed(error)
        else:
            log.error("background work failed", exc_info=error)

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    def close(self) -> None:
        """Wait for running work (it is short) and drop what has not started."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class Coalesced(QObject):
    """Many pokes, one call: ``callback`` runs ``interval_ms`` after the first poke of a burst (bus events that
    arrive by the hundred while a send runs repaint a page at most that often)."""

    def __init__(self, parent: QObject, callback: Callable[[], Any], interval_ms: int) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(callback)

    def poke(self, *_args: object) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def on_events(self, bridge: Any, events: Iterable[type], owner: QObject) -> Coalesced:
        """Poke on each of ``events`` delivered by the Qt bridge (unsubscribed when ``owner`` goes)."""
        for event_type in events:
            bridge.subscribe(event_type, self.poke, owner=owner)
        return self

    def stop(self) -> None:
        self._timer.stop()
