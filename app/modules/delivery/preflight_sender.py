"""Preflight: who sends (account, identity, DKIM key) and to whom (audience size, the contact to render for)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.kernel.database import Database
from app.modules.delivery.content import contact_mapping
from app.modules.delivery.messages import PreflightFinding, RunPreflight
from app.modules.delivery.models import Account, DkimKey, Identity
from app.modules.delivery.preflight_dns import DkimExpectation


@dataclass
class SenderInfo:
    """The account and identity a send would use, as plain values."""

    account_id: int | None
    account_name: str
    account_host: str
    account_enabled: bool
    local_outbox: bool
    identity_id: int | None
    from_name: str
    from_email: str
    reply_to: str
    postal_address: str
    dkim: DkimExpectation | None
    dkim_pem: bytes | None
    dkim_note: PreflightFinding | None

    @property
    def domain(self) -> str:
        """The From domain as DNS and the DKIM key table know it (IDNA, like the sender's ``Skeleton``)."""
        domain = self.from_email.rpartition("@")[2].strip().lower()
        try:
            return domain.encode("idna").decode("ascii")
        except UnicodeError:
            return domain

    @property
    def mapping(self) -> dict[str, Any]:
        return {"name": self.from_name, "email": self.from_email, "reply_to": self.reply_to,
                "postal_address": self.postal_address}


def load_sender(db: Database, settings: Any, secrets: Any, command: RunPreflight) -> SenderInfo:
    account_id = command.account_id or settings.get_optional("delivery.default_account_id")
    identity_id = command.identity_id or settings.get_optional("delivery.default_identity_id")
    with db.read() as session:
        account = (session.get(Account, account_id) if account_id else
                   session.scalar(select(Account).where(Account.is_local_outbox.is_(True))))
        identity = (session.get(Identity, identity_id) if identity_id else
                    session.scalar(select(Identity).order_by(Identity.id)))
        sender = SenderInfo(
            account_id=account.id if account else account_id, account_name=account.name if account else "",
            account_host="" if account is None or account.is_local_outbox else account.host,
            account_enabled=bool(account and account.enabled), local_outbox=bool(account and account.is_local_outbox),
            identity_id=identity.id if identity else identity_id,
            from_name=identity.from_name if identity else "", from_email=identity.from_email if identity else "",
            reply_to=identity.reply_to if identity else "",
            postal_address=identity.postal_address if identity else "", dkim=None, dkim_pem=None, dkim_note=None)
        selector = identity.dkim_selector if identity else ""
        keys = [(k.selector, k.public_key) for k in session.scalars(
            select(DkimKey).where(DkimKey.domain == sender.domain).order_by(DkimKey.id))]
    _dkim(sender, selector, keys, secrets)
    return sender


def _dkim(sender: SenderInfo, selector: str, keys: list[tuple[str, str]], secrets: Any) -> None:
    domain = sender.domain
    if not domain:
        return
    stored = next((public for name, public in keys if name == selector), None) if selector else None
    if not selector:
        hint = (f"a key exists (selector {keys[0][0]}): set it on the sender identity with "
                f"`postroom delivery identity ... --dkim-selector {keys[0][0]}`" if keys else
                f"make a key with `postroom delivery dkim {domain}` and publish the record it shows")
        sender.dkim_note = PreflightFinding(level="warning", check="dkim", message=f"Messages from {domain} are "
                                            f"not DKIM-signed; Gmail and Yahoo require DKIM for bulk mail: {hint}.")
        return
    if stored is None:
        sender.dkim_note = PreflightFinding(level="warning", check="dkim", message=f"The sender identity names "
                                            f"DKIM selector {selector!r}, but Postroom has no key for it on "
                                            f"{domain}, so messages go out unsigned: make one with "
                                            f"`postroom delivery dkim {domain} --selector {selector}`.")
        return
    sender.dkim = DkimExpectation(selector=selector, public_key=stored)
    try:
        pem = secrets.get(f"dkim:{domain}:{selector}")
    except Exception:
        pem = None
    if not pem:
        sender.dkim_note = PreflightFinding(level="warning", check="dkim", message=f"The private DKIM key for "
                                            f"{selector}._domainkey.{domain} is not in this computer's keyring, so "
                                            "messages go out unsigned: make a new key and publish it.")
        return
    sender.dkim_pem = pem.encode("ascii")


def account_findings(sender: SenderInfo) -> list[PreflightFinding]:
    found: list[PreflightFinding] = []
    if not sender.account_name:
        found.append(PreflightFinding(level="error", check="account", message=f"There is no SMTP account with id "
                                      f"{sender.account_id}: choose another account."))
    elif not sender.account_enabled:
        found.append(PreflightFinding(level="error", check="account", message=f"The SMTP account "
                                      f"{sender.account_name!r} is switched off: switch it on or choose another."))
    elif sender.local_outbox:
        found.append(PreflightFinding(level="ok", check="account", message="Sending to the built-in outbox: "
                                      "messages stay on this computer (Delivery > Outbox) and nobody receives "
                                      "them."))
    else:
        found.append(PreflightFinding(level="ok", check="account", message=f"Sending through "
                                      f"{sender.account_name} ({sender.account_host})."))
    if not sender.from_email:
        found.append(PreflightFinding(level="error", check="account", message=f"There is no sender identity with "
                                      f"id {sender.identity_id}: choose another sender."))
    return found


def sample_contact(db: Database, command: RunPreflight) -> tuple[dict[str, Any], list[PreflightFinding]]:
    """The audience's first contact when there is an audience (a real one renders the real way), else a
    made-up contact with every custom field filled."""
    from app.modules.contacts.api import Audience, count_audience, custom_fields, recipient_batches

    if command.audience is not None:
        audience = Audience(**{k: tuple(v) for k, v in dataclasses.asdict(command.audience).items()})
        total = count_audience(db, audience)
        if total == 0:
            return _made_up(db, custom_fields), [PreflightFinding(
                level="error", check="audience", message="Nobody would receive this: the audience is empty (or "
                "everyone in it is unsubscribed or suppressed). Choose lists or segments with subscribers.")]
        first = next(iter(recipient_batches(db, audience, 1)), [])
        found = [PreflightFinding(level="ok", check="audience", message=f"{total:,} recipient(s).")]
        if first:
            person = first[0]
            data = {"first_name": person.first_name, "last_name": person.last_name, "language": person.language,
                    "time_zone": person.time_zone, "fields": person.fields}
            return contact_mapping(person.contact_id, person.email, data), found
        return _made_up(db, custom_fields), found
    return _made_up(db, custom_fields), []


def _made_up(db: Database, custom_fields: Callable[[Database], list[Any]]) -> dict[str, Any]:
    samples = {"number": 42, "boolean": True, "date": "2026-01-31"}
    fields = {f.key: samples.get(f.type, f.choices[0] if f.choices else f.label) for f in custom_fields(db)}
    return contact_mapping(0, "alex@example.com", {"first_name": "Alex", "last_name": "Example", "fields": fields})
