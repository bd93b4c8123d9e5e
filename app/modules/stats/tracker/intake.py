"""Incoming events from a shop or CRM (``POST /events``): checked field by field, stored all or nothing.

Body: one event object, a list of them, or ``{"events": [...]}`` (at most 1,000). An event has ``email`` and
``name`` (``order_completed``), and optionally ``properties`` (an object), ``value`` (a number), ``currency``
(three letters), ``time`` (ISO 8601 with a zone, or unix seconds; default now) and ``id`` (the sender's own id:
sending the same id again stores nothing new).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from typing import Any

MAX_EVENTS = 1000
MAX_PROPERTIES_BYTES = 16 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class IntakeError(ValueError):
    """A bad event; ``field`` and ``index`` say where."""

    def __init__(self, message: str, field: str = "", index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.index = index

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": str(self)}
        if self.field:
            body["field"] = self.field
        if self.index is not None:
            body["index"] = self.index
        return body


def parse_body(raw: bytes) -> list[Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise IntakeError("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise IntakeError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise IntakeError("no events in the body")
    if len(items) > MAX_EVENTS:
        raise IntakeError(f"at most {MAX_EVENTS} events per request, not {len(items)}")
    return items


def _time(value: Any, index: int, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if isinstance(value, bool):
        raise IntakeError("time must be ISO 8601 text or unix seconds", "time", index)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0 or value > 32503680000:
            raise IntakeError("time is not a plausible unix time", "time", index)
        stamp = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise IntakeError(f"time {value[:40]!r} is not ISO 8601", "time", index) from None
        if stamp.tzinfo is None:
            raise IntakeError("time needs a time zone (for example 2025-05-01T12:00:00Z)", "time", index)
    else:
        raise IntakeError("time must be ISO 8601 text or unix seconds", "time", index)
    naive = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    if naive > now + dt.timedelta(days=1):
        raise IntakeError("time is in the future", "time", index)
    return naive


def event_row(item: Any, index: int, token_id: int, now: dt.datetime) -> dict[str, Any]:
    """The stored row for one event, or :class:`IntakeError` naming the field."""
    if not isinstance(item, dict):
        raise IntakeError("each event must be a JSON object", "", index)
    unknown = sorted(set(item) - {"email", "name", "properties", "value", "currency", "time", "id"})
    if unknown:
        raise IntakeError(f"unknown field {unknown[0]!r}", unknown[0], index)
    email = item.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        raise IntakeError("email must be an email address", "email", index)
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise IntakeError("name must be 1 to 100 letters, digits or _ . : - (for example order_completed)",
                          "name", index)
    properties = item.get("properties", {})
    if not isinstance(properties, dict):
        raise IntakeError("properties must be a JSON object", "properties", index)
    if len(json.dumps(properties)) > MAX_PROPERTIES_BYTES:
        raise IntakeError(f"properties are larger than {MAX_PROPERTIES_BYTES // 1024} KB", "properties", index)
    value = item.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not math.isfinite(value)):
        raise IntakeError("value must be a number", "value", index)
    currency = item.get("currency")
    if currency is not None and (not isinstance(currency, str) or not _CURRENCY.match(currency)):
        raise IntakeError("currency must be three capital letters (ISO 4217, for example EUR)", "currency", index)
    external = item.get("id")
    if external is not None and (not isinstance(external, str | int) or isinstance(external, bool)
                                 or not 0 < len(str(external)) <= 100):
        raise IntakeError("id must be text or a number of at most 100 characters", "id", index)
    # The sender's own id makes a retry harmless: the same id from the same token is the same event.
    uid = (hashlib.sha256(f"{token_id}:{external}".encode()).hexdigest()[:40] if external is not None
           else os.urandom(12).hex())
    return {
        "uid": uid, "kind": "event", "run_id": None, "contact_id": None, "link_id": None,
        "occurred_at": _time(item.get("time"), index, now), "user_agent": "", "ip_class": "",
        "machine": False, "machine_reason": "", "email": email.strip()[:320], "name": name,
        "data": {"properties": properties, "value": value, "currency": currency,
                 **({"id": str(external)} if external is not None else {})},
    }
