"""ROC curve, AUC as Mann-Whitney with ties, PR curve, average precision, per-fold AUCs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from engine.evaluate import average_precision, fold_aucs, midranks, pr_curve, roc_auc, roc_curve


def test_perfect_separation_gives_1():
    assert roc_auc([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9]) == 1.0


def test_reversed_ranking_gives_0_and_is_not_flipped():
    assert roc_auc([0, 0, 0, 1, 1], [0.9, 0.8, 0.7, 0.2, 0.1]) == 0.0


def test_all_tied_gives_one_half():
    assert roc_auc([0, 1, 0, 1, 1], [0.4] * 5) == 0.5


def test_random_scores_give_about_one_half():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 20000)
    assert abs(roc_auc(y, rng.random(20000)) - 0.5) < 0.01


def test_tiny_example_with_ties_counted_by_hand():
    # AFF scores 3, 2, 2; NFF scores 2, 1. Pairs (AFF, NFF): (3,2)=1 (3,1)=1 (2,2)=1/2 (2,1)=1,
    # twice for the two 2s: U = 1 + 1 + 2 * (1/2 + 1) = 5 of 3 * 2 = 6 pairs.
    assert roc_auc([1, 1, 1, 0, 0], [3, 2, 2, 2, 1]) == pytest.approx(5 / 6, abs=1e-15)


def test_auc_equals_mann_whitney_u_over_pairs():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y, 1.0) * 2)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    u = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(y, s) == pytest.approx(u / (len(pos) * len(neg)), abs=1e-12)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_midranks_match_scipy_average_ranks():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 10, 500).astype(float)
    np.testing.assert_array_equal(midranks(x), rankdata(x, method="average"))


def test_roc_curve_matches_sklearn_and_its_area_is_the_auc():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    s = np.round(rng.normal(y, 1.0), 1)
    roc = roc_curve(y, s)
    fpr, tpr, thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr)
    np.testing.assert_allclose(roc.tpr, tpr)
    np.testing.assert_array_equal(roc.thresholds, thr)
    assert np.trapezoid(roc.tpr, roc.fpr) == pytest.approx(roc.auc, abs=1e-12)
    assert (roc.n_pos, roc.n_neg) == (int(y.sum()), int(len(y) - y.sum()))


def test_roc_curve_thresholds_reproduce_each_point():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.3, 0.9])
    roc = roc_curve(y, s)
    for f, t, thr in zip(roc.fpr, roc.tpr, roc.thresholds):
        called = s >= thr
        assert t == called[y == 1].mean() and f == called[y == 0].mean()


def test_results_are_frozen():
    roc = roc_curve([0, 1], [0.2, 0.7])
    with pytest.raises(dataclasses.FrozenInstanceError):
        roc.auc = 0.3


def test_pr_curve_hand_example():
    # Sorted by score: AFF 0.9, NFF 0.8, AFF 0.7, NFF 0.2 -> precision 1, 1/2, 2/3, 2/4.
    pr = pr_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.2])
    np.testing.assert_allclose(pr.precision, [1, 1, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(pr.recall, [0, 0.5, 0.5, 1, 1])
    assert pr.average_precision == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert pr.prevalence == 0.5


def test_average_precision_matches_sklearn_with_ties():
    rng = np.random.default_rng(11)
    for _ in range(5):
        y = rng.integers(0, 2, 250)
        s = np.round(rng.normal(y * 0.8, 1.0) * 3)
        assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_fold_aucs_mean_and_sd():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.2, 0.8, 0.9, 0.1, 0.3, 0.4])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    res = fold_aucs(y, s, folds)
    np.testing.assert_array_equal(res.folds, [0, 1])
    # Fold 1: AFF 0.1, 0.4 vs NFF 0.9, 0.3 -> only (0.4, 0.3) is ordered right: 1/4.
    np.testing.assert_allclose(res.aucs, [1.0, 0.25])
    assert res.mean == 0.625 and res.sd == pytest.approx(np.std([1.0, 0.25], ddof=1))
    np.testing.assert_array_equal(res.n_pos, [2, 2])


def test_fold_with_one_class_is_named():
    with pytest.raises(ValueError, match="fold 1.*no AFF"):
        fold_aucs([0, 1, 0, 0], [0.1, 0.9, 0.2, 0.3], [0, 0, 1, 1])
