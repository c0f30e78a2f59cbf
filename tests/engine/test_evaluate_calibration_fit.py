"""Calibration intercept and slope against statsmodels' logistic GLM; ECE by hand."""

import numpy as np
import pytest
import statsmodels.api as sm

from engine.evaluate import calibration_fit, expected_calibration_error


def _data(n=400, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(-1.2, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    p = 1 / (1 + np.exp(-(scale * true_logit + shift)))  # over-confident when scale > 1
    return y, p


@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (2.0, 0.0), (0.6, 0.8)])
def test_intercept_and_slope_match_statsmodels(scale, shift):
    y, p = _data(scale=scale, shift=shift)
    fit = calibration_fit(y, p)
    logit = np.log(p / (1 - p))
    # statsmodels stops IRLS at a deviance tolerance: its SEs agree to about 1e-5 relative
    slope = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
    inter = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=logit).fit()
    assert fit.slope == pytest.approx(slope.params[1], abs=1e-6)
    assert fit.slope_se == pytest.approx(slope.bse[1], rel=1e-4)
    assert fit.slope_model_intercept == pytest.approx(slope.params[0], abs=1e-6)
    assert fit.intercept == pytest.approx(inter.params[0], abs=1e-6)
    assert fit.intercept_se == pytest.approx(inter.bse[0], rel=1e-4)
    lo, hi = slope.conf_int()[1]
    assert (fit.slope_ci_low, fit.slope_ci_high) == pytest.approx((lo, hi), abs=1e-6)
    assert fit.converged and fit.n_clipped == 0


def test_over_confident_predictions_have_slope_below_one():
    y, p = _data(n=3000, seed=1, scale=2.0)
    fit = calibration_fit(y, p)
    assert 0.4 < fit.slope < 0.6  # true slope 1 / 2
    assert fit.slope_ci_high < 1
    good = calibration_fit(*_data(n=3000, seed=1))
    assert good.slope_ci_low < 1 < good.slope_ci_high
    assert good.intercept_ci_low < 0 < good.intercept_ci_high


def test_ece_by_hand():
    # bins [0, .5) and [.5, 1]: (0.2, 0.4) with outcomes (0, 1); (0.9) with outcome 1
    y, p = [0, 1, 1], [0.2, 0.4, 0.9]
    # bin 1: mean 0.3, observed 0.5, weight 2/3; bin 2: mean 0.9, observed 1, weight 1/3
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(2 / 3 * 0.2 + 1 / 3 * 0.1)
    assert calibration_fit(y * 2 + [0], p * 2 + [0.5], n_bins=2).ece_bins == 2


def test_saturated_probabilities_are_clipped_and_counted():
    y, p = _data()
    p = p.copy()
    p[:3] = [0.0, 1.0, 1.0]
    fit = calibration_fit(y, p)
    assert fit.n_clipped == 3 and np.isfinite(fit.slope)


def test_separated_data_give_nan_and_not_converged_without_warnings():
    import warnings

    y = np.r_[np.ones(20), np.zeros(40)].astype(int)
    p = np.r_[np.linspace(0.6, 0.99, 20), np.linspace(0.01, 0.4, 40)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = calibration_fit(y, p)
    assert not fit.converged and np.isnan(fit.slope) and np.isfinite(fit.ece)
