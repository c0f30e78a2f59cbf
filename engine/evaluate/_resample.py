"""Vectorised patient-cluster bootstrap of AUCs: resample weights, then weighted Mann-Whitney per row.

Resampling patients with replacement is the same as giving every image the number of
times its patient was drawn as a weight. With the NFF images sorted once by score, the
AUC of every resample is a weighted Mann-Whitney sum (ties 1/2), computed for a block
of resamples at a time with numpy (no Python loop over resamples).
"""

from __future__ import annotations

import numpy as np

_BLOCK = 128  # resamples per block: arrays of _BLOCK x n_images stay in cache-friendly sizes


def cluster_index(labels: np.ndarray, patients) -> tuple[np.ndarray, np.ndarray]:
    """Index of each image's patient and each patient's label (AFF if any image is AFF)."""
    if patients is None:
        return np.arange(len(labels)), labels.copy()
    patients = np.asarray(patients)
    if patients.ndim != 1 or len(patients) != len(labels):
        raise ValueError(f"patients must be a 1-D array with one entry per image ({len(labels)}); "
                         f"got shape {patients.shape}")
    _, idx = np.unique(patients, return_inverse=True)
    idx = idx.ravel()
    patient_label = np.zeros(idx.max() + 1, dtype=np.int64)
    np.maximum.at(patient_label, idx, labels)
    return idx, patient_label


def resample_counts(patient_label: np.ndarray, n_boot: int, seed: int,
                    stratified: bool) -> np.ndarray:
    """``(n_boot, n_patients)`` times each patient is drawn.

    Stratified (default, as pROC's ``boot.stratified``): AFF and NFF patients are drawn
    separately, so every resample keeps the observed numbers of AFF and NFF patients.
    """
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    rng = np.random.default_rng(seed)
    n = len(patient_label)
    strata = [np.flatnonzero(patient_label == c) for c in (1, 0)] if stratified else [np.arange(n)]
    drawn = np.empty((n_boot, n), dtype=np.int64)  # patient index of each draw
    col = 0
    for members in strata:
        k = len(members)
        if k:
            drawn[:, col:col + k] = members[rng.integers(0, k, size=(n_boot, k))]
            col += k
    drawn += np.arange(n_boot)[:, None] * n
    return np.bincount(drawn.ravel(), minlength=n_boot * n).reshape(n_boot, n)


class _Sorted:
    """One score vector prepared once: NFF cases sorted, and where each AFF score falls among them."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray, cluster: np.ndarray):
        pos = labels == 1
        order = np.argsort(scores[~pos], kind="mergesort")
        neg_sorted = scores[~pos][order]
        self.neg_cluster = cluster[~pos][order]
        self.pos_cluster = cluster[pos]
        # NFF cases strictly below each AFF score, and below or tied with it.
        self.below = np.searchsorted(neg_sorted, scores[pos], side="left")
        self.upto = np.searchsorted(neg_sorted, scores[pos], side="right")

    def aucs(self, weights: np.ndarray) -> np.ndarray:
        """Weighted AUC for each row of ``weights`` (float patient counts); NaN where a class is absent.

        With ``C`` the running sum of NFF weights, an AFF case of weight ``w`` adds
        ``w * (C[below] + C[upto]) / 2``: NFF weight below it plus half the tied weight.
        """
        cum = np.zeros((len(weights), len(self.neg_cluster) + 1))
        np.cumsum(np.take(weights, self.neg_cluster, axis=1), axis=1, out=cum[:, 1:])
        w_pos = np.take(weights, self.pos_cluster, axis=1)
        pair_sum = np.take(cum, self.below, axis=1) + np.take(cum, self.upto, axis=1)
        num = 0.5 * np.einsum("ij,ij->i", w_pos, pair_sum)
        den = w_pos.sum(axis=1) * cum[:, -1]
        out = np.full(len(weights), np.nan)
        np.divide(num, den, out=out, where=den > 0)
        return out


def bootstrap_aucs(labels: np.ndarray, scores_matrix: np.ndarray, cluster: np.ndarray,
                   counts: np.ndarray) -> np.ndarray:
    """``(n_boot, k)`` AUCs of the ``k`` score rows under the same resamples (paired)."""
    prepared = [_Sorted(labels, row, cluster) for row in scores_matrix]
    weights = counts.astype(np.float64)  # once: gathers then need no int-to-float conversion
    out = np.empty((len(counts), len(prepared)))
    for start in range(0, len(counts), _BLOCK):
        block = weights[start:start + _BLOCK]
        for j, p in enumerate(prepared):
            out[start:start + _BLOCK, j] = p.aucs(block)
    return out
