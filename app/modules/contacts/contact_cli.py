"""``postroom contacts show|add|tag|unsubscribe|lists``: one contact at a time from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from app.cli import CliError, CliResult
from app.kernel.database import utcnow
from app.kernel.registry import ModuleContext
from app.modules.contacts import store
from app.modules.contacts.addresses import (
    InvalidAddress,
    email_hash,
    is_role_address,
    parse_address,
    suggest_address,
)
from app.modules.contacts.messages import ContactsChanged, ListsChanged, SubscriptionChanged
from app.modules.contacts.models import Consent, Contact, Subscription, Suppression, Tag
from app.modules.contacts.queries import ContactDetail, contact_detail, filter_options, find_contact_id


def add_contact_commands(sub: Any, context: ModuleContext) -> None:
    """Add the per-contact subcommands to ``postroom contacts``."""
    show = sub.add_parser("show", help="everything held about one contact",
                          description="Fields, lists, tags, consent, suppression and the last 20 activities.")
    show.add_argument("email")
    show.set_defaults(run=lambda args: show_contact(context, args.email))

    unsubscribe = sub.add_parser("unsubscribe", help="unsubscribe an address (from every list unless --list)",
                                 description="Without --list the address is also suppressed: never mailed again.")
    unsubscribe.add_argument("email")
    unsubscribe.add_argument("--list", dest="list_name", metavar="NAME", help="only from this list")

    def run_unsubscribe(args: argparse.Namespace) -> CliResult:
        from app.modules.contacts.cli import unsubscribe_command

        return unsubscribe_command(context, args.email, args.list_name)

    unsubscribe.set_defaults(run=run_unsubscribe)

    add = sub.add_parser("add", help="add one contact (or update its names), optionally to a list and with tags")
    add.add_argument("email")
    add.add_argument("--first-name", default=None)
    add.add_argument("--last-name", default=None)
    add.add_argument("--list", dest="list_name", metavar="NAME", help="subscribe to this list (created if new)")
    add.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG", help="may be repeated")
    add.set_defaults(run=lambda args: add_contact(context, args.email, first_name=args.first_name,
                                                  last_name=args.last_name, list_name=args.list_name,
                                                  tags=args.tags))

    tag = sub.add_parser("tag", help="tag a contact")
    tag.add_argument("email")
    tag.add_argument("tags", nargs="+", metavar="TAG")
    tag.set_defaults(run=lambda args: tag_contact(context, args.email, args.tags))

    listing = sub.add_parser("lists", help="the lists, with how many are subscribed, unconfirmed and unsubscribed")
    listing.set_defaults(run=lambda _args: list_lists(context))


# -- show ------------------------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="seconds") if moment is not None else None


def _detail_data(detail: ContactDetail) -> dict[str, Any]:
    return {
        "id": detail.id, "email": detail.email, "first_name": detail.first_name, "last_name": detail.last_name,
        "language": detail.language, "time_zone": detail.time_zone,
        "created_at": _iso(detail.created_at), "updated_at": _iso(detail.updated_at),
        "last_sent_at": _iso(detail.last_sent_at), "last_open_at": _iso(detail.last_open_at),
        "last_click_at": _iso(detail.last_click_at),
        "fields": dict(detail.fields),
        "lists": [{"list": m.list_name, "status": m.status, "since": _iso(m.since)} for m in detail.memberships],
        "tags": list(detail.tags),
        "consent": [{"given_at": _iso(c.given_at), "list": c.list_name, "purpose": c.purpose, "source": c.source,
                     "method": c.method, "text_version": c.text_version, "evidence": c.evidence,
                     "withdrawn_at": _iso(c.withdrawn_at)} for c in detail.consents],
        "suppression": None if detail.suppression is None else {
            "reason": detail.suppression.reason, "detail": detail.suppression.detail,
            "since": _iso(detail.suppression.since)},
        "activity": [{"at": _iso(a.occurred_at), "kind": a.kind, "name": a.name, "campaign_id": a.campaign_id,
                      "properties": a.properties, "value": a.value} for a in detail.activities],
    }


def _detail_text(data: dict[str, Any]) -> str:
    name = f"{data['first_name']} {data['last_name']}".strip()
    lines = [data["email"] + (f"  ({name})" if name else "")]
    if data["suppression"]:
        s = data["suppression"]
        lines.append(f"SUPPRESSED: {s['reason'].replace('_', ' ')} since {s['since']}"
                     + (f" ({s['detail']})" if s["detail"] else "") + " - never mailed again")
    facts = [("language", data["language"]), ("time zone", data["time_zone"]), ("added", data["created_at"]),
             ("last sent", data["last_sent_at"]), ("last open", data["last_open_at"]),
             ("last click", data["last_click_at"]), *data["fields"].items()]
    width = max(len(name) for name, _ in facts)
    lines.extend(f"  {name:<{width}}  {value or '-'}" for name, value in facts)
    lines.append("Lists:")
    lines.extend(f"  {m['list']}: {m['status']} since {m['since']}" for m in data["lists"])
    if not data["lists"]:
        lines.append("  (none)")
    lines.append("Tags: " + (", ".join(data["tags"]) if data["tags"] else "(none)"))
    lines.append("Consent:")
    for c in data["consent"]:
        what = c["list"] or c["purpose"] or "mail"
        how = ", ".join(part for part in (c["source"], c["method"]) if part)
        withdrawn = f"; withdrawn {c['withdrawn_at']}" if c["withdrawn_at"] else ""
        lines.append(f"  {c['given_at']}  {what}  {how}{withdrawn}")
    if not data["consent"]:
        lines.append("  (none recorded)")
    lines.append(f"Activity (last {len(data['activity'])}):")
    for a in data["activity"]:
        what = a["name"] or a["kind"]
        campaign = f"  campaign {a['campaign_id']}" if a["campaign_id"] is not None else ""
        lines.append(f"  {a['at']}  {what}{campaign}")
    if not data["activity"]:
        lines.append("  (none)")
    return "\n".join(lines)


def show_contact(context: ModuleContext, email: str) -> CliResult:
    contact_id = find_contact_id(context.db, email)
    if contact_id is None:
        with context.db.read() as session:
            row = session.scalar(select(Suppression).where(Suppression.email_hash == email_hash(email)))
            reason = row.reason.replace("_", " ") if row is not None else None
        if reason is not None:
            raise CliError(f"{email} is not a contact, but it is on the suppression list ({reason})")
        raise CliError(f"{email} is not a contact")
    detail = contact_detail(context.db, contact_id, activity_limit=20)
    if detail is None:
        raise CliError(f"{email} is not a contact")
    data = _detail_data(detail)
    return CliResult(data, _detail_text(data))


# -- add and tag -----------------------------------------------------------------------------------


def _address(email: str) -> Any:
    try:
        return parse_address(email)
    except InvalidAddress as exc:
        raise CliError(f"{email!r} is not a valid address: {exc}") from None


def _tag_names(names: list[str]) -> list[str]:
    cleaned = [name.strip() for name in names if name.strip()]
    too_long = [name for name in cleaned if len(name) > 100]
    if too_long:
        raise CliError(f"the tag {too_long[0][:40]!r}... is longer than 100 characters")
    return cleaned


def _known_tags(session: Any, names: list[str]) -> int:
    return int(session.scalar(select(func.count()).select_from(Tag).where(
        func.lower(Tag.name).in_([n.lower() for n in names]))) or 0)


def _subscribe(session: Any, contact: Contact, list_name: str, notes: list[str]) -> tuple[int | None, bool]:
    """Subscribe by hand with a consent record, never someone suppressed or who left that list.

    Returns the list id when subscribed now, and whether the list was created.
    """
    created = store.list_by_name(session, list_name) is None
    mailing_list = store.get_or_create_list(session, list_name)
    current = session.get(Subscription, (contact.id, mailing_list.id))
    if store.is_suppressed(session, contact.email_key):
        notes.append(f"not subscribed to {mailing_list.name}: {contact.email} is on the suppression list")
    elif current is not None and current.status == "unsubscribed":
        notes.append(f"not subscribed to {mailing_list.name}: {contact.email} unsubscribed from it; "
                     "only they can subscribe again")
    elif current is None or current.status != "subscribed":
        store.subscribe(session, contact.id, mailing_list.id, "subscribed")
        session.add(Consent(contact_id=contact.id, list_id=mailing_list.id, source="command line", method="manual"))
        return mailing_list.id, created
    return None, created


def add_contact(context: ModuleContext, email: str, *, first_name: str | None = None,
                last_name: str | None = None, list_name: str | None = None,
                tags: list[str] | None = None) -> CliResult:
    address = _address(email)
    tag_names = _tag_names(tags or [])
    notes: list[str] = []
    if is_role_address(address):
        notes.append(f"{address.email} is a role address (it reaches a team, not a person)")
    suggestion = suggest_address(address)
    if suggestion:
        notes.append(f"did you mean {suggestion}? (added as typed)")
    subscribed_to: int | None = None
    new_names = False
    with context.db.transaction() as session:
        contact = session.scalar(select(Contact).where(Contact.email_key == address.key))
        created = contact is None
        if contact is None:
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              first_name="", last_name="", fields={})
            session.add(contact)
        for attribute, value in (("first_name", first_name), ("last_name", last_name)):
            if value is not None:
                setattr(contact, attribute, value.replace("\x00", "").strip()[:200])
        contact.updated_at = utcnow()
        session.flush()
        if list_name:
            subscribed_to, new_names = _subscribe(session, contact, list_name, notes)
        if tag_names:
            new_names |= _known_tags(session, tag_names) < len({n.lower() for n in tag_names})
            store.add_tags(session, [contact.id], [tag.id for tag in store.get_or_create_tags(session, tag_names)])
        contact_id = contact.id
    if new_names:
        context.bus.publish(ListsChanged())
    if subscribed_to is not None:
        context.bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=subscribed_to, status="subscribed"))
    context.bus.publish(ContactsChanged(contact_ids=(contact_id,)))
    data = {"email": address.email, "contact_id": contact_id, "created": created,
            "subscribed_to": list_name if subscribed_to is not None else None, "tags": tag_names, "notes": notes}
    text = f"{'Added' if created else 'Updated'} {address.email}"
    if subscribed_to is not None:
        text += f", subscribed to {list_name}"
    if tag_names:
        text += f", tagged {', '.join(tag_names)}"
    return CliResult(data, "\n".join([text + ".", *(f"Note: {note}." for note in notes)]))


def tag_contact(context: ModuleContext, email: str, tags: list[str]) -> CliResult:
    address = _address(email)
    tag_names = _tag_names(tags)
    if not tag_names:
        raise CliError("give at least one tag")
    with context.db.transaction() as session:
        contact_id = session.scalar(select(Contact.id).where(Contact.email_key == address.key))
        if contact_id is None:
            raise CliError(f"{address.email} is not a contact (add it with: postroom contacts add {address.email})")
        new_names = _known_tags(session, tag_names) < len({n.lower() for n in tag_names})
        store.add_tags(session, [contact_id], [tag.id for tag in store.get_or_create_tags(session, tag_names)])
    if new_names:
        context.bus.publish(ListsChanged())
    context.bus.publish(ContactsChanged(contact_ids=(contact_id,)))
    return CliResult({"email": address.email, "tags": tag_names},
                     f"Tagged {address.email}: {', '.join(tag_names)}.")


# -- lists -----------------------------------------------------------------------------------------


def list_lists(context: ModuleContext) -> CliResult:
    options = filter_options(context.db)
    rows: list[dict[str, Any]] = [{"name": entry.name, "subscribed": entry.by_status.get("subscribed", 0),
             "unconfirmed": entry.by_status.get("unconfirmed", 0),
             "unsubscribed": entry.by_status.get("unsubscribed", 0)} for entry in options.lists]
    if not rows:
        return CliResult(rows, "No lists yet (postroom contacts add EMAIL --list NAME creates one).")
    width = max(len("List"), *(len(row["name"]) for row in rows))
    lines = [f"{'List':<{width}}  {'subscribed':>10}  {'unconfirmed':>11}  {'unsubscribed':>12}"]
    lines.extend(f"{row['name']:<{width}}  {row['subscribed']:>10,}  {row['unconfirmed']:>11,}  "
                 f"{row['unsubscribed']:>12,}" for row in rows)
    return CliResult(rows, "\n".join(lines))
