"""Operating points: choose a threshold (Youden, fixed sensitivity or specificity) and the 2x2 table there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluate._checks import as_labels, as_scores, labels_scores, safe_ratio, same_length
from engine.evaluate._roc import roc_curve

_EPS = 1e-12  # k/n rounding: 27/30 must count as reaching 0.90


@dataclass(frozen=True)
class OperatingPoint:
    """Decisions at one threshold: a case is called AFF when ``score >= threshold``.

    ``confusion`` is ``[[tn, fp], [fn, tp]]`` (rows: true NFF, AFF; columns: called
    NFF, AFF), scikit-learn's layout. Ratios with a zero denominator (e.g. PPV when
    nothing is called AFF) are NaN.
    """

    rule: str
    threshold: float
    confusion: np.ndarray
    sensitivity: float
    specificity: float
    balanced_accuracy: float
    ppv: float
    npv: float
    f1: float
    accuracy: float

    @property
    def tn(self) -> int:
        return int(self.confusion[0, 0])

    @property
    def fp(self) -> int:
        return int(self.confusion[0, 1])

    @property
    def fn(self) -> int:
        return int(self.confusion[1, 0])

    @property
    def tp(self) -> int:
        return int(self.confusion[1, 1])


def operating_point(labels, scores, threshold: float, rule: str = "given") -> OperatingPoint:
    """Confusion matrix, sensitivity, specificity, balanced accuracy, PPV, NPV, F1 at ``threshold``."""
    y, s = as_labels(labels), as_scores(scores)
    same_length(labels=y, scores=s)
    called = s >= threshold
    tp = int(np.sum(called & (y == 1)))
    fp = int(np.sum(called & (y == 0)))
    fn = int(np.sum(~called & (y == 1)))
    tn = int(np.sum(~called & (y == 0)))
    sens, spec = safe_ratio(tp, tp + fn), safe_ratio(tn, tn + fp)
    return OperatingPoint(
        rule=rule, threshold=float(threshold), confusion=np.array([[tn, fp], [fn, tp]]),
        sensitivity=sens, specificity=spec, balanced_accuracy=(sens + spec) / 2.0,
        ppv=safe_ratio(tp, tp + fp), npv=safe_ratio(tn, tn + fn), f1=safe_ratio(2 * tp, 2 * tp + fp + fn),
        accuracy=safe_ratio(tp + tn, len(y)),
    )


def youden_threshold(labels, scores) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    Ties in J go to the lowest such threshold (the highest sensitivity): a missed AFF
    costs more than a false alarm.
    """
    roc = roc_curve(labels, scores)
    j = roc.tpr - roc.fpr
    best = np.flatnonzero(j >= j.max() - _EPS)[-1]
    return float(roc.thresholds[best])


def threshold_for_sensitivity(labels, scores, target: float = 0.90) -> float:
    """Highest threshold whose sensitivity is at least ``target`` (best specificity there)."""
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target sensitivity must be in [0, 1], got {target}")
    roc = roc_curve(labels, scores)
    return float(roc.thresholds[np.flatnonzero(roc.tpr >= target - _EPS)[0]])


def threshold_for_specificity(labels, scores, target: float = 0.90) -> float:
    """Lowest threshold whose specificity is at least ``target`` (best sensitivity there)."""
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target specificity must be in [0, 1], got {target}")
    roc = roc_curve(labels, scores)
    return float(roc.thresholds[np.flatnonzero(1.0 - roc.fpr >= target - _EPS)[-1]])


def operating_points(labels, scores, sensitivity: float = 0.90,
                     specificity: float = 0.90) -> dict[str, OperatingPoint]:
    """The standard set: ``"youden"``, ``"sensitivity"`` (fixed) and ``"specificity"`` (fixed).

    Thresholds chosen on the data they are evaluated on are optimistic; to report an
    honest operating point, choose the threshold on validation folds and pass it to
    :func:`operating_point` for the test data.
    """
    y, s = labels_scores(labels, scores, what="an operating point")
    return {
        "youden": operating_point(y, s, youden_threshold(y, s), "youden"),
        "sensitivity": operating_point(y, s, threshold_for_sensitivity(y, s, sensitivity),
                                       f"sensitivity>={sensitivity:g}"),
        "specificity": operating_point(y, s, threshold_for_specificity(y, s, specificity),
                                       f"specificity>={specificity:g}"),
    }
