"""Background jobs with progress and cancel, announced on the bus so the status bar can show them."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.kernel.bus import MessageBus
from app.kernel.events import CancelJob, JobFinished, JobProgressed, JobStarted

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobCancelled(Exception):  # noqa: N818 - what happened, in the user's words
    """Raised inside a job when the user asked it to stop."""


@dataclass
class JobHandle:
    """What a running job sees: report progress, and check whether it should stop."""

    job_id: int
    title: str
    _bus: MessageBus
    _cancel: threading.Event = field(default_factory=threading.Event)
    _min_interval: float = 0.1
    _last_report: float = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the user pressed cancel; call between units of work."""
        if self._cancel.is_set():
            raise JobCancelled(self.title)

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, done: int, total: int | None = None, text: str = "", *, force: bool = False) -> None:
        """Publish progress, at most ten times a second unless ``force``."""
        import time

        now = time.monotonic()
        if not force and now - self._last_report < self._min_interval:
            return
        self._last_report = now
        self._bus.publish(JobProgressed(job_id=self.job_id, done=done, total=total, text=text))


class JobRunner:
    """Runs jobs on a small thread pool. A job is a function of its :class:`JobHandle`."""

    def __init__(self, bus: MessageBus, max_workers: int = 4) -> None:
        self._bus = bus
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="postroom-job")
        self._ids = itertools.count(1)
        self._running: dict[int, JobHandle] = {}
        self._lock = threading.Lock()
        bus.handle(CancelJob, self._on_cancel)

    def _on_cancel(self, command: CancelJob) -> bool:
        with self._lock:
            handle = self._running.get(command.job_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    def running(self) -> list[JobHandle]:
        with self._lock:
            return list(self._running.values())

    def start(self, title: str, work: Callable[[JobHandle], T], *, cancellable: bool = True,
              summary: Callable[[T], str] | None = None) -> Future[T]:
        """Start ``work`` in the background; its result (or error) is in the returned future."""
        handle = JobHandle(next(self._ids), title, self._bus)
        with self._lock:
            self._running[handle.job_id] = handle
        self._bus.publish(JobStarted(job_id=handle.job_id, title=title, cancellable=cancellable))
        return self._pool.submit(self._run, handle, work, summary)

    def _run(self, handle: JobHandle, work: Callable[[JobHandle], T],
             summary: Callable[[T], str] | None) -> T:
        outcome, text = "failed", ""
        try:
            result = work(handle)
            outcome, text = "done", (summary(result) if summary else "")
            return result
        except JobCancelled:
            outcome, text = "cancelled", "Cancelled"
            raise
        except Exception as exc:
            log.exception("job %r failed", handle.title)
            text = str(exc) or type(exc).__name__
            raise
        finally:
            with self._lock:
                self._running.pop(handle.job_id, None)
            self._bus.publish(JobFinished(job_id=handle.job_id, title=handle.title, outcome=outcome, text=text))

    def shutdown(self, wait: bool = True) -> None:
        for handle in self.running():
            handle.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)


def run_inline(work: Callable[[JobHandle], Any], bus: MessageBus, title: str = "job") -> Any:
    """Run a job's function on this thread (command line): same handle, no pool."""
    return work(JobHandle(0, title, bus))
