"""Obuchowski's (1997) clustered-ROC variance of AUCs: patients as clusters of images.

Obuchowski NA, Nonparametric analysis of clustered ROC curve data, Biometrics
53:567-578 (1997). With ``I`` patients, patient ``i`` having ``m_i`` AFF and ``n_i`` NFF
images (``M = sum m_i``, ``N = sum n_i``), the image-level AUC ``theta`` and the DeLong
placements ``V10(X)`` (share of NFF images below an AFF image, ties 1/2) and ``V01(Y)``,
summed per patient (``V10_i``, ``V01_i``):

    S10 = I10 / ((I10 - 1) M) * sum_i (V10_i - m_i theta)^2
    S01 = I01 / ((I01 - 1) N) * sum_i (V01_i - n_i theta)^2
    S11 = I / (I - 1)         * sum_i (V10_i - m_i theta) (V01_i - n_i theta)
    Var(theta) = S10 / M + S01 / N + 2 S11 / (M N)

(``I10``, ``I01``: patients with at least one AFF, NFF image). For two score vectors on
the same images the same sums of cross-products give the covariance, hence a paired
test. With one image per patient this is exactly DeLong's variance; with ``K`` identical
images per patient it is exactly the patient-level DeLong variance.
"""

from __future__ import annotations

import math

import numpy as np

from engine.evaluate._checks import as_labels, as_scores, check_conf_level, require_both_classes, same_length
from engine.evaluate._delong import AucCI, DeLongTest, _normal_ci, _z_and_p
from engine.evaluate._roc import midranks


def obuchowski_covariance(labels, scores_matrix, patients) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of ``k`` score rows on the same images and their ``k x k`` clustered covariance."""
    y = as_labels(labels)
    scores = np.atleast_2d(np.asarray(scores_matrix, dtype=np.float64))
    for row in scores:
        as_scores(row)
    patients = np.asarray(patients)
    same_length(labels=y, scores=scores[0], patients=patients)
    big_m, big_n = require_both_classes(y, minimum=2, what="the clustered AUC variance")
    _, cluster = np.unique(patients, return_inverse=True)
    cluster = cluster.ravel()
    n_clusters = int(cluster.max()) + 1
    pos = y == 1
    m_i = np.bincount(cluster[pos], minlength=n_clusters).astype(np.float64)
    n_i = np.bincount(cluster[~pos], minlength=n_clusters).astype(np.float64)
    i10, i01 = int(np.sum(m_i > 0)), int(np.sum(n_i > 0))
    if min(i10, i01) < 2 or n_clusters < 2:
        raise ValueError(f"the clustered AUC variance needs at least 2 patients with AFF images and 2 with "
                         f"NFF images; got {i10} and {i01}")
    k = len(scores)
    r10 = np.empty((k, n_clusters))
    r01 = np.empty((k, n_clusters))
    aucs = np.empty(k)
    for r, row in enumerate(scores):
        tz = midranks(row)
        v10 = (tz[pos] - midranks(row[pos])) / big_n
        v01 = 1.0 - (tz[~pos] - midranks(row[~pos])) / big_m
        aucs[r] = v10.mean()
        r10[r] = np.bincount(cluster[pos], weights=v10, minlength=n_clusters) - m_i * aucs[r]
        r01[r] = np.bincount(cluster[~pos], weights=v01, minlength=n_clusters) - n_i * aucs[r]
    s10 = i10 / ((i10 - 1) * big_m) * (r10 @ r10.T)
    s01 = i01 / ((i01 - 1) * big_n) * (r01 @ r01.T)
    s11 = n_clusters / (n_clusters - 1) * (r10 @ r01.T)
    cov = s10 / big_m + s01 / big_n + (s11 + s11.T) / (big_m * big_n)
    return aucs, cov


def clustered_auc_ci(labels, scores, patients, conf_level: float = 0.95) -> AucCI:
    """Image-level AUC with Obuchowski's clustered CI (patients as clusters), clipped to [0, 1]."""
    conf_level = check_conf_level(conf_level)
    y = as_labels(labels)
    aucs, cov = obuchowski_covariance(y, np.asarray(scores, dtype=np.float64)[None, :], patients)
    auc, se = float(aucs[0]), math.sqrt(max(float(cov[0, 0]), 0.0))
    low, high = _normal_ci(auc, se, conf_level)
    return AucCI(auc=auc, ci_low=min(max(low, 0.0), 1.0), ci_high=min(max(high, 0.0), 1.0), se=se,
                 conf_level=conf_level, n_pos=int(y.sum()), n_neg=int(len(y) - y.sum()), method="obuchowski")


def clustered_auc_test(labels, scores_a, scores_b, patients, conf_level: float = 0.95) -> DeLongTest:
    """Paired test of two image-level AUCs with the clustered covariance (Z, two-sided normal p)."""
    conf_level = check_conf_level(conf_level)
    a, b = as_scores(scores_a, "scores_a"), as_scores(scores_b, "scores_b")
    aucs, cov = obuchowski_covariance(labels, np.vstack([a, b]), patients)
    d = float(aucs[0] - aucs[1])
    se = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]), 0.0))
    z, p = _z_and_p(d, se)
    low, high = _normal_ci(d, se, conf_level)
    return DeLongTest(auc_a=float(aucs[0]), auc_b=float(aucs[1]), difference=d, se=se, ci_low=low,
                      ci_high=high, statistic=z, df=math.inf, p_value=p, conf_level=conf_level, paired=True)
