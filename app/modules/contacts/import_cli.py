"""``postroom contacts import FILE``: the CSV import from the command line, inline, with Ctrl-C stopping cleanly."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.jobs import JobHandle
from app.kernel.registry import ModuleContext
from app.modules.contacts.csvsource import ENCODINGS, CsvFileError, CsvReader
from app.modules.contacts.import_report import COUNT_LABELS, ImportProgress, ImportReport
from app.modules.contacts.importer import ImportOptions, ImportProblem, custom_fields, run_import
from app.modules.contacts.presets import BUILTIN_TARGETS, FieldInfo, normalise, suggest_mapping

_TARGET_WORDS = {normalise(word): target for target, label in BUILTIN_TARGETS.items() for word in (target, label)}
_TARGET_WORDS.update({"ignore": "", "skip": "", "none": "", "email address": "email", "e mail": "email",
                      "first": "first_name", "last": "last_name", "timezone": "time_zone", "tag": "tags"})
_DELIMITERS = {"comma": ",", ",": ",", "semicolon": ";", ";": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "|": "|"}


def add_import_command(sub: Any, context: ModuleContext) -> None:
    parser = sub.add_parser("import", help="import contacts from a CSV file",
                            description="Import contacts from a CSV file. Columns are matched to fields by name "
                                        "(and exports of Mailchimp, HubSpot, Google and Outlook are recognised); "
                                        "--map overrides the matching.")
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--list", dest="list_name", default="", metavar="NAME",
                        help="subscribe the contacts to this list (created if missing)")
    parser.add_argument("--tag", dest="tags", action="append", default=[], metavar="T", help="tag every contact")
    parser.add_argument("--map", dest="maps", action="append", default=[], metavar="COLUMN=FIELD",
                        help="COLUMN is a header or a column number; FIELD is email, first_name, last_name, "
                             "language, time_zone, tags, status, unsubscribed, ignore, a custom field, or "
                             "new:LABEL:TYPE (text, number, date, boolean, choice)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--update", dest="mode", action="store_const", const="update",
                      help="update contacts that already exist (the default)")
    mode.add_argument("--skip-existing", dest="mode", action="store_const", const="skip_existing",
                      help="leave contacts that already exist as they are")
    parser.add_argument("--unconfirmed", action="store_true",
                        help="subscribe as unconfirmed (they must confirm by double opt-in)")
    parser.add_argument("--rejects", type=Path, metavar="OUT.csv", help="write the rejected rows and reasons here")
    parser.add_argument("--consent-source", default="", metavar="S",
                        help='where consent was given (default "import: FILE")')
    parser.add_argument("--consent-text-version", default="", metavar="V", help="the version of the text people saw")
    parser.add_argument("--encoding", choices=sorted(ENCODINGS), help="read the file in this encoding (detected)")
    parser.add_argument("--delimiter", choices=sorted(_DELIMITERS), help="column separator (detected)")
    parser.add_argument("--date-order", choices=("auto", "dmy", "mdy"), default="auto",
                        help="how to read dates such as 03/04/2024 (auto: from the file)")
    parser.set_defaults(run=lambda args: _run(context, args), mode="update")


def _columns(path: Path, encoding: str | None, delimiter: str | None) -> tuple[list[str], str]:
    try:
        with CsvReader(path, encoding, delimiter) as reader:
            return reader.columns, reader.format.label
    except CsvFileError as exc:
        raise CliError(f"cannot import {path}: {exc}") from None


def _target(word: str, fields: list[FieldInfo]) -> str:
    text = word.strip()
    lowered = text.lower()
    if lowered.startswith(("new:", "new_field:")):
        _, label, kind = [*text.split(":", 2), "", ""][:3]
        return f"new_field:{label.strip()}:{kind.strip().lower() or 'text'}"
    if lowered.startswith("field:"):
        text = text[6:]
    norm = normalise(text)
    if not lowered.startswith("field:") and norm in _TARGET_WORDS:
        return _TARGET_WORDS[norm]
    for info in fields:
        if norm in (normalise(info.key), normalise(info.label)):
            return f"field:{info.key}"
    known = ", ".join(sorted(BUILTIN_TARGETS)) + (", " + ", ".join(f.key for f in fields) if fields else "")
    raise CliError(f"unknown field {word!r} (known: {known}, ignore, or new:LABEL:TYPE)")


def _column(name: str, columns: list[str]) -> int:
    text = name.strip()
    if text.isdigit() and 1 <= int(text) <= len(columns):
        return int(text) - 1
    for position, column in enumerate(columns):
        if column.lower() == text.lower():
            return position
    for position, column in enumerate(columns):
        if normalise(column) == normalise(text):
            return position
    shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
    raise CliError(f"no column {name!r} in the file (columns: {shown})")


def build_options(args: argparse.Namespace, columns: list[str], fields: list[FieldInfo]) -> tuple[ImportOptions, str]:
    """The options for ``args``: the suggested mapping, then each --map; returns them and the preset's name."""
    suggestion = suggest_mapping(columns, args.file.name, fields)
    mapping = dict(suggestion.mapping)
    for item in args.maps:
        column, equals, field = item.partition("=")
        if not equals:
            raise CliError(f"--map needs COLUMN=FIELD, not {item!r}")
        position, target = _column(column, columns), _target(field, fields)
        if target in BUILTIN_TARGETS and target != "tags":
            mapping = {p: t for p, t in mapping.items() if t != target}
        mapping[position] = target
    if "email" not in mapping.values():
        shown = ", ".join(f'"{c}"' for c in columns[:20]) + (" ..." if len(columns) > 20 else "")
        raise CliError(f"no column is mapped to the email address; add --map COLUMN=email (columns: {shown})")
    options = ImportOptions(
        mapping=mapping, list_name=args.list_name, tags=list(args.tags), consent_source=args.consent_source,
        consent_text_version=args.consent_text_version, mode=args.mode,
        subscribe_status="unconfirmed" if args.unconfirmed else "subscribed", file_status=suggestion.file_status,
        encoding=args.encoding, delimiter=_DELIMITERS[args.delimiter] if args.delimiter else None,
        date_order=args.date_order)
    return options, suggestion.preset_name


@contextmanager
def _ctrl_c_cancels(handle: JobHandle) -> Iterator[None]:
    """The first Ctrl-C asks the import to stop after the batch it is writing; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(_signum: int, _frame: FrameType | None) -> None:
        if handle.cancelled:
            raise KeyboardInterrupt
        handle.cancel()
        sys.stderr.write("\nStopping after the current batch (Ctrl-C again to stop at once)...\n")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress_printer() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(progress: ImportProgress) -> None:
        total = f" of about {progress.estimated_total:,}" if progress.estimated_total else ""
        sys.stderr.write(f"\r{progress.rows:,}{total} rows read, {progress.counts['created']:,} new, "
                         f"{progress.counts['updated']:,} updated   ")
        sys.stderr.flush()

    return show


def _run(context: ModuleContext, args: argparse.Namespace) -> CliResult:
    columns, detected = _columns(args.file, args.encoding, _DELIMITERS.get(args.delimiter or ""))
    options, preset = build_options(args, columns, custom_fields(context.db))
    handle = JobHandle(0, f"Import {args.file.name}", context.bus)
    show = _progress_printer()
    try:
        with _ctrl_c_cancels(handle):
            report = run_import(context.db, context.bus, args.file, options, handle, on_progress=show)
    except ImportProblem as exc:
        raise CliError(f"cannot import {args.file}: {exc}") from None
    finally:
        if show is not None:
            sys.stderr.write("\n")
    try:
        return _result(report, args, detected, preset)
    finally:
        report.close()


def _result(report: ImportReport, args: argparse.Namespace, detected: str, preset: str) -> CliResult:
    if args.rejects and report.rejected_count:
        report.write_rejects(args.rejects)
    counts = report.counts
    data = {"import_id": report.import_id, "status": report.status, "file": str(args.file), "format": detected,
            "preset": preset or None, "counts": counts, "rejected": report.rejected_count,
            "rejects_file": str(args.rejects) if args.rejects and report.rejected_count else None,
            "rows_committed": report.rows_committed, "notes": report.notes, "error": report.error or None}
    if report.status == "failed":
        raise CliError(f"the import of {args.file.name} failed: {report.error}. The first {report.rows_committed:,} "
                       f"rows were imported in whole batches (import #{report.import_id}).")
    if report.status == "cancelled":
        raise CliError(f"cancelled: the first {report.rows_committed:,} rows of {args.file.name} were imported in "
                       f"whole batches and nothing after them ({report.summary()}; import #{report.import_id})")
    lines = [f"Imported {args.file.name} ({detected}{', ' + preset if preset else ''}) as import #{report.import_id}."]
    width = max(len(label) for label in COUNT_LABELS.values())
    lines += [f"  {COUNT_LABELS[name]:<{width}}  {value:>9,}" for name, value in counts.items()
              if value or name in ("read", "created", "updated", "unchanged", "invalid")]
    lines += [f"Note: {note}" for note in report.notes]
    if report.rejected:
        lines.append(f"Rejected rows ({report.rejected_count:,}):")
        lines += [f"  {row.reason}" for row in report.rejected[:10]]
        if report.rejected_count > 10:
            lines.append(f"  ... and {report.rejected_count - 10:,} more")
        lines.append(f"Rejected rows written to {args.rejects}" if args.rejects
                     else "Add --rejects OUT.csv to save every rejected row with its reason.")
    if report.flagged:
        lines.append("Imported, but worth a look:")
        lines += [f"  row {flag.row}: {flag.email}: {flag.note}" for flag in report.flagged[:10]]
    return CliResult(data, "\n".join(lines))
