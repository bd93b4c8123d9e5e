"""Several accounts for one run: each account is a lane (its throttle, its connections, its queue). Recipients are
given to lanes by weight (smooth weighted round-robin) when they are claimed; a lane that fails (refused login,
unreachable, "421" again and again) or has used its quota or is outside its send window drops out, and what it
had not put on the wire goes back to be claimed for the others. When every lane is out the run waits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.modules.delivery.smtp import AccountConfig
from app.modules.delivery.throttle import AccountThrottle

if TYPE_CHECKING:
    from app.modules.delivery.run_context import Prepared


@dataclass
class LaneHealth:
    """What the sender remembers about an account between passes and runs (reset when its settings change)."""

    refused: str = ""  # the account refused us (login or TLS): left alone for a while, then tried again
    out_until: float = 0.0  # refused, or failed a few times in a row: left alone until then
    out_reason: str = ""
    strikes: int = 0  # connection failures or "421" in a row

    def usable(self, now: float) -> bool:
        return now >= self.out_until


@dataclass
class Lane:
    account: AccountConfig
    throttle: AccountThrottle
    health: LaneHealth
    connections: int
    queue: asyncio.Queue[Prepared | None] = field(init=False)
    current: float = 0.0  # smooth weighted round-robin state
    quota_until: float = 0.0  # quota used up or window closed: out of rotation until then (this pass)
    sent: int = 0

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.connections * 2)

    @property
    def weight(self) -> int:
        return max(1, self.account.weight)

    def usable(self, now: float) -> bool:
        return self.health.usable(now) and now >= self.quota_until

    def back_at(self, now: float) -> float:
        """When this lane may be used again."""
        return max(now, self.health.out_until, self.quota_until)


def share_connections(wanted: Sequence[int], cap: int) -> list[int]:
    """Connections per lane: what each account allows, scaled down so all together stay within ``cap``
    (at least one each)."""
    wanted = [max(1, w) for w in wanted]
    if sum(wanted) <= cap:
        return wanted
    shares = [max(1, w * cap // sum(wanted)) for w in wanted]
    while sum(shares) > max(cap, len(shares)):
        biggest = max(range(len(shares)), key=lambda i: shares[i])
        shares[biggest] -= 1
    while sum(shares) < cap:  # what rounding down left over, to those furthest below what they allow
        needy = max(range(len(shares)), key=lambda i: wanted[i] - shares[i])
        shares[needy] += 1
    return shares


def pick(lanes: Sequence[Lane], now: float) -> Lane | None:
    """The next lane by weight among the usable ones (nginx's smooth weighted round-robin: exact shares, evenly
    interleaved), or None when none is usable."""
    usable = [lane for lane in lanes if lane.usable(now)]
    if not usable:
        return None
    total = 0
    for lane in usable:
        lane.current += lane.weight
        total += lane.weight
    chosen = max(usable, key=lambda lane: lane.current)
    chosen.current -= total
    return chosen
