"""McNemar's test (textbook values) and Holm's adjustment (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import comparison_pairs, holm_adjust, mcnemar_at_thresholds, mcnemar_test


def _pairs(both: int, only_a: int, only_b: int, neither: int):
    a = np.r_[np.ones(both + only_a, bool), np.zeros(only_b + neither, bool)]
    b = np.r_[np.ones(both, bool), np.zeros(only_a, bool), np.ones(only_b, bool), np.zeros(neither, bool)]
    return a, b


def test_textbook_chi_square_with_continuity_correction():
    # Agresti's approval ratings (R's ?mcnemar.test): 794, 150, 86, 570.
    # (|150 - 86| - 1)^2 / 236 = 16.818, p = 4.115e-05.
    t = mcnemar_test(*_pairs(794, 150, 86, 570))
    assert (t.b, t.c, t.n) == (150, 86, 236)
    assert t.statistic == pytest.approx(63**2 / 236)
    assert t.method == "chi2" and t.p_value == t.p_chi2
    assert t.p_value == pytest.approx(4.115e-05, rel=1e-3)


def test_exact_binomial_for_few_discordant_pairs():
    # b = 1, c = 8: p = 2 * P(X <= 1 | n = 9, 1/2) = 2 * (1 + 9) / 512.
    t = mcnemar_test(*_pairs(20, 1, 8, 5))
    assert t.method == "exact"
    assert t.p_value == pytest.approx(20 / 512, abs=1e-15)


def test_exact_can_be_forced_and_equal_counts_give_p_1():
    t = mcnemar_test(*_pairs(5, 40, 40, 5), exact=True)
    assert t.method == "exact" and t.p_value == 1.0
    assert t.statistic == 0.0 and t.p_chi2 == 1.0  # no continuity correction when b == c, as R


def test_no_discordant_pairs():
    t = mcnemar_test(*_pairs(10, 0, 0, 3))
    assert (t.b, t.c, t.p_value) == (0, 0, 1.0) and np.isnan(t.statistic)


def test_switches_to_chi_square_at_25_discordant_pairs():
    assert mcnemar_test(*_pairs(0, 12, 12, 0)).method == "exact"
    assert mcnemar_test(*_pairs(0, 13, 12, 0)).method == "chi2"


def test_mcnemar_at_thresholds_counts_right_and_wrong_decisions():
    y = np.array([1, 1, 0, 0, 1])
    a = np.array([0.9, 0.2, 0.1, 0.6, 0.7])  # at 0.5: right, wrong, right, wrong, right
    b = np.array([0.9, 0.8, 0.1, 0.1, 0.1])  # at 0.5: right, right, right, right, wrong
    t = mcnemar_at_thresholds(y, a, b, 0.5, 0.5)
    assert (t.b, t.c) == (1, 2)


def test_holm_hand_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


def test_holm_is_monotone_and_capped():
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 0.3, 15)
    adj = holm_adjust(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and adj.max() <= 1.0
    assert holm_adjust([0.6, 0.7]).tolist() == [1.0, 1.0]


def test_holm_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        holm_adjust([0.1, float("nan")])


def test_comparison_pairs_all_or_against_reference():
    assert comparison_pairs(["a", "b", "c"]) == [(0, 1), (0, 2), (1, 2)]
    assert comparison_pairs(["a", "b", "c"], reference="b") == [(0, 1), (2, 1)]
    with pytest.raises(ValueError, match="not among"):
        comparison_pairs(["a", "b"], reference="z")
    with pytest.raises(ValueError, match="unique"):
        comparison_pairs(["a", "a"])
