"""What an import is asked (ImportOptions) and what it answers (ImportReport, with its rejected rows as CSV)."""

from __future__ import annotations

import csv
import tempfile
import threading
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

MODES = ("update", "skip_existing")
SUBSCRIBE_STATUSES = ("subscribed", "unconfirmed")
KEPT_IN_MEMORY = 1000  # rejected and flagged rows the dialog can list; all rejected rows go to the CSV
COUNT_NAMES = ("read", "created", "updated", "unchanged", "skipped", "duplicates_in_file", "invalid", "suppressed",
               "newly_suppressed", "kept_unsubscribed", "role_addresses", "typo_suggestions")
COUNT_LABELS = {
    "read": "Rows read",
    "created": "New contacts",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "skipped": "Existing, left alone",
    "duplicates_in_file": "Duplicates in the file (merged)",
    "invalid": "Invalid rows",
    "suppressed": "Suppressed (not imported)",
    "newly_suppressed": "Added to the suppression list",
    "kept_unsubscribed": "Kept unsubscribed",
    "role_addresses": "Role addresses",
    "typo_suggestions": "Possible typos",
}


@dataclass
class ImportOptions:
    """How to import. ``mapping`` maps a column index to a target: "email", "first_name", "last_name", "language",
    "time_zone", "tags", "status", "unsubscribed", "field:<key>", "new_field:<label>:<type>" or "" (ignore)."""

    mapping: dict[int, str]
    list_name: str = ""
    tags: list[str] = field(default_factory=list)
    consent_source: str = ""  # default "import: <file name>"
    consent_method: str = "import"
    consent_text_version: str = ""
    mode: str = "update"  # or "skip_existing"
    subscribe_status: str = "subscribed"  # or "unconfirmed"
    file_status: str | None = None  # every row's status, from a preset (Mailchimp's unsubscribed export)
    encoding: str | None = None  # None: detected
    delimiter: str | None = None
    date_order: str = "auto"  # "auto", "dmy" or "mdy"
    batch_size: int = 5000

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mapping"] = {str(index): target for index, target in sorted(self.mapping.items()) if target}
        return data


@dataclass(frozen=True)
class RejectedRow:
    row: int
    values: list[str]
    reason: str


@dataclass(frozen=True)
class FlaggedRow:
    """Imported, but worth a look: a role address or a likely typo (never rewritten)."""

    row: int
    email: str
    note: str


@dataclass
class ImportProgress:
    """What the dialog shows while an import runs (handed over from the worker thread)."""

    rows: int
    estimated_total: int | None
    counts: dict[str, int]


class _Spool:
    """Rejected rows on disk as they happen, so a file of a million bad rows costs no memory."""

    def __init__(self) -> None:
        self.file: TextIO = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        self.lock = threading.Lock()


def _neutralise(value: str) -> str:
    # A spreadsheet would run "=HYPERLINK(...)" from a hostile cell: keep such cells as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\x00") else value


@dataclass
class ImportReport:
    """Counts, notes and rejected rows of one import. ``status``: done, cancelled or failed."""

    file_name: str
    columns: list[str] = field(default_factory=list)
    import_id: int | None = None
    status: str = "running"
    error: str = ""
    list_id: int | None = None
    rows_committed: int = 0
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    rejected: list[RejectedRow] = field(default_factory=list)  # the first KEPT_IN_MEMORY
    rejected_count: int = 0
    flagged: list[FlaggedRow] = field(default_factory=list)  # the first KEPT_IN_MEMORY

    def __post_init__(self) -> None:
        self._spool = _Spool()
        weakref.finalize(self, self._spool.file.close)

    def __getattr__(self, name: str) -> int:
        # report.created, report.invalid ... read the counts.
        if name in COUNT_NAMES:
            return self.__dict__["counts"][name]
        raise AttributeError(name)

    def add_rejects(self, rows: list[RejectedRow]) -> None:
        with self._spool.lock:
            for row in rows:
                self._spool.writer.writerow([row.row, row.reason, *[_neutralise(v) for v in row.values]])
        room = KEPT_IN_MEMORY - len(self.rejected)
        if room > 0:
            self.rejected.extend(rows[:room])
        self.rejected_count += len(rows)

    def add_flags(self, rows: list[FlaggedRow]) -> None:
        room = KEPT_IN_MEMORY - len(self.flagged)
        if room > 0:
            self.flagged.extend(rows[:room])

    def write_rejects(self, path: Path) -> int:
        """Write every rejected row with its row number and reason (then the original columns); returns how many."""
        with self._spool.lock, Path(path).open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["Row", "Reason", *self.columns])
            spool = self._spool.file
            spool.flush()
            spool.seek(0)
            for line in iter(lambda: spool.read(1 << 20), ""):
                out.write(line)
            spool.seek(0, 2)
        return self.rejected_count

    def close(self) -> None:
        self._spool.file.close()

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c['read']:,} rows read", f"{c['created']:,} new", f"{c['updated']:,} updated",
                 f"{c['unchanged']:,} unchanged"]
        parts += [f"{c[name]:,} {label}" for name, label in (
            ("skipped", "left alone"), ("duplicates_in_file", "duplicates merged"), ("invalid", "invalid"),
            ("suppressed", "suppressed"), ("newly_suppressed", "added to suppressions"),
            ("role_addresses", "role addresses"), ("typo_suggestions", "possible typos")) if c[name]]
        return ", ".join(parts)
