"""Signed, purpose-bound link tokens and a rotating key ring: the one scheme that makes and checks every link.

A token reads ``<key id>.<run>.<recipient>.<extra>.<issued>.<signature>``, for example
``k1.12.4521.0.1767225600.q2Zr...`` (22 signature characters). The signature is the first 16 bytes of
HMAC-SHA256(key, "postroom-tracking-v1" NUL purpose NUL body) in URL-safe base64, where body is everything before
the last dot. The purpose (open, click, unsubscribe, preferences, confirm, view) is in the MAC but not in the token,
so a token made for one purpose never checks for another. ``extra`` is the link id of a click and the list id of a
confirmation (0 otherwise); ``issued`` is when the message was prepared (unix seconds), which tells a prefetch
within seconds of delivery from a person.

Keys have ids so they can be rotated: new links are signed with the current key, and retired keys keep checking
old links for at least :data:`MIN_RETENTION_DAYS` days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

PURPOSES = ("open", "click", "unsubscribe", "preferences", "confirm", "view")
MIN_RETENTION_DAYS = 400
_DOMAIN = b"postroom-tracking-v1\x00"
_CODE_DOMAIN = b"postroom-code-v1\x00"
_INT = r"(0|[1-9][0-9]{0,17})"
_TOKEN = re.compile(rf"([a-z0-9]{{1,8}})\.{_INT}\.{_INT}\.{_INT}\.{_INT}\.([A-Za-z0-9_-]{{22}})")
_KEY_ID = re.compile(r"[a-z0-9]{1,8}")
_MAX_ID = 10**18 - 1


class BadToken(ValueError):  # noqa: N818 - what happened, in the user's words
    """A link token was forged, damaged, signed with an unknown key, or made for another purpose."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes = field(repr=False)
    created_at: int
    retired_at: int | None = None

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"a key id is 1 to 8 lower-case letters or digits, not {self.key_id!r}")
        if len(self.secret) < 16:
            raise ValueError("a signing key needs at least 16 bytes")


@dataclass(frozen=True)
class KeyRing:
    """The current signing key and the retired ones that still check old links. Plain, picklable data."""

    current_id: str
    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if self.get(self.current_id) is None:
            raise ValueError(f"the key ring has no key {self.current_id!r}")

    @classmethod
    def new(cls, now: float | None = None) -> KeyRing:
        key = SigningKey("k1", secrets.token_bytes(32), int(now if now is not None else time.time()))
        return cls("k1", (key,))

    def get(self, key_id: str) -> SigningKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    @property
    def current(self) -> SigningKey:
        key = self.get(self.current_id)
        assert key is not None  # checked in __post_init__
        return key

    def rotated(self, now: float | None = None, retention_days: int = MIN_RETENTION_DAYS) -> KeyRing:
        """A ring with a fresh current key; the old one is retired, keys retired long enough ago are dropped."""
        at = int(now if now is not None else time.time())
        keep_after = at - max(retention_days, MIN_RETENTION_DAYS) * 86400
        numbers = [int(k.key_id[1:]) for k in self.keys if re.fullmatch(r"k\d{1,7}", k.key_id)]
        new_id = f"k{max(numbers, default=0) + 1}"
        kept = []
        for key in self.keys:
            if key.key_id == self.current_id:
                kept.append(replace(key, retired_at=at))
            elif key.retired_at is None or key.retired_at >= keep_after:
                kept.append(key)
        return KeyRing(new_id, (*kept, SigningKey(new_id, secrets.token_bytes(32), at)))

    def to_json(self) -> str:
        return json.dumps({"version": 1, "current": self.current_id, "keys": [
            {"id": k.key_id, "secret": k.secret.hex(), "created": k.created_at, "retired": k.retired_at}
            for k in self.keys]})

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            data = json.loads(text)
            keys = tuple(SigningKey(str(k["id"]), bytes.fromhex(k["secret"]), int(k["created"]),
                                    None if k.get("retired") is None else int(k["retired"]))
                         for k in data["keys"])
            return cls(str(data["current"]), keys)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"the stored tracking keys are damaged: {exc}") from None


@dataclass(frozen=True)
class TokenClaims:
    """What a checked token says."""

    purpose: str
    key_id: str
    run_id: int
    recipient_id: int
    extra: int
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenSigner:
    """Signs and checks tokens with a key ring. Not picklable (it caches keyed MACs): rebuild it from the ring."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        # Hashing the key once and copying the state per token halves the cost of a check.
        self._macs = {key.key_id: hmac.new(key.secret, _DOMAIN, hashlib.sha256) for key in ring.keys}
        self._codes = {key.key_id: hmac.new(key.secret, _CODE_DOMAIN, hashlib.sha256) for key in ring.keys}

    def _signature(self, key_id: str, purpose: str, body: str) -> str:
        mac = self._macs[key_id].copy()
        mac.update(purpose.encode("ascii") + b"\x00" + body.encode("ascii"))
        return _b64(mac.digest()[:16])

    def sign(self, purpose: str, run_id: int, recipient_id: int, extra: int = 0,
             issued_at: float | None = None) -> str:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        issued = int(issued_at if issued_at is not None else time.time())
        numbers = (run_id, recipient_id, extra, issued)
        if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > _MAX_ID for n in numbers):
            raise ValueError(f"token fields must be whole numbers from 0 to {_MAX_ID}: {numbers}")
        key_id = self.ring.current_id
        body = f"{key_id}.{run_id}.{recipient_id}.{extra}.{issued}"
        return f"{body}.{self._signature(key_id, purpose, body)}"

    def verify(self, purpose: str, token: str) -> TokenClaims:
        """The token's claims, or :class:`BadToken` (the same message whatever is wrong, to tell nothing)."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) and len(token) <= 120 else None
        if match is None or purpose not in PURPOSES or match[1] not in self._macs:
            raise BadToken(f"this {purpose} link is not valid")
        body = token[: token.rfind(".")]
        # Compare the encoded text, not decoded bytes: the last base64 character carries spare bits.
        if not hmac.compare_digest(match[6], self._signature(match[1], purpose, body)):
            raise BadToken(f"this {purpose} link is not valid")
        return TokenClaims(purpose, match[1], int(match[2]), int(match[3]), int(match[4]), int(match[5]))

    def check_code(self, purpose: str, *parts: Any) -> str:
        """A short, case-blind check (8 characters) for places where length and case matter, such as the local
        part of a bounce address. Made with the current key; :meth:`code_matches` accepts any kept key."""
        return self._code(self.ring.current_id, purpose, parts)

    def code_matches(self, code: str, purpose: str, *parts: Any) -> bool:
        code = code.lower()
        found = False
        for key_id in self._codes:
            found |= hmac.compare_digest(code, self._code(key_id, purpose, parts))
        return found

    def _code(self, key_id: str, purpose: str, parts: tuple[Any, ...]) -> str:
        mac = self._codes[key_id].copy()
        mac.update(purpose.encode() + b"\x00" + ".".join(str(p) for p in parts).encode())
        return base64.b32encode(mac.digest()[:5]).decode("ascii").lower()
