"""What the sender needs to run, as plain picklable data (it may run in its own process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.modules.delivery.smtp import AccountConfig


@dataclass(frozen=True)
class SenderSettings:
    batch_size: int = 50  # recipients marked `sending` per transaction
    in_flight: int = 200  # at most this many `sending` at once: the most that can be `unknown` after a crash
    retry_base: float = 300.0  # first retry of a temporary refusal after about this many seconds, then doubling
    retry_max: float = 4 * 3600.0
    lifetime: float = 3 * 86400.0  # a recipient still refused after this long fails (not suppressed)
    max_consecutive_errors: int = 25  # then the run pauses
    max_connections: int = 8  # across all accounts
    slowdown_seconds: float = 60.0  # how long an account stays slowed after a "slow down" reply
    domain_per_minute: dict[str, int] = field(default_factory=dict)
    local_hostname: str | None = None
    materialise_batch: int = 1000
    progress_interval: float = 0.5


@dataclass(frozen=True)
class WorkerConfig:
    database_url: str
    lock_path: str
    accounts: dict[int, AccountConfig]
    settings: SenderSettings
    links: Any  # a links.LinkSource: the stats module's TrackingLinks (adapted), or the local fallback
    dkim_keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # domain -> (selector, private PEM)
    exit_when_idle: bool = True
