"""What an SMTP reply means for the recipient and for the run (RFC 5321 codes, RFC 3463 enhanced codes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Outcomes, in the words of the per-recipient log.
SENT = "sent"
DEFERRED = "deferred"  # temporary: retry later with backoff
HARD = "hard"  # the address does not exist: fail and suppress
FAILED = "failed"  # permanent for this message, but no reason to suppress the address
POLICY = "policy"  # the server refuses us (policy, authentication, reputation, quota): pause, suppress nobody

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_SLOW_DOWN_CODES = {421, 450, 451, 454}
# Old servers answer a missing mailbox with a bare 550: recognise the usual wordings.
_NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|mailbox (unavailable|not found)|"
    r"does not exist|recipient (address )?rejected|invalid (recipient|mailbox)|address rejected",
    re.IGNORECASE,
)
_POLICY_WORDS = re.compile(r"spam|blocked|blacklist|block ?list|reputation|policy|authenticat|dmarc|spf|dkim",
                           re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    slow_down: bool = False  # lower the account's rate for a while
    enhanced: str = ""


def enhanced_code(text: str) -> str:
    match = _ENHANCED.match(text or "")
    return ".".join(match.groups()) if match else ""


def classify(code: int, text: str) -> Verdict:  # noqa: PLR0911 - one exit per class of reply
    """Classify a reply to RCPT TO or to the end of DATA."""
    enhanced = enhanced_code(text)
    if 200 <= code < 300:
        return Verdict(SENT, enhanced=enhanced)
    if 400 <= code < 500 or enhanced.startswith("4."):
        slow = code in _SLOW_DOWN_CODES or enhanced.startswith("4.7.")
        return Verdict(DEFERRED, slow_down=slow, enhanced=enhanced)
    if enhanced:
        _, subject, detail = enhanced.split(".")
        if subject == "1" and detail not in ("7", "8"):  # 5.1.7 / 5.1.8 are about our sender address
            return Verdict(HARD, enhanced=enhanced)
        if enhanced == "5.4.4":  # unable to route: the domain has no mail server
            return Verdict(HARD, enhanced=enhanced)
        if subject in ("7", "5", "6") or enhanced in ("5.4.5", "5.3.4", "5.1.7", "5.1.8"):
            return Verdict(POLICY, enhanced=enhanced)
        return Verdict(FAILED, enhanced=enhanced)
    if code in (530, 535, 554) or _POLICY_WORDS.search(text or ""):
        return Verdict(POLICY)
    if code in (550, 551, 553) and _NO_SUCH_USER.search(text or ""):
        return Verdict(HARD)
    return Verdict(FAILED)


def describe(code: int | None, text: str) -> str:
    """The server's words as one line, for the log and the pause reason."""
    words = " ".join((text or "").split())
    return f"{code} {words}".strip() if code else words
