"""The background sender's host: a worker process (or thread) with its own asyncio loop, started when a run needs
it; its reports come back through a queue and are relayed to the bus by one thread in the app.

The worker writes recipient states to SQLite itself; the queue only carries news. One worker at a time per data
folder (a file lock), so a second Postroom, or `postroom delivery run`, cannot mark another's messages unknown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from app.kernel.locks import ExclusiveFileLock
from app.modules.delivery.config import WorkerConfig

log = logging.getLogger(__name__)
Report = dict[str, Any]


def _drain(control: Any) -> list[Any]:
    messages = []
    while True:
        try:
            messages.append(control.get_nowait())
        except queue.Empty:
            return messages
        except (OSError, ValueError, EOFError):  # the app's end of the queue is gone
            return ["stop"]


def worker_main(config: WorkerConfig, control: Any, reports: Any, watch_parent: bool = False) -> None:
    """Run the sender until no run is left to send (or until told to stop); the same in a thread or a process."""
    from app.kernel.database import Database
    from app.modules.delivery import store
    from app.modules.delivery.sender import Sender

    lock = ExclusiveFileLock(config.lock_path)
    if not lock.acquire():
        reports.put({"type": "exit", "error": "another Postroom is already sending from this data folder"})
        return
    db = Database(config.database_url)
    error = ""
    try:
        recovered = store.recover(db)
        if recovered:
            reports.put({"type": "recovered", "count": recovered})
        parent = os.getppid()

        def poll() -> list[Any]:
            messages = _drain(control)
            if watch_parent and os.getppid() != parent:  # the app died: stop cleanly rather than send on alone
                messages.append("stop")
            return messages

        asyncio.run(Sender(config, db, report=reports.put, poll_control=poll).run())
    except BaseException as exc:
        log.exception("the sender failed")
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Exception):
            raise
    finally:
        db.dispose()
        lock.release()
        reports.put({"type": "exit", "error": error})


def process_main(config: WorkerConfig, control: Any, reports: Any) -> None:
    """Entry point of the worker process (spawned, so it shares nothing with the GUI process but the files)."""
    logging.basicConfig(level=logging.WARNING)
    worker_main(config, control, reports, watch_parent=True)


class WorkerHost:
    """Starts the worker when there is work, relays its reports, restarts it after a crash, stops it at teardown."""

    RESTARTS_PER_MINUTE = 3

    def __init__(self, *, config_factory: Callable[[], WorkerConfig], on_report: Callable[[Report], None],
                 has_work: Callable[[], bool], mode: str = "process", stop_timeout: float = 15.0,
                 on_give_up: Callable[[str], None] | None = None) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"unknown worker mode {mode!r}")
        self.mode = mode
        self._config_factory = config_factory
        self._on_report = on_report
        self._has_work = has_work
        self._stop_timeout = stop_timeout
        self._lock = threading.RLock()
        self._worker: Any = None
        self._control: Any = None
        self._reports: Any = None
        self._relay: threading.Thread | None = None
        self._closing = False
        self._failures: list[float] = []
        self._on_give_up = on_give_up

    @property
    def running(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive()

    @property
    def active(self) -> bool:
        """The worker runs, or is between an exit and its restart (the relay still watches)."""
        relay = self._relay
        return self.running or (relay is not None and relay.is_alive())

    def ensure_running(self) -> None:
        """Start the worker, or wake it so it notices a new or resumed run."""
        with self._lock:
            if self._closing:
                return
            if self.running:
                self._control.put(self._config_factory())  # accounts may have changed since it started
                self._control.put("wake")
                return
            self._start()

    def _start(self) -> None:
        config = self._config_factory()
        if self.mode == "process":
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and threads
            self._control, self._reports = context.Queue(), context.Queue()
            self._worker = context.Process(target=process_main, args=(config, self._control, self._reports),
                                           name="postroom-sender", daemon=True)
        else:
            self._control, self._reports = queue.Queue(), queue.Queue()
            self._worker = threading.Thread(target=worker_main, args=(config, self._control, self._reports),
                                            name="postroom-sender")
        self._worker.start()
        # The relay clears _relay (under the lock) before it ends, so this never leaves a worker without one.
        if self._relay is None:
            self._relay = threading.Thread(target=self._relay_loop, name="postroom-sender-relay")
            self._relay.start()

    def _relay_loop(self) -> None:
        last_tick = time.monotonic()
        while True:
            with self._lock:
                reports, worker = self._reports, self._worker
            try:
                message = reports.get(timeout=0.25)
            except queue.Empty:
                message = None
            except (OSError, ValueError, EOFError):
                message = {"type": "exit", "error": "the sender's queue closed"}
            if message is None and worker is not None and not worker.is_alive():
                code = getattr(worker, "exitcode", None)
                message = {"type": "exit", "error": "" if code in (0, None) else
                           f"the sender process ended unexpectedly (exit code {code})"}
            if message is not None:
                self._deliver(message)
                if message.get("type") == "exit" and self._after_exit(message, worker):
                    return
            if time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                self._deliver({"type": "tick"})

    def _deliver(self, message: Report) -> None:
        try:
            self._on_report(message)
        except Exception:
            log.exception("handling a sender report failed")

    def _after_exit(self, message: Report, worker: Any) -> bool:
        """Restart when work remains; True when the relay should end."""
        if worker is not None:
            worker.join(timeout=self._stop_timeout)
        with self._lock:
            if worker is not self._worker:
                return False
            self._worker = None
            if message.get("error"):
                now = time.monotonic()
                self._failures = [t for t in self._failures if now - t < 60] + [now]
            if self._closing or len(self._failures) >= self.RESTARTS_PER_MINUTE:
                self._relay = None
                if not self._closing and self._on_give_up is not None:
                    self._on_give_up(str(message.get("error")))
                return True
            try:
                more = self._has_work()
            except Exception:
                log.exception("cannot tell whether runs are waiting")
                more = False
            if more and "already sending" not in str(message.get("error")):
                self._start()
                return False
            self._relay = None
            return True

    def stop(self) -> None:
        """Ask the worker to finish its in-flight messages and stop; wait for it and for the relay."""
        with self._lock:
            self._closing = True
            worker, relay = self._worker, self._relay
            if worker is not None and worker.is_alive():
                self._control.put("stop")
        if worker is not None:
            worker.join(timeout=self._stop_timeout)
            if worker.is_alive() and self.mode == "process":
                log.error("the sender did not stop in time; ending it (its in-flight messages become unknown)")
                worker.kill()
                worker.join(timeout=5)
        if relay is not None:
            relay.join(timeout=self._stop_timeout)
