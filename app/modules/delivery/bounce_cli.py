"""``postroom bounces fetch|parse|mailbox|test``: the bounce mailbox on the command line."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.delivery import bounce_mailbox
from app.modules.delivery.messages import (
    BounceReport,
    FetchBounces,
    FetchReport,
    ParseBounce,
    SaveBounceMailbox,
    TestBounceMailbox,
)

PASSWORD_ENV = "POSTROOM_BOUNCE_PASSWORD"  # noqa: S105 - the variable's name, not a password
MAX_FILE = 20_000_000


def _report_text(report: BounceReport) -> str:
    if not report.entries:
        label = "unreadable" if report.kind in ("unreadable", "unsubscribe") else "not a bounce"
        return f"{label}: {report.note}"
    lines = []
    for e in report.entries:
        matched = (f"  run {e.run_id}, recipient {e.recipient_id}" if e.recipient_id else
                   f"  contact {e.contact_id}" if e.contact_id else "  not matched to anything sent")
        lines.append(f"{e.email or '(recipient not named)'}  status {e.status or '-'}  action {e.action or '-'}  "
                     f"{e.label}" + (f"  (matched by {e.matched_by})" if e.matched_by else "") + matched)
        if e.diagnostic:
            lines.append(f"    {e.diagnostic}")
    return "\n".join(lines)


def configure_bounces(parser: argparse.ArgumentParser, context: ModuleContext, service: Any) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    fetch = sub.add_parser("fetch", help="read the bounce mailbox now: act on reports, file the messages")

    def run_fetch(_args: argparse.Namespace) -> CliResult:
        report: FetchReport = context.bus.execute(FetchBounces())
        if report.error:
            raise CliError(f"the bounce mailbox could not be read: {report.error}")
        return CliResult(dataclasses.asdict(report), bounce_mailbox.describe(report))

    fetch.set_defaults(run=run_fetch)

    parse = sub.add_parser("parse", help="say what a delivery or complaint report (an .eml file) means")
    parse.add_argument("file", type=Path, metavar="FILE.eml")
    parse.add_argument("--apply", action="store_true",
                       help="also act on it as a fetch would (suppress, count); counted once however often")

    def run_parse(args: argparse.Namespace) -> CliResult:
        try:
            if args.file.stat().st_size > MAX_FILE:
                raise CliError(f"{args.file} is larger than {MAX_FILE // 1_000_000} MB; not a delivery report")
            raw = args.file.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        report: BounceReport = context.bus.execute(ParseBounce(raw=raw, apply=args.apply))
        data = {"kind": report.kind, "note": report.note,
                "entries": [{"recipient": e.email, "status": e.status, "action": e.action,
                             "classification": e.label, "diagnostic": e.diagnostic, "matched_by": e.matched_by,
                             "run_id": e.run_id, "recipient_id": e.recipient_id, "contact_id": e.contact_id,
                             "counted": e.counted} for e in report.entries]}
        return CliResult(data, _report_text(report))

    parse.set_defaults(run=run_parse)
    _configure_mailbox(sub, context, service)


def _configure_mailbox(sub: Any, context: ModuleContext, service: Any) -> None:
    mailbox = sub.add_parser("mailbox", help="set up the IMAP mailbox bounces arrive in (no options: show it)")
    mailbox.add_argument("--host")
    mailbox.add_argument("--port", type=int, default=None, help="993 for ssl, 143 for starttls")
    mailbox.add_argument("--tls", choices=bounce_mailbox.TLS_MODES, default=None,
                         help="ssl: TLS from the start; starttls: upgrade; none: 127.0.0.1 only")
    mailbox.add_argument("--user", default=None, help=f"login name; the password is read from {PASSWORD_ENV} "
                                                      "or asked for, and kept in the keyring")
    mailbox.add_argument("--folder", default=None, help="the folder to read (INBOX)")
    mailbox.add_argument("--processed-folder", default=None, help="where read reports go (Postroom/Processed)")
    mailbox.add_argument("--quarantine-folder", default=None,
                         help="where unreadable messages go (Postroom/Quarantine)")
    mailbox.add_argument("--poll-minutes", type=int, default=None, help="read every N minutes in the app (0: never)")
    mailbox.add_argument("--cafile", default=None, help="an extra trusted certificate for a private server")

    def run_mailbox(args: argparse.Namespace) -> CliResult:
        current = service.info()
        if args.host is None and args.user is None and args.port is None and args.tls is None:
            data = dataclasses.asdict(current)
            if not current.configured:
                return CliResult(data, "No bounce mailbox is set up.")
            return CliResult(data, f"{current.username} at {current.host}:{current.port} ({current.tls}), reads "
                                   f"{current.folder}; processed -> {current.processed_folder}, unreadable -> "
                                   f"{current.quarantine_folder}; every {current.poll_minutes} min"
                                   + ("" if current.has_password else "; no password stored"))
        tls = args.tls or current.tls
        port = args.port or (current.port if args.tls is None else {"ssl": 993}.get(tls, 143))
        user = args.user if args.user is not None else current.username
        command = SaveBounceMailbox(
            host=args.host or current.host, port=port, tls=tls, username=user,
            folder=args.folder or current.folder, processed_folder=args.processed_folder or current.processed_folder,
            quarantine_folder=args.quarantine_folder or current.quarantine_folder,
            poll_minutes=current.poll_minutes if args.poll_minutes is None else args.poll_minutes)
        try:
            bounce_mailbox.check(command)  # before asking for a password
        except bounce_mailbox.MailboxError as exc:
            raise CliError(str(exc)) from None
        password = None
        if args.user is not None or not current.has_password:
            problem = context.secrets.problem()
            if problem is not None:
                raise CliError(f"cannot store the password: {problem}")
            password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"Password for {user}: ")
            if not password:
                raise CliError("no password given")
        if args.cafile is not None:
            if args.cafile and not Path(args.cafile).is_file():
                raise CliError(f"no certificate file {args.cafile}")
            context.settings.set(bounce_mailbox.PREFIX + "cafile", str(Path(args.cafile).resolve())
                                 if args.cafile else "")
        try:
            info = context.bus.execute(dataclasses.replace(command, password=password))
        except bounce_mailbox.MailboxError as exc:
            raise CliError(str(exc)) from None
        return CliResult(dataclasses.asdict(info), f"Bounce mailbox: {info.username} at {info.host}:{info.port} "
                                                   f"({info.tls})." + (" Password stored in the keyring."
                                                                       if password else ""))

    mailbox.set_defaults(run=run_mailbox)

    test = sub.add_parser("test", help="connect, secure, log in and open the folder, and say how it went")

    def run_test(_args: argparse.Namespace) -> CliResult:
        report = context.bus.execute(TestBounceMailbox())
        data = {"ok": report.ok, "steps": list(report.steps), "error": report.error}
        if not report.ok:
            raise CliError(report.error)
        return CliResult(data, "\n".join(f"  ok  {step}" for step in report.steps) + "\nThe bounce mailbox works.")

    test.set_defaults(run=run_test)
