"""The links and check codes in each message: from the stats module's tracking endpoint when it is installed
(its ``TrackingLinks`` signs the tokens, so the endpoint can verify them), else a local fallback.

Both give: the URLs templates use (``unsubscribe_url``, ``preferences_url``, ``webview_url``), and short
case-blind check codes for the envelope sender (VERP, so a bounce maps back to its recipient) and the mailto
unsubscribe address. The fallback (no stats module) has no public endpoint: URLs are empty and the mailto is the
unsubscribe link; its key is 32 random bytes in the keyring, or in ``<data>/link-signing.key`` (0600) when no
keyring is usable, so the built-in outbox still works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets as pysecrets
from pathlib import Path
from typing import Any, Protocol

SECRET_KEY = "links:signing-key"  # noqa: S105 - the keyring entry's name, not a secret
KEY_FILE = "link-signing.key"
URL_NAMES = ("unsubscribe_url", "preferences_url", "webview_url")


class LinkSource(Protocol):
    """What the sender needs from a link builder (picklable: it travels to the sender process)."""

    def urls(self, run_id: int, contact_id: int) -> dict[str, str]: ...

    def check_code(self, purpose: str, *parts: Any) -> str: ...

    def code_matches(self, code: str, purpose: str, *parts: Any) -> bool: ...


class StatsLinks:
    """The stats module's ``TrackingLinks`` under the names templates use."""

    def __init__(self, tracking: Any) -> None:
        self.tracking = tracking

    def urls(self, run_id: int, contact_id: int) -> dict[str, str]:
        made = self.tracking.urls(run_id, contact_id)
        return {"unsubscribe_url": made["unsubscribe"], "preferences_url": made["preferences"],
                "webview_url": made["webview"]}

    def check_code(self, purpose: str, *parts: Any) -> str:
        return str(self.tracking.check_code(purpose, *parts))

    def code_matches(self, code: str, purpose: str, *parts: Any) -> bool:
        return bool(self.tracking.code_matches(code, purpose, *parts))


class LocalLinks:
    """No tracking endpoint: no URLs, check codes from an HMAC-SHA256 key of our own."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a signing key needs at least 16 bytes")
        self.key = key
        self._keyed: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"key": self.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.key, self._keyed = state["key"], None

    def urls(self, run_id: int, contact_id: int) -> dict[str, str]:
        return dict.fromkeys(URL_NAMES, "")

    def check_code(self, purpose: str, *parts: Any) -> str:
        if self._keyed is None:
            self._keyed = hmac.new(self.key, digestmod=hashlib.sha256)  # copied per code: the key is hashed once
        mac = self._keyed.copy()
        mac.update(purpose.encode() + b"\0" + ".".join(str(part) for part in parts).encode())
        return base64.b32encode(mac.digest()[:5]).decode("ascii").lower()

    def code_matches(self, code: str, purpose: str, *parts: Any) -> bool:
        return hmac.compare_digest(code.lower(), self.check_code(purpose, *parts))


def unsubscribe_mailto(bounce_domain: str, links: LinkSource, run_id: int, contact_id: int) -> str:
    """A mailto unsubscribe address (for List-Unsubscribe); the bounce processor acts on what arrives there."""
    code = links.check_code("unsubscribe", run_id, contact_id)
    return f"mailto:unsubscribe+{run_id}-{contact_id}-{code}@{bounce_domain}?subject=unsubscribe"


def return_path(bounce_address: str, links: LinkSource, run_id: int, recipient_id: int) -> str:
    """VERP envelope sender: ``bounces+<run>-<recipient>-<check>@domain`` so a bounce maps to its recipient."""
    local, _, domain = bounce_address.rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{run_id}-{recipient_id}-{links.check_code('bounce', run_id, recipient_id)}@{domain}"


_VERP = re.compile(r"^[^+@]+\+(\d+)-(\d+)-([a-z2-7]{8})@", re.IGNORECASE)


def parse_return_path(address: str, links: LinkSource) -> tuple[int, int] | None:
    """The (run id, recipient id) a bounce address stands for, or None when it is not ours or forged."""
    match = _VERP.match(address.strip().strip("<>"))
    if match is None:
        return None
    run_id, recipient_id = int(match[1]), int(match[2])
    if not links.code_matches(match[3], "bounce", run_id, recipient_id):
        return None
    return run_id, recipient_id


_UNSUBSCRIBE = re.compile(r"^unsubscribe\+(\d+)-(\d+)-([a-z2-7]{8})@", re.IGNORECASE)


def parse_unsubscribe_address(address: str, links: LinkSource) -> tuple[int, int] | None:
    """The (run id, contact id) a mailto unsubscribe address stands for, or None when it is not ours or forged."""
    match = _UNSUBSCRIBE.match(address.strip().strip("<>"))
    if match is None:
        return None
    run_id, contact_id = int(match[1]), int(match[2])
    if not links.code_matches(match[3], "unsubscribe", run_id, contact_id):
        return None
    return run_id, contact_id


def load_or_create_key(secret_store: Any, data_dir: Path) -> bytes:
    """The fallback's key: from the keyring when one is usable, else a private file in the data folder."""
    try:
        if secret_store.problem() is None:
            stored = secret_store.get(SECRET_KEY)
            if stored:
                return bytes.fromhex(stored)
            key = pysecrets.token_bytes(32)
            secret_store.set(SECRET_KEY, key.hex())
            return key
    except Exception:  # noqa: S110 - a broken keyring falls back to the file below
        pass
    path = data_dir / KEY_FILE
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    key = pysecrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex())
    return key
