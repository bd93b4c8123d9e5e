"""Background jobs report progress, cancel cleanly and say how they ended; logs are JSON lines."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from app.kernel.bus import MessageBus
from app.kernel.events import CancelJob, JobFinished, JobProgressed, JobStarted
from app.kernel.jobs import JobCancelled, JobHandle, JobRunner
from app.kernel.logs import configure_logging
from app.kernel.messages import Event


@pytest.fixture
def bus_and_runner() -> tuple[MessageBus, JobRunner, list[Event]]:
    bus = MessageBus()
    seen: list[Event] = []
    lock = threading.Lock()

    def record(event: Event) -> None:
        with lock:
            seen.append(event)

    bus.subscribe(Event, record)
    runner = JobRunner(bus, max_workers=2)
    yield bus, runner, seen  # type: ignore[misc]
    runner.shutdown()


def test_a_job_reports_progress_and_its_result(bus_and_runner: tuple[MessageBus, JobRunner, list[Event]]) -> None:
    _bus, runner, seen = bus_and_runner

    def count(handle: JobHandle) -> int:
        for i in range(5):
            handle.report(i + 1, 5, f"row {i + 1}", force=True)
        return 5

    future = runner.start("Import contacts", count, summary=lambda n: f"{n} rows")
    assert future.result(timeout=5) == 5
    kinds = [type(e) for e in seen]
    assert kinds[0] is JobStarted
    assert kinds.count(JobProgressed) == 5
    finished = [e for e in seen if isinstance(e, JobFinished)]
    assert [(f.outcome, f.text) for f in finished] == [("done", "5 rows")]


def test_cancel_stops_a_job_between_units_of_work(bus_and_runner: tuple[MessageBus, JobRunner, list[Event]]) -> None:
    bus, runner, seen = bus_and_runner
    started = threading.Event()
    done_units: list[int] = []

    def long(handle: JobHandle) -> None:
        for i in range(10_000):
            started.set()
            handle.check()
            done_units.append(i)
            threading.Event().wait(0.001)

    future = runner.start("Export", long)
    started.wait(5)
    job_id = next(e.job_id for e in seen if isinstance(e, JobStarted))
    assert bus.execute(CancelJob(job_id=job_id)) is True
    with pytest.raises(JobCancelled):
        future.result(timeout=5)
    assert len(done_units) < 10_000
    assert any(isinstance(e, JobFinished) and e.outcome == "cancelled" for e in seen)
    assert bus.execute(CancelJob(job_id=job_id)) is False  # already finished


def test_a_failing_job_says_why(bus_and_runner: tuple[MessageBus, JobRunner, list[Event]]) -> None:
    _bus, runner, seen = bus_and_runner

    def fail(_handle: JobHandle) -> None:
        raise OSError("disk full")

    future = runner.start("Export", fail)
    with pytest.raises(OSError):
        future.result(timeout=5)
    finished = [e for e in seen if isinstance(e, JobFinished)]
    assert [(f.outcome, f.text) for f in finished] == [("failed", "disk full")]


def test_logs_are_json_lines_with_their_extra_fields(tmp_path: Path) -> None:
    handler = configure_logging(tmp_path / "logs" / "postroom.log")
    try:
        logging.getLogger("app.test").warning("campaign paused", extra={"campaign_id": 7})
        try:
            raise ValueError("smtp refused")
        except ValueError:
            logging.getLogger("app.test").exception("send failed")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    lines = [json.loads(line) for line in (tmp_path / "logs" / "postroom.log").read_text().splitlines()]
    assert lines[0]["message"] == "campaign paused"
    assert lines[0]["campaign_id"] == 7
    assert lines[0]["level"] == "WARNING"
    assert "smtp refused" in lines[1]["exception"]
