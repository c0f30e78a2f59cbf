"""Patient-cluster bootstrap: CI of one AUC, of a paired AUC difference, and of a difference in differences.

Resampling unit: the patient (all of a patient's images enter a resample together), so
the correlation between images of one patient is kept. Percentile CIs use numpy's
default quantile (linear interpolation, R's type 7). The two-sided p-value of a
contrast is the percentile-inversion p-value

    p = min(1, 2 * min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1))

(the smallest alpha at which the percentile CI excludes 0; the +1 keeps p above 0,
Davison & Hinkley 1997, so its floor is 2 / (B + 1)). Replicates exactly 0 count on both
sides; ``zero_share`` says how many there are and the mid-p counts them half on each side:

    p_mid = min(1, 2 * min(1 + #{d* < 0} + #{d* = 0} / 2, 1 + #{d* > 0} + #{d* = 0} / 2) / (B + 1)).

``p_normal`` is pROC's bootstrap test instead: ``Z = d / sd(d*)``, two-sided normal.
An AUC within ``NEAR_ONE`` of 1 warns (:class:`NearPerfectAucWarning`): its replicates
pile up at 1 and no percentile-bootstrap p-value is reliable there.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.evaluate._checks import (
    as_labels,
    as_scores,
    check_conf_level,
    require_both_classes,
    same_length,
)
from engine.evaluate._resample import bootstrap_aucs, cluster_index, resample_counts
from engine.evaluate._roc import auc_from_ranks

NEAR_ONE = 0.005  # an AUC above 1 - NEAR_ONE makes bootstrap p-values unreliable (pROC warns too)


class NearPerfectAucWarning(UserWarning):
    """An AUC within ``NEAR_ONE`` of 1 enters a bootstrap contrast: its p-value is not reliable."""


@dataclass(frozen=True)
class BootstrapAuc:
    """One AUC with its patient-bootstrap percentile CI; ``replicates`` holds the valid resamples."""

    auc: float
    ci_low: float
    ci_high: float
    se: float
    conf_level: float
    n_boot: int
    n_valid: int
    n_patients: int
    seed: int
    replicates: np.ndarray


@dataclass(frozen=True)
class BootstrapContrast:
    """A contrast of AUCs (e.g. ``auc_a - auc_b``) with its patient-bootstrap CI and p-values."""

    aucs: np.ndarray
    estimate: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    z: float
    p_normal: float
    conf_level: float
    n_boot: int
    n_valid: int
    n_patients: int
    seed: int
    replicates: np.ndarray
    zero_share: float = 0.0  # share of replicates exactly 0 (ties on both sides of the p-value)
    p_mid: float = math.nan  # mid-p: replicates at 0 count half on each side


@dataclass(frozen=True)
class DiffInDiff:
    """Pre-training gain of a CNN minus that of a ViT: ``(cnn_pre - cnn_scratch) - (vit_pre - vit_scratch)``.

    ``aucs`` are in the order cnn_pretrained, cnn_scratch, vit_pretrained, vit_scratch.
    A negative ``difference.estimate`` means ImageNet pre-training helps the ViT more.
    """

    aucs: np.ndarray
    gain_cnn: BootstrapContrast
    gain_vit: BootstrapContrast
    difference: BootstrapContrast


def _prepare(labels, scores_rows, patients, what):
    y = as_labels(labels)
    rows = [as_scores(s, name) for name, s in scores_rows]
    same_length(labels=y, **{name: r for (name, _), r in zip(scores_rows, rows)})
    require_both_classes(y, what=what)
    cluster, patient_label = cluster_index(y, patients)
    return y, np.vstack(rows), cluster, patient_label


def _summary(reps: np.ndarray, conf_level: float):
    low, high = np.quantile(reps, [(1 - conf_level) / 2, (1 + conf_level) / 2])
    se = float(np.std(reps, ddof=1))
    return float(low), float(high), se


def _contrast(aucs, weights, boot, conf_level, n_boot, seed, n_patients) -> BootstrapContrast:
    weights = np.asarray(weights, dtype=np.float64)
    point = float(aucs @ weights)
    reps = boot @ weights
    low, high, se = _summary(reps, conf_level)
    b = len(reps)
    below, zero, above = int(np.sum(reps < 0)), int(np.sum(reps == 0)), int(np.sum(reps > 0))
    p = min(1.0, 2.0 * min(1 + below + zero, 1 + above + zero) / (b + 1))
    p_mid = min(1.0, 2.0 * min(1 + below + zero / 2, 1 + above + zero / 2) / (b + 1))
    if se > 0:
        z = point / se
    else:
        z = 0.0 if point == 0 else math.copysign(math.inf, point)
    return BootstrapContrast(aucs=np.asarray(aucs), estimate=point, ci_low=low, ci_high=high, se=se,
                             p_value=p, z=z, p_normal=float(2 * stats.norm.sf(abs(z))),
                             conf_level=conf_level, n_boot=n_boot, n_valid=b, n_patients=n_patients,
                             seed=seed, replicates=reps, zero_share=zero / b, p_mid=p_mid)


def warn_near_one(aucs, names=None) -> None:
    """Warn (:class:`NearPerfectAucWarning`) when an AUC of a bootstrap contrast is within NEAR_ONE of 1."""
    aucs = np.asarray(aucs, dtype=np.float64)
    high = np.flatnonzero(aucs >= 1.0 - NEAR_ONE)
    if len(high):
        which = ", ".join(f"{names[i] if names else f'score row {i}'} (AUC {aucs[i]:.4f})" for i in high)
        warnings.warn(f"{which} within {NEAR_ONE} of 1: the bootstrap replicates pile up at 1 and the "
                      "percentile-bootstrap p-value is not reliable there", NearPerfectAucWarning,
                      stacklevel=3)


def _run(y, scores, cluster, patient_label, n_boot, seed, stratified):
    counts = resample_counts(patient_label, n_boot, seed, stratified)
    boot = bootstrap_aucs(y, scores, cluster, counts)
    boot = boot[~np.isnan(boot).any(axis=1)]
    if len(boot) < 2:
        raise ValueError("fewer than 2 bootstrap resamples contain both classes; "
                         "use stratified=True or more patients")
    aucs = np.array([auc_from_ranks(y, row) for row in scores])
    return aucs, boot


def bootstrap_auc(labels, scores, patients=None, n_boot: int = 2000, seed: int = 0,
                  conf_level: float = 0.95, stratified: bool = True) -> BootstrapAuc:
    """AUC with a percentile CI from resampling patients (or images if ``patients`` is None)."""
    conf_level = check_conf_level(conf_level)
    y, s, cluster, plabel = _prepare(labels, [("scores", scores)], patients, "a bootstrap AUC")
    aucs, boot = _run(y, s, cluster, plabel, n_boot, seed, stratified)
    low, high, se = _summary(boot[:, 0], conf_level)
    return BootstrapAuc(auc=float(aucs[0]), ci_low=low, ci_high=high, se=se, conf_level=conf_level,
                        n_boot=n_boot, n_valid=len(boot), n_patients=len(plabel), seed=seed,
                        replicates=boot[:, 0])


def bootstrap_auc_difference(labels, scores_a, scores_b, patients=None, n_boot: int = 2000,
                             seed: int = 0, conf_level: float = 0.95,
                             stratified: bool = True) -> BootstrapContrast:
    """Paired bootstrap of ``auc_a - auc_b``: both experiments see the same resampled patients."""
    conf_level = check_conf_level(conf_level)
    y, s, cluster, plabel = _prepare(labels, [("scores_a", scores_a), ("scores_b", scores_b)],
                                     patients, "a bootstrap AUC difference")
    aucs, boot = _run(y, s, cluster, plabel, n_boot, seed, stratified)
    warn_near_one(aucs, ["scores_a", "scores_b"])
    return _contrast(aucs, [1.0, -1.0], boot, conf_level, n_boot, seed, len(plabel))


def bootstrap_diff_in_diff(labels, cnn_pretrained, cnn_scratch, vit_pretrained, vit_scratch,
                           patients=None, n_boot: int = 2000, seed: int = 0,
                           conf_level: float = 0.95, stratified: bool = True) -> DiffInDiff:
    """Does pre-training help one family more? All four experiments on the same images, one resample set."""
    conf_level = check_conf_level(conf_level)
    named = [("cnn_pretrained", cnn_pretrained), ("cnn_scratch", cnn_scratch),
             ("vit_pretrained", vit_pretrained), ("vit_scratch", vit_scratch)]
    y, s, cluster, plabel = _prepare(labels, named, patients, "a difference in differences")
    aucs, boot = _run(y, s, cluster, plabel, n_boot, seed, stratified)
    warn_near_one(aucs, [name for name, _ in named])
    common = (conf_level, n_boot, seed, len(plabel))
    return DiffInDiff(aucs=aucs,
                      gain_cnn=_contrast(aucs, [1, -1, 0, 0], boot, *common),
                      gain_vit=_contrast(aucs, [0, 0, 1, -1], boot, *common),
                      difference=_contrast(aucs, [1, -1, -1, 1], boot, *common))


def bootstrap_contrasts(labels, scores_matrix, contrasts, patients=None, n_boot: int = 2000,
                        seed: int = 0, conf_level: float = 0.95, stratified: bool = True,
                        names=None) -> list[BootstrapContrast]:
    """Several contrasts (rows of weights over the ``k`` score rows) from one shared resample set."""
    conf_level = check_conf_level(conf_level)
    rows = [(f"scores[{i}]", s) for i, s in enumerate(np.atleast_2d(scores_matrix))]
    y, s, cluster, plabel = _prepare(labels, rows, patients, "a bootstrap comparison")
    aucs, boot = _run(y, s, cluster, plabel, n_boot, seed, stratified)
    warn_near_one(aucs, names)
    return [_contrast(aucs, w, boot, conf_level, n_boot, seed, len(plabel)) for w in contrasts]
