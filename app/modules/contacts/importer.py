"""The CSV import engine: reads, validates and merges rows, and writes them in batches that each commit whole."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.kernel.jobs import JobCancelled, JobHandle
from app.modules.contacts import store
from app.modules.contacts.addresses import InvalidAddress
from app.modules.contacts.api import custom_fields
from app.modules.contacts.csvsource import PAUSE_EVERY, CsvFileError, CsvReader, CsvRow, pause
from app.modules.contacts.import_report import (
    MODES,
    SUBSCRIBE_STATUSES,
    ImportOptions,
    ImportProgress,
    ImportReport,
    RejectedRow,
)
from app.modules.contacts.import_runs import finish_notes, finish_run, mark_interrupted_imports, owner
from app.modules.contacts.import_values import (
    DATE_ORDERS,
    LIMITS,
    MAX_TEXT,
    clean_text,
    date_order_hint,
    fast_parse_address,
    first_address,
    to_choice,
    to_date,
    to_language,
    to_number,
    to_time_zone,
)
from app.modules.contacts.import_writer import BatchSettings, BatchWriter, Record
from app.modules.contacts.messages import ContactsChanged, ContactsImported, ListsChanged
from app.modules.contacts.models import FIELD_TYPES, CustomField, ImportRun
from app.modules.contacts.presets import (
    BUILTIN_TARGETS,
    SINGLE_TARGETS,
    boolean_from_text,
    normalise,
    split_tags,
    status_from_text,
)

__all__ = ["ImportOptions", "ImportProblem", "ImportReport", "custom_fields", "mark_interrupted_imports",
           "run_import"]

log = logging.getLogger(__name__)
MAX_MAPPED_COLUMNS = 2000


class ImportProblem(store.ContactsError):
    """The import cannot start (unreadable file, no email column, a bad mapping); nothing was written."""


@dataclass
class _Column:
    index: int
    name: str
    target: str  # a BUILTIN_TARGETS key, or "field"
    key: str = ""
    type: str = "text"
    choices: list[str] = field(default_factory=list)
    grow: bool = False
    date_order: str = "dmy"


def _slug(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", normalise(label)).strip("_")[:56] or "field"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


def _new_field(session: Session, column: str, target: str, fields: dict[str, CustomField],
               by_label: dict[str, CustomField]) -> tuple[CustomField, bool]:
    """The field a "new_field:<label>:<type>" target names: an existing one of that label and type, or a new one."""
    _, label, kind = [*target.split(":", 2), "", ""][:3]
    label = label.strip()
    if not label or kind not in FIELD_TYPES:
        raise ImportProblem(f'column "{column}": a new field needs a label and a type '
                            f"({', '.join(FIELD_TYPES)}), not {target!r}")
    found = by_label.get(normalise(label))
    if found is not None:
        if found.type != kind:
            raise ImportProblem(f'column "{column}": a field called "{found.label}" already exists as a '
                                f"{found.type} field")
        return found, False
    found = CustomField(key=_slug(label, set(fields)), label=label[:200], type=kind, choices=[])
    session.add(found)
    session.flush()
    fields[found.key], by_label[normalise(label)] = found, found
    return found, True


def _plan(columns: list[str], options: ImportOptions, session: Session) -> tuple[list[_Column], bool]:
    """Check the mapping and create the new custom fields it asks for; returns the columns and whether fields were
    created."""
    mapped = {i: t for i, t in options.mapping.items() if t}
    if len(mapped) > MAX_MAPPED_COLUMNS:
        raise ImportProblem(f"{len(mapped):,} columns are mapped; at most {MAX_MAPPED_COLUMNS:,} can be imported at "
                            "once (set the others to ignore)")
    fields = {f.key: f for f in session.scalars(select(CustomField))}
    by_label = {normalise(f.label): f for f in fields.values()}
    plan: list[_Column] = []
    seen: dict[str, str] = {}
    created = False
    for index, asked in sorted(mapped.items()):
        if not 0 <= index < len(columns):
            raise ImportProblem(f"column {index + 1} is mapped but the file has only {len(columns)} columns")
        name = columns[index]
        target = asked
        if asked.startswith("new_field:"):
            found, new = _new_field(session, name, asked, fields, by_label)
            created = created or new
            target = f"field:{found.key}"
        if target.startswith("field:"):
            info = fields.get(target[6:])
            if info is None:
                raise ImportProblem(f'column "{name}" is mapped to a custom field that does not exist ({target[6:]})')
            column = _Column(index, name, "field", info.key, info.type, list(info.choices or []),
                             grow=not info.choices)
        elif target in BUILTIN_TARGETS:
            column = _Column(index, name, target)
        else:
            raise ImportProblem(f'column "{name}": unknown field {target!r}')
        owner = column.key or column.target
        if owner in seen and (column.target in SINGLE_TARGETS or column.target == "field"):
            raise ImportProblem(f'columns "{seen[owner]}" and "{name}" are both mapped to the same field')
        seen[owner] = name
        plan.append(column)
    if not any(c.target == "email" for c in plan):
        raise ImportProblem("no column is mapped to the email address")
    return plan, created


class _Import:
    def __init__(self, db: Database, options: ImportOptions, report: ImportReport, *, handle: JobHandle | None,
                 on_progress: Callable[[ImportProgress], None] | None) -> None:
        self.db, self.options, self.report = db, options, report
        self.handle, self.on_progress = handle, on_progress
        self.columns: list[_Column] = []
        self.email_index = 0
        self.seen: set[str] = set()
        self.skipped: set[str] = set()
        self.dates_decided = False

    # -- rows ----------------------------------------------------------------------------------------------------

    def decide_date_orders(self, batch: list[CsvRow]) -> None:
        for column in self.columns:
            if column.type != "date" or column.target != "field":
                continue
            if self.options.date_order in DATE_ORDERS:
                column.date_order = self.options.date_order
                continue
            hints = [date_order_hint(row.values[column.index]) for row in batch if not row.problem]
            dmy, mdy = hints.count("dmy"), hints.count("mdy")
            column.date_order = "mdy" if mdy > dmy else "dmy"
            self.report.notes.append(f'Dates in "{column.name}" were read as {DATE_ORDERS[column.date_order]}.')

    def parse(self, row: CsvRow) -> Record | RejectedRow:
        values = row.values
        if row.problem:
            return RejectedRow(row.number, values, f"row {row.number}: {row.problem}")
        raw = first_address(values[self.email_index])
        if not raw.strip():
            return RejectedRow(row.number, values, f"row {row.number}: there is no email address")
        try:
            address = fast_parse_address(raw)
        except InvalidAddress as exc:
            return RejectedRow(row.number, values, f'row {row.number}: "{raw.strip()[:80]}" is not a valid email '
                                                   f"address: {exc}")
        record = Record(row.number, values, address.email, address.key)
        for column in self.columns:
            text = values[column.index]
            if not text or text.isspace() or column.target == "email":
                continue
            try:
                self._put(record, column, text)
            except ValueError as exc:
                return RejectedRow(row.number, values, f'row {row.number}, column "{column.name}": {exc}')
        return record

    @staticmethod
    def _put(record: Record, column: _Column, text: str) -> None:
        target = column.target
        if target in ("first_name", "last_name"):
            setattr(record, target, clean_text(text, LIMITS[target], "the name"))
        elif target == "language":
            record.language = to_language(text)
        elif target == "time_zone":
            record.time_zone = to_time_zone(text)
        elif target == "tags":
            record.tags.extend(t for t in split_tags(text) if t not in record.tags)
        elif target == "status":
            record.status = status_from_text(text) or record.status
        elif target == "unsubscribed":
            if boolean_from_text(text):
                record.status = "unsubscribed"
        elif column.type == "number":
            record.fields[column.key] = to_number(text)
        elif column.type == "date":
            record.fields[column.key] = to_date(text, column.date_order)
        elif column.type == "boolean":
            record.fields[column.key] = boolean_from_text(text)
        elif column.type == "choice":
            record.fields[column.key] = to_choice(text, column.choices, column.grow)
        else:
            record.fields[column.key] = clean_text(text, MAX_TEXT, "the text")

    def prepare(self, batch: list[CsvRow]) -> tuple[list[Record], set[str], list[RejectedRow], int, int]:
        """Parse a batch and merge its duplicates: (records, keys already written, rejected, invalid, duplicates)."""
        records: dict[str, Record] = {}
        late: set[str] = set()
        rejects: list[RejectedRow] = []
        duplicates = 0
        for number, row in enumerate(batch, start=1):
            if not number % PAUSE_EVERY:
                pause()
            parsed = self.parse(row)
            if isinstance(parsed, RejectedRow):
                rejects.append(parsed)
                continue
            key = parsed.key
            if key in records:
                records[key].fill_from(parsed)
                duplicates += 1
            elif key in self.skipped:
                duplicates += 1
            else:
                if key in self.seen:
                    late.add(key)
                    duplicates += 1
                records[key] = parsed
        return list(records.values()), late, rejects, len(rejects), duplicates

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self, reader: CsvReader, run_id: int, writer: BatchWriter) -> None:
        rows = reader.rows()
        report, counts = self.report, self.report.counts
        while True:
            if self.handle is not None:
                self.handle.check()
            batch = list(islice(rows, max(1, self.options.batch_size)))
            if not batch:
                return
            if not self.dates_decided:
                self.decide_date_orders(batch)
                self.dates_decided = True
            gc.freeze()
            choices_before = {c.key: len(c.choices) for c in self.columns if c.grow}
            records, late, rejects, invalid, duplicates = self.prepare(batch)
            gc.freeze()
            with self.db.transaction() as session:
                result = writer.write(session, records, late)
                for column in self.columns:
                    if column.grow and len(column.choices) != choices_before[column.key]:
                        session.execute(update(CustomField).where(CustomField.key == column.key)
                                        .values(choices=list(column.choices)))
                pending = dict(counts)
                pending["read"] += len(batch)
                pending["invalid"] += invalid
                pending["duplicates_in_file"] += duplicates
                for name, value in result.counts.items():
                    pending[name] += value
                session.execute(update(ImportRun).where(ImportRun.id == run_id).values(
                    rows_committed=report.rows_committed + len(batch),
                    counts={**pending, "rejected": report.rejected_count + len(rejects) + len(result.rejects),
                            "_heartbeat": utcnow().isoformat()}))
            # Committed: only now does the report count this batch (a failed batch leaves no trace in either).
            counts.update(pending)
            report.rows_committed += len(batch)
            report.add_rejects(sorted(rejects + result.rejects, key=lambda r: r.row))
            report.add_flags(result.flags)
            self.seen.update(result.written_keys)
            self.skipped.update(result.skipped_keys)
            gc.freeze()
            self._progress(reader)

    def forget(self) -> None:
        """Drop the million keys a big import remembers a slice at a time: freeing them at once held the GIL
        (and so froze the window) for about 90 ms."""
        for keys in (self.seen, self.skipped):
            while keys:
                for _ in range(min(len(keys), 20_000)):
                    keys.pop()
                pause()

    def _progress(self, reader: CsvReader) -> None:
        rows = self.report.counts["read"]
        position = reader.position()
        total = int(rows * reader.size_bytes / position) if position and reader.size_bytes else None
        counts = self.report.counts
        text = f"{counts['created']:,} new, {counts['updated']:,} updated, {self.report.rejected_count:,} rejected"
        if self.handle is not None:
            self.handle.report(rows, total, text)
        if self.on_progress is not None:
            self.on_progress(ImportProgress(rows, total, dict(counts)))


@contextmanager
def _quiet_collector() -> Iterator[None]:
    """Keep the objects that existed before the import out of the cyclic collector's full passes while it runs.

    An import makes millions of short-lived objects, which triggers full collections; each one walked every object of
    the app (about 80 ms here) while holding the GIL, which stalled the GUI thread. Frozen objects are only skipped,
    not lost: they are handed back to the collector when the import ends. The batch loop freezes again at each step,
    so a batch's thousands of rows never sit in the generations a full collection walks (they are still freed by
    reference counting as soon as the batch is done: only cycles wait for the end).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_options(options: ImportOptions) -> None:
    if options.mode not in MODES:
        raise ImportProblem(f"unknown mode {options.mode!r} (update or skip_existing)")
    if options.subscribe_status not in SUBSCRIBE_STATUSES:
        raise ImportProblem(f"unknown subscription status {options.subscribe_status!r} (subscribed or unconfirmed)")
    if options.date_order not in ("auto", *DATE_ORDERS):
        raise ImportProblem(f"unknown date order {options.date_order!r} (auto, dmy or mdy)")
    if any(len(tag.strip()) > 100 for tag in options.tags):
        raise ImportProblem("a tag is at most 100 characters long")


def run_import(db: Database, bus: MessageBus, path: Path, options: ImportOptions, handle: JobHandle | None = None,
               *, on_progress: Callable[[ImportProgress], None] | None = None) -> ImportReport:
    """Import ``path``; returns the report (status done, cancelled or failed). Raises :class:`ImportProblem` when the
    import cannot start, before anything is written."""
    path = Path(path)
    _check_options(options)
    try:
        reader = CsvReader(path, options.encoding, options.delimiter)
    except CsvFileError as exc:
        raise ImportProblem(str(exc)) from None
    with reader:
        report = ImportReport(path.name, list(reader.columns))
        report.notes.extend(reader.notes)
        with db.transaction() as session:
            plan, fields_created = _plan(reader.columns, options, session)
            target = None
            list_created = False
            if options.list_name.strip():
                list_created = store.list_by_name(session, options.list_name) is None
                target = store.get_or_create_list(session, options.list_name[:200])
            run = ImportRun(file_name=path.name[:500], status="running",
                            options={**options.to_json(), "_owner": owner()}, counts={}, rows_committed=0)
            session.add(run)
            session.flush()
            report.import_id, report.list_id = run.id, target.id if target else None
        settings = BatchSettings(
            list_id=report.list_id, mode=options.mode, subscribe_status=options.subscribe_status,
            file_status=options.file_status, consent_source=options.consent_source.strip() or f"import: {path.name}",
            consent_method=options.consent_method or "import", consent_text_version=options.consent_text_version,
            option_tags=[t.strip() for t in options.tags if t.strip()], file_name=path.name)
        job = _Import(db, options, report, handle=handle, on_progress=on_progress)
        job.columns = plan
        job.email_index = next(c.index for c in plan if c.target == "email")
        writer = BatchWriter(settings)
        try:
            with _quiet_collector():
                job.run(reader, report.import_id, writer)
            report.status = "done"
        except JobCancelled:
            report.status = "cancelled"
        except Exception as exc:
            log.exception("import of %s failed", path.name)
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            job.forget()
        finish_notes(report, reader)
        finish_run(db, report)
    if report.rows_committed:
        bus.publish(ContactsChanged())
    if fields_created or list_created or writer.met_tags:
        bus.publish(ListsChanged())
    bus.publish(ContactsImported(import_id=report.import_id or 0, file_name=path.name,
                                 created=report.counts["created"], updated=report.counts["updated"],
                                 list_id=report.list_id))
    return report
