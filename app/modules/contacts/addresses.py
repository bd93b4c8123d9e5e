"""Email addresses: validation and normalisation (email-validator), identity keys, role and typo hints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

ROLE_LOCAL_PARTS = frozenset({
    "abuse", "admin", "administrator", "billing", "contact", "enquiries", "help", "hello", "hostmaster",
    "info", "inquiries", "jobs", "mail", "marketing", "media", "no-reply", "noreply", "office", "postmaster",
    "press", "privacy", "root", "sales", "security", "service", "support", "team", "webmaster", "careers",
})

# Popular mailbox domains, for "did you mean" hints. A hint never rewrites what the user imported.
COMMON_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "hotmail.com", "hotmail.co.uk",
    "hotmail.fr", "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
    "gmx.de", "gmx.net", "web.de", "orange.fr", "free.fr", "laposte.net", "protonmail.com", "proton.me",
    "comcast.net", "verizon.net", "att.net", "mail.ru", "yandex.ru", "qq.com", "163.com", "fastmail.com",
)


@dataclass(frozen=True)
class Address:
    """A valid address as stored: ``email`` for display and sending, ``key`` for identity."""

    email: str
    key: str

    @property
    def domain(self) -> str:
        return self.key.rpartition("@")[2]


class InvalidAddress(ValueError):  # noqa: N818 - the user's words
    """Why an address cannot be used, in words a user understands."""


def email_key(email: str) -> str:
    """Identity of an address: its normalised form, lower-cased (mailboxes are case-insensitive in practice)."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """The suppression hash kept after erasure: SHA-256 of the identity key."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def parse_address(raw: str) -> Address:
    """Validate and normalise one address (no network). Raises :class:`InvalidAddress` with the reason."""
    text = raw.replace("\x00", "").strip().strip("<>").strip()
    if not text:
        raise InvalidAddress("the address is empty")
    if len(text) > 320:
        raise InvalidAddress("the address is longer than 320 characters")
    local, at, domain = text.rpartition("@")
    if not at:
        raise InvalidAddress("the address has no @")
    # Imported on first use: compiling its patterns costs about 70 ms, which the window's start should not pay.
    from email_validator import EmailNotValidError, validate_email

    try:
        normal_domain = _validate_domain(domain)
        result = validate_email(f"{local}@{normal_domain}", check_deliverability=False,
                                allow_smtputf8=True, allow_display_name=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return Address(result.normalized, email_key(result.normalized))


@lru_cache(maxsize=65_536)
def _validate_domain(domain: str) -> str:
    """Validate and normalise a domain once: most of email-validator's cost is here (IDNA)."""
    from email_validator import validate_email

    result = validate_email(f"x@{domain}", check_deliverability=False, allow_smtputf8=True)
    return result.domain


def is_role_address(address: Address | str) -> bool:
    key = address.key if isinstance(address, Address) else email_key(address)
    local = key.partition("@")[0].split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS


@lru_cache(maxsize=16_384)
def suggest_domain(domain: str) -> str | None:
    """A likely intended domain for a typo (``gmial.com`` -> ``gmail.com``), or None."""
    domain = domain.lower()
    if domain in COMMON_DOMAINS:
        return None
    best: tuple[int, str] | None = None
    for candidate in COMMON_DOMAINS:
        distance = _damerau_levenshtein(domain, candidate, limit=2)
        if distance <= 2 and (best is None or distance < best[0]):
            best = (distance, candidate)
    if best is None:
        return None
    # One edit away, or two edits on a long enough name: "gmai.com" yes, "me.org" -> "me.com" no.
    if best[0] == 1 or len(domain) >= 9:
        return best[1]
    return None


def suggest_address(address: Address) -> str | None:
    local, _, domain = address.email.rpartition("@")
    better = suggest_domain(domain)
    return f"{local}@{better}" if better else None


def _damerau_levenshtein(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
