"""``postroom delivery preflight``: check a message, its sender and its audience before sending."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.delivery import api
from app.modules.delivery.messages import (
    PREFLIGHT_LEVELS,
    AudienceSpec,
    MessageContent,
    PreflightReport,
    RunPreflight,
)

_MARK = {"error": "ERROR  ", "warning": "warning", "unknown": "unknown", "ok": "ok     "}


def report_data(report: PreflightReport) -> dict[str, Any]:
    return {"ok": report.ok, "errors": len(report.errors), "warnings": len(report.warnings),
            "findings": [{"level": f.level, "check": f.check, "message": f.message, "detail": f.detail}
                         for f in report.findings]}


def report_text(report: PreflightReport) -> str:
    order = {level: i for i, level in enumerate(PREFLIGHT_LEVELS)}
    lines = [f"{_MARK.get(f.level, f.level)}  {f.check:<15} {f.message}"
             for f in sorted(report.findings, key=lambda f: order.get(f.level, 9))]
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        lines.append(f"\n{errors} error(s), {warnings} warning(s): fix the errors before sending.")
    elif warnings:
        lines.append(f"\nNo errors; {warnings} warning(s) to read before sending.")
    else:
        lines.append("\nReady to send.")
    return "\n".join(lines)


def configure_preflight(sub: Any, context: ModuleContext) -> None:
    check = sub.add_parser("preflight", help="check a message before sending: unsubscribe link, postal address, "
                                             "SPF/DKIM/DMARC, size, links, spam score (exit code 1 on errors)")
    body = check.add_mutually_exclusive_group(required=True)
    body.add_argument("--template", metavar="NAME", help="an editor template, by name")
    body.add_argument("--html", type=Path, metavar="FILE", help="an HTML file (Jinja2 merge tags allowed)")
    check.add_argument("--text", type=Path, default=None, metavar="FILE", help="a plain-text file (with --html)")
    check.add_argument("--subject", required=True)
    check.add_argument("--preheader", default="")
    check.add_argument("--list", action="append", default=[], metavar="NAME", help="the audience (repeatable)")
    check.add_argument("--segment", action="append", default=[], metavar="NAME", help="the audience (repeatable)")
    check.add_argument("--from", dest="from_address", default=None, metavar="ADDRESS",
                       help="the sender identity with this From address (default: the default identity)")
    check.add_argument("--account", default=None, help="SMTP account name (default: the default account)")
    check.add_argument("--offline", action="store_true", help="skip the DNS and link checks")
    check.add_argument("--no-links", action="store_true", help="skip the link check")

    def run(args: argparse.Namespace) -> CliResult:
        content = _content(context, args)
        audience = _audience(context, args.list, args.segment) if args.list or args.segment else None
        identity_id = None
        if args.from_address:
            wanted = args.from_address.strip().lower()
            found = next((i for i in api.identities(context.db) if i.from_email.lower() == wanted), None)
            if found is None:
                known = ", ".join(i.from_email for i in api.identities(context.db)) or "none"
                raise CliError(f"no sender identity sends from {args.from_address} (identities: {known}); "
                               "add one with `postroom delivery identity ADDRESS`")
            identity_id = found.id
        account_id = None
        if args.account:
            account = next((a for a in api.accounts(context.db) if args.account in (a.name, str(a.id))), None)
            if account is None:
                raise CliError(f"no SMTP account named {args.account!r}")
            account_id = account.id
        report = context.bus.execute(RunPreflight(content=content, audience=audience, identity_id=identity_id,
                                                  account_id=account_id, check_links=not args.no_links,
                                                  offline=args.offline))
        return CliResult(report_data(report), report_text(report), exit_code=0 if report.ok else 1)

    check.set_defaults(run=run)


def _content(context: ModuleContext, args: argparse.Namespace) -> MessageContent:
    if args.template:
        try:
            from app.modules.editor.api import find_template  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise CliError("--template needs the editor module, which is not installed") from None
        template = find_template(context.db, args.template)
        if template is None:
            raise CliError(f"no template named {args.template!r} (see `postroom templates list`)")
        return MessageContent(subject=args.subject, preheader=args.preheader, template_id=template.id)
    try:
        html = args.html.read_text(encoding="utf-8")
        text = args.text.read_text(encoding="utf-8") if args.text else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the message file: {exc}") from None
    return MessageContent(subject=args.subject, preheader=args.preheader, html=html, text=text)


def _audience(context: ModuleContext, list_names: list[str], segment_names: list[str]) -> AudienceSpec:
    from app.modules.contacts import api as contacts_api

    lists = {item.name.lower(): item.id for item in contacts_api.lists(context.db)}
    segments = {item.name.lower(): item.id for item in contacts_api.segments(context.db)}
    missing = [n for n in list_names if n.lower() not in lists] + [n for n in segment_names
                                                                   if n.lower() not in segments]
    if missing:
        raise CliError(f"no list or segment named {', '.join(missing)}")
    return AudienceSpec(lists=tuple(lists[n.lower()] for n in list_names),
                        segments=tuple(segments[n.lower()] for n in segment_names))
