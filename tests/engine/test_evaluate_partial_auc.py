"""Partial AUC (sensitivity 0.9-1): definitions, bootstrap replicates by explicit resampling, paired test.

Agreement with pROC is in test_evaluate_r_agreement.py.
"""

import numpy as np
import pytest

from engine.evaluate import (
    bootstrap_partial_auc,
    bootstrap_partial_auc_difference,
    partial_auc,
    roc_auc,
)
from engine.evaluate._partial_auc import _boot_paucs
from engine.evaluate._resample import cluster_index, resample_counts


def _data(n_pat=50, seed=0):
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 4, n_pat)
    patients = np.repeat(np.arange(n_pat), k)
    y = np.repeat((rng.random(n_pat) < 0.35).astype(int), k)
    a = np.round(rng.normal(1.3 * y, 1.0), 1)
    b = np.round(a + rng.normal(0, 0.8, len(y)), 1)
    return y, a, b, patients


def test_full_range_is_the_auc_and_perfect_and_diagonal_hit_the_bounds():
    y, a, _, _ = _data()
    assert partial_auc(y, a, low=0.0, high=1.0).raw == pytest.approx(roc_auc(y, a), abs=1e-12)
    perfect = partial_auc(y, y + 0.0)
    assert perfect.raw == pytest.approx(0.1) and perfect.standardised == pytest.approx(1.0)
    flat = partial_auc(y, np.zeros(len(y)))  # one tie group: the diagonal
    assert flat.raw == pytest.approx(0.005) and flat.standardised == pytest.approx(0.5)
    backwards = partial_auc(y, -a)
    assert backwards.below_diagonal and backwards.standardised < 0.5


def test_by_hand_on_four_cases():
    # AFF 0.9, 0.4; NFF 0.6, 0.1. ROC points (fpr, tpr): (0,0) (0,.5) (.5,.5) (.5,1) (1,1).
    # Sensitivity 0.9-1 lies on the vertical step at fpr 0.5: specificity 0.5 over width 0.1.
    p = partial_auc([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1])
    assert p.raw == pytest.approx(0.05)
    assert p.standardised == pytest.approx((1 + (0.05 - 0.005) / 0.095) / 2)


def test_bootstrap_replicates_equal_explicit_patient_resamples():
    y, a, _, patients = _data()
    reps, _ = _boot_paucs(y, [a], patients, 5, 7, True, "sensitivity", 0.9, 1.0)
    cluster, plabel = cluster_index(y, patients)
    counts = resample_counts(plabel, 5, 7, True)
    for r in range(5):
        idx = np.concatenate([np.repeat(np.flatnonzero(cluster == c), counts[r, c])
                              for c in range(len(plabel))])
        assert reps[r, 0] == pytest.approx(partial_auc(y[idx], a[idx]).raw, abs=1e-12)


def test_bootstrap_ci_and_paired_test():
    y, a, b, patients = _data()
    boot = bootstrap_partial_auc(y, a, patients, n_boot=300)
    assert boot.ci_low <= boot.pauc.raw <= boot.ci_high
    assert boot.std_ci_low <= boot.pauc.standardised <= boot.std_ci_high
    assert boot.n_patients == 50
    d = bootstrap_partial_auc_difference(y, a, b, patients, n_boot=300)
    assert d.estimate == pytest.approx(partial_auc(y, a).standardised - partial_auc(y, b).standardised)
    raw = bootstrap_partial_auc_difference(y, a, b, patients, n_boot=300, standardised=False)
    assert raw.p_value == d.p_value  # standardising is linear: same test
    assert raw.estimate == pytest.approx(d.estimate * 2 * 0.095)
    same = bootstrap_partial_auc_difference(y, a, a, patients, n_boot=100)
    assert same.p_value == 1.0 and same.zero_share == 1.0


def test_refusals():
    with pytest.raises(ValueError, match="0 <= low < high <= 1"):
        partial_auc([0, 1], [0.1, 0.2], low=0.95, high=0.9)
    with pytest.raises(ValueError, match="focus"):
        partial_auc([0, 1], [0.1, 0.2], focus="ppv")
