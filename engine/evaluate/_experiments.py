"""Study-level comparisons of experiments: aligned by image id, at image or patient level, Holm-corrected."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.evaluate._bootstrap import (
    NEAR_ONE,
    DiffInDiff,
    NearPerfectAucWarning,
    bootstrap_contrasts,
    bootstrap_diff_in_diff,
)
from engine.evaluate._clustered import clustered_auc_test
from engine.evaluate._delong import delong_test
from engine.evaluate._multiple import comparison_pairs, holm_adjust
from engine.evaluate._predictions import Predictions, align_predictions

LEVELS = ("patient", "image")
METHODS = ("delong", "bootstrap", "obuchowski")


@dataclass(frozen=True)
class ComparisonTable:
    """One row per compared pair ``first - second``; ``p_holm`` is Holm-adjusted over all rows."""

    first: tuple[str, ...]
    second: tuple[str, ...]
    auc_first: np.ndarray
    auc_second: np.ndarray
    difference: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    method: str
    level: str
    conf_level: float
    n_cases: int
    p_mid: np.ndarray | None = None  # bootstrap only: mid-p (replicates at 0 count half on each side)
    zero_share: np.ndarray | None = None  # bootstrap only: share of replicate differences exactly 0
    near_one: np.ndarray | None = None  # bootstrap only: an AUC within NEAR_ONE of 1 (p unreliable)

    def significant(self, alpha: float = 0.05) -> np.ndarray:
        """Rows whose Holm-adjusted p-value is below ``alpha`` (family-wise error rate ``alpha``)."""
        return self.p_holm < alpha


def _at_level(experiments: Sequence[Predictions], level: str, how: str) -> tuple[Predictions, ...]:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    aligned = align_predictions(*experiments)
    if level == "patient":
        aligned = tuple(e.to_patients(how) for e in aligned)
    return aligned


def _refuse_repeated_patients(e: Predictions) -> None:
    _, counts = np.unique(e.patients, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            f"DeLong's test assumes independent cases, but {int(np.sum(counts > 1))} patients have "
            "more than one image; use level='patient' or method='bootstrap' (resamples patients)")


def compare_experiments(experiments: Sequence[Predictions], reference: str | None = None, *,
                        level: str = "patient", how: str = "mean", method: str = "delong",
                        n_boot: int = 2000, seed: int = 0, conf_level: float = 0.95) -> ComparisonTable:
    """AUC differences of all pairs (or each against ``reference``) with Holm-adjusted p-values.

    The experiments must cover the same images of the same split. ``level="patient"``
    aggregates each experiment to one score per patient (``how``: mean or max) first.
    ``method="delong"`` is the paired DeLong test (independent cases only);
    ``method="bootstrap"`` resamples patients (one resample set shared by all pairs);
    ``method="obuchowski"`` is the paired test with the clustered (patients as clusters) variance.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    names = [e.name for e in experiments]
    pairs = comparison_pairs(names, reference)
    aligned = _at_level(experiments, level, how)
    labels = aligned[0].labels
    extra = {}
    if method == "delong":
        _refuse_repeated_patients(aligned[0])
        results = [delong_test(labels, aligned[i].scores, aligned[j].scores, conf_level) for i, j in pairs]
        rows = [(r.auc_a, r.auc_b, r.difference, r.ci_low, r.ci_high, r.p_value) for r in results]
    elif method == "obuchowski":
        pats = aligned[0].patients
        results = [clustered_auc_test(labels, aligned[i].scores, aligned[j].scores, pats, conf_level)
                   for i, j in pairs]
        rows = [(r.auc_a, r.auc_b, r.difference, r.ci_low, r.ci_high, r.p_value) for r in results]
    else:
        weights = np.zeros((len(pairs), len(aligned)))
        for row, (i, j) in enumerate(pairs):
            weights[row, i], weights[row, j] = 1.0, -1.0
        scores = np.vstack([e.scores for e in aligned])
        with warnings.catch_warnings():  # a table flags such rows (near_one) instead of warning
            warnings.simplefilter("ignore", NearPerfectAucWarning)
            results = bootstrap_contrasts(labels, scores, weights, aligned[0].patients, n_boot, seed,
                                          conf_level, names=names)
        rows = [(r.aucs[i], r.aucs[j], r.estimate, r.ci_low, r.ci_high, r.p_value)
                for r, (i, j) in zip(results, pairs)]
        extra = {"p_mid": np.array([r.p_mid for r in results]),
                 "zero_share": np.array([r.zero_share for r in results]),
                 "near_one": np.array([max(r.aucs[i], r.aucs[j]) >= 1.0 - NEAR_ONE
                                       for r, (i, j) in zip(results, pairs)])}
    cols = [np.array(c, dtype=np.float64) for c in zip(*rows)]
    return ComparisonTable(first=tuple(names[i] for i, _ in pairs), second=tuple(names[j] for _, j in pairs),
                           auc_first=cols[0], auc_second=cols[1], difference=cols[2], ci_low=cols[3],
                           ci_high=cols[4], p_value=cols[5], p_holm=holm_adjust(cols[5]), method=method,
                           level=level, conf_level=conf_level, n_cases=len(labels), **extra)


def pretraining_effect(cnn_pretrained: Predictions, cnn_scratch: Predictions, vit_pretrained: Predictions,
                       vit_scratch: Predictions, *, level: str = "patient", how: str = "mean",
                       n_boot: int = 2000, seed: int = 0, conf_level: float = 0.95) -> DiffInDiff:
    """Does ImageNet pre-training help a CNN more than a ViT? Patient-bootstrap difference in differences.

    Estimate: ``(AUC_cnn_pre - AUC_cnn_scratch) - (AUC_vit_pre - AUC_vit_scratch)``; all four
    experiments must cover the same images of the same split. Negative: the ViT gains more.
    """
    a, b, c, d = _at_level([cnn_pretrained, cnn_scratch, vit_pretrained, vit_scratch], level, how)
    return bootstrap_diff_in_diff(a.labels, a.scores, b.scores, c.scores, d.scores, patients=a.patients,
                                  n_boot=n_boot, seed=seed, conf_level=conf_level)
