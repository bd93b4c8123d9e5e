"""Database reads for the delivery pages, off the GUI thread; results come back on it, newest request only."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger(__name__)


class BackgroundRead(QObject):
    """``read(key, fn, done)`` runs ``fn()`` on the thread pool and calls ``done(result)`` on the GUI thread,
    unless a newer read with the same key was asked for meanwhile (a slow old answer never wins)."""

    _finished = Signal(str, int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._callbacks: dict[tuple[str, int], Callable[[Any], None]] = {}
        self._closed = False
        self._finished.connect(self._deliver)

    def read(self, key: str, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        ticket = next(self._ids)
        self._latest[key] = ticket
        self._callbacks[(key, ticket)] = done
        emit = self._finished.emit

        def work() -> None:
            try:
                result = fn()
            except Exception as exc:
                log.exception("a delivery page read failed")
                result = exc
            emit(key, ticket, result)

        QThreadPool.globalInstance().start(work)

    def _deliver(self, key: str, ticket: int, result: Any) -> None:
        done = self._callbacks.pop((key, ticket), None)
        if done is None or self._closed or self._latest.get(key) != ticket or isinstance(result, Exception):
            return
        done(result)

    def close(self) -> None:
        """Drop answers still on their way, and wait for the reads in flight (they touch the database)."""
        self._closed = True
        QThreadPool.globalInstance().waitForDone(10_000)
