"""Decision-curve analysis (Vickers & Elkin 2006): net benefit over a range of threshold probabilities.

At threshold probability ``pt`` a case is treated (called AFF) when ``p >= pt``; with
``N`` cases,

    net benefit(pt) = TP / N - FP / N * pt / (1 - pt),

true positives gained minus false positives weighted by the odds of the threshold (the
harm of an unnecessary treatment relative to the benefit of a necessary one that ``pt``
implies). The references: **treat all**, ``prev - (1 - prev) * pt / (1 - pt)``, and
**treat none**, 0. A model is useful at ``pt`` where its curve lies above both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluate._calibration import _probabilities

DEFAULT_THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)


@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit of a model and of treating all / none at each threshold probability."""

    thresholds: np.ndarray
    net_benefit: np.ndarray
    treat_all: np.ndarray
    treat_none: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    prevalence: float
    n: int


def decision_curve(labels, probabilities, thresholds=None) -> DecisionCurve:
    """Net benefit at each threshold in ``thresholds`` (default 0.01, 0.02, ..., 0.99; each in (0, 1))."""
    y, p = _probabilities(labels, probabilities)
    pt = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if pt.ndim != 1 or len(pt) == 0 or np.any((pt <= 0) | (pt >= 1)) or not np.all(np.isfinite(pt)):
        raise ValueError("threshold probabilities must be a non-empty list of numbers strictly between 0 "
                         "and 1")
    n = len(y)
    treated = p[None, :] >= pt[:, None]
    tp = np.sum(treated & (y == 1)[None, :], axis=1)
    fp = np.sum(treated & (y == 0)[None, :], axis=1)
    odds = pt / (1 - pt)
    prev = float(y.mean())
    return DecisionCurve(thresholds=pt, net_benefit=tp / n - fp / n * odds,
                         treat_all=prev - (1 - prev) * odds, treat_none=np.zeros(len(pt)),
                         true_positives=tp, false_positives=fp, prevalence=prev, n=n)
