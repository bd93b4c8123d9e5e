"""``postroom automations list|show|run`` and ``postroom events import FILE.csv``: automations on the command line."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.campaigns.automation_graph import Graph, node_title
from app.modules.campaigns.automation_reads import automation_stats, find_automation, list_automations
from app.modules.campaigns.messages import CampaignError, RunAutomations

MAX_FILE_BYTES = 200 * 1024 * 1024
STANDARD_COLUMNS = ("email", "name", "time", "value", "currency")
BATCH = 500


def configure_automations(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="every automation: state, trigger and contacts inside")

    def run_list(_args: argparse.Namespace) -> CliResult:
        rows = []
        for info in list_automations(context.db):
            stats = automation_stats(context.db, info.id)
            rows.append({"id": info.id, "name": info.name, "state": info.state, "trigger": info.trigger_text,
                         "trigger_settings": info.trigger, "entry": info.reentry,
                         "entry_days": info.reentry_days, "active_contacts": info.active_contacts,
                         "entered": stats.entered, "done": stats.done, "exited": stats.exited,
                         "steps": len(Graph.from_json(info.graph).nodes) - 1})
        text = "\n".join(f"{r['name']:<30} {r['state']:<7} {r['active_contacts']:>7,} inside  "
                         f"{r['entered']:>7,} entered  trigger: {r['trigger']}" for r in rows)
        return CliResult(rows, text or "No automations yet: draw one on the Automations page.")

    listing.set_defaults(run=run_list)

    show = sub.add_parser("show", help="one automation's steps with how many contacts wait at and passed each")
    show.add_argument("name", metavar="AUTOMATION")

    def run_show(args: argparse.Namespace) -> CliResult:
        info = find_automation(context.db, args.name)
        if info is None:
            names = ", ".join(a.name for a in list_automations(context.db)[:10]) or "none yet"
            raise CliError(f"no automation named {args.name!r} (automations: {names})")
        stats = automation_stats(context.db, info.id)
        graph = Graph.from_json(info.graph)
        steps = [{"id": s.step_id, "kind": s.kind, "title": node_title(n) if (n := graph.node(s.step_id)) else s.kind,
                  "waiting": s.waiting, "passed": s.passed, "results": s.results} for s in stats.steps]
        data = {"id": info.id, "name": info.name, "state": info.state, "trigger": info.trigger_text,
                "active": stats.active, "done": stats.done, "exited": stats.exited, "steps": steps}
        lines = [f"{info.name} (#{info.id}): {info.state}; trigger: {info.trigger_text}",
                 f"  {stats.active:,} inside, {stats.done:,} finished, {stats.exited:,} left at an exit"]
        lines += [f"  {s['title']:<24} {s['waiting']:>7,} waiting {s['passed']:>7,} passed"
                  + (f"  {s['results']}" if s["results"] else "") for s in steps]
        return CliResult(data, "\n".join(lines))

    show.set_defaults(run=run_show)

    run = sub.add_parser("run", help="carry out every step that is due now (the app does this by itself)")

    def run_due(_args: argparse.Namespace) -> CliResult:
        try:
            done = int(context.bus.execute(RunAutomations()))
        except CampaignError as exc:
            raise CliError(str(exc)) from None
        return CliResult({"steps": done}, f"{done:,} steps carried out. Emails they started are sent by the app "
                                          "(or: postroom delivery run).")

    run.set_defaults(run=run_due)


# -- events import ----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0
    repeated: int = 0
    unknown_contacts: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "new": self.new, "repeated": self.repeated,
                "unknown_contacts": self.unknown_contacts, "problems": self.problems}

    def text(self, path: Path) -> str:
        lines = [f"{path.name}: {self.rows:,} rows, {self.new:,} new events, {self.repeated:,} already imported, "
                 f"{self.unknown_contacts:,} for addresses that are not contacts."]
        lines += [f"  line {p['line']}: {p['error']}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20:,} more problems")
        return "\n".join(lines)


def configure_events(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    importer = sub.add_parser("import", help="import events (order_completed, cart_abandoned...) from a CSV file")
    importer.add_argument("file", type=Path, metavar="FILE.csv",
                          help="columns email, name, time, value, currency; any other column becomes a property")

    def run_import(args: argparse.Namespace) -> CliResult:
        report = import_events(context, args.file)
        return CliResult(report.as_json(), report.text(args.file), exit_code=1 if report.problems else 0)

    importer.set_defaults(run=run_import)


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CliError(f"{path} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("email", "name") if c not in headers]
    if missing:
        raise CliError(f"{path.name} needs the columns email and name (missing: {', '.join(missing)}; "
                       f"found: {', '.join(headers) or 'none'})")
    reader.fieldnames = headers
    rows = []
    for number, row in enumerate(reader, start=2):
        rows.append((number, {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}))
    return headers, rows


def _parse_time(text: str) -> dt.datetime:
    from dateutil import parser as date_parser

    moment = date_parser.isoparse(text) if text[:4].isdigit() else date_parser.parse(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def event_uid(email: str, name: str, at: dt.datetime, *, value: float | None, currency: str | None,
              properties: dict[str, Any]) -> str:
    """The same row gives the same id in every import, so importing a file twice records nothing twice."""
    key = json.dumps([email.strip().lower(), name, at.isoformat(), value, currency, sorted(properties.items())],
                     ensure_ascii=False, default=str)
    return "csv-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def import_events(context: ModuleContext, path: Path) -> ImportReport:
    """Each row goes to the contact's timeline (``RecordActivity``, deduplicated by the same key the stats module
    uses for events from the endpoint) and, when new, is published as stats' ``EventReceived`` (what the
    endpoint's ingest does), so automations start exactly once per event."""
    from app.modules.contacts import api as contacts_api

    headers, rows = _read_rows(path)
    report = ImportReport(rows=len(rows))
    extra = [h for h in headers if h and h not in STANDARD_COLUMNS]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    batch: list[tuple[int, Any]] = []
    for number, row in rows:
        try:
            email, name = row.get("email", ""), row.get("name", "")
            if "@" not in email or not name:
                raise ValueError("a row needs an email address and an event name")
            at = _parse_time(row["time"]) if row.get("time") else now
            value = float(row["value"].replace(",", ".")) if row.get("value") else None
            currency = row.get("currency") or None
            properties: dict[str, Any] = {k: _typed(row[k]) for k in extra if row.get(k)}
        except (ValueError, OverflowError) as exc:
            report.problems.append({"line": number, "error": str(exc)})
            continue
        recipient = contacts_api.find_recipient(context.db, email)
        if recipient is None:
            report.unknown_contacts += 1
            continue
        uid = event_uid(email, name, at, value=value, currency=currency, properties=properties)
        batch.append((recipient.contact_id, _Event(email, name, at, properties, value, currency, uid)))
        if len(batch) >= BATCH:
            _flush(context, batch, report)
    _flush(context, batch, report)
    return report


@dataclass(frozen=True)
class _Event:
    email: str
    name: str
    at: dt.datetime
    properties: dict[str, Any]
    value: float | None
    currency: str | None
    uid: str


def _typed(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _flush(context: ModuleContext, batch: list[tuple[int, _Event]], report: ImportReport) -> None:
    """Through stats' own path (stored like a POST to /events, then ingested: timelines, EventReceived, revenue
    attribution), so a file and the endpoint count the same way and a repeated row counts nothing."""
    from app.modules.stats.messages import IncomingEvent, RecordEvents

    if not batch:
        return
    events = tuple(IncomingEvent(uid=e.uid, email=e.email, name=e.name, at=e.at, properties=dict(e.properties),
                                 value=e.value, currency=e.currency) for _, e in batch)
    batch.clear()
    new = int(context.bus.execute(RecordEvents(events=events)))
    report.new += new
    report.repeated += len(events) - new
