"""Matches a parsed report to what was sent and acts on it, once per report and recipient: suppress after one
hard bounce, after N soft bounces across campaigns or after one complaint (which also unsubscribes), nobody for
a refusal about us; a timeline entry through contacts, and ``BounceReceived`` for the stats module.

A report is matched by the VERP envelope sender it was sent back to (its check verified by ``links``, as the
sender made it), else by the Message-ID of the message it quotes, else by the recipient's address alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.kernel.bus import MessageBus
from app.kernel.database import Database, utcnow
from app.modules.contacts import api as contacts_api
from app.modules.contacts.messages import ActivityItem, RecordActivity, SuppressAddress, UnsubscribeContact
from app.modules.delivery import bounces, links
from app.modules.delivery.messages import BounceReceived
from app.modules.delivery.models import Bounce, Recipient, Run

log = logging.getLogger(__name__)

DEFAULT_SOFT_LIMIT = 3
MAX_ADDRESS = 320  # RFC 5321's longest path; longer is no address we sent to
PROCESSED = "processed"
QUARANTINE = "quarantine"
_MESSAGE_ID = re.compile(r"^<?(\d+)\.(\d+)\.([0-9a-f]+)@[^>]+>?$", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    email: str
    matched_by: str = ""  # verp, message-id, address, or "" (nothing we know)
    run_id: int | None = None
    recipient_id: int | None = None
    contact_id: int | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class EntryResult:
    """One recipient of one report, as understood and (when processed) acted on."""

    email: str
    kind: str  # hard, soft, sender, complaint, ignored, unsubscribe
    status: str
    action: str
    diagnostic: str
    match: Match
    new: bool = False  # first time this report was counted for this address
    suppressed: bool = False  # this report put the address on the suppression list

    @property
    def label(self) -> str:
        return bounces.LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Handled:
    """One message of the bounce mailbox: what it is, what happened, and which folder it belongs in."""

    kind: str  # dsn, feedback, autoreply, unsubscribe, unreadable
    disposition: str  # processed | quarantine
    entries: tuple[EntryResult, ...] = ()
    note: str = ""
    report_key: str = ""

    @property
    def counted(self) -> tuple[EntryResult, ...]:
        return tuple(e for e in self.entries if e.new)


class BounceProcessor:
    """``links()`` gives the link builders whose check codes a VERP address may carry (the current one first)."""

    def __init__(self, db: Database, bus: MessageBus, link_sources: Callable[[], Sequence[links.LinkSource]],
                 soft_limit: Callable[[], int]) -> None:
        self.db = db
        self.bus = bus
        self.link_sources = link_sources
        self.soft_limit = soft_limit

    # -- matching

    def _recipient(self, run_id: int, recipient_id: int, how: str, message_id: str = "") -> Match | None:
        with self.db.read() as session:
            row = session.get(Recipient, recipient_id)
            if row is None or row.run_id != run_id or (message_id and row.message_id != message_id):
                return None
            run = session.get(Run, run_id)
            return Match(email=row.email, matched_by=how, run_id=run_id, recipient_id=row.id,
                         contact_id=row.contact_id, campaign_id=run.campaign_id if run is not None else None)

    def match_sent(self, report: bounces.ParsedReport) -> Match | None:
        """The message we sent that ``report`` is about, by VERP address, then by Message-ID."""
        sources = list(self.link_sources()) if report.envelope_addresses else []
        for address in report.envelope_addresses:
            for source in sources:
                found = links.parse_return_path(address, source)
                if found is not None:
                    match = self._recipient(found[0], found[1], "verp")
                    if match is not None:
                        return match
        quoted = _MESSAGE_ID.match(report.original_message_id.strip())
        if quoted is not None:
            return self._recipient(int(quoted[1]), int(quoted[2]), "message-id", report.original_message_id.strip())
        return None

    def by_address(self, email: str) -> Match:
        found = contacts_api.find_recipient(self.db, email) if "@" in email else None
        if found is None:
            return Match(email=email)
        return Match(email=email, matched_by="address", contact_id=found.contact_id)

    def examine(self, raw: bytes) -> tuple[bounces.ParsedReport, list[tuple[bounces.ReportEntry, Match]]]:
        """Parse and match, changing nothing (``postroom bounces parse``)."""
        report = bounces.parse(raw)
        if report.kind == bounces.UNSUBSCRIBE_REQUEST:
            found = self.unsubscriber(report)
            if found is None:
                return report, []
            email = contacts_api.contact_email(self.db, found[1]) or ""
            return report, [(bounces.ReportEntry(recipient=email, kind=bounces.UNSUBSCRIBE),
                             Match(email=email, matched_by="verp", run_id=found[0], contact_id=found[1]))]
        sent = self.match_sent(report) if report.entries else None
        pairs: list[tuple[bounces.ReportEntry, Match]] = []
        failing = [e for e in report.entries if e.kind in bounces.BOUNCE_KINDS]
        for entry in report.entries:
            named = {entry.recipient.lower(), entry.final_recipient.lower()} - {""}
            if sent is not None and (sent.email.lower() in named or (entry in failing and len(failing) == 1)):
                pairs.append((entry, sent))
            else:
                pairs.append((entry, self.by_address(entry.recipient)))
        return report, pairs

    # -- acting

    def process(self, raw: bytes) -> Handled:
        """Act on one message; safe to repeat (what was counted before is not counted again)."""
        report, pairs = self.examine(raw)
        if report.kind == bounces.UNREADABLE:
            return Handled(kind=report.kind, disposition=QUARANTINE, note=report.note, report_key=report.report_key)
        if report.kind == bounces.UNSUBSCRIBE_REQUEST:
            return self._unsubscribe(report, pairs)
        results: list[EntryResult] = []
        unattributed = 0
        for entry, match in pairs:
            if entry.kind not in bounces.BOUNCE_KINDS:
                results.append(_result(entry, match))
                continue
            if "@" not in match.email or len(match.email) > MAX_ADDRESS:  # nobody we could have mailed
                unattributed += 1
                results.append(_result(entry, match))
                continue
            results.append(self._act(report, entry, match))
        if unattributed and unattributed == len([r for r in results if r.kind in bounces.BOUNCE_KINDS]):
            return Handled(kind=report.kind, disposition=QUARANTINE, entries=tuple(results),
                           note="a report about a recipient it does not name, and not about a message we sent",
                           report_key=report.report_key)
        return Handled(kind=report.kind, disposition=PROCESSED, entries=tuple(results), note=report.note,
                       report_key=report.report_key)

    def unsubscriber(self, report: bounces.ParsedReport) -> tuple[int, int] | None:
        """(run id, contact id) of a mailto unsubscribe request whose check code is ours."""
        sources = list(self.link_sources())
        for address in report.envelope_addresses:
            for source in sources:
                found = links.parse_unsubscribe_address(address, source)
                if found is not None:
                    return found
        return None

    def _unsubscribe(self, report: bounces.ParsedReport,
                     pairs: list[tuple[bounces.ReportEntry, Match]]) -> Handled:
        """RFC 2369 mailto: the person asked by email; the check code in the address says whom it is about."""
        if not pairs:
            return Handled(kind=report.kind, disposition=QUARANTINE, report_key=report.report_key,
                           note="sent to an unsubscribe address whose check code is not ours")
        entry, match = pairs[0]
        email, run_id, contact_id = match.email, match.run_id, match.contact_id
        if not email:  # the contact was erased meanwhile: nobody left to unsubscribe
            return Handled(kind=report.kind, disposition=PROCESSED, entries=(_result(entry, match),),
                           note=report.note, report_key=report.report_key)
        key = email.lower()
        with self.db.read() as session:
            seen = session.scalar(select(Bounce.id).where(Bounce.report_key == report.report_key,
                                                          Bounce.email == key))
        if seen is not None:
            return Handled(kind=report.kind, disposition=PROCESSED, entries=(_result(entry, match),),
                           note=report.note, report_key=report.report_key)
        self.bus.execute(UnsubscribeContact(email=email, list_id=None, everywhere=True,
                                            source="List-Unsubscribe email"))
        with contextlib.suppress(IntegrityError), self.db.transaction() as session:
            session.add(Bounce(report_key=report.report_key, email=key, kind=bounces.UNSUBSCRIBE,
                               matched_by="verp", run_id=run_id, contact_id=contact_id,
                               reported_at=report.at or utcnow()))
        return Handled(kind=report.kind, disposition=PROCESSED, entries=(_result(entry, match, new=True),),
                       note=report.note, report_key=report.report_key)

    def _act(self, report: bounces.ParsedReport, entry: bounces.ReportEntry, match: Match) -> EntryResult:
        email = match.email.strip()
        key = email.lower()
        with self.db.read() as session:
            seen = session.scalar(select(Bounce.id).where(Bounce.report_key == report.report_key,
                                                          Bounce.email == key))
            soft_keys = {run_id if run_id is not None else report_key for run_id, report_key in session.execute(
                select(Bounce.run_id, Bounce.report_key).where(Bounce.email == key, Bounce.kind == bounces.SOFT))}
        if seen is not None:
            return _result(entry, match)
        words = " ".join(part for part in (entry.status, entry.diagnostic) if part)[:500]
        suppress_reason = ""
        detail = words
        if entry.kind == bounces.HARD:
            suppress_reason = "hard_bounce"
        elif entry.kind == bounces.SOFT:
            soft_keys.add(match.run_id if match.run_id is not None else report.report_key)
            if len(soft_keys) >= max(1, self.soft_limit()):
                suppress_reason = "hard_bounce"
                detail = f"{len(soft_keys)} soft bounces across campaigns; the last: {words}"[:500]
        elif entry.kind == bounces.COMPLAINT:
            # A complaint leaves every list (announced as unsubscribes) and stays suppressed as a complaint.
            self.bus.execute(UnsubscribeContact(email=email, list_id=None, everywhere=False,
                                                source="complaint report"))
            suppress_reason = "complaint"
            detail = f"complaint ({entry.status}) reported by {entry.diagnostic or 'the mailbox provider'}"[:500]
        newly = False
        if suppress_reason:
            newly = bool(self.bus.execute(SuppressAddress(email=email, reason=suppress_reason, detail=detail)))
        at = report.at or utcnow()
        uid = hashlib.sha256(f"{report.report_key}:{key}".encode()).hexdigest()[:40]  # per report and address
        if entry.kind != bounces.SENDER:
            self.bus.execute(RecordActivity(items=(ActivityItem(
                kind="complained" if entry.kind == bounces.COMPLAINT else "bounced",
                contact_id=match.contact_id, email=None if match.contact_id else email, occurred_at=at,
                campaign_id=match.campaign_id, dedupe_key=f"delivery:bounce:{uid}",
                properties={"run_id": match.run_id, "type": entry.kind, "status": entry.status,
                            "reply": entry.diagnostic[:500], "source": "bounce mailbox"}),)))
        # Consumers ignore an event_uid seen before: published before the row is stored, a crash in between
        # repeats the event, never loses it.
        self.bus.publish(BounceReceived(kind=entry.kind, email=email, at=at, run_id=match.run_id,
                                        campaign_id=match.campaign_id, recipient_id=match.recipient_id,
                                        contact_id=match.contact_id, status=entry.status,
                                        diagnostic=entry.diagnostic, event_uid=uid))
        try:
            with self.db.transaction() as session:
                session.add(Bounce(report_key=report.report_key, email=key, kind=entry.kind,
                                   status=entry.status[:32], action=entry.action[:16], diagnostic=entry.diagnostic,
                                   matched_by=match.matched_by, run_id=match.run_id,
                                   recipient_id=match.recipient_id, contact_id=match.contact_id,
                                   campaign_id=match.campaign_id, suppressed=newly, reported_at=at))
        except IntegrityError:  # another reader counted it a moment ago
            return _result(entry, match)
        if entry.kind == bounces.SENDER:
            log.warning("a receiving server refused our mail for reasons about us: %s", words)
        return _result(entry, match, new=True, suppressed=newly)


def _result(entry: bounces.ReportEntry, match: Match, *, new: bool = False, suppressed: bool = False) -> EntryResult:
    return EntryResult(email=match.email or entry.recipient, kind=entry.kind, status=entry.status,
                       action=entry.action, diagnostic=entry.diagnostic, match=match, new=new, suppressed=suppressed)
