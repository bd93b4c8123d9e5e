"""A/B figures against hand-computed values."""

from __future__ import annotations

import math

import pytest

from app.modules.campaigns import abtest
from app.modules.campaigns.abtest import VariantResult


def test_the_split_divides_the_test_share_evenly_and_leaves_the_rest() -> None:
    assert abtest.split(20, 2) == ([(0, 100), (100, 200)], (200, 1000))
    assert abtest.split(30, 3) == ([(0, 100), (100, 200), (200, 300)], (300, 1000))
    groups, rest = abtest.split(100, 4)
    assert groups[-1][1] == 1000
    assert rest == (1000, 1000)
    with pytest.raises(ValueError, match="two variants"):
        abtest.split(20, 1)
    with pytest.raises(ValueError, match="too small"):
        abtest.split(0.1, 2)


def test_two_proportion_z_test_matches_the_hand_computation() -> None:
    # 120/1000 vs 90/1000: pooled p = 0.105, se = sqrt(0.105 * 0.895 * (2/1000)) = 0.013709,
    # z = 0.03 / 0.013709 = 2.1884, two-sided p = erfc(2.1884 / sqrt 2) = 0.02864.
    p = abtest.two_proportion_p_value(120, 1000, 90, 1000)
    assert p == pytest.approx(0.02864, abs=5e-5)
    z = 0.03 / math.sqrt(0.105 * 0.895 * 0.002)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert abtest.two_proportion_p_value(0, 100, 0, 100) is None  # no spread
    assert abtest.two_proportion_p_value(1, 0, 1, 10) is None


def test_decide_picks_the_best_rate_and_says_how_sure() -> None:
    verdict = abtest.decide([VariantResult("A", 1000, 90), VariantResult("B", 1000, 120)])
    assert verdict.winner == "B"
    assert verdict.significant
    assert verdict.rates == {"A": 0.09, "B": 0.12}
    assert verdict.probability_best["B"] > 0.97
    assert sum(verdict.probability_best.values()) == pytest.approx(1.0)
    close = abtest.decide([VariantResult("A", 100, 10), VariantResult("B", 100, 11)])
    assert close.winner == "B"
    assert not close.significant
    assert "not significant" in close.note


def test_a_tie_keeps_the_first_variant_and_nothing_sent_decides_nothing() -> None:
    assert abtest.decide([VariantResult("A", 500, 50), VariantResult("B", 500, 50)]).winner == "A"
    assert abtest.decide([VariantResult("A", 0, 0), VariantResult("B", 0, 0)]).winner is None
