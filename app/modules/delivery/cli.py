"""``postroom smtp|outbox|delivery ...``: the delivery module's command line."""

from __future__ import annotations

import argparse
import getpass
import os
import time
from pathlib import Path
from typing import Any

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.delivery import api
from app.modules.delivery.accounts import DeliveryError
from app.modules.delivery.messages import (
    CancelRun,
    CreateDkimKey,
    PauseRun,
    RemoveAccount,
    ResendUnknown,
    ResumePendingRuns,
    ResumeRun,
    SaveAccount,
    SaveIdentity,
    SendTestMessage,
    TestAccount,
)

PASSWORD_ENV = "POSTROOM_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a password


def _account(context: ModuleContext, name: str) -> api.AccountInfo:
    found = next((a for a in api.accounts(context.db) if a.name == name or str(a.id) == name), None)
    if found is None:
        names = ", ".join(a.name for a in api.accounts(context.db)) or "none"
        raise CliError(f"no SMTP account named {name!r} (accounts: {names})")
    return found


def _execute(context: ModuleContext, command: Any) -> Any:
    try:
        return context.bus.execute(command)
    except DeliveryError as exc:
        raise CliError(str(exc)) from None


def _account_row(a: api.AccountInfo) -> dict[str, Any]:
    where = "built-in outbox on 127.0.0.1" if a.is_local_outbox else f"{a.host}:{a.port} tls={a.tls}"
    return {"id": a.id, "name": a.name, "server": where, "user": a.username, "per_second": a.per_second,
            "per_hour": a.per_hour, "per_day": a.per_day, "connections": a.connections, "enabled": a.enabled,
            "weight": a.weight, "warmup": a.warmup, "send_window": a.send_window}


def parse_window(text: str) -> dict[str, Any]:
    """ "mon-fri 09:00-17:30 Europe/Paris" (or "mon,wed,sat 08:00-12:00", zone UTC by default) as a send window."""
    from app.modules.delivery.throttle import DAY_NAMES, SendWindow

    parts = text.split()
    if len(parts) not in (2, 3) or "-" not in parts[1]:
        raise CliError(f"--window {text!r}: write DAYS HH:MM-HH:MM [TIME_ZONE], e.g. mon-fri 09:00-17:30 Europe/Paris")
    days: list[str] = []
    for item in parts[0].lower().split(","):
        first, _, last = item.partition("-")
        if last and first[:3] in DAY_NAMES and last[:3] in DAY_NAMES:
            start, end = DAY_NAMES.index(first[:3]), DAY_NAMES.index(last[:3])
            days += [DAY_NAMES[(start + i) % 7] for i in range((end - start) % 7 + 1)]
        else:
            days.append(item)
    opens, _, closes = parts[1].partition("-")
    spec = {"days": days, "start": opens, "end": closes, "time_zone": parts[2] if len(parts) == 3 else "UTC"}
    try:
        return SendWindow.parse(spec).to_spec()
    except ValueError as exc:
        raise CliError(f"--window {text!r}: {exc}") from None


def configure_smtp(parser: argparse.ArgumentParser, context: ModuleContext, service: Any) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = sub.add_parser("add", help="add (or change) an SMTP account; the password goes to the keyring")
    add.add_argument("name")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--tls", choices=("ssl", "starttls", "none"), required=True,
                     help="ssl: TLS from the start (port 465); starttls: upgrade (587); none: 127.0.0.1 only")
    add.add_argument("--user", default="", help=f"login name; the password is asked for, or read from {PASSWORD_ENV}")
    add.add_argument("--rate", type=float, default=None, metavar="PER_SECOND", help="at most this many a second")
    add.add_argument("--per-hour", type=int, default=None)
    add.add_argument("--per-day", type=int, default=None)
    add.add_argument("--connections", type=int, default=4)
    add.add_argument("--weight", type=int, default=1, help="share of a send that uses several accounts")
    add.add_argument("--warmup", action="store_true", help="a new account: a low daily cap that doubles each day")
    add.add_argument("--window", default=None, metavar="WHEN",
                     help='only send then, e.g. "mon-fri 09:00-17:30 Europe/Paris"')

    def run_add(args: argparse.Namespace) -> CliResult:
        existing = next((a for a in api.accounts(context.db) if a.name == args.name), None)
        password = None
        if args.user:
            problem = context.secrets.problem()
            if problem is not None:
                raise CliError(f"cannot store the password: {problem}")
            password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"Password for {args.user}: ")
            if not password:
                raise CliError("no password given")
        account_id = _execute(context, SaveAccount(
            name=args.name, host=args.host, port=args.port, tls=args.tls, username=args.user, password=password,
            per_second=args.rate, per_hour=args.per_hour, per_day=args.per_day, connections=args.connections,
            account_id=existing.id if existing else None, weight=args.weight, warmup=args.warmup,
            send_window=parse_window(args.window) if args.window else None))
        verb = "Changed" if existing else "Added"
        return CliResult({"id": account_id, "name": args.name},
                         f"{verb} SMTP account {args.name} ({args.host}:{args.port}, {args.tls})."
                         + (" Password stored in the keyring." if password else ""))

    add.set_defaults(run=run_add)

    listing = sub.add_parser("list", help="show the SMTP accounts")

    def run_list(_args: argparse.Namespace) -> CliResult:
        rows = [_account_row(a) for a in api.accounts(context.db)]
        text = "\n".join(f"{r['id']:>3}  {r['name']:<24} {r['server']}"
                         + (f"  user={r['user']}" if r["user"] else "")
                         + (f"  {r['per_second']:g}/s" if r["per_second"] else "")
                         + ("" if r["enabled"] else "  (off)") for r in rows)
        return CliResult(rows, text or "No SMTP accounts.")

    listing.set_defaults(run=run_list)

    test = sub.add_parser("test", help="connect, secure, log in and quit, and say how it went")
    test.add_argument("name")

    def run_test(args: argparse.Namespace) -> CliResult:
        account = _account(context, args.name)
        report = _execute(context, TestAccount(account_id=account.id))
        data = {"account": account.name, "ok": report.ok, "steps": list(report.steps), "error": report.error}
        if not report.ok:
            raise CliError(f"{account.name}: {report.error}")
        return CliResult(data, "\n".join(f"  ok  {step}" for step in report.steps) + f"\n{account.name} works.")

    test.set_defaults(run=run_test)

    remove = sub.add_parser("remove", help="remove an account and its password")
    remove.add_argument("name")

    def run_remove(args: argparse.Namespace) -> CliResult:
        account = _account(context, args.name)
        _execute(context, RemoveAccount(account_id=account.id))
        return CliResult({"removed": account.name}, f"Removed {account.name}.")

    remove.set_defaults(run=run_remove)


def configure_outbox(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="newest messages first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--search", default="", help="match the subject, the sender or a recipient")

    def run_list(args: argparse.Namespace) -> CliResult:
        rows = api.list_outbox(context.db, args.limit, args.search)
        data: list[dict[str, Any]] = [
            {"id": r.id, "received_at": r.received_at.isoformat(timespec="seconds"), "from": r.mail_from,
             "to": r.recipients, "subject": r.subject, "size": r.size} for r in rows]
        text = "\n".join(f"{r['id']:>6}  {r['received_at']}  {r['to'][:40]:<40}  {r['subject']}" for r in data)
        return CliResult(data, text or "The outbox is empty.")

    listing.set_defaults(run=run_list)

    show = sub.add_parser("show", help="one message: headers and text (or --raw)")
    show.add_argument("id", type=int)
    show.add_argument("--raw", action="store_true")

    def run_show(args: argparse.Namespace) -> CliResult:
        message = api.get_outbox_message(context.db, args.id)
        if message is None:
            raise CliError(f"no outbox message #{args.id}")
        raw = message.raw.decode("utf-8", "replace")
        data = {"id": message.id, "headers": dict(message.headers), "text": message.text, "html": message.html}
        if args.raw:
            return CliResult({**data, "raw": raw}, raw)
        head = "\n".join(f"{k}: {v}" for k, v in message.headers)
        return CliResult(data, f"{head}\n\n{message.text}")

    show.set_defaults(run=run_show)


def _status_text(status: api.RunStatus) -> str:
    counts = "  ".join(f"{s}={status.counts.get(s, 0)}" for s in api.STATES)
    lines = [f"Run {status.id}" + (f" (campaign {status.campaign_id})" if status.campaign_id else "")
             + f": {status.state}", f"  {counts}"]
    if status.total is not None:
        lines.append(f"  audience {status.total}")
    if status.reason:
        lines.append(f"  {status.reason}")
    return "\n".join(lines)


def _status_data(status: api.RunStatus) -> dict[str, Any]:
    return {"id": status.id, "campaign_id": status.campaign_id, "state": status.state, "reason": status.reason,
            "counts": {s: status.counts.get(s, 0) for s in api.STATES}, "total": status.total,
            "subject": status.subject}


def configure_delivery(parser: argparse.ArgumentParser, context: ModuleContext, service: Any) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = sub.add_parser("status", help="counts per state of a run")
    status.add_argument("run_id", type=int, metavar="RUN")

    def run_status(args: argparse.Namespace) -> CliResult:
        found = api.run_status(context.db, args.run_id)
        if found is None:
            raise CliError(f"no run {args.run_id}")
        return CliResult(_status_data(found), _status_text(found))

    status.set_defaults(run=run_status)

    runs = sub.add_parser("runs", help="the latest runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(run=lambda args: CliResult(
        [_status_data(s) for s in api.list_runs(context.db, limit=args.limit)],
        "\n".join(_status_text(s) for s in api.list_runs(context.db, limit=args.limit)) or "No runs yet."))

    for name, command, verb in (("pause", PauseRun, "paused"), ("resume", ResumeRun, "resumed"),
                                ("cancel", CancelRun, "cancelled")):
        action = sub.add_parser(name, help=f"{name} a run")
        action.add_argument("run_id", type=int, metavar="RUN")

        def run_action(args: argparse.Namespace, command: Any = command, verb: str = verb) -> CliResult:
            changed = _execute(context, command(run_id=args.run_id))
            return CliResult({"run": args.run_id, "changed": changed},
                             f"Run {args.run_id} {verb}." if changed else f"Run {args.run_id} was not changed.")

        action.set_defaults(run=run_action)

    resend = sub.add_parser("resend-unknown", help="send again to the recipients whose outcome is unknown")
    resend.add_argument("run_id", type=int, metavar="RUN")

    def run_resend(args: argparse.Namespace) -> CliResult:
        count = _execute(context, ResendUnknown(run_id=args.run_id))
        return CliResult({"run": args.run_id, "requeued": count}, f"{count} recipient(s) queued again.")

    resend.set_defaults(run=run_resend)

    send_test = sub.add_parser("send-test", help="send one test message through the default account")
    send_test.add_argument("--to", required=True)
    send_test.add_argument("--html", type=Path, required=True, help="an HTML file (Jinja2 merge tags allowed)")
    send_test.add_argument("--text", type=Path, default=None, help="a plain-text file (default: from the HTML)")
    send_test.add_argument("--subject", default="Test message")
    send_test.add_argument("--account", default=None, help="account name (default: the default account)")

    def run_send_test(args: argparse.Namespace) -> CliResult:
        try:
            html = args.html.read_text(encoding="utf-8")
            text = args.text.read_text(encoding="utf-8") if args.text else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the message file: {exc}") from None
        account_id = _account(context, args.account).id if args.account else None
        result = _execute(context, SendTestMessage(to=args.to, subject=args.subject, html=html, text=text,
                                                   account_id=account_id))
        data = {"ok": result.ok, "reply": result.reply, "message_id": result.message_id}
        if not result.ok:
            raise CliError(f"the server did not accept the test message: {result.reply}")
        return CliResult(data, f"Sent to {args.to}: {result.reply}")

    send_test.set_defaults(run=run_send_test)
    _configure_setup_commands(sub, context, service)
    from app.modules.delivery.cli_preflight import configure_preflight

    configure_preflight(sub, context)


def _configure_setup_commands(sub: Any, context: ModuleContext, service: Any) -> None:
    identity = sub.add_parser("identity", help="add or change a sender identity (From, Reply-To, postal address)")
    identity.add_argument("from_email")
    identity.add_argument("--name", default="")
    identity.add_argument("--reply-to", default="")
    identity.add_argument("--postal-address", default="")
    identity.add_argument("--bounce-address", default="")
    identity.add_argument("--dkim-selector", default="")
    identity.add_argument("--id", type=int, default=None, help="change this identity instead of adding one")

    def run_identity(args: argparse.Namespace) -> CliResult:
        identity_id = _execute(context, SaveIdentity(
            from_email=args.from_email, from_name=args.name, reply_to=args.reply_to,
            postal_address=args.postal_address, bounce_address=args.bounce_address,
            dkim_selector=args.dkim_selector, identity_id=args.id))
        return CliResult({"id": identity_id}, f"Sender identity {identity_id}: {args.name} <{args.from_email}>")

    identity.set_defaults(run=run_identity)

    dkim = sub.add_parser("dkim", help="generate a 2048-bit DKIM key for a domain and show the DNS record")
    dkim.add_argument("domain")
    dkim.add_argument("--selector", default="postroom")

    def run_dkim(args: argparse.Namespace) -> CliResult:
        info = _execute(context, CreateDkimKey(domain=args.domain, selector=args.selector))
        data = {"domain": info.domain, "selector": info.selector, "name": info.dns_name, "value": info.dns_value}
        return CliResult(data, f"Publish this TXT record, then set --dkim-selector {info.selector} on the "
                               f"identity:\n  {info.dns_name}\n  {info.dns_value}")

    dkim.set_defaults(run=run_dkim)

    _configure_send(sub, context, service)
    work = sub.add_parser("run", help="send the runs left in state sending, in the foreground, until done")

    def run_work(_args: argparse.Namespace) -> CliResult:
        pending = _execute(context, ResumePendingRuns())
        while service.host.active:
            time.sleep(0.2)
        rows = [_status_data(s) for s in api.list_runs(context.db, limit=max(1, pending))]
        return CliResult(rows, "Nothing to send." if not pending else
                         "\n".join(_status_text(s) for s in api.list_runs(context.db, limit=pending)))

    work.set_defaults(run=run_work)


def _configure_send(sub: Any, context: ModuleContext, service: Any) -> None:
    send = sub.add_parser("send", help="send an HTML email to a list (or segment) now, and wait until it is done")
    send.add_argument("--list", action="append", default=[], metavar="NAME", help="a list to send to (repeatable)")
    send.add_argument("--segment", action="append", default=[], metavar="NAME", help="a segment (repeatable)")
    send.add_argument("--subject", required=True)
    send.add_argument("--html", type=Path, required=True, help="an HTML file (Jinja2 merge tags allowed)")
    send.add_argument("--text", type=Path, default=None)
    send.add_argument("--account", action="append", default=[], metavar="NAME",
                      help="account to send through (default: the default account); repeat it to share the send "
                           "between accounts by their weights, each taking over when another fails or is full")

    def run_send(args: argparse.Namespace) -> CliResult:
        from app.modules.contacts import api as contacts_api
        from app.modules.delivery.messages import AudienceSpec, MessageContent, StartRun

        lists = {item.name.lower(): item.id for item in contacts_api.lists(context.db)}
        segments = {item.name.lower(): item.id for item in contacts_api.segments(context.db)}
        missing = [n for n in args.list if n.lower() not in lists] + [n for n in args.segment
                                                                     if n.lower() not in segments]
        if missing or not (args.list or args.segment):
            raise CliError(f"no list or segment named {', '.join(missing)}" if missing else "give --list or --segment")
        try:
            html = args.html.read_text(encoding="utf-8")
            text = args.text.read_text(encoding="utf-8") if args.text else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the message file: {exc}") from None
        audience = AudienceSpec(lists=tuple(lists[n.lower()] for n in args.list),
                                segments=tuple(segments[n.lower()] for n in args.segment))
        account_ids = tuple(_account(context, name).id for name in args.account)
        run_id = _execute(context, StartRun(audience=audience, content=MessageContent(
            subject=args.subject, html=html, text=text), account_ids=account_ids))
        _execute(context, ResumePendingRuns())
        while service.host.active:
            time.sleep(0.2)
        status = api.run_status(context.db, run_id)
        assert status is not None
        return CliResult(_status_data(status), _status_text(status))

    send.set_defaults(run=run_send)
