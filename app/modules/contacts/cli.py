"""``postroom contacts|segments|suppressions ...``: the contacts module's command line."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select

from app.cli import CliError, CliResult
from app.kernel.registry import ModuleContext
from app.modules.contacts import store
from app.modules.contacts.addresses import InvalidAddress, email_key, parse_address
from app.modules.contacts.messages import SuppressAddress, UnsubscribeContact
from app.modules.contacts.models import Suppression


def configure_contacts(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    from app.modules.contacts.contact_cli import add_contact_commands
    from app.modules.contacts.import_cli import add_import_command
    from app.modules.contacts.segment_cli import add_export_and_count_commands

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_import_command(sub, context)
    add_export_and_count_commands(sub, context)
    add_contact_commands(sub, context)


def configure_segments(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    from app.modules.contacts.segment_cli import add_segment_commands

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_segment_commands(sub, context)


def configure_suppressions(parser: argparse.ArgumentParser, context: ModuleContext) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="show suppressed addresses")
    listing.add_argument("--limit", type=int, default=1000)

    def run_list(args: argparse.Namespace) -> CliResult:
        with context.db.read() as session:
            total = session.scalar(select(func.count()).select_from(Suppression)) or 0
            rows = session.scalars(select(Suppression).order_by(Suppression.created_at.desc()).limit(args.limit))
            data: list[dict[str, Any]] = [
                {"email": row.email or "(erased)", "reason": row.reason, "detail": row.detail,
                 "since": row.created_at.isoformat(timespec="seconds")} for row in rows]
        text = "\n".join(f"{r['email']:<40} {r['reason']:<13} {r['since']}  {r['detail']}".rstrip() for r in data)
        return CliResult({"total": total, "suppressions": data}, (text or "No suppressed addresses.")
                         + (f"\n({total} in all, {len(data)} shown)" if total > len(data) else ""))

    listing.set_defaults(run=run_list)

    add = sub.add_parser("add", help="suppress an address by hand")
    add.add_argument("email")
    add.add_argument("--detail", default="")

    def run_add(args: argparse.Namespace) -> CliResult:
        email = _valid(args.email)
        newly = context.bus.execute(SuppressAddress(email=email, reason="manual", detail=args.detail))
        return CliResult({"email": email, "added": newly},
                         f"{email} is now suppressed." if newly else f"{email} was already suppressed.")

    add.set_defaults(run=run_add)

    remove = sub.add_parser("remove", help="lift a manual suppression (bounces and unsubscribes stay)")
    remove.add_argument("email")

    def run_remove(args: argparse.Namespace) -> CliResult:
        try:
            with context.db.transaction() as session:
                removed = store.unsuppress(session, args.email)
        except store.ContactsError as exc:
            raise CliError(str(exc)) from None
        if not removed:
            raise CliError(f"{args.email} is not suppressed")
        return CliResult({"email": args.email, "removed": True}, f"{args.email} can be mailed again.")

    remove.set_defaults(run=run_remove)


def _valid(email: str) -> str:
    try:
        return parse_address(email).email
    except InvalidAddress as exc:
        raise CliError(f"{email!r} is not a valid address: {exc}") from None


def unsubscribe_command(context: ModuleContext, email: str, list_name: str | None) -> CliResult:
    list_id = None
    if list_name:
        with context.db.read() as session:
            found = store.list_by_name(session, list_name)
            if found is None:
                raise CliError(f"no list named {list_name!r}")
            list_id = found.id
    known = context.bus.execute(UnsubscribeContact(email=_valid(email), list_id=list_id,
                                                   everywhere=list_id is None, source="command line"))
    where = f"from {list_name}" if list_name else "from every list and suppressed"
    if known:
        text = f"{email} unsubscribed {where}."
    elif list_id is None:
        text = f"{email} is not a contact; suppressed so it is never mailed."
    else:  # one list only: nothing is suppressed, so say so rather than promise it
        text = f"{email} is not a contact; nothing changed."
    return CliResult({"email": email_key(email), "known_contact": known, "list": list_name}, text)
