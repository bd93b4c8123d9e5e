"""Contacts for previews and merge fields, read only through the contacts module's public API."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

PICKER_LIMIT = 30


@dataclass(frozen=True)
class PreviewContact:
    """Someone to render a preview as: the fields a template can read (custom ones in ``fields``)."""

    label: str
    email: str
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    time_zone: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {"email": self.email, "first_name": self.first_name, "last_name": self.last_name,
                "language": self.language, "time_zone": self.time_zone, "fields": dict(self.fields)}


SAMPLE_CONTACT = PreviewContact("Sample contact (Alex Example)", "alex@example.com", "Alex", "Example", "en",
                                "Europe/London", {})


class ContactSource:
    """The contacts module's people and custom fields, or nothing when that module is not running."""

    def __init__(self, kernel: Any) -> None:
        self.db = kernel.db
        status = kernel.registry.status("contacts")
        self.available = status is not None and status.state == "started"

    def _api(self) -> Any:
        if not self.available:
            return None
        from app.modules.contacts import api

        return api

    def search(self, text: str = "", limit: int = PICKER_LIMIT) -> list[PreviewContact]:
        """Contacts whose address or name starts with ``text`` (the first ones when ``text`` is empty)."""
        api = self._api()
        finder = getattr(api, "search_recipients", None)
        if finder is None:
            return []
        try:
            return [_preview(person) for person in finder(self.db, text, limit)]
        except Exception:
            log.warning("could not search contacts for the preview", exc_info=True)
            return []

    def custom_fields(self) -> list[str]:
        """Keys of the custom contact fields (for the merge-field menu and rule editor)."""
        api = self._api()
        reader = getattr(api, "custom_fields", None)
        if reader is None:
            return []
        try:
            return [str(info.key) for info in reader(self.db)]
        except Exception:
            log.warning("could not read the custom contact fields", exc_info=True)
            return []


def _preview(person: Any) -> PreviewContact:
    name = " ".join(part for part in (person.first_name, person.last_name) if part)
    return PreviewContact(f"{name} <{person.email}>" if name else person.email, person.email,
                          person.first_name or "", person.last_name or "", person.language or "",
                          person.time_zone or "", dict(person.fields or {}))
