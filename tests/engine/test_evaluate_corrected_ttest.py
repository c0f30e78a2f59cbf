"""Nadeau & Bengio's corrected resampled t-test against a hand-worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluate import corrected_resampled_ttest


def test_hand_worked_example():
    # J = 5 differences, n_test = 20, n_train = 80.
    # mean = 0.07 / 5 = 0.014; deviations 0.006, -0.004, 0.016, -0.024, 0.006;
    # sum of squares = 3.6e-5 + 1.6e-5 + 2.56e-4 + 5.76e-4 + 3.6e-5 = 9.2e-4; s^2 = 9.2e-4 / 4 = 2.3e-4
    # factor 1/5 + 20/80 = 0.45; var = 1.035e-4; se = 0.0101735...; t = 1.37613...; df = 4
    res = corrected_resampled_ttest([0.02, 0.01, 0.03, -0.01, 0.02], n_test=20, n_train=80)
    assert res.mean_difference == pytest.approx(0.014, abs=1e-15)
    assert res.se == pytest.approx(math.sqrt(1.035e-4), rel=1e-12)
    assert res.t == pytest.approx(0.014 / math.sqrt(1.035e-4), rel=1e-12)
    assert res.df == 4 and res.n_pairs == 5
    assert res.test_train_ratio == 0.25
    # two-sided t(4) tail at 1.37613: 0.24080 (t table / R: 2*pt(-1.37613, 4))
    assert res.p_value == pytest.approx(0.24080, abs=1e-5)
    # 95% CI: mean -/+ qt(0.975, 4) * se, qt = 2.776445
    assert res.ci_low == pytest.approx(0.014 - 2.776445 * math.sqrt(1.035e-4), abs=1e-6)
    assert res.ci_high == pytest.approx(0.014 + 2.776445 * math.sqrt(1.035e-4), abs=1e-6)


def test_correction_widens_the_naive_interval():
    rng = np.random.default_rng(0)
    d = rng.normal(0.01, 0.02, size=15)
    res = corrected_resampled_ttest(d, n_test=100, n_train=400)
    naive_se = d.std(ddof=1) / math.sqrt(15)
    assert res.se / naive_se == pytest.approx(math.sqrt(1 + 15 * 0.25), rel=1e-12)


def test_per_fold_sizes_are_averaged():
    a = corrected_resampled_ttest([0.1, 0.2, 0.0], n_test=[10, 11, 12], n_train=[40, 39, 38])
    b = corrected_resampled_ttest([0.1, 0.2, 0.0], n_test=11, n_train=39)
    assert a == b


def test_identical_differences_give_an_exact_answer():
    assert corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 40).p_value == 1.0
    res = corrected_resampled_ttest([0.05, 0.05], 10, 40)
    assert res.p_value == 0.0 and math.isinf(res.t)


@pytest.mark.parametrize("bad", [[0.1], [0.1, float("nan")]])
def test_refuses_too_few_or_non_finite(bad):
    with pytest.raises(ValueError):
        corrected_resampled_ttest(bad, 10, 40)
