"""Where the tracking key ring and the sync token live: the OS keyring when a trusted one exists, else a file
readable only by the user in the data folder (and the log says so once).

The file fallback keeps links working on a machine without a keyring (a server, a bare desktop). These keys sign
links, not passwords, and the same folder already holds the contacts; a keyring is still preferred, and a ring
found in the file is moved into the keyring as soon as one becomes available.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from app.modules.stats.tokens import MIN_RETENTION_DAYS, KeyRing

log = logging.getLogger(__name__)

RING_SECRET = "stats:tracking-keys"  # noqa: S105 - the keyring entry's name, not a secret
SYNC_SECRET = "stats:sync-token"  # noqa: S105 - the keyring entry's name, not a secret
SECRETS_FILE = "tracking-secrets.json"
_lock = threading.Lock()


class TrackingSecrets:
    """Reads and writes the stats module's two secrets in the keyring or in the private file."""

    def __init__(self, secret_store: Any, data_dir: Path) -> None:
        self._store = secret_store
        self.path = data_dir / SECRETS_FILE
        self._warned = False

    def _keyring_usable(self) -> bool:
        try:
            return bool(self._store.problem() is None)
        except Exception:
            return False

    @property
    def where(self) -> str:
        return "system keyring" if self._keyring_usable() else str(self.path)

    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise RuntimeError(f"{self.path} is damaged ({exc}); move it aside to start with new keys") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, values: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
        if not self._warned:
            self._warned = True
            log.warning("no trusted keyring: the tracking link keys are kept in %s, readable only by you "
                        "(they sign links, not passwords)", self.path)

    def get(self, name: str) -> str | None:
        with _lock:
            if self._keyring_usable():
                value = self._store.get(name)
                if value:
                    return str(value)
                moved = self._read_file().get(name)
                if moved:  # a keyring appeared since: move the secret into it
                    self._store.set(name, moved)
                    rest = {k: v for k, v in self._read_file().items() if k != name}
                    if rest:
                        self._write_file(rest)
                    else:
                        self.path.unlink(missing_ok=True)
                return moved
            return self._read_file().get(name)

    def set(self, name: str, value: str) -> None:
        with _lock:
            if self._keyring_usable():
                self._store.set(name, value)
                return
            values = self._read_file()
            values[name] = value
            self._write_file(values)

    def delete(self, name: str) -> None:
        with _lock:
            if self._keyring_usable():
                with contextlib.suppress(Exception):
                    self._store.delete(name)
            values = self._read_file()
            if name in values:
                del values[name]
                self._write_file(values)

    # -- the key ring

    def ring(self) -> KeyRing:
        """The key ring, made on first use."""
        stored = self.get(RING_SECRET)
        if stored:
            return KeyRing.from_json(stored)
        ring = KeyRing.new()
        self.set(RING_SECRET, ring.to_json())
        log.info("tracking link key created", extra={"key_id": ring.current_id, "stored_in": self.where})
        return ring

    def rotate(self, retention_days: int = MIN_RETENTION_DAYS) -> KeyRing:
        """Sign new links with a new key; old links keep working for at least ``retention_days`` (>= 400)."""
        ring = self.ring().rotated(retention_days=retention_days)
        self.set(RING_SECRET, ring.to_json())
        log.info("tracking link key rotated", extra={"key_id": ring.current_id, "kept": len(ring.keys)})
        return ring
