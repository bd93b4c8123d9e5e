"""Secrets (SMTP and IMAP passwords, API tokens) in the OS keyring, never in a plain-text file."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from app import APP_ID

log = logging.getLogger(__name__)

# Backends that would write the secret where anyone reading the disk can see it, or nowhere at all.
_REFUSED_BACKENDS = {
    "keyrings.alt.file.PlaintextKeyring": "stores secrets in a plain-text file",
    "keyrings.alt.file.EncryptedKeyring": "asks for a password on the terminal, which a desktop app has not",
    "keyring.backends.fail.Keyring": "no keyring service is available",
    "keyring.backends.null.Keyring": "keyring is switched off",
}

NO_KEYRING_HELP = (
    "Postroom keeps passwords only in the system keyring and found none it can trust. "
    "On Linux install and unlock a Secret Service keyring (GNOME Keyring or KeePassXC with Secret Service), "
    "on Windows the Credential Manager and on macOS the Keychain are used automatically."
)


class SecretStoreUnavailable(RuntimeError):  # noqa: N818 - the user's words
    """No trustworthy keyring backend exists; the message says what to do."""


def _backend_name(backend: Any) -> str:
    klass = type(backend)
    return f"{klass.__module__}.{klass.__qualname__}"


def _refusal(backend: Any) -> str | None:
    reason = _REFUSED_BACKENDS.get(_backend_name(backend))
    if reason is None and getattr(backend, "priority", 1) <= 0:
        reason = "the keyring backend reports it is not usable"
    return reason


class SecretStore:
    """Reads and writes secrets in the OS keyring under the service name ``postroom``."""

    def __init__(self, backend: Any | None = None, service: str = APP_ID) -> None:
        self._backend = backend
        self._service = service

    def backend(self) -> Any:
        """The backend secrets go to: a trusted one, taken out of keyring's chain when it chains several."""
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        chained = getattr(self._backend, "backends", None)
        if _backend_name(self._backend) == "keyring.backends.chainer.ChainerBackend" and chained:
            trusted = [b for b in chained if _refusal(b) is None]
            return trusted[0] if trusted else chained[0]
        return self._backend

    def problem(self) -> str | None:
        """Why secrets cannot be stored, or None when they can."""
        backend = self.backend()
        reason = _refusal(backend)
        if reason is None:
            return None
        return f"{NO_KEYRING_HELP} (backend {_backend_name(backend)}: {reason}.)"

    def _require(self) -> Any:
        problem = self.problem()
        if problem is not None:
            raise SecretStoreUnavailable(problem)
        return self.backend()

    def set(self, key: str, secret: str) -> None:
        if not secret:
            raise ValueError("an empty secret cannot be stored")
        self._require().set_password(self._service, key, secret)
        log.info("secret stored", extra={"secret_key": key})

    def get(self, key: str) -> str | None:
        value = self._require().get_password(self._service, key)
        return value if isinstance(value, str) else None

    def delete(self, key: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._require().delete_password(self._service, key)
