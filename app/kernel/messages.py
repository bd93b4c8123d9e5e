"""Base types of bus messages: commands (one handler, result or error to the caller) and events."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")

_event_ids = itertools.count(1)


@dataclass(frozen=True, kw_only=True)
class Command(Generic[R]):
    """A request to change state, handled by exactly one handler, whose result is ``R``."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact that happened; any number of handlers may react to it."""

    occurred_at: float = field(default_factory=time.time, compare=False, repr=False)
    event_id: int = field(default_factory=lambda: next(_event_ids), compare=False, repr=False)


class CommandNotHandled(LookupError):  # noqa: N818 - reads as what happened
    """No handler is registered for a command."""


class HandlerAlreadyRegistered(ValueError):  # noqa: N818
    """A second handler was registered for a command type."""
