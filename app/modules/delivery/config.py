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
    # Several accounts: an account whose quota or send window would hold a message longer than quota_patience
    # seconds hands it to the others; failover_after connection failures or "421" in a row take an account out
    # for account_cooldown seconds (only while another can take over).
    quota_patience: float = 5.0
    failover_after: int = 3
    account_cooldown: float = 300.0
    warmup_start: int = 50  # a warming-up account's cap on its first day, then times warmup_factor a day
    warmup_factor: float = 2.0
    send_window: dict[str, Any] | None = None  # for accounts without their own (throttle.SendWindow.parse)
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
