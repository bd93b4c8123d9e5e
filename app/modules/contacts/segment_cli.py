"""``postroom contacts export|count|export-person|erase`` and ``postroom segments save|list|show|delete``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.contacts import store
from app.modules.contacts.api import Audience, count_audience
from app.modules.contacts.export import ExportError, erase, export_contact, export_csv, find_contact_id
from app.modules.contacts.segment_rules import describe_rules
from app.modules.contacts.segments import (
    SegmentError,
    count_segment,
    delete_segment,
    field_defs,
    get_segment,
    save_segment,
)


def _plural(count: int, one: str = "contact", many: str = "contacts") -> str:
    return f"{count:,} {one if count == 1 else many}"


def _selection(context: ModuleContext, args: argparse.Namespace) -> tuple[Any, str]:
    """(what export_csv takes, words for it) from --list / --segment."""
    if args.list:
        with context.db.read() as session:
            found = store.list_by_name(session, args.list)
            if found is None:
                raise CliError(f"no list named {args.list!r} (see the lists in the Contacts page)")
            return Audience(lists=(found.id,)), f"subscribed to {found.name}"
    if args.segment:
        segment = get_segment(context.db, args.segment)
        if segment is None:
            raise CliError(f"no segment named {args.segment!r} (postroom segments list shows them)")
        return segment.rules, f"in segment {segment.name}"
    return None, "in all"


def _add_selection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--list", metavar="NAME", help="only the subscribed members of this list")
    group.add_argument("--segment", metavar="NAME", help="only the contacts in this saved segment")


def add_export_and_count_commands(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    _add_export(sub, context)
    _add_count(sub, context)
    _add_export_person(sub, context)
    _add_erase(sub, context)


def _add_export(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    export = sub.add_parser("export", help="write contacts to a CSV file (safe to open in a spreadsheet)",
                            description="Write contacts to a CSV file in id order. Cells that a spreadsheet would "
                                        "run as a formula are prefixed with a quote.")
    export.add_argument("file", type=Path, metavar="FILE")
    _add_selection(export)
    export.add_argument("--fields", metavar="A,B,C",
                        help="columns: email, first_name, last_name, language, time_zone, created_at, id, any "
                             "custom field key, tags, lists (default: contact fields, custom fields, tags, lists)")
    export.add_argument("--excel", action="store_true", help="add a byte-order mark so Excel reads accents right")

    def run_export(args: argparse.Namespace) -> CliResult:
        selection, _words = _selection(context, args)
        fields = [f for f in args.fields.split(",") if f.strip()] if args.fields else None
        try:
            result = export_csv(context.db, args.file, selection, fields, excel=args.excel)
        except (ExportError, SegmentError) as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"cannot write {args.file}: {exc.strerror or exc}") from None
        columns = [c.removeprefix("field:") for c in result.columns]
        data = {"file": str(result.path), "rows": result.rows, "columns": columns, "list": args.list,
                "segment": args.segment}
        return CliResult(data, f"Exported {_plural(result.rows)} to {result.path}\nColumns: {', '.join(columns)}")

    export.set_defaults(run=run_export)


def _add_count(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    count = sub.add_parser("count", help="count contacts, a list's subscribed members or a segment")
    _add_selection(count)

    def run_count(args: argparse.Namespace) -> CliResult:
        selection, words = _selection(context, args)
        if isinstance(selection, Audience):
            total = count_audience(context.db, selection)
        else:
            try:
                total = count_segment(context.db, selection or {"match": "all", "rules": []})
            except SegmentError as exc:
                raise CliError(f"the segment {args.segment!r} cannot be used:\n{exc}") from None
        return CliResult({"count": total, "list": args.list, "segment": args.segment}, f"{_plural(total)} {words}")

    count.set_defaults(run=run_count)


def _add_export_person(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    person = sub.add_parser("export-person", help="everything held about one person, as JSON")
    person.add_argument("email")
    person.add_argument("--out", type=Path, metavar="FILE.json", help="write it to this file instead of printing")

    def run_person(args: argparse.Namespace) -> CliResult:
        contact_id = _contact(context, args.email)
        data = export_contact(context.db, contact_id)
        if args.out is None:
            return CliResult(data, json.dumps(data, indent=2, ensure_ascii=False))
        try:
            args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        return CliResult({"email": data["contact"]["email"], "file": str(args.out)},
                         f"Wrote everything held about {data['contact']['email']} to {args.out}")

    person.set_defaults(run=run_person)


def _add_erase(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    forget = sub.add_parser("erase", help="delete a person and their history for good (keeps a hash so they are "
                                          "never mailed again)")
    forget.add_argument("email")
    forget.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def run_erase(args: argparse.Namespace) -> CliResult:
        contact_id = _contact(context, args.email)
        if not args.yes:
            raise CliError(f"erasing {args.email} deletes them, their consent records and their history for good; "
                           "run the command again with --yes to confirm")
        address = erase(context.db, context.bus, contact_id)
        return CliResult({"email": address, "contact_id": contact_id, "erased": True},
                         f"Erased {address}. Only a one-way hash of the address is kept, so it is never mailed "
                         "or imported again.")

    forget.set_defaults(run=run_erase)


def _contact(context: ModuleContext, email: str) -> int:
    contact_id = find_contact_id(context.db, email)
    if contact_id is None:
        raise CliError(f"no contact with the address {email}")
    return contact_id


def add_segment_commands(sub: argparse._SubParsersAction[Any], context: ModuleContext) -> None:
    save = sub.add_parser("save", help="create or replace a segment from a JSON rules file")
    save.add_argument("name")
    save.add_argument("--rules", type=Path, required=True, metavar="FILE.json",
                      help='rules such as {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}')

    def run_save(args: argparse.Namespace) -> CliResult:
        rules = _read_rules(args.rules)
        try:
            saved = save_segment(context.db, context.bus, args.name, rules)
        except SegmentError as exc:
            listed = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CliError(f"the segment {args.name!r} was not saved:\n{listed}") from None
        total = count_segment(context.db, saved.rules)
        return CliResult({"id": saved.id, "name": saved.name, "count": total, "rules": saved.rules},
                         f"Saved segment {saved.name!r}: {_plural(total)} match now.")

    save.set_defaults(run=run_save)

    listing = sub.add_parser("list", help="show saved segments and how many contacts each has now")
    listing.add_argument("--no-count", action="store_true", help="do not count (faster on large databases)")

    def run_list(args: argparse.Namespace) -> CliResult:
        from app.modules.contacts.api import segments

        rows: list[dict[str, Any]] = []
        for segment in segments(context.db):
            row: dict[str, Any] = {"id": segment.id, "name": segment.name}
            if not args.no_count:
                try:
                    row["count"] = count_segment(context.db, segment.rules)
                except SegmentError:
                    row["count"] = None  # shown as unusable rather than failing the whole list
            rows.append(row)
        if not rows:
            return CliResult(rows, "No segments yet (postroom segments save NAME --rules FILE.json).")
        width = max(len(r["name"]) for r in rows)
        lines = [f"{r['name']:<{width}}  " + ("" if args.no_count else
                                             ("(unusable rules)" if r["count"] is None else _plural(r["count"])))
                 for r in rows]
        return CliResult(rows, "\n".join(line.rstrip() for line in lines))

    listing.set_defaults(run=run_list)

    show = sub.add_parser("show", help="show a segment's rules and its live count")
    show.add_argument("name")

    def run_show(args: argparse.Namespace) -> CliResult:
        segment = _segment(context, args.name)
        try:
            total: int | None = count_segment(context.db, segment.rules)
        except SegmentError:
            total = None
        described = describe_rules(segment.rules, field_defs(context.db), indent="  ")
        counted = "its rules cannot be used (save it again to see why)" if total is None else _plural(total)
        return CliResult({"id": segment.id, "name": segment.name, "count": total, "rules": segment.rules},
                         f"{segment.name}: {counted}\n{described}")

    show.set_defaults(run=run_show)

    delete = sub.add_parser("delete", help="delete a saved segment (contacts are not touched)")
    delete.add_argument("name")

    def run_delete(args: argparse.Namespace) -> CliResult:
        segment = _segment(context, args.name)
        delete_segment(context.db, context.bus, segment.name)
        return CliResult({"name": segment.name, "deleted": True}, f"Deleted segment {segment.name!r}.")

    delete.set_defaults(run=run_delete)


def _segment(context: ModuleContext, name: str) -> Any:
    segment = get_segment(context.db, name)
    if segment is None:
        raise CliError(f"no segment named {name!r} (postroom segments list shows them)")
    return segment


def _read_rules(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
