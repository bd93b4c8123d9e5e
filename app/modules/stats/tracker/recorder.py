"""Group commit: requests hand their event to one writer thread and wait until it is durably stored.

While one batch is being committed (an fsync), the next requests queue up and go in the next transaction, so a
few thousand events a second cost a few hundred commits, and no request is answered before its event is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.kernel.database import Database
from app.modules.stats.store import SQLITE_INSERT, insert_events, sqlite_values

log = logging.getLogger(__name__)

MAX_BATCH = 2000
CHECKPOINT_SECONDS = 0.05  # small, frequent checkpoints: one big one stalls commits for 50 ms


class RecorderStopped(RuntimeError):  # noqa: N818 - what happened, in the user's words
    """The endpoint is shutting down; the event was not stored."""


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the client went away meanwhile; its event is stored all the same
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class EventRecorder:
    """Stores events in batches on its own thread; ``await record(row)`` returns once the row is committed."""

    def __init__(self, db: Database, *, on_commit: Callable[[set[str]], None] | None = None,
                 max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[tuple[Mapping[str, Any], asyncio.Future[None] | None]] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._raw: Any = None
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_stop = threading.Event()
        self._dirty = threading.Event()
        self.stored = 0
        self.failed = 0

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._pending)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="postroom-tracker-writer", daemon=False)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, row: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue ``row`` (from the event loop); the returned future completes when it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._cond:
            if self._stopping:
                raise RecorderStopped("the tracking endpoint is stopping")
            self._pending.append((row, future))
            if len(self._pending) == 1:
                self._cond.notify()
        return future

    async def record(self, row: Mapping[str, Any]) -> None:
        await self.submit(row)

    def record_now(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store rows from a plain thread, waiting for the commit."""
        with self._db.transaction() as session:
            insert_events(session, rows)
        if self._on_commit is not None:
            self._on_commit({str(row["kind"]) for row in rows})

    def _insert(self, rows: list[Mapping[str, Any]]) -> None:
        if not self._db.is_sqlite:
            with self._db.transaction() as session:
                insert_events(session, rows)
            return
        # On SQLite the writer keeps one connection (with the kernel's pragmas) and drives it directly: under
        # load it shares the GIL with the event loop, and every microsecond of Python here delays a commit.
        if self._raw is None:
            self._raw = self._db.engine.raw_connection()
            self._raw.driver_connection.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = threading.Thread(target=self._checkpoints, name="postroom-tracker-checkpoint",
                                                  daemon=False)
            self._checkpointer.start()
        connection = self._raw.driver_connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(SQLITE_INSERT, [sqlite_values(row) for row in rows])
            connection.execute("COMMIT")
            self._dirty.set()
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _checkpoints(self) -> None:
        """Copy the WAL into the database file off the writer's path (a checkpoint can take 50 ms)."""
        raw = self._db.engine.raw_connection()
        connection: Any = raw.driver_connection
        try:
            while not self._checkpoint_stop.is_set():
                self._dirty.wait()  # sleeps while nothing is written
                self._checkpoint_stop.wait(CHECKPOINT_SECONDS)
                self._dirty.clear()
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.exception("tracking checkpoint failed")
        finally:
            raw.close()

    def _close_raw(self) -> None:
        self._checkpoint_stop.set()
        self._dirty.set()
        if self._checkpointer is not None:
            self._checkpointer.join(30)
            self._checkpointer = None
        if self._raw is not None:
            # The connection goes back to the pool: give it its automatic checkpoints back.
            self._raw.driver_connection.execute("PRAGMA wal_autocheckpoint = 1000")
            self._raw.close()
            self._raw = None

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._close_raw()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            error: BaseException | None = None
            try:
                self._insert([row for row, _ in batch])
                self.stored += len(batch)
            except Exception as exc:
                log.exception("could not store %d tracking events", len(batch))
                self.failed += len(batch)
                error = RuntimeError(f"the tracking events could not be stored: {exc}")
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
            for _, future in batch:
                if future is not None:
                    by_loop[future.get_loop()].append(future)
            for loop, futures in by_loop.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, futures, error)
            if error is None and self._on_commit is not None:
                try:
                    self._on_commit({str(row["kind"]) for row, _ in batch})
                except Exception:
                    log.exception("the tracking commit callback failed")
