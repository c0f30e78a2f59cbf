"""Partial AUC over a sensitivity (or specificity) range, raw and McClish-standardised, with a bootstrap.

pROC's ``auc(roc, partial.auc = c(1, .9), partial.auc.focus = "sensitivity",
partial.auc.correct = TRUE)``: the area under the ROC curve (linear between its points,
ties as diagonal steps) restricted to sensitivity in [0.9, 1], integrated along the
sensitivity axis, i.e. ``integral of specificity d(sensitivity)`` over the range. Its
largest value is the range's width (0.1), a curve on the diagonal gives
``min = width * (2 - lo - hi) / 2`` (0.005), and McClish (1989) maps
``[min, max]`` to ``[0.5, 1]``: ``(1 + (pAUC - min) / (max - min)) / 2``. Below the
diagonal the standardised value is under 0.5 (pROC returns NA there).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from engine.evaluate._bootstrap import BootstrapContrast, NearPerfectAucWarning, _contrast, _summary
from engine.evaluate._checks import as_labels, as_scores, check_conf_level, require_both_classes, same_length
from engine.evaluate._resample import cluster_index, resample_counts

FOCI = ("sensitivity", "specificity")
_BLOCK = 128


@dataclass(frozen=True)
class PartialAuc:
    """pAUC over ``focus`` in ``[low, high]``; ``standardised`` is McClish's (0.5 = diagonal, 1 = perfect)."""

    raw: float
    standardised: float
    focus: str
    low: float
    high: float
    minimum: float  # pAUC of the diagonal
    maximum: float  # pAUC of a perfect curve (the range's width)
    below_diagonal: bool


@dataclass(frozen=True)
class BootstrapPartialAuc:
    """A pAUC with patient-bootstrap percentile CIs of the raw and the standardised value."""

    pauc: PartialAuc
    ci_low: float
    ci_high: float
    std_ci_low: float
    std_ci_high: float
    se: float
    conf_level: float
    n_boot: int
    n_patients: int
    seed: int


def _bounds(focus: str, low: float, high: float) -> tuple[float, float, float]:
    if focus not in FOCI:
        raise ValueError(f"focus must be one of {FOCI}, got {focus!r}")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"the {focus} range must satisfy 0 <= low < high <= 1, got [{low}, {high}]")
    width = high - low
    return width * (2.0 - low - high) / 2.0, width, width


def _curve_rows(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray):
    """TPR and FPR at every distinct threshold (high to low, starting at 0) for each row of ``weights``."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each tie group
    w = weights[:, order]
    pos = labels[order] == 1
    tp = np.cumsum(w * pos, axis=1)[:, last]
    fp = np.cumsum(w * ~pos, axis=1)[:, last]
    zero = np.zeros((len(w), 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.hstack([zero, tp / tp[:, -1:]])
        fpr = np.hstack([zero, fp / fp[:, -1:]])
    return tpr, fpr


def _area(tpr: np.ndarray, fpr: np.ndarray, focus: str, low: float, high: float) -> np.ndarray:
    """Exact integral of the piecewise-linear curve over ``[low, high]`` of the focus axis, per row."""
    if focus == "sensitivity":
        x, y = tpr, 1.0 - fpr
    else:
        x, y = (1.0 - fpr)[:, ::-1], tpr[:, ::-1]
    x0, x1, y0, y1 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    dx = x1 - x0
    slope = np.divide(y1 - y0, dx, out=np.zeros_like(dx), where=dx > 0)
    a, b = np.clip(x0, low, high), np.clip(x1, low, high)
    ya, yb = y0 + slope * (a - x0), y0 + slope * (b - x0)
    return np.sum((b - a) * (ya + yb) / 2.0, axis=1)


def _standardise(raw, minimum, maximum):
    return (1.0 + (raw - minimum) / (maximum - minimum)) / 2.0


def partial_auc(labels, scores, focus: str = "sensitivity", low: float = 0.9,
                high: float = 1.0) -> PartialAuc:
    """pAUC of ``scores`` over ``focus`` in ``[low, high]`` (default: sensitivity 0.9-1.0)."""
    minimum, maximum, _ = _bounds(focus, low, high)
    y = as_labels(labels)
    s = as_scores(scores)
    same_length(labels=y, scores=s)
    require_both_classes(y, what="a partial AUC")
    tpr, fpr = _curve_rows(y, s, np.ones((1, len(y))))
    raw = float(_area(tpr, fpr, focus, low, high)[0])
    return PartialAuc(raw=raw, standardised=float(_standardise(raw, minimum, maximum)), focus=focus,
                      low=low, high=high, minimum=minimum, maximum=maximum,
                      below_diagonal=bool(raw < minimum - 1e-12))


def _boot_paucs(y, rows, patients, n_boot, seed, stratified, focus, low, high):
    cluster, plabel = cluster_index(y, patients)
    counts = resample_counts(plabel, n_boot, seed, stratified).astype(np.float64)
    out = np.empty((n_boot, len(rows)))
    for start in range(0, n_boot, _BLOCK):
        w = counts[start:start + _BLOCK][:, cluster]
        for j, s in enumerate(rows):
            tpr, fpr = _curve_rows(y, s, w)
            out[start:start + _BLOCK, j] = _area(tpr, fpr, focus, low, high)
    return out[~np.isnan(out).any(axis=1)], len(plabel)


def _prepare(labels, named):
    y = as_labels(labels)
    rows = [as_scores(s, name) for name, s in named]
    same_length(labels=y, **{name: r for (name, _), r in zip(named, rows)})
    require_both_classes(y, what="a bootstrap partial AUC")
    return y, rows


def bootstrap_partial_auc(labels, scores, patients=None, focus: str = "sensitivity", low: float = 0.9,
                          high: float = 1.0, n_boot: int = 2000, seed: int = 0, conf_level: float = 0.95,
                          stratified: bool = True) -> BootstrapPartialAuc:
    """pAUC with a (stratified, patient-cluster) bootstrap percentile CI, raw and standardised."""
    conf_level = check_conf_level(conf_level)
    y, (s,) = _prepare(labels, [("scores", scores)])
    point = partial_auc(y, s, focus, low, high)
    reps, n_pat = _boot_paucs(y, [s], patients, n_boot, seed, stratified, focus, low, high)
    lo, hi, se = _summary(reps[:, 0], conf_level)
    std = _standardise(np.array([lo, hi]), point.minimum, point.maximum)
    return BootstrapPartialAuc(pauc=point, ci_low=lo, ci_high=hi, std_ci_low=float(std[0]),
                               std_ci_high=float(std[1]), se=se, conf_level=conf_level, n_boot=n_boot,
                               n_patients=n_pat, seed=seed)


def bootstrap_partial_auc_difference(labels, scores_a, scores_b, patients=None,
                                     focus: str = "sensitivity", low: float = 0.9, high: float = 1.0,
                                     n_boot: int = 2000, seed: int = 0, conf_level: float = 0.95,
                                     stratified: bool = True,
                                     standardised: bool = True) -> BootstrapContrast:
    """Paired bootstrap of ``pAUC_a - pAUC_b`` (McClish-standardised by default; raw with
    ``standardised=False``). Standardising is linear, so the p-values are the same either way."""
    conf_level = check_conf_level(conf_level)
    y, rows = _prepare(labels, [("scores_a", scores_a), ("scores_b", scores_b)])
    minimum, maximum, _ = _bounds(focus, low, high)
    reps, n_pat = _boot_paucs(y, rows, patients, n_boot, seed, stratified, focus, low, high)
    points = np.array([partial_auc(y, s, focus, low, high).raw for s in rows])
    if standardised:
        points, reps = _standardise(points, minimum, maximum), _standardise(reps, minimum, maximum)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearPerfectAucWarning)
        return _contrast(points, [1.0, -1.0], reps, conf_level, n_boot, seed, n_pat)

