"""User settings: a JSON file written atomically, read through typed accessors, changes announced on the bus."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from app.kernel.events import SettingChanged
from app.kernel.messages import Event

log = logging.getLogger(__name__)
T = TypeVar("T")


class Settings:
    """Key/value settings, namespaced by dots (``ui.theme``, ``delivery.default_account``)."""

    def __init__(self, path: Path, publish: Callable[[Event], None] | None = None) -> None:
        self._path = path
        self._publish = publish
        self._lock = threading.Lock()
        self._values: dict[str, Any] = self._load()

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> dict[str, Any]:
        try:
            raw = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            # A damaged file must not stop the app; keep it aside for the user and start clean.
            backup = self._path.with_suffix(".damaged.json")
            self._path.replace(backup)
            log.error("settings file %s was not valid JSON; kept as %s", self._path, backup)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str, default: T) -> T:
        with self._lock:
            value = self._values.get(key, default)
        if default is not None and not isinstance(value, type(default)):
            return default
        return value  # type: ignore[no-any-return]

    def get_optional(self, key: str) -> Any:
        with self._lock:
            return self._values.get(key)

    def set(self, key: str, value: Any) -> None:
        json.dumps(value)  # refuse what cannot be stored before changing anything
        with self._lock:
            if self._values.get(key) == value:
                return
            self._values[key] = value
            self._save()
        if self._publish is not None:
            self._publish(SettingChanged(key=key))

    def remove(self, key: str) -> None:
        with self._lock:
            if key not in self._values:
                return
            del self._values[key]
            self._save()
        if self._publish is not None:
            self._publish(SettingChanged(key=key))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._values, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
