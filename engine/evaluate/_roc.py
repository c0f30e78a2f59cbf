"""ROC curve and AUC (Mann-Whitney with midranks), and per-fold AUCs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluate._checks import as_labels, as_scores, labels_scores, same_length


@dataclass(frozen=True)
class RocCurve:
    """ROC points for thresholds from high to low; an image is called AFF when ``score >= threshold``.

    ``thresholds[0]`` is ``+inf`` (nothing called AFF, the point (0, 0)); every distinct
    score is a threshold, so ties give diagonal steps and the trapezoid area equals :attr:`auc`.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    n_pos: int
    n_neg: int


@dataclass(frozen=True)
class FoldAucs:
    """AUC of each cross-validation fold with their mean and sample SD (``ddof=1``)."""

    folds: np.ndarray
    aucs: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    mean: float
    sd: float


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given the mean of the ranks they span."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new = np.empty(len(xs), dtype=bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(xs))
    ranks = np.empty(len(xs), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[np.cumsum(new) - 1]
    return ranks


def auc_from_ranks(labels: np.ndarray, scores: np.ndarray) -> float:
    """Checked-input AUC: Mann-Whitney U / (n_pos * n_neg) with ties counted 1/2."""
    pos = labels == 1
    n_pos = int(pos.sum())
    n_neg = len(labels) - n_pos
    rank_sum = float(midranks(scores)[pos].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve, P(score_AFF > score_NFF) + 1/2 P(tie).

    Equals the Mann-Whitney U statistic of the AFF scores divided by
    ``n_pos * n_neg``; scores are "higher = more likely AFF" and are never flipped,
    so a model that ranks backwards gets an AUC below 0.5.
    """
    y, s = labels_scores(labels, scores)
    return auc_from_ranks(y, s)


def roc_curve(labels, scores) -> RocCurve:
    """Full ROC curve (every distinct score a threshold, no points dropped)."""
    y, s = labels_scores(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.append(np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1)
    tps = np.cumsum(y_sorted)[last_of_run]
    fps = (last_of_run + 1) - tps
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    tpr = np.concatenate([[0.0], tps / n_pos])
    fpr = np.concatenate([[0.0], fps / n_neg])
    thresholds = np.concatenate([[np.inf], s_sorted[last_of_run]])
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=thresholds, auc=auc_from_ranks(y, s),
                    n_pos=n_pos, n_neg=n_neg)


def fold_aucs(labels, scores, folds) -> FoldAucs:
    """AUC per fold (out-of-fold predictions), with mean and SD across folds.

    The SD describes fold-to-fold spread; it is not a standard error of the pooled AUC
    (folds share training data), so report the DeLong or bootstrap CI for inference.
    """
    y, s = as_labels(labels), as_scores(scores)
    f = np.asarray(folds)
    same_length(labels=y, scores=s, folds=f)
    ids = np.unique(f)
    aucs, n_pos, n_neg = [], [], []
    for fold in ids:
        sel = f == fold
        yy, ss = labels_scores(y[sel], s[sel], what=f"AUC of fold {fold}")
        aucs.append(auc_from_ranks(yy, ss))
        n_pos.append(int(yy.sum()))
        n_neg.append(int(len(yy) - yy.sum()))
    a = np.asarray(aucs)
    sd = float(np.std(a, ddof=1)) if len(a) > 1 else float("nan")
    return FoldAucs(folds=ids, aucs=a, n_pos=np.asarray(n_pos), n_neg=np.asarray(n_neg),
                    mean=float(a.mean()), sd=sd)
