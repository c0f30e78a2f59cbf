"""Calibration intercept and slope (logistic recalibration) and the expected calibration error.

Logistic recalibration (Cox 1958; Van Calster et al. 2019) regresses the outcome on the
logit of the predicted probability ``L = log(p / (1 - p))``:

- **slope** ``b`` from ``logit P(y = 1) = a + b L``: 1 is ideal; below 1 the predictions
  are too extreme (over-fitting), above 1 too timid;
- **intercept** ("calibration in the large") ``a`` from ``logit P(y = 1) = a + L``
  (``L`` as an offset, slope fixed at 1): 0 is ideal; negative means the model predicts
  too much AFF on average.

Both are maximum-likelihood fits by Newton-Raphson with Wald CIs from the observed
information. Probabilities are clipped to ``[eps, 1 - eps]`` (``eps = 1e-6``) so that a
saturated 0 or 1 has a finite logit; ``n_clipped`` says how many were.

ECE = ``sum_k (n_k / N) |observed_k - mean predicted_k|`` over the bins of
:func:`calibration_curve` (default 10 equal-width bins on [0, 1]; empty bins add nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit

from engine.evaluate._calibration import _probabilities, calibration_curve
from engine.evaluate._checks import check_conf_level, require_both_classes

EPS = 1e-6


@dataclass(frozen=True)
class CalibrationFit:
    """Calibration intercept and slope with Wald CIs, and the ECE with its binning."""

    intercept: float
    intercept_se: float
    intercept_ci_low: float
    intercept_ci_high: float
    slope: float
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    slope_model_intercept: float  # ``a`` of the two-parameter fit that gives the slope
    ece: float
    ece_bins: int
    ece_strategy: str
    n: int
    n_clipped: int
    conf_level: float
    converged: bool


def _logistic_fit(y: np.ndarray, x: np.ndarray | None, offset: np.ndarray, max_iter: int = 100):
    """ML logistic fit of ``y`` on ``[1, x]`` (or ``[1]``) with ``offset``: coefficients, covariance."""
    design = np.ones((len(y), 1)) if x is None else np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(max_iter):
        eta = offset + design @ beta
        mu = expit(eta)
        w = mu * (1.0 - mu)
        info = design.T @ (design * w[:, None])
        try:
            with np.errstate(all="ignore"):
                step = np.linalg.solve(info, design.T @ (y - mu))
        except np.linalg.LinAlgError:  # separated data: no finite maximum
            return np.full(len(beta), np.nan), np.full((len(beta), len(beta)), np.nan), False
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 1e6:
            return np.full(len(beta), np.nan), np.full((len(beta), len(beta)), np.nan), False
        if np.max(np.abs(step)) < 1e-10:
            eta = offset + design @ beta
            mu = expit(eta)
            info = design.T @ (design * (mu * (1.0 - mu))[:, None])
            return beta, np.linalg.inv(info), True
    return beta, np.full((len(beta), len(beta)), np.nan), False


def expected_calibration_error(labels, probabilities, n_bins: int = 10, strategy: str = "uniform") -> float:
    """``sum_k (n_k / N) |observed_k - mean predicted_k|`` over the calibration curve's bins."""
    cal = calibration_curve(labels, probabilities, n_bins, strategy)
    ok = cal.counts > 0
    n = cal.counts[ok].astype(np.float64)
    return float(np.sum(n * np.abs(cal.observed[ok] - cal.mean_predicted[ok])) / n.sum())


def calibration_fit(labels, probabilities, n_bins: int = 10, strategy: str = "uniform",
                    conf_level: float = 0.95) -> CalibrationFit:
    """Calibration intercept (slope fixed at 1) and slope by logistic recalibration; ECE."""
    conf_level = check_conf_level(conf_level)
    y, p = _probabilities(labels, probabilities)
    require_both_classes(y, what="a calibration fit")
    clipped = int(np.sum((p < EPS) | (p > 1 - EPS)))
    pc = np.clip(p, EPS, 1 - EPS)
    logit = np.log(pc / (1 - pc))
    yf = y.astype(np.float64)
    a_only, cov_a, ok_a = _logistic_fit(yf, None, logit)
    ab, cov_ab, ok_ab = _logistic_fit(yf, logit, np.zeros(len(y)))
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    se_a = math.sqrt(cov_a[0, 0]) if ok_a else math.nan
    se_b = math.sqrt(cov_ab[1, 1]) if ok_ab else math.nan
    a, b = float(a_only[0]), float(ab[1])
    return CalibrationFit(intercept=a, intercept_se=se_a, intercept_ci_low=a - z * se_a,
                          intercept_ci_high=a + z * se_a, slope=b, slope_se=se_b, slope_ci_low=b - z * se_b,
                          slope_ci_high=b + z * se_b, slope_model_intercept=float(ab[0]),
                          ece=expected_calibration_error(y, p, n_bins, strategy), ece_bins=n_bins,
                          ece_strategy=strategy, n=len(y), n_clipped=clipped, conf_level=conf_level,
                          converged=bool(ok_a and ok_ab))
