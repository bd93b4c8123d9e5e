"""Public read API of the delivery module: runs, the per-recipient log, accounts, identities and the outbox,
as plain dataclasses."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from app.kernel.database import Database
from app.modules.delivery.models import Account, DkimKey, Identity, OutboxMessage, Recipient, Run

STATES = ("queued", "sending", "sent", "deferred", "failed", "unknown")


@dataclass(frozen=True)
class RunStatus:
    id: int
    campaign_id: int | None
    state: str
    reason: str
    counts: dict[str, int]
    total: int | None  # audience size, once the sender has counted it
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    account_id: int
    identity_id: int
    version_key: str
    subject: str
    account_ids: tuple[int, ...] = ()  # every account the run may use (the first is account_id)

    @property
    def open(self) -> int:
        """Recipients not settled yet (queued, sending, deferred or unknown)."""
        return sum(self.counts.get(s, 0) for s in ("queued", "sending", "deferred", "unknown"))


@dataclass(frozen=True)
class RecipientEntry:
    id: int
    contact_id: int
    email: str
    state: str
    attempts: int
    outcome: str
    reply: str
    message_id: str
    first_attempt_at: dt.datetime | None
    finished_at: dt.datetime | None
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True)
class AccountInfo:
    id: int
    name: str
    host: str
    port: int
    tls: str
    username: str
    per_second: float | None
    per_hour: int | None
    per_day: int | None
    connections: int
    enabled: bool
    is_local_outbox: bool
    weight: int = 1
    warmup: bool = False
    warmup_started_on: dt.date | None = None
    send_window: dict[str, Any] | None = None


@dataclass(frozen=True)
class IdentityInfo:
    id: int
    from_name: str
    from_email: str
    reply_to: str
    postal_address: str
    bounce_address: str
    dkim_selector: str


@dataclass(frozen=True)
class DkimKeyRecord:
    """A DKIM key Postroom made, as the TXT record to publish (the private key stays in the keyring)."""

    domain: str
    selector: str
    dns_name: str
    dns_value: str


@dataclass(frozen=True)
class OutboxSummary:
    id: int
    received_at: dt.datetime
    mail_from: str
    recipients: str
    subject: str
    size: int


@dataclass(frozen=True)
class OutboxDetail:
    id: int
    received_at: dt.datetime
    mail_from: str
    recipients: str
    subject: str
    headers: tuple[tuple[str, str], ...]
    html: str
    text: str
    raw: bytes


def _time(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None) if value else None


def _counts(db: Database, run_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return out
    with db.read() as session:
        rows = session.execute(select(Recipient.run_id, Recipient.state, func.count())
                               .where(Recipient.run_id.in_(run_ids))
                               .group_by(Recipient.run_id, Recipient.state)).all()
    for run_id, state, n in rows:
        out[run_id][state] = int(n)
    return out


def _status(run: Run, counts: dict[str, int]) -> RunStatus:
    return RunStatus(run.id, run.campaign_id, run.state, run.pause_reason, counts, run.audience_total,
                     run.created_at, run.started_at, run.finished_at, run.account_id, run.identity_id,
                     run.version_key, str((run.content or {}).get("subject", "")),
                     tuple(run.account_ids or (run.account_id,)))


def run_status(db: Database, run_id: int) -> RunStatus | None:
    with db.read() as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        session.expunge(run)
    return _status(run, _counts(db, [run_id])[run_id])


def list_runs(db: Database, *, campaign_id: int | None = None, limit: int = 50) -> list[RunStatus]:
    with db.read() as session:
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        if campaign_id is not None:
            query = query.where(Run.campaign_id == campaign_id)
        runs = list(session.scalars(query))
        for run in runs:
            session.expunge(run)
    counts = _counts(db, [run.id for run in runs])
    return [_status(run, counts[run.id]) for run in runs]


def recipient_log(db: Database, run_id: int, *, state: str | None = None, search: str = "",
                  after_id: int = 0, limit: int = 500) -> list[RecipientEntry]:
    """One page of a run's per-recipient log in id order (pass the last id as ``after_id`` for the next)."""
    with db.read() as session:
        query = (select(Recipient).where(Recipient.run_id == run_id, Recipient.id > after_id)
                 .order_by(Recipient.id).limit(limit))
        if state:
            query = query.where(Recipient.state == state)
        if search:
            pattern = f"%{search}%"
            query = query.where(or_(Recipient.email.ilike(pattern), Recipient.reply_text.ilike(pattern)))
        return [RecipientEntry(r.id, r.contact_id, r.email, r.state, r.attempts, r.outcome,
                               f"{r.reply_code or ''} {r.reply_text}".strip(), r.message_id,
                               _time(r.first_attempt_at), _time(r.finished_at), _time(r.next_attempt_at))
                for r in session.scalars(query)]


def accounts(db: Database) -> list[AccountInfo]:
    with db.read() as session:
        return [AccountInfo(a.id, a.name, a.host, a.port, a.tls, a.username, a.per_second, a.per_hour, a.per_day,
                            a.connections, a.enabled, a.is_local_outbox, a.weight, a.warmup, a.warmup_started_on,
                            a.send_window)
                for a in session.scalars(select(Account).order_by(Account.id))]


def identities(db: Database) -> list[IdentityInfo]:
    with db.read() as session:
        return [IdentityInfo(i.id, i.from_name, i.from_email, i.reply_to, i.postal_address, i.bounce_address,
                             i.dkim_selector) for i in session.scalars(select(Identity).order_by(Identity.id))]


def dkim_keys(db: Database) -> list[DkimKeyRecord]:
    with db.read() as session:
        return [DkimKeyRecord(k.domain, k.selector, f"{k.selector}._domainkey.{k.domain}", k.public_key)
                for k in session.scalars(select(DkimKey).order_by(DkimKey.domain, DkimKey.selector))]


def list_outbox(db: Database, limit: int = 100, search: str = "") -> list[OutboxSummary]:
    """Newest first; ``search`` matches the subject, the sender or a recipient."""
    columns = (OutboxMessage.id, OutboxMessage.received_at, OutboxMessage.mail_from, OutboxMessage.rcpt_to,
               OutboxMessage.subject, OutboxMessage.size)
    with db.read() as session:
        query = select(*columns).order_by(OutboxMessage.id.desc()).limit(limit)
        if search:
            pattern = f"%{search}%"
            query = query.where(or_(OutboxMessage.subject.ilike(pattern), OutboxMessage.rcpt_to.ilike(pattern),
                                    OutboxMessage.mail_from.ilike(pattern)))
        return [OutboxSummary(*row) for row in session.execute(query).all()]


def count_outbox(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def get_outbox_message(db: Database, message_id: int) -> OutboxDetail | None:
    """One stored message with its headers, HTML and text parts decoded, and the raw source."""
    from email import message_from_bytes
    from email.policy import default as default_policy

    with db.read() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            return None
        raw = zlib.decompress(row.raw)
        summary = (row.id, row.received_at, row.mail_from, row.rcpt_to, row.subject)
    message = message_from_bytes(raw, policy=default_policy)
    headers = tuple((name, str(value)) for name, value in message.items())
    html = text = ""
    try:
        html_part = message.get_body(("html",))
        text_part = message.get_body(("plain",))
        html = str(html_part.get_content()) if html_part is not None else ""
        text = str(text_part.get_content()) if text_part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or a broken part: the raw source still shows it
        pass
    return OutboxDetail(*summary, headers=headers, html=html, text=text, raw=raw)


def sent_contact_ids(db: Database, run_ids: list[int], *, after_id: int = 0, limit: int = 100_000) -> list[int]:
    """Contact ids that runs sent to (state ``sent``), in id order, one page at a time (``after_id``)."""
    if not run_ids:
        return []
    with db.read() as session:
        return list(session.scalars(
            select(Recipient.contact_id).where(Recipient.run_id.in_(run_ids), Recipient.state == "sent",
                                               Recipient.contact_id > after_id)
            .group_by(Recipient.contact_id).order_by(Recipient.contact_id).limit(limit)))
