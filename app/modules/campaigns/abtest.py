"""A/B/n tests: how the audience is split, and which variant wins with how much confidence.

The split is by contact id into per-mille buckets (``(id * 7919) % 1000``), so it is deterministic, needs no
list of ids, and a variant's share, the winner's rest and a restart all agree on who is where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BUCKETS = 1000
METRICS = ("opens", "clicks", "manual")


def split(test_share_percent: float, variants: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Per-mille bucket ranges for each variant's test group, and the range of the rest (the winner's)."""
    if variants < 2:
        raise ValueError("an A/B test needs at least two variants")
    if not 0 < test_share_percent <= 100:
        raise ValueError("the test share is a percentage between 1 and 100")
    total = round(test_share_percent * BUCKETS / 100)
    if total < variants:
        raise ValueError("the test share is too small for that many variants")
    edges = [round(total * i / variants) for i in range(variants + 1)]
    return [(edges[i], edges[i + 1]) for i in range(variants)], (total, BUCKETS)


@dataclass(frozen=True)
class VariantResult:
    key: str
    sent: int
    hits: int  # unique opens or clicks (machine traffic left out)

    @property
    def rate(self) -> float:
        return self.hits / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class Verdict:
    winner: str | None
    rates: dict[str, float]
    p_value: float | None  # two-proportion z-test, best against the runner-up
    probability_best: dict[str, float]  # Bayesian: the chance each variant's true rate is the highest
    significant: bool
    note: str


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined (no data, no spread)."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if spread <= 0:
        return None
    z = (hits_a / n_a - hits_b / n_b) / math.sqrt(spread)
    return math.erfc(abs(z) / math.sqrt(2))


def probability_best(results: list[VariantResult], draws: int = 20000, seed: int = 7) -> dict[str, float]:
    """Monte Carlo over Beta(1 + hits, 1 + misses) posteriors: how often each variant's draw is the highest."""
    import numpy as np

    rng = np.random.default_rng(seed)
    samples = np.stack([rng.beta(1 + r.hits, 1 + max(0, r.sent - r.hits), draws) for r in results])
    best = np.bincount(samples.argmax(axis=0), minlength=len(results))
    return {r.key: float(best[i]) / draws for i, r in enumerate(results)}


def decide(results: list[VariantResult], alpha: float = 0.05) -> Verdict:
    """The variant with the highest rate wins; the figures say how sure that is.

    A tie on the rate keeps the first variant (A), so the choice is stable. The winner is sent even when the
    difference is not significant (the user set the wait and the metric); the note says so.
    """
    if not results:
        return Verdict(None, {}, None, {}, False, "no variants")
    rates = {r.key: r.rate for r in results}
    ranked = sorted(results, key=lambda r: -r.rate)  # stable: ties keep the given order
    best = ranked[0]
    p_value = None
    if len(ranked) > 1:
        runner = ranked[1]
        p_value = two_proportion_p_value(best.hits, best.sent, runner.hits, runner.sent)
    chances = probability_best(results) if all(r.sent for r in results) else {}
    significant = p_value is not None and p_value < alpha
    if not any(r.sent for r in results):
        return Verdict(None, rates, None, {}, False, "nothing was sent to the test groups")
    note = (f"{best.key} wins: {best.rate:.1%}"
            + (f", p = {p_value:.3f}" if p_value is not None else "")
            + ("" if significant else " (not significant at 95%: the difference may be chance)"))
    return Verdict(best.key, rates, p_value, chances, significant, note)
