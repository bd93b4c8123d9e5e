"""``postroom templates list|import|export|render|check|versions``: the template library from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.editor import store
from app.modules.editor.api import compile_template, preview_values
from app.modules.editor.compiled import RenderError, TemplateInvalid
from app.modules.editor.messages import EditorError, ImportHtmlTemplate

SAMPLE_NOTE = ("the contacts module cannot look up one contact by address yet, so a sample contact with that "
               "address was used")


def configure_templates(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="the template library")
    listing.add_argument("--search", default="", help="only names containing this text")
    listing.set_defaults(run=lambda args: list_command(context, args.search))

    importing = sub.add_parser("import", help="add an HTML email as a template (kept as raw HTML)")
    importing.add_argument("file", type=Path)
    importing.add_argument("--name", help="template name (default: the file name)")
    importing.set_defaults(run=lambda args: import_command(context, args.file, args.name))

    export = sub.add_parser("export", help="write a template's HTML (merge tags kept) to a file")
    export.add_argument("name")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    export.add_argument("--version", type=int, default=None, help="an older version (default: current)")
    export.set_defaults(run=lambda args: export_command(context, args.name, args.out, args.version))

    render = sub.add_parser("render", help="write the HTML and text one contact would receive")
    render.add_argument("name")
    render.add_argument("--contact", required=True, metavar="EMAIL")
    render.add_argument("--out", type=Path, required=True, metavar="DIR")
    render.add_argument("--subject", default="{{ campaign.name }}")
    render.add_argument("--preheader", default="")
    render.set_defaults(run=lambda args: render_command(context, args))

    check = sub.add_parser("check", help="report syntax errors and unknown merge fields (exit 1 if any)")
    check.add_argument("name")
    check.add_argument("--subject", default="")
    check.add_argument("--field", dest="fields", action="append", default=[], metavar="KEY",
                       help="a custom contact field that exists (may be repeated)")
    check.set_defaults(run=lambda args: check_command(context, args.name, args.subject, args.fields))

    history = sub.add_parser("versions", help="a template's version history")
    history.add_argument("name")
    history.set_defaults(run=lambda args: versions_command(context, args.name))


def _template(context: ModuleContext, name: str) -> store.TemplateInfo:
    found = store.find_template(context.db, name)
    if found is None:
        names = ", ".join(t.name for t in store.list_templates(context.db)[:10]) or "none yet"
        raise CliError(f"there is no template called {name!r} (templates: {names})")
    return found


def list_command(context: ModuleContext, search: str) -> CliResult:
    rows = [{"id": t.id, "name": t.name, "version": t.current_version,
             "updated_at": t.updated_at.isoformat(sep=" ", timespec="seconds")}
            for t in store.list_templates(context.db, search)]
    text = "\n".join(f"{r['id']:>4}  {r['name']:<40} v{r['version']:<4} {r['updated_at']}" for r in rows)
    return CliResult(rows, text or "No templates.")


def import_command(context: ModuleContext, file: Path, name: str | None) -> CliResult:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    html = raw.decode("utf-8-sig", errors="replace")
    try:
        saved = context.bus.execute(ImportHtmlTemplate(name=name or file.stem, html=html))
    except EditorError as exc:
        raise CliError(str(exc)) from None
    return CliResult({"id": saved.template_id, "name": saved.name, "version": saved.version},
                     f"Imported {file.name} as template {saved.name!r}.")


def export_command(context: ModuleContext, name: str, out: Path, version: int | None) -> CliResult:
    template = _template(context, name)
    try:
        compiled = compile_template(context.db, template.id, version, subject=template.name)
    except EditorError as exc:
        raise CliError(str(exc)) from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(compiled.html_source, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    return CliResult({"name": template.name, "version": compiled.version, "file": str(out)},
                     f"Wrote version {compiled.version} of {template.name!r} to {out}.")


def _contacts_running(context: ModuleContext) -> bool:
    """The contacts module's tables exist only when it started (it may be absent or disabled)."""
    status = context.kernel.registry.status("contacts")
    return status is not None and status.state == "started"


def _find_contact(context: ModuleContext, email: str) -> tuple[dict[str, Any], str]:
    """The contact's record through the contacts module's public API, or a sample and a note why."""
    try:
        if not _contacts_running(context):
            raise ImportError("contacts module not running")
        from app.modules.contacts import api as contacts_api
    except ImportError:
        return {"email": email, "first_name": "Alex", "last_name": "Sample", "language": "en", "time_zone": ""}, (
            "the contacts module is not running, so a sample contact was used")
    finder = getattr(contacts_api, "find_recipient", None)
    if finder is None:
        return {"email": email, "first_name": "Alex", "last_name": "Sample", "language": "en",
                "time_zone": ""}, SAMPLE_NOTE
    recipient = finder(context.db, email)
    if recipient is None:
        raise CliError(f"there is no contact with the address {email}")
    return {"email": recipient.email, "first_name": recipient.first_name, "last_name": recipient.last_name,
            "language": recipient.language, "time_zone": recipient.time_zone,
            "fields": dict(recipient.fields)}, ""


def render_command(context: ModuleContext, args: argparse.Namespace) -> CliResult:
    template = _template(context, args.name)
    contact, note = _find_contact(context, args.contact)
    asset_base = store.assets_dir(context.paths.data_dir).as_uri() + "/"
    compiled = compile_template(context.db, template.id, subject=args.subject, preheader=args.preheader,
                                asset_base=asset_base)
    values = preview_values()
    values["campaign"] = {"name": template.name}
    try:
        message = compiled.render(contact, **values)
    except (RenderError, TemplateInvalid) as exc:
        raise CliError(f"cannot render {template.name!r} for {args.contact}: {exc}") from None
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in template.name) or "template"
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        html_file, text_file = args.out / f"{stem}.html", args.out / f"{stem}.txt"
        html_file.write_text(message.html, encoding="utf-8")
        text_file.write_text(message.text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write into {args.out}: {exc.strerror or exc}") from None
    data = {"name": template.name, "version": compiled.version, "contact": contact["email"],
            "subject": message.subject, "html": str(html_file), "text": str(text_file), "note": note}
    text = f"Wrote {html_file} and {text_file}\nSubject: {message.subject}" + (f"\nNote: {note}" if note else "")
    return CliResult(data, text)


def check_command(context: ModuleContext, name: str, subject: str, fields: list[str]) -> CliResult:
    template = _template(context, name)
    compiled = compile_template(context.db, template.id, subject=subject)
    known = set(fields)
    try:
        if not _contacts_running(context):
            raise ImportError("contacts module not running")
        from app.modules.contacts import api as contacts_api

        custom = getattr(contacts_api, "custom_fields", None)
        if custom is not None:
            known |= {field.key for field in custom(context.db)}
    except ImportError:
        pass
    problems = compiled.validate(known)
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise CliError(f"{template.name!r} has {len(problems)} problem(s):\n{listed}")
    notes = [] if compiled.has_unsubscribe_link else ["no unsubscribe link"]
    if not compiled.has_postal_address:
        notes.append("no postal address")
    text = f"{template.name!r} version {compiled.version}: no problems found."
    if notes:
        text += f"\nNote: {' and '.join(notes)} (the sender's preflight will refuse it)."
    return CliResult({"name": template.name, "version": compiled.version, "problems": [],
                      "has_unsubscribe_link": compiled.has_unsubscribe_link,
                      "has_postal_address": compiled.has_postal_address}, text)


def versions_command(context: ModuleContext, name: str) -> CliResult:
    template = _template(context, name)
    rows = [{"version": v.version, "created_at": v.created_at.isoformat(sep=" ", timespec="seconds"),
             "note": v.note, "current": v.is_current} for v in store.versions(context.db, template.id)]
    text = "\n".join(f"{'*' if r['current'] else ' '} v{r['version']:<4} {r['created_at']}  {r['note']}".rstrip()
                     for r in rows)
    return CliResult(rows, text)
