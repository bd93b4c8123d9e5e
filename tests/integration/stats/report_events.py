"""Stored tracking events for report tests, written as the endpoint writes them (then ingested for real)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from app.kernel.boot import Kernel
from app.modules.stats import store

_numbers = itertools.count(1)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")


def event(kind: str, at: dt.datetime, *, run: int = 0, contact: int | None = None, link: int | None = None,
          machine: bool = False, agent: str = FIREFOX, email: str | None = None, name: str = "",
          data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"uid": f"{at:%Y%m%d%H%M%S}-test-{next(_numbers):08d}", "kind": kind, "run_id": run or None,
            "contact_id": contact, "link_id": link, "occurred_at": at, "user_agent": agent,
            "ip_class": "192.0.2.0/24", "machine": machine, "machine_reason": "scanner" if machine else "",
            "email": email, "name": name, "data": data or {}}


def store_events(kernel: Kernel, rows: list[dict[str, Any]]) -> None:
    with kernel.db.transaction() as session:
        store.insert_events(session, rows)


def order(at: dt.datetime, email: str, value: float, currency: str = "EUR") -> dict[str, Any]:
    return event("event", at, email=email, name="order_completed", data={"value": value, "currency": currency})
