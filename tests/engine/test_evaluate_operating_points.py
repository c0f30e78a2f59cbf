"""Operating points (Youden, fixed sensitivity/specificity, given threshold), Brier score, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import brier_score_loss

from engine.evaluate import (
    brier_score,
    calibration_curve,
    operating_point,
    operating_points,
    threshold_for_sensitivity,
    threshold_for_specificity,
    youden_threshold,
)

Y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
S = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])


def test_metrics_at_a_given_threshold_by_hand():
    op = operating_point(Y, S, 0.5)
    np.testing.assert_array_equal(op.confusion, [[3, 1], [1, 3]])
    assert (op.tn, op.fp, op.fn, op.tp) == (3, 1, 1, 3)
    for value in (op.sensitivity, op.specificity, op.balanced_accuracy, op.ppv, op.npv, op.f1, op.accuracy):
        assert value == pytest.approx(0.75)


def test_unbalanced_example_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.3, 0.8, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    op = operating_point(y, s, 0.5)  # TP 1, FN 1, FP 1, TN 7
    assert op.sensitivity == 0.5 and op.specificity == 7 / 8
    assert op.ppv == 0.5 and op.npv == 7 / 8 and op.f1 == 0.5
    assert op.balanced_accuracy == pytest.approx((0.5 + 7 / 8) / 2)


def test_youden_ties_go_to_the_higher_sensitivity():
    # J = 0.75 at threshold 0.7 (sens 0.75, spec 1) and at 0.4 (sens 1, spec 0.75).
    assert youden_threshold(Y, S) == 0.4


def test_fixed_sensitivity_and_specificity():
    assert threshold_for_sensitivity(Y, S, 0.9) == 0.4
    assert threshold_for_specificity(Y, S, 0.9) == 0.7
    pts = operating_points(Y, S)
    assert pts["sensitivity"].sensitivity >= 0.9 and pts["sensitivity"].specificity == 0.75
    assert pts["specificity"].specificity >= 0.9 and pts["specificity"].sensitivity == 0.75
    assert pts["youden"].rule == "youden" and pts["specificity"].rule == "specificity>=0.9"


def test_target_reached_exactly_counts():
    y = np.r_[np.ones(30, int), np.zeros(30, int)]
    s = np.r_[np.arange(30) + 100.0, np.arange(30.0)]
    s[:3] = -1  # 27 / 30 AFF above all NFF
    op = operating_point(y, s, threshold_for_sensitivity(y, s, 0.9))
    assert op.sensitivity == pytest.approx(0.9) and op.specificity == 1.0


def test_nothing_called_aff_gives_nan_ppv_without_warnings():
    op = operating_point(Y, S, np.inf)
    assert np.isnan(op.ppv) and op.sensitivity == 0 and op.specificity == 1 and op.f1 == 0


def test_brier_score_by_hand_and_as_sklearn():
    assert brier_score([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))


def test_calibration_counts_and_empty_bins():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    cal = calibration_curve(y, p, n_bins=10)
    assert cal.counts.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert cal.observed[1] == 0.5 and cal.mean_predicted[1] == pytest.approx(0.15)
    assert np.isnan(cal.observed[2]) and np.isnan(cal.observed_low[2])
    assert cal.observed[9] == 1.0 and cal.observed_low[9] < 1.0 == cal.observed_high[9]


def test_calibration_matches_sklearn_on_filled_bins():
    rng = np.random.default_rng(4)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    for strategy in ("uniform", "quantile"):
        cal = calibration_curve(y, p, n_bins=8, strategy=strategy)
        prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=8, strategy=strategy)
        filled = cal.counts > 0
        np.testing.assert_allclose(cal.observed[filled], prob_true)
        np.testing.assert_allclose(cal.mean_predicted[filled], prob_pred)
        assert cal.counts.sum() == 500
    assert np.ptp(calibration_curve(y, p, n_bins=5, strategy="quantile").counts) <= 1


def test_calibration_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match="logit"):
        calibration_curve([0, 1], [-0.5, 2.0])
