"""Reads delivery reports (RFC 3464) and complaint reports (RFC 5965 ARF) and says what each means for a
recipient: a hard bounce, a soft bounce, a refusal about us (sender-side), a complaint, or not a bounce at all.

Pure: no database, no network. Parsing is the stdlib ``email`` package's (``policy=default``); this file only
reads the fields of the parts it finds. Matching a report to what was sent and acting on it is in
``bounce_processor.py``.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field, replace
from email.message import Message
from email.parser import HeaderParser

from app.modules.delivery import replies

# What a report means for one recipient (the words the CLI and BounceReceived use).
HARD = "hard"  # the address does not exist: suppress after one
SOFT = "soft"  # temporary or mailbox-specific (full, too big): suppress after N across campaigns
SENDER = "sender"  # a refusal about us (policy, reputation, authentication): suppress nobody
COMPLAINT = "complaint"  # the person marked the message as spam: unsubscribe and suppress
IGNORED = "ignored"  # not a bounce: delayed, delivered, an auto-reply, a feedback report that is no complaint
UNSUBSCRIBE = "unsubscribe"  # a message to the List-Unsubscribe mailto address (RFC 2369): not a bounce either
BOUNCE_KINDS = (HARD, SOFT, SENDER, COMPLAINT)
LABELS = {HARD: "hard", SOFT: "soft", SENDER: "sender-side", COMPLAINT: "complaint", IGNORED: "not a bounce",
          UNSUBSCRIBE: "unsubscribe request"}

# What the whole message is.
DSN = "dsn"
FEEDBACK = "feedback"
AUTOREPLY = "autoreply"
UNSUBSCRIBE_REQUEST = "unsubscribe"  # sent to unsubscribe+<run>-<contact>-<check>@ (its check is verified later)
UNREADABLE = "unreadable"  # neither a report nor an auto-reply: goes to the quarantine folder for a person

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"^\s*([245]\d\d)[\s-]+(.*)$", re.DOTALL)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|autoreply|"
    r"auto:|away from (my|the) (office|desk)|on vacation|vacation reply|abwesenheit|absence|"
    r"r[ée]ponse automatique|respuesta autom[aá]tica|risposta automatica)", re.IGNORECASE)
# Feedback types (RFC 5965 section 7.3) that are a person's complaint about a message; "not-spam" and
# "auth-failure" (RFC 6591, a report about our authentication) are not.
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
# Headers of the report itself, and of the original message, that may carry our VERP envelope sender.
_UNSUBSCRIBE_ADDRESS = re.compile(r"^unsubscribe\+\d+-\d+-[a-z2-7]{8}@", re.IGNORECASE)
_ENVELOPE_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Failed-Recipients")
_ORIGINAL_SENDER_HEADERS = ("Return-Path", "Sender", "Errors-To")
_PART_TYPES_ORIGINAL = ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers")
_STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK_PARTS = ("message/feedback-report",)
_UTF8 = email.policy.default.clone(linesep="\r\n", utf8=True)
MAX_FIELD = 2000  # a diagnostic longer than this is cut (a hostile report can be megabytes of one header)


@dataclass(frozen=True)
class ReportEntry:
    """One recipient of one report."""

    recipient: str  # whom we sent to: Original-Recipient when the report names it, else Final-Recipient
    kind: str  # hard, soft, sender, complaint, ignored
    action: str = ""  # failed, delayed, delivered, relayed, expanded ("" for complaints)
    status: str = ""  # enhanced status code, "5.1.1" (the feedback type for complaints)
    diagnostic: str = ""  # the remote server's words, or the complaint's user agent
    final_recipient: str = ""


@dataclass(frozen=True)
class ParsedReport:
    kind: str  # dsn, feedback, autoreply, unsubscribe, unreadable
    report_key: str  # sha256 of the report's Message-ID (or of its bytes when it has none): one per report
    entries: tuple[ReportEntry, ...] = ()
    note: str = ""  # why it was ignored or cannot be read
    envelope_addresses: tuple[str, ...] = ()  # addresses that may be our VERP return path
    original_message_id: str = ""  # Message-ID of the message we sent, when the report quotes it
    subject: str = ""
    at: dt.datetime | None = None  # when the report was made (naive UTC)
    feedback_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def bounces(self) -> tuple[ReportEntry, ...]:
        return tuple(e for e in self.entries if e.kind in BOUNCE_KINDS)


# -- classification ----------------------------------------------------------------------------------------


def enhanced_status(text: str) -> str:
    """The first enhanced status code in ``text`` ("5.1.1"), or ""."""
    found = _STATUS.search(text or "")
    return ".".join(found.groups()) if found else ""


def _smtp_words(diagnostic: str) -> tuple[int | None, str]:
    """``smtp; 550 5.1.1 <x>: user unknown`` -> (550, "5.1.1 <x>: user unknown")."""
    kind, _, rest = (diagnostic or "").partition(";")
    text = rest if rest and kind.strip().lower() in ("smtp", "x-unix", "x-postfix", "x-local") else diagnostic
    found = _SMTP_REPLY.match(text or "")
    if found is None:
        return None, " ".join((text or "").split())
    return int(found[1]), " ".join(found[2].split())


def classify(status: str, diagnostic: str = "", action: str = "failed") -> str:  # noqa: PLR0911 - one exit a class
    """What a delivery report's per-recipient fields mean for that recipient.

    4.x.x and temporary wording are soft; 5.1.x (but 5.1.7/5.1.8, about our sender address), 5.2.1 (mailbox
    disabled), 5.4.4 (no mail server) and "no such user" are hard; 5.7.x, 5.5.x, 5.6.x, 5.3.4, 5.4.5 and policy
    or reputation wording are about us; other permanent failures (5.2.2 mailbox full, 5.3.x, 5.4.x) are soft.
    The SMTP reply rules are ``replies.classify``'s, the same the sender uses on its own connections.
    """
    action = (action or "").strip().lower()
    if action in ("delayed", "delivered", "relayed", "expanded"):
        return IGNORED
    code, words = _smtp_words(diagnostic)
    enhanced = enhanced_status(status) or enhanced_status(words)
    if enhanced.startswith("2."):
        return IGNORED
    if enhanced.endswith(".0.0"):
        # "5.0.0" says nothing: the reply code and the words decide.
        enhanced = ""
    if enhanced == "5.2.1":  # mailbox disabled, not accepting messages
        return HARD
    if enhanced.startswith("5.2."):  # mailbox full, message too big for it: about this mailbox now
        return SOFT
    reply_code = code or (450 if enhanced.startswith("4.") else 550)
    if enhanced:
        words = f"{enhanced} {_STATUS.sub('', words, count=1).strip()}"
    verdict = replies.classify(reply_code, words)
    if verdict.outcome == replies.HARD:
        return HARD
    if verdict.outcome == replies.POLICY:
        return SENDER
    if verdict.outcome == replies.SENT:
        return IGNORED
    return SOFT  # deferred, or a permanent failure that is not about the address


# -- parsing -----------------------------------------------------------------------------------------------


def report_key(message: Message | None, raw: bytes) -> str:
    message_id = ""
    if message is not None:
        try:
            message_id = str(message.get("Message-ID", "") or "").strip()
        except Exception:
            message_id = ""
    if message_id:
        return hashlib.sha256(b"message-id\0" + message_id.encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(b"bytes\0" + raw).hexdigest()


def _text(value: object) -> str:
    return " ".join(str(value or "").split())[:MAX_FIELD]


def _typed_address(value: object) -> str:
    """``rfc822; Bob@Example.com`` -> ``Bob@Example.com`` (RFC 3464 address-type; value)."""
    text = _text(value)
    if ";" in text:
        _, text = text.split(";", 1)
    text = text.strip().strip("<>").strip()
    return text if "@" in text else ""


def _addresses(values: list[str]) -> list[str]:
    found: list[str] = []
    for _name, parsed in email.utils.getaddresses([str(v) for v in values if v]):
        address = parsed.strip().strip("<>")
        if "@" in address and address not in found:
            found.append(address)
    return found


def _header_values(message: Message, names: tuple[str, ...]) -> list[str]:
    values: list[str] = []
    for name in names:
        for value in message.get_all(name, []) or []:
            try:
                values.append(str(value))
            except Exception:  # noqa: S112 - a header the parser cannot render is skipped
                continue
    return values


def _when(value: object) -> dt.datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _field_blocks(part: Message) -> list[Message]:
    """The field groups of a delivery-status part: per-message first, then one per recipient."""
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]  # the email package split the groups
    # message/global-delivery-status (UTF-8) is parsed as one embedded message: its headers are the first
    # group and its body the others. Back to bytes, then each group is a header block.
    if isinstance(payload, list):
        data = b"".join(block.as_bytes(policy=_UTF8) for block in payload if isinstance(block, Message))
    else:
        decoded = part.get_payload(decode=True)
        data = decoded if isinstance(decoded, bytes) else str(payload or "").encode("utf-8", "replace")
    text = data.decode("utf-8", "replace")
    groups = re.split(r"\r?\n\s*\r?\n", text.strip())
    parser = HeaderParser(policy=email.policy.default)
    return [parser.parsestr(group.strip() + "\n\n") for group in groups if group.strip()]


def _field_text(part: Message) -> Message:
    data = part.get_payload(decode=True)
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], Message) else Message()
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload or "")
    return HeaderParser(policy=email.policy.default).parsestr(text.strip() + "\n\n")


def _original(message: Message) -> Message | None:
    """The message we sent, as quoted by the report (whole, or its headers only)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type not in _PART_TYPES_ORIGINAL:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload or "")
        return HeaderParser(policy=email.policy.default).parsestr(text.lstrip())
    return None


def _first_part(message: Message, types: tuple[str, ...]) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() in types), None)


def _is_autoreply(message: Message, subject: str) -> str:
    """Why ``message`` is an automatic reply (RFC 3834 and the usual vendor headers), or ""."""
    auto = _text(message.get("Auto-Submitted", "")).lower()
    if auto and auto != "no":
        return f"an automatic message (Auto-Submitted: {auto})"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Response-Suppress"):
        if message.get(name) is not None:
            return f"an automatic reply ({name})"
    if _text(message.get("Precedence", "")).lower() in ("auto_reply", "bulk", "junk"):
        return "an automatic reply (Precedence)"
    if _AUTOREPLY_SUBJECT.match(subject):
        return f"an automatic reply ({subject[:60]!r})"
    return ""


def parse(raw: bytes) -> ParsedReport:
    """Read one message from the bounce mailbox. Never raises: what cannot be read is ``UNREADABLE``."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        return ParsedReport(kind=UNREADABLE, report_key=report_key(None, raw), note=f"not an email: {exc}")
    key = report_key(message, raw)
    try:
        return _parse(message, key)
    except Exception as exc:
        return ParsedReport(kind=UNREADABLE, report_key=key, note=f"cannot be read: {type(exc).__name__}: {exc}")


def _parse(message: Message, key: str) -> ParsedReport:
    subject = _text(message.get("Subject", ""))
    at = _when(message.get("Date"))
    original = _original(message)
    original_id = _text(original.get("Message-ID", "")) if original is not None else ""
    envelope = _addresses(_header_values(message, _ENVELOPE_HEADERS)
                          + (_header_values(original, _ORIGINAL_SENDER_HEADERS) if original is not None else []))
    base = ParsedReport(kind=UNREADABLE, report_key=key, subject=subject, at=at, original_message_id=original_id)

    status_part = _first_part(message, _STATUS_PARTS)
    if status_part is not None:
        return _delivery_status(status_part, envelope, base)
    feedback_part = _first_part(message, _FEEDBACK_PARTS)
    if feedback_part is not None:
        return _feedback(feedback_part, original, envelope, base)
    why = _is_autoreply(message, subject)
    if why:
        return replace(base, kind=AUTOREPLY, note=why, envelope_addresses=tuple(envelope))
    requests = [a for a in _addresses(_header_values(message, _ENVELOPE_HEADERS)) if _UNSUBSCRIBE_ADDRESS.match(a)]
    if requests:
        return replace(base, kind=UNSUBSCRIBE_REQUEST, envelope_addresses=tuple(requests),
                       note="a request to unsubscribe, sent to the List-Unsubscribe address")
    if not message.keys() or (message.defects and not message.get("From")):
        return replace(base, note="not an email")
    return replace(base, note="neither a delivery report, a complaint report nor an automatic reply",
                   envelope_addresses=tuple(envelope))


def _delivery_status(part: Message, envelope: list[str], base: ParsedReport) -> ParsedReport:
    blocks = _field_blocks(part)
    if not blocks:
        return replace(base, note="a delivery report without any status fields")
    per_message, per_recipient = blocks[0], blocks[1:]
    if per_message.get("Final-Recipient") is not None:  # no per-message group at all (seen from some MTAs)
        per_message, per_recipient = Message(), blocks
    # Postfix names the envelope sender of the bounced message in the per-message group.
    envelope = envelope + _addresses([_typed_address(v) for v in _header_values(
        per_message, ("X-Postfix-Sender", "X-Original-Envelope-Sender"))])
    entries: list[ReportEntry] = []
    for block in per_recipient:
        final = _typed_address(block.get("Final-Recipient", ""))
        original = _typed_address(block.get("Original-Recipient", ""))
        recipient = original or final
        if not recipient:
            continue
        action = _text(block.get("Action", "")).lower()
        status = enhanced_status(_text(block.get("Status", "")))
        diagnostic = _text(block.get("Diagnostic-Code", ""))
        entries.append(ReportEntry(recipient=recipient, final_recipient=final, action=action, status=status,
                                   diagnostic=diagnostic, kind=classify(status, diagnostic, action)))
    if not entries:
        return replace(base, note="a delivery report that names no recipient")
    note = "" if any(e.kind in BOUNCE_KINDS for e in entries) else \
        "not a bounce: " + ", ".join(sorted({e.action or "no action" for e in entries}))
    return replace(base, kind=DSN, entries=tuple(entries), note=note, envelope_addresses=tuple(envelope),
                   extra={"reporting_mta": _typed_address(per_message.get("Reporting-MTA", ""))
                          or _text(per_message.get("Reporting-MTA", ""))})


def _feedback(part: Message, original: Message | None, envelope: list[str],
              base: ParsedReport) -> ParsedReport:
    fields = _field_text(part)
    feedback_type = _text(fields.get("Feedback-Type", "")).lower()
    if not feedback_type:
        return replace(base, note="a feedback report without a Feedback-Type")
    recipients = _addresses(_header_values(fields, ("Original-Rcpt-To", "Removal-Recipient")))
    if not recipients and original is not None:
        recipients = _addresses(_header_values(original, ("To",)))
    envelope = envelope + _addresses(_header_values(fields, ("Original-Mail-From",)))
    kind = COMPLAINT if feedback_type in COMPLAINT_TYPES else IGNORED
    agent = _text(fields.get("User-Agent", ""))
    arrival = _when(fields.get("Arrival-Date") or fields.get("Received-Date"))
    # A recipient the provider redacted is found by the VERP address or the Message-ID instead.
    entries = tuple(ReportEntry(recipient=r, kind=kind, status=feedback_type, diagnostic=agent)
                    for r in (recipients or [""]))
    note = "" if kind == COMPLAINT else f"not a complaint: feedback type {feedback_type}"
    return replace(base, kind=FEEDBACK, entries=entries, note=note, envelope_addresses=tuple(envelope),
                   feedback_type=feedback_type, at=arrival or base.at)
