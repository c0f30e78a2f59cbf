"""Cohen's (weighted) kappa with its CI, Fleiss' kappa, specific agreement: against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from engine.evaluate import cluster_bootstrap_kappa_ci, cohen_kappa, confusion_table, fleiss_kappa


def _pair(rng, n, k, agree):
    a = rng.integers(0, k, n)
    return a, np.where(rng.random(n) < agree, a, rng.integers(0, k, n))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_statsmodels(seed, weights):
    rng = np.random.default_rng(seed)
    a, b = _pair(rng, int(rng.integers(20, 300)), int(rng.integers(2, 6)), rng.uniform(0.1, 0.9))
    cats = tuple(range(int(max(a.max(), b.max())) + 1))
    ours = cohen_kappa(a, b, categories=cats, weights=weights)
    table, _ = confusion_table(a, b, cats)
    ref = cohens_kappa(table, wt=weights) if weights else cohens_kappa(table)
    assert ours.kappa == pytest.approx(ref.kappa, abs=1e-12)
    assert ours.se == pytest.approx(ref.std_kappa, rel=1e-10)  # Fleiss, Cohen & Everitt 1969
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ref.kappa_low, ref.kappa_upp), abs=1e-10)
    assert ours.n == len(a) and ours.table.sum() == len(a)


def test_labels_tables_and_specific_agreement():
    a = ["AFF"] * 10 + ["NFF"] * 30 + ["uncertain"] * 2
    b = ["AFF"] * 8 + ["NFF"] * 2 + ["NFF"] * 28 + ["AFF"] * 2 + ["NFF", "uncertain"]
    k = cohen_kappa(a, b, categories=("AFF", "NFF", "uncertain"))
    assert k.table.tolist() == [[8, 2, 0], [2, 28, 0], [0, 1, 1]]
    assert k.specific_agreement["AFF"] == pytest.approx(2 * 8 / (10 + 10))
    assert k.specific_agreement["NFF"] == pytest.approx(2 * 28 / (30 + 31))
    po = (8 + 28 + 1) / 42
    pe = (10 * 10 + 30 * 31 + 2 * 1) / 42**2
    assert k.observed == pytest.approx(po) and k.kappa == pytest.approx((po - pe) / (1 - pe))
    perfect = cohen_kappa(a, a)
    assert perfect.kappa == pytest.approx(1.0) and perfect.se == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="not one of the categories"):
        cohen_kappa(["AFF"], ["exclude"], categories=("AFF", "NFF"))
    with pytest.raises(ValueError, match="pair them"):
        cohen_kappa(["AFF"], [])


@pytest.mark.parametrize("seed", range(8))
def test_fleiss_kappa_matches_statsmodels(seed):
    rng = np.random.default_rng(100 + seed)
    truth = rng.integers(0, 3, 120)
    ratings = np.stack([np.where(rng.random(120) < 0.7, truth, rng.integers(0, 3, 120))
                        for _ in range(int(rng.integers(2, 6)))], axis=1)
    ours = fleiss_kappa(ratings, n_boot=300, seed=seed)
    counts, _ = aggregate_raters(ratings)
    assert ours.kappa == pytest.approx(sm_fleiss(counts), abs=1e-12)
    assert ours.ci_low < ours.kappa < ours.ci_high
    # per-category kappas weight back to the overall one (Fleiss 1971, eq. 10)
    pj = counts.sum(0) / counts.sum()
    per = np.array([ours.per_category[c] for c in ours.categories])
    assert (pj * (1 - pj) * per).sum() / (pj * (1 - pj)).sum() == pytest.approx(ours.kappa)


def test_fleiss_two_raters_is_close_to_scott_pi_and_bootstrap_covers():
    rng = np.random.default_rng(5)
    cover, n_rep = 0, 60
    # two raters, marginals equal: Fleiss' kappa is Scott's pi; check the bootstrap CI covers a
    # known population kappa most of the time (0.6 here: agree w.p. 0.6 + chance)
    for rep in range(n_rep):
        a, b = _pair(rng, 200, 2, 0.6)
        f = fleiss_kappa(np.stack([a, b], 1), n_boot=300, seed=rep)
        cover += f.ci_low <= 0.6 <= f.ci_high
        assert f.kappa == pytest.approx(cohen_kappa(a, b).kappa, abs=0.03)
    assert cover / n_rep >= 0.85


def test_cluster_bootstrap_is_wider_when_patients_repeat_the_same_call():
    rng = np.random.default_rng(1)
    a, b = _pair(rng, 60, 2, 0.5)
    a4, b4, pat = np.repeat(a, 4), np.repeat(b, 4), np.repeat(np.arange(60), 4)  # 4 copies per patient
    naive = cohen_kappa(a4, b4)
    lo, hi = cluster_bootstrap_kappa_ci(a4, b4, pat, n_boot=500)
    assert hi - lo > 1.5 * (naive.ci_high - naive.ci_low)  # about 2x: 60 patients, not 240 images
