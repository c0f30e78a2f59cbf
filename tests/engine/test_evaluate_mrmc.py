"""Obuchowski-Rockette MRMC (readers' average AUC vs a model's): validated by simulation.

Each simulated study draws new readers (a random reader effect on their AUC) and new cases
(a case effect that all readers and the model share, so their errors correlate: the Cov2 of
the OR model). The OR variance of the reader-average AUC difference must match the
empirical variance of that difference over the studies, and its CI must cover the true
difference about 95% of the time.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.evaluate import mrmc_readers_vs_model, roc_auc

N_POS, N_NEG, READERS = 50, 70, 5
SIGMA_READER = 0.35  # spread of reader skill (separation units)


def _study(rng, mu_reader=1.3, mu_model=1.5):
    y = np.r_[np.ones(N_POS, int), np.zeros(N_NEG, int)]
    case = rng.normal(0, 0.8, len(y))  # a case effect every reader and the model see
    sep = mu_reader + rng.normal(0, SIGMA_READER, READERS)
    latent = sep[:, None] * y[None, :] + case[None, :] + rng.normal(0, 1, (READERS, len(y)))
    ratings = np.clip(np.round(latent * 2), -5, 5)  # an 11-point scale, with ties, like -5..+5 confidence
    model = mu_model * y + 0.7 * case + rng.normal(0, 0.8, len(y))
    return y, ratings, model


def _true_difference(n_mc=400_000, seed=99):
    """Population mean reader AUC minus model AUC, by Monte Carlo on the same scale."""
    rng = np.random.default_rng(seed)
    sep = 1.3 + rng.normal(0, SIGMA_READER, 2000)
    total = 0.0
    for s in sep[:200]:
        pos = np.clip(np.round((s + rng.normal(0, 0.8, 4000) + rng.normal(0, 1, 4000)) * 2), -5, 5)
        neg = np.clip(np.round((rng.normal(0, 0.8, 4000) + rng.normal(0, 1, 4000)) * 2), -5, 5)
        total += roc_auc(np.r_[np.ones(4000), np.zeros(4000)], np.r_[pos, neg])
    model_auc = stats.norm.cdf(1.5 / np.sqrt(2 * (0.49 * 0.8**2 + 0.64)))
    return total / 200 - model_auc


def test_or_variance_matches_the_empirical_variance_over_studies():
    rng = np.random.default_rng(2026)
    results = [mrmc_readers_vs_model(*_study(rng)) for _ in range(500)]
    diffs = np.array([r.difference for r in results])
    est_var = np.mean([r.se**2 for r in results])
    emp_var = np.var(diffs, ddof=1)
    assert est_var == pytest.approx(emp_var, rel=0.2), (est_var, emp_var)
    truth = _true_difference()
    cover = np.mean([r.ci_low <= truth <= r.ci_high for r in results])
    assert 0.91 <= cover <= 0.985, cover
    assert np.mean(diffs) == pytest.approx(truth, abs=0.01)
    assert all(2 < r.df for r in results)


def test_ignoring_reader_variance_would_be_too_narrow():
    """The Cov2 part alone (fixed readers) misses the reader variance: the OR term matters."""
    rng = np.random.default_rng(7)
    results = [mrmc_readers_vs_model(*_study(rng)) for _ in range(200)]
    emp_var = np.var([r.difference for r in results], ddof=1)
    fixed = np.mean([(r.var1 + (READERS - 1) * r.cov2) / READERS for r in results])
    assert fixed < 0.75 * emp_var
    assert np.mean([r.se**2 for r in results]) > 0.8 * emp_var


def test_single_study_fields_and_one_reader():
    rng = np.random.default_rng(1)
    y, ratings, model = _study(rng)
    r = mrmc_readers_vs_model(y, ratings, model)
    assert r.reader_aucs == pytest.approx([roc_auc(y, s) for s in ratings])
    assert r.model_auc == pytest.approx(roc_auc(y, model))
    assert r.difference == pytest.approx(r.reader_mean_auc - r.model_auc)
    assert r.ci_low < r.difference < r.ci_high and 0 <= r.p_value <= 1
    assert r.reader_mean_ci[0] < r.reader_mean_auc < r.reader_mean_ci[1]
    one = mrmc_readers_vs_model(y, ratings[:1], model)
    assert one.n_readers == 1 and one.df == float("inf") and one.se == pytest.approx(np.sqrt(one.var1))
    with pytest.raises(ValueError, match="pair them"):
        mrmc_readers_vs_model(y, ratings[:, :-1], model)
