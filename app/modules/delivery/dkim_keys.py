"""DKIM: a 2048-bit key per domain and selector, the DNS record to publish, and signing with dkimpy."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

# What the signature covers: the identity and the RFC 8058 unsubscribe headers (receivers require them signed).
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
                  b"content-type", b"list-unsubscribe", b"list-unsubscribe-post")
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


@dataclass(frozen=True)
class DkimRecord:
    """Where and what to publish: a TXT record named ``<selector>._domainkey.<domain>``."""

    domain: str
    selector: str
    name: str
    value: str


def generate_key(bits: int = 2048) -> tuple[bytes, bytes]:
    """(private key PEM, public key DER) for a new DKIM key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def dns_record(domain: str, selector: str, public_der: bytes) -> DkimRecord:
    if not _SELECTOR.match(selector):
        raise ValueError(f"{selector!r} is not a valid DKIM selector (letters, digits and -)")
    value = f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode('ascii')}"
    return DkimRecord(domain, selector, f"{selector}._domainkey.{domain}", value)


def txt_chunks(value: str) -> list[str]:
    """The record as DNS character strings of at most 255 bytes (a 2048-bit key does not fit in one)."""
    return [value[i:i + 255] for i in range(0, len(value), 255)]


class DkimSigner:
    """Signs whole messages for one domain (relaxed/relaxed, rsa-sha256)."""

    def __init__(self, domain: str, selector: str, private_pem: bytes) -> None:
        import dkim  # type: ignore[import-untyped,unused-ignore]

        self._dkim = dkim
        self.domain = domain.encode("idna")
        self.selector = selector.encode("ascii")
        self._key = private_pem

    def sign(self, message: bytes) -> bytes:
        header = self._dkim.sign(message, self.selector, self.domain, self._key,
                                 canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))
        return bytes(header) + message


def verify(message: bytes, txt_lookup: Callable[[bytes], bytes | None]) -> bool:
    """Check a signature with an injected DNS lookup (``name -> TXT value``): for tests and the preflight."""
    import dkim  # type: ignore[import-untyped,unused-ignore]

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return txt_lookup(name)

    return bool(dkim.verify(message, dnsfunc=dnsfunc))
