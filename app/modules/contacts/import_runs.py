"""Bookkeeping of ImportRun rows: who runs an import, how it ended, and which "running" ones were killed."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy import select, update

from app.kernel.database import Database, utcnow
from app.modules.contacts.csvsource import CsvReader
from app.modules.contacts.import_report import ImportReport
from app.modules.contacts.models import ImportRun

STALE_AFTER = dt.timedelta(minutes=15)  # a running import commits far more often than this


def owner() -> dict[str, Any]:
    """Recorded with a run, so a later start can tell a killed import from one another process is running."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def finish_notes(report: ImportReport, reader: CsvReader) -> None:
    """The notes a person needs about how the file was read and how the import ended."""
    if reader.format.encoding == "utf-8-sig":
        report.notes.insert(0, "The file starts with a byte order mark (BOM); it was removed.")
    if reader.fallback_bytes:
        report.notes.append(f"{reader.fallback_bytes:,} bytes were not valid {reader.format.label.split(',')[0]} "
                            "(a mixed-up file?) and were read as Windows-1252.")
    if reader.nul_rows:
        shown = ", ".join(str(n) for n in reader.nul_rows[:10]) + (" ..." if len(reader.nul_rows) > 10 else "")
        report.notes.append(f"NUL bytes were removed from {len(reader.nul_rows):,} rows (rows {shown}).")
    if reader.wide_rows:
        report.notes.append(f"{reader.wide_rows:,} rows had more values than the header has columns; "
                            "the extra values were ignored.")
    if report.status == "cancelled":
        report.notes.append(f"Cancelled: the first {report.rows_committed:,} rows were imported, in whole batches; "
                            "nothing after them was.")
    if report.status == "failed":
        report.notes.append(f"The import stopped with an error after {report.rows_committed:,} rows; those rows were "
                            "imported in whole batches and nothing after them was.")


def finish_run(db: Database, report: ImportReport) -> None:
    with db.transaction() as session:
        session.execute(update(ImportRun).where(ImportRun.id == report.import_id).values(
            status=report.status, finished_at=utcnow(), error=report.error, rows_committed=report.rows_committed,
            counts={**report.counts, "rejected": report.rejected_count, "notes": report.notes[:50]}))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_imports(db: Database) -> int:
    """Imports still "running" whose process is gone were killed: mark them "interrupted". Call at start-up."""
    now = utcnow()
    host = socket.gethostname()
    marked = 0
    with db.transaction() as session:
        for run in session.scalars(select(ImportRun).where(ImportRun.status == "running")):
            owner = (run.options or {}).get("_owner") or {}
            beat = (run.counts or {}).get("_heartbeat")
            last = dt.datetime.fromisoformat(beat) if isinstance(beat, str) else run.started_at
            if owner.get("host") == host and isinstance(owner.get("pid"), int):
                dead = not _alive(owner["pid"]) or now - last > STALE_AFTER * 8
            else:
                dead = now - last > STALE_AFTER
            if not dead:
                continue
            run.status = "interrupted"
            run.finished_at = now
            run.error = (f"Postroom stopped during this import (closed or crashed). The first {run.rows_committed:,} "
                         "rows were imported in whole batches; import the file again to bring in the rest "
                         "(existing contacts are recognised).")
            marked += 1
    return marked
