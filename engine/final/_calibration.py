"""Calibration in the large and calibration slope (logistic recalibration, Cox 1958).

Slope: the ``b`` of ``logit P(y = 1) = a + b * logit(p)``; 1 is ideal, below 1 means the
predictions are too extreme (typical on another site). Calibration in the large: the ``a`` of
``logit P(y = 1) = a + logit(p)`` (slope fixed at 1, the model's logit as an offset); 0 is
ideal, above 0 means the model under-predicts AFF. Both are maximum-likelihood fits by Newton's
method with Wald confidence intervals from the observed information.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.errors import InvalidInput

_CLIP = 1e-6  # probabilities of exactly 0 or 1 have no logit


@dataclass(frozen=True)
class Recalibration:
    citl: float
    citl_ci_low: float
    citl_ci_high: float
    slope: float
    slope_ci_low: float
    slope_ci_high: float
    slope_intercept: float
    observed_expected: float  # observed AFF share / mean predicted probability
    n: int
    conf_level: float
    note: str = ""  # why a fit is missing (NaN), e.g. classes perfectly separated


class _NoFit(InvalidInput):
    """The calibration model cannot be fitted (perfect separation); the fields stay empty."""


def _fit(y: np.ndarray, x: np.ndarray | None, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression of ``y`` on an intercept (and ``x``) with ``offset``; (coef, covariance)."""
    design = np.ones((len(y), 1)) if x is None else np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        eta = offset + design @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1 - mu)
        info = design.T @ (design * w[:, None])
        step = np.linalg.solve(info, design.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(beta)) > 50:
            raise _NoFit("the classes are perfectly separated (the fit diverges)")
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        raise _NoFit("the fit did not converge in 100 Newton steps")
    eta = offset + design @ beta
    mu = 1.0 / (1.0 + np.exp(-eta))
    info = design.T @ (design * (mu * (1 - mu))[:, None])
    return beta, np.linalg.inv(info)


def recalibration(labels, probabilities, conf_level: float = 0.95) -> Recalibration:
    """Calibration in the large and slope of predicted AFF probabilities against 0/1 labels."""
    y = np.asarray(labels, np.float64)
    p = np.clip(np.asarray(probabilities, np.float64), _CLIP, 1 - _CLIP)
    if len(y) != len(p):
        raise ValueError(f"labels ({len(y)}) and probabilities ({len(p)}) differ in length")
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs both AFF and NFF cases")
    logit = np.log(p / (1 - p))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    nan, notes = float("nan"), []
    a = se_a = a2 = b = se_b = nan
    try:
        (a,), cov_a = _fit(y, None, logit)
        se_a = float(np.sqrt(cov_a[0, 0]))
    except (_NoFit, np.linalg.LinAlgError) as exc:
        notes.append(f"calibration in the large not estimable: {exc}")
    try:
        (a2, b), cov_b = _fit(y, logit, np.zeros(len(y)))
        se_b = float(np.sqrt(cov_b[1, 1]))
    except (_NoFit, np.linalg.LinAlgError) as exc:
        notes.append(f"calibration slope not estimable: {exc}")
    return Recalibration(citl=float(a), citl_ci_low=float(a - z * se_a), citl_ci_high=float(a + z * se_a),
                         slope=float(b), slope_ci_low=float(b - z * se_b), slope_ci_high=float(b + z * se_b),
                         slope_intercept=float(a2), observed_expected=float(y.mean() / p.mean()), n=len(y),
                         conf_level=conf_level, note="; ".join(notes))
