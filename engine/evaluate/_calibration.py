"""Brier score and a binned calibration curve (with counts and Wilson intervals per bin)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.evaluate._checks import as_labels, as_scores, check_conf_level, same_length


@dataclass(frozen=True)
class CalibrationCurve:
    """Observed AFF share against mean predicted probability, per bin.

    Bins are ``[edge_k, edge_k+1)``, the last one closed. Empty bins keep their place
    with ``count`` 0 and NaN means, so plots should mask ``counts == 0``.
    ``observed_low``/``observed_high`` are Wilson score intervals of the observed share.
    """

    bin_edges: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    observed_low: np.ndarray
    observed_high: np.ndarray
    counts: np.ndarray
    brier: float
    strategy: str


def _probabilities(labels, probabilities) -> tuple[np.ndarray, np.ndarray]:
    y, p = as_labels(labels), as_scores(probabilities, "probabilities")
    same_length(labels=y, probabilities=p)
    if len(y) == 0:
        raise ValueError("no cases to evaluate")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(f"probabilities must lie in [0, 1]; got range [{p.min():g}, {p.max():g}] "
                         "(pass the model's AFF probability, not a logit)")
    return y, p


def brier_score(labels, probabilities) -> float:
    """Mean squared difference between AFF probability and outcome (0 is perfect)."""
    y, p = _probabilities(labels, probabilities)
    return float(np.mean((p - y) ** 2))


def _wilson(k: np.ndarray, n: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    low = np.full(len(n), np.nan)
    high = np.full(len(n), np.nan)
    ok = n > 0
    kk, nn = k[ok].astype(np.float64), n[ok].astype(np.float64)
    centre = (kk + z * z / 2) / (nn + z * z)
    half = z / (nn + z * z) * np.sqrt(kk * (nn - kk) / nn + z * z / 4)
    low[ok], high[ok] = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return low, high


def calibration_curve(labels, probabilities, n_bins: int = 10, strategy: str = "uniform",
                      conf_level: float = 0.95) -> CalibrationCurve:
    """Reliability diagram data; ``strategy`` is ``"uniform"`` (equal width) or ``"quantile"``.

    Quantile bins hold about equal numbers of cases; repeated edges (many equal
    probabilities) are merged, so there may be fewer than ``n_bins`` bins.
    """
    conf_level = check_conf_level(conf_level)
    y, p = _probabilities(labels, probabilities)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        if len(edges) == 1:
            edges = np.array([edges[0], edges[0]])
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    k = len(edges) - 1
    idx = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, k - 1)
    counts = np.bincount(idx, minlength=k)
    sum_p = np.bincount(idx, weights=p, minlength=k)
    events = np.bincount(idx, weights=y, minlength=k)
    mean_p = np.full(k, np.nan)
    observed = np.full(k, np.nan)
    np.divide(sum_p, counts, out=mean_p, where=counts > 0)
    np.divide(events, counts, out=observed, where=counts > 0)
    low, high = _wilson(events, counts, conf_level)
    return CalibrationCurve(bin_edges=edges, mean_predicted=mean_p, observed=observed, observed_low=low,
                            observed_high=high, counts=counts, brier=float(np.mean((p - y) ** 2)),
                            strategy=strategy)
