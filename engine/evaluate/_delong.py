"""DeLong variance of AUCs with the fast midrank algorithm of Sun & Xu (2014).

DeLong, DeLong & Clarke-Pearson, Biometrics 44:837-845 (1988) give the covariance of
correlated AUCs from the "placements" (structural components) of each case; Sun & Xu,
IEEE Signal Processing Letters 21:1389-1393 (2014) compute all placements from three
midrank vectors in O(N log N). Sample (co)variances use ``ddof=1`` and the CI is the
normal interval clipped to [0, 1], as in R's pROC (``ci.auc``, ``roc.test``).
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
    labels_scores,
    require_both_classes,
    same_length,
)
from engine.evaluate._roc import midranks


class RepeatedPatientsWarning(UserWarning):
    """DeLong's variance was asked for on images of which some share a patient (not independent)."""


def warn_if_repeated(patients, what: str = "DeLong's variance") -> None:
    """Warn (:class:`RepeatedPatientsWarning`) when a patient appears more than once."""
    if patients is None:
        return
    _, counts = np.unique(np.asarray(patients), return_counts=True)
    if np.any(counts > 1):
        warnings.warn(f"{what} assumes independent cases, but {int(np.sum(counts > 1))} patients have more "
                      "than one image: the CI is too narrow and the p-value too small; aggregate to "
                      "patients or use the clustered (Obuchowski) variance or the patient bootstrap",
                      RepeatedPatientsWarning, stacklevel=3)


@dataclass(frozen=True)
class AucCI:
    """An AUC with its confidence interval."""

    auc: float
    ci_low: float
    ci_high: float
    se: float
    conf_level: float
    n_pos: int
    n_neg: int
    method: str


@dataclass(frozen=True)
class DeLongTest:
    """DeLong test of ``auc_a - auc_b`` (two-sided).

    Paired: ``statistic`` is Z and ``df`` is ``inf``. Unpaired: ``statistic`` is pROC's
    Welch-type D with ``df`` degrees of freedom (Student t).
    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p_value: float
    conf_level: float
    paired: bool


def delong_covariance(labels, scores_matrix) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of ``k`` score rows on the same cases and their ``k x k`` DeLong covariance.

    ``scores_matrix`` has shape ``(k, n_cases)``. Needs at least 2 AFF and 2 NFF cases.
    """
    y = as_labels(labels)
    scores = np.atleast_2d(np.asarray(scores_matrix, dtype=np.float64))
    for row in scores:
        as_scores(row)
    same_length(labels=y, scores=scores[0])
    m, n = require_both_classes(y, minimum=2, what="DeLong's variance")
    pos = y == 1
    v10 = np.empty((len(scores), m))
    v01 = np.empty((len(scores), n))
    for r, row in enumerate(scores):
        tz = midranks(row)
        # Placement of an AFF case: share of NFF cases scored below it (ties 1/2), and vice versa.
        v10[r] = (tz[pos] - midranks(row[pos])) / n
        v01[r] = 1.0 - (tz[~pos] - midranks(row[~pos])) / m
    aucs = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def _normal_ci(centre: float, se: float, conf_level: float) -> tuple[float, float]:
    half = float(stats.norm.ppf(0.5 + conf_level / 2.0)) * se
    return centre - half, centre + half


def delong_ci(labels, scores, conf_level: float = 0.95, *, patients=None) -> AucCI:
    """AUC with DeLong's CI, as ``pROC::ci.auc(roc, method = "delong")`` (clipped to [0, 1]).

    Give ``patients`` to be warned (:class:`RepeatedPatientsWarning`) when cases share a patient.
    """
    conf_level = check_conf_level(conf_level)
    warn_if_repeated(patients)
    y, s = labels_scores(labels, scores, minimum=2, what="DeLong's CI")
    aucs, cov = delong_covariance(y, s[None, :])
    auc, se = float(aucs[0]), math.sqrt(max(float(cov[0, 0]), 0.0))
    low, high = _normal_ci(auc, se, conf_level)
    return AucCI(auc=auc, ci_low=min(max(low, 0.0), 1.0), ci_high=min(max(high, 0.0), 1.0), se=se,
                 conf_level=conf_level, n_pos=int(y.sum()), n_neg=int(len(y) - y.sum()),
                 method="delong")


def _z_and_p(difference: float, se: float) -> tuple[float, float]:
    if se > 0:
        z = difference / se
    else:  # pROC: identical curves give Z = 0; a difference with no variance is infinitely significant
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return z, float(2.0 * stats.norm.sf(abs(z)))


def delong_test(labels, scores_a, scores_b, conf_level: float = 0.95, *, patients=None) -> DeLongTest:
    """Paired DeLong test of two correlated AUCs on the same cases.

    Matches ``pROC::roc.test(roc_a, roc_b, method = "delong", paired = TRUE)`` with both
    curves built with ``direction = "<"``. The cases must be independent: with several
    images per patient, aggregate to patients first, use :func:`clustered_auc_test` or the
    patient bootstrap; given ``patients``, repeated ones warn (:class:`RepeatedPatientsWarning`).
    """
    conf_level = check_conf_level(conf_level)
    warn_if_repeated(patients, "DeLong's test")
    y = as_labels(labels)
    a, b = as_scores(scores_a, "scores_a"), as_scores(scores_b, "scores_b")
    same_length(labels=y, scores_a=a, scores_b=b)
    require_both_classes(y, minimum=2, what="DeLong's test")
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    d = float(aucs[0] - aucs[1])
    se = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]), 0.0))
    z, p = _z_and_p(d, se)
    low, high = _normal_ci(d, se, conf_level)
    return DeLongTest(auc_a=float(aucs[0]), auc_b=float(aucs[1]), difference=d, se=se, ci_low=low,
                      ci_high=high, statistic=z, df=math.inf, p_value=p, conf_level=conf_level,
                      paired=True)


def delong_test_unpaired(labels_a, scores_a, labels_b, scores_b, conf_level: float = 0.95) -> DeLongTest:
    """DeLong test of two AUCs on different cases, as pROC's unpaired ``roc.test``.

    pROC uses a Welch-type statistic ``D = (A_a - A_b) / sqrt(V_a + V_b)`` with
    ``df = (V_a + V_b)^2 / (V_a^2 / (N_a - 1) + V_b^2 / (N_b - 1))`` and a Student t
    p-value; the CI here is ``D``'s t interval (pROC reports none).
    """
    conf_level = check_conf_level(conf_level)
    ya, sa = labels_scores(labels_a, scores_a, minimum=2, what="DeLong's test")
    yb, sb = labels_scores(labels_b, scores_b, minimum=2, what="DeLong's test")
    auc_a, var_a = delong_covariance(ya, sa[None, :])
    auc_b, var_b = delong_covariance(yb, sb[None, :])
    va, vb = float(var_a[0, 0]), float(var_b[0, 0])
    d = float(auc_a[0] - auc_b[0])
    se = math.sqrt(max(va + vb, 0.0))
    if se > 0:
        df = (va + vb) ** 2 / (va**2 / (len(ya) - 1) + vb**2 / (len(yb) - 1))
        stat = d / se
        p = float(2.0 * stats.t.sf(abs(stat), df))
        half = float(stats.t.ppf(0.5 + conf_level / 2.0, df)) * se
    else:
        df, half = math.nan, 0.0
        stat, p = _z_and_p(d, se)
    return DeLongTest(auc_a=float(auc_a[0]), auc_b=float(auc_b[0]), difference=d, se=se,
                      ci_low=d - half, ci_high=d + half, statistic=stat, df=df, p_value=p,
                      conf_level=conf_level, paired=False)
