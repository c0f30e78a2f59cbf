"""Precision-recall curve and average precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluate._checks import labels_scores


@dataclass(frozen=True)
class PrCurve:
    """Precision-recall points for thresholds from high to low (AFF when ``score >= threshold``).

    The first point (threshold ``+inf``) is recall 0, precision 1 by convention.
    ``prevalence`` (share of AFF cases) is the precision of a model that guesses.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    average_precision: float
    prevalence: float


def pr_curve(labels, scores) -> PrCurve:
    """Precision and recall at every distinct score, and the average precision.

    Average precision is the step-wise sum ``sum_k (R_k - R_{k-1}) P_k`` (no
    interpolation), the same definition as scikit-learn's ``average_precision_score``.
    """
    y, s = labels_scores(labels, scores, what="a precision-recall curve")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.append(np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1)
    tps = np.cumsum(y_sorted)[last_of_run].astype(np.float64)
    called = (last_of_run + 1).astype(np.float64)
    n_pos = float(y.sum())
    precision = np.concatenate([[1.0], tps / called])
    recall = np.concatenate([[0.0], tps / n_pos])
    thresholds = np.concatenate([[np.inf], s_sorted[last_of_run]])
    ap = float(np.sum(np.diff(recall) * precision[1:]))
    return PrCurve(precision=precision, recall=recall, thresholds=thresholds,
                   average_precision=ap, prevalence=n_pos / len(y))


def average_precision(labels, scores) -> float:
    """Average precision (area under the step-wise PR curve)."""
    return pr_curve(labels, scores).average_precision
