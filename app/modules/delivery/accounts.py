"""SMTP accounts and sender identities: checked on the way in, passwords kept in the keyring only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.kernel.secrets import SecretStore
from app.modules.delivery.messages import SaveAccount, SaveIdentity
from app.modules.delivery.mime import MessageError, ascii_address, check_header_text
from app.modules.delivery.models import TLS_MODES, Account, Identity
from app.modules.delivery.smtp import LOCAL_HOSTS, AccountConfig
from app.modules.delivery.throttle import SendWindow

LOCAL_OUTBOX_NAME = "Built-in outbox"
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


class DeliveryError(ValueError):
    """A request the delivery module cannot carry out; the message says what to change."""


def password_key(account_id: int) -> str:
    return f"smtp:{account_id}"


def check_account(command: SaveAccount, *, local_outbox: bool = False) -> None:
    """Refuse what cannot work, saying what to change (the built-in outbox keeps its own host and port)."""
    if not command.name.strip():
        raise DeliveryError("an account needs a name")
    if not local_outbox:
        _check_server(command)
    for label, value in (("per second", command.per_second), ("per hour", command.per_hour),
                         ("per day", command.per_day)):
        if value is not None and value <= 0:
            raise DeliveryError(f"the limit {label} must be above zero (leave it empty for no limit)")
    if not 1 <= command.connections <= 50:
        raise DeliveryError("connections must be between 1 and 50")
    if not 1 <= command.weight <= 1000:
        raise DeliveryError("the weight must be between 1 and 1000")
    if command.send_window is not None:
        try:
            SendWindow.parse(command.send_window)
        except ValueError as exc:
            raise DeliveryError(f"the send window is not valid: {exc}") from None


def _check_server(command: SaveAccount) -> None:
    if not command.host.strip() or not _HOST.match(command.host.strip()):
        raise DeliveryError(f"{command.host!r} is not a host name")
    if not 0 < command.port < 65536:
        raise DeliveryError(f"port {command.port} is not a port number (1-65535)")
    if command.tls not in TLS_MODES:
        raise DeliveryError(f"TLS must be one of {', '.join(TLS_MODES)}, not {command.tls!r}")
    if command.tls == "none" and command.host.strip() not in LOCAL_HOSTS:
        raise DeliveryError(f"{command.host} needs TLS (ssl or starttls): plain text is allowed only to 127.0.0.1")


def save_account(session: Session, secrets: SecretStore, command: SaveAccount) -> int:
    existing = session.get(Account, command.account_id) if command.account_id is not None else None
    local = existing is not None and existing.is_local_outbox
    check_account(command, local_outbox=local)
    if command.password and secrets.problem() is not None:
        raise DeliveryError(f"the password cannot be stored safely: {secrets.problem()}")
    clash = session.scalar(select(Account).where(Account.name == command.name.strip()))
    if clash is not None and clash.id != command.account_id:
        raise DeliveryError(f"an account named {command.name!r} already exists")
    if command.account_id is None:
        account = Account()
        session.add(account)
    else:
        found = session.get(Account, command.account_id)
        if found is None:
            raise DeliveryError(f"no account with id {command.account_id}")
        account = found
    account.name = command.name.strip()
    if not local:  # the built-in outbox's address is chosen when the app starts
        account.host = command.host.strip()
        account.port = command.port
        account.tls = command.tls
        account.username = command.username.strip()
    account.per_second, account.per_hour, account.per_day = command.per_second, command.per_hour, command.per_day
    account.connections = command.connections
    account.enabled = command.enabled
    account.weight = command.weight
    if command.warmup and not account.warmup:  # the ramp starts on the day warm-up is switched on
        account.warmup_started_on = dt.datetime.now(dt.UTC).date()
    account.warmup = command.warmup
    if account.warmup_started_on is None:
        account.warmup_started_on = dt.datetime.now(dt.UTC).date()
    account.send_window = SendWindow.parse(command.send_window).to_spec() if command.send_window else None
    session.flush()
    if command.password:
        secrets.set(password_key(account.id), command.password)
    return account.id


def save_identity(session: Session, command: SaveIdentity) -> int:
    try:
        ascii_address(command.from_email)
        for value in (command.reply_to, command.bounce_address):
            if value:
                ascii_address(value)
        check_header_text("sender name", command.from_name)
    except MessageError as exc:
        raise DeliveryError(str(exc)) from None
    if command.identity_id is None:
        identity = Identity()
        session.add(identity)
    else:
        found = session.get(Identity, command.identity_id)
        if found is None:
            raise DeliveryError(f"no sender identity with id {command.identity_id}")
        identity = found
    identity.from_email = command.from_email.strip()
    identity.from_name = command.from_name.strip()
    identity.reply_to = command.reply_to.strip()
    identity.postal_address = command.postal_address.strip()
    identity.bounce_address = command.bounce_address.strip()
    identity.dkim_selector = command.dkim_selector.strip()
    session.flush()
    return identity.id


def ensure_defaults(session: Session) -> tuple[int, int]:
    """On a fresh install: an account pointing at the built-in outbox and a placeholder identity."""
    account = session.scalar(select(Account).where(Account.is_local_outbox.is_(True)))
    if account is None:
        account = Account(name=LOCAL_OUTBOX_NAME, host="127.0.0.1", port=0, tls="none", connections=4,
                          is_local_outbox=True)
        session.add(account)
    identity = session.scalar(select(Identity).order_by(Identity.id))
    if identity is None:
        identity = Identity(from_name="Postroom", from_email="newsletter@example.com",
                            postal_address="")
        session.add(identity)
    session.flush()
    return account.id, identity.id


def account_configs(session: Session, secrets: SecretStore, outbox_port: Callable[[], int | None],
                    timeout: float = 60.0) -> dict[int, AccountConfig]:
    """Every enabled account as the sender needs it, with its password from the keyring.

    ``outbox_port()`` gives the built-in outbox's port (starting it if need be), or None when it is off.
    """
    configs: dict[int, AccountConfig] = {}
    for account in session.scalars(select(Account).where(Account.enabled.is_(True))):
        if account.is_local_outbox:
            port = outbox_port()
            if port is None:
                continue  # the built-in outbox is off: runs on it pause with "account switched off"
            configs[account.id] = AccountConfig(account.id, account.name, "127.0.0.1", port, "none",
                                                connections=account.connections, timeout=timeout,
                                                per_second=account.per_second, weight=account.weight,
                                                send_window=account.send_window)
            continue
        password = ""
        if account.username:
            try:
                password = secrets.get(password_key(account.id)) or ""
            except Exception:
                password = ""
        configs[account.id] = AccountConfig(
            account.id, account.name, account.host, account.port, account.tls, account.username, password,
            account.per_second, account.per_hour, account.per_day, account.connections, timeout,
            weight=account.weight, warmup_started_on=account.warmup_started_on if account.warmup else None,
            send_window=account.send_window)
    return configs
