"""Patient-cluster bootstrap: weighted AUCs equal materialised resamples, clusters, seeds, p-values, DiD."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import (
    bootstrap_auc,
    bootstrap_auc_difference,
    bootstrap_diff_in_diff,
    delong_ci,
    roc_auc,
)
from engine.evaluate._resample import bootstrap_aucs, cluster_index, resample_counts


def _study(seed: int = 0, n_patients: int = 150, images_max: int = 4):
    """Patients with 1..images_max images, ~20 % AFF patients, two correlated models with ties."""
    rng = np.random.default_rng(seed)
    n_img = rng.integers(1, images_max + 1, n_patients)
    patients = np.repeat(np.arange(n_patients), n_img).astype(str)
    patient_aff = rng.random(n_patients) < 0.2
    labels = np.repeat(patient_aff, n_img).astype(int)
    effect = np.repeat(rng.normal(0, 0.7, n_patients), n_img)  # shared within a patient
    latent = labels * 1.2 + effect + rng.normal(0, 0.7, len(labels))
    a = np.round(latent, 1)
    b = np.round(latent + rng.normal(0, 0.8, len(labels)), 1)
    return labels, a, b, patients


def test_weighted_auc_equals_auc_of_materialised_resample():
    labels, a, _, patients = _study()
    cluster, patient_label = cluster_index(labels, patients)
    counts = resample_counts(patient_label, 6, seed=4, stratified=True)
    boot = bootstrap_aucs(labels, a[None, :], cluster, counts)
    for row, c in enumerate(counts):
        take = np.concatenate([np.flatnonzero(cluster == p) for p in np.repeat(np.arange(len(c)), c)])
        assert boot[row, 0] == pytest.approx(roc_auc(labels[take], a[take]), abs=1e-12)


def test_stratified_resamples_keep_the_number_of_aff_patients():
    labels, _, _, patients = _study()
    _, patient_label = cluster_index(labels, patients)
    counts = resample_counts(patient_label, 50, seed=1, stratified=True)
    np.testing.assert_array_equal(counts[:, patient_label == 1].sum(axis=1), patient_label.sum())
    np.testing.assert_array_equal(counts.sum(axis=1), len(patient_label))


def test_patient_label_is_aff_if_any_image_is():
    _, patient_label = cluster_index(np.array([0, 1, 0, 0]), np.array(["p", "p", "q", "q"]))
    np.testing.assert_array_equal(patient_label, [1, 0])


def test_same_seed_same_result_other_seed_other_result():
    labels, a, _, patients = _study()
    r1 = bootstrap_auc(labels, a, patients, n_boot=300, seed=3)
    r2 = bootstrap_auc(labels, a, patients, n_boot=300, seed=3)
    r3 = bootstrap_auc(labels, a, patients, n_boot=300, seed=4)
    np.testing.assert_array_equal(r1.replicates, r2.replicates)
    assert not np.array_equal(r1.replicates, r3.replicates)
    assert r1.auc == pytest.approx(roc_auc(labels, a))
    assert r1.ci_low < r1.auc < r1.ci_high and r1.n_valid == 300


def test_copies_of_a_patients_images_do_not_narrow_the_cluster_ci():
    # Three identical copies of every image: a patient bootstrap must give the same
    # replicates (each patient's weight just triples); an image bootstrap would not.
    labels, a, _, patients = _study(n_patients=80, images_max=1)
    once = bootstrap_auc(labels, a, patients, n_boot=400, seed=9)
    thrice = bootstrap_auc(np.tile(labels, 3), np.tile(a, 3), np.tile(patients, 3), n_boot=400, seed=9)
    np.testing.assert_allclose(thrice.replicates, once.replicates, atol=1e-12)
    naive = bootstrap_auc(np.tile(labels, 3), np.tile(a, 3), None, n_boot=400, seed=9)
    assert naive.se < 0.75 * once.se


def test_bootstrap_se_is_close_to_delong_for_independent_cases():
    labels, a, _, patients = _study(seed=2, n_patients=600, images_max=1)
    boot = bootstrap_auc(labels, a, patients, n_boot=2000, seed=0)
    assert boot.se == pytest.approx(delong_ci(labels, a).se, rel=0.15)


def test_identical_experiments_differ_by_exactly_zero():
    labels, a, _, patients = _study()
    res = bootstrap_auc_difference(labels, a, a, patients, n_boot=200)
    assert (res.estimate, res.ci_low, res.ci_high, res.p_value, res.p_normal) == (0, 0, 0, 1, 1)


def test_clearly_better_model_is_significant_and_ci_excludes_zero():
    labels, a, _, patients = _study(seed=5, n_patients=300)
    noisy = a + np.random.default_rng(0).normal(0, 3, len(a))
    res = bootstrap_auc_difference(labels, a, noisy, patients, n_boot=999, seed=1)
    assert res.estimate == pytest.approx(roc_auc(labels, a) - roc_auc(labels, noisy))
    assert res.ci_low > 0
    assert res.p_value == pytest.approx(2 / 1000)  # the floor 2 / (B + 1): no replicate <= 0
    assert res.p_normal < 1e-3


def test_p_value_is_twice_the_smaller_tail_with_plus_one():
    labels, a, b, patients = _study(seed=6)
    res = bootstrap_auc_difference(labels, a, b, patients, n_boot=500, seed=2)
    d = res.replicates
    expected = min(1.0, 2 * min(1 + np.sum(d <= 0), 1 + np.sum(d >= 0)) / (len(d) + 1))
    assert res.p_value == pytest.approx(expected)
    assert res.ci_low == pytest.approx(np.quantile(d, 0.025))
    assert res.se == pytest.approx(np.std(d, ddof=1))


def test_difference_in_differences_contrasts_share_the_resamples():
    labels, a, b, patients = _study(seed=7)
    rng = np.random.default_rng(1)
    c, d = a + rng.normal(0, 0.5, len(a)), b + rng.normal(0, 1.0, len(a))
    did = bootstrap_diff_in_diff(labels, a, b, c, d, patients, n_boot=300, seed=5)
    aucs = [roc_auc(labels, x) for x in (a, b, c, d)]
    np.testing.assert_allclose(did.aucs, aucs)
    assert did.difference.estimate == pytest.approx((aucs[0] - aucs[1]) - (aucs[2] - aucs[3]))
    np.testing.assert_allclose(did.difference.replicates,
                               did.gain_cnn.replicates - did.gain_vit.replicates, atol=1e-12)
    pair = bootstrap_auc_difference(labels, a, b, patients, n_boot=300, seed=5)
    np.testing.assert_allclose(did.gain_cnn.replicates, pair.replicates, atol=1e-12)


def test_no_cnn_gain_makes_did_minus_the_vit_gain():
    labels, a, b, patients = _study(seed=8)
    did = bootstrap_diff_in_diff(labels, a, a, a, b, patients, n_boot=200)
    assert did.gain_cnn.estimate == 0
    np.testing.assert_allclose(did.difference.replicates, -did.gain_vit.replicates, atol=1e-12)


def test_refuses_too_few_resamples_and_bad_patients():
    labels, a, _, patients = _study()
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_auc(labels, a, patients, n_boot=1)
    with pytest.raises(ValueError, match="one entry per image"):
        bootstrap_auc(labels, a, patients[:-1])
