"""Bootstrap details: the share of zero replicate differences, the mid-p, and the near-1 warning."""

import warnings

import numpy as np
import pytest

from engine.evaluate import (
    NearPerfectAucWarning,
    bootstrap_auc_difference,
)
from engine.evaluate._bootstrap import bootstrap_contrasts


def _two_models(n=80, seed=1, shift=1.0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) < n // 3).astype(int)
    a = np.round(rng.normal(shift * y, 1.0), 0)  # coarse scores: many tied resamples
    b = a.copy()
    b[:5] += 1  # differs from a on five cases only: many replicate differences are exactly 0
    return y, a, b


def test_zero_share_and_mid_p_by_hand():
    y, a, b = _two_models()
    r = bootstrap_auc_difference(y, a, b, n_boot=400, seed=3)
    d = r.replicates
    below, zero, above = (d < 0).sum(), (d == 0).sum(), (d > 0).sum()
    assert zero > 0 and r.zero_share == pytest.approx(zero / len(d))
    big = len(d) + 1
    assert r.p_value == pytest.approx(min(1, 2 * min(1 + below + zero, 1 + above + zero) / big))
    assert r.p_mid == pytest.approx(min(1, 2 * min(1 + below + zero / 2, 1 + above + zero / 2) / big))
    assert r.p_mid < r.p_value  # zeros no longer count fully on both sides


def test_identical_models_give_all_zero_replicates():
    y, a, _ = _two_models()
    r = bootstrap_auc_difference(y, a, a, n_boot=200)
    assert r.zero_share == 1.0 and r.p_value == 1.0 and r.p_mid == 1.0


def test_auc_within_0005_of_one_warns_and_says_which():
    y = np.r_[np.ones(30), np.zeros(30)].astype(int)
    perfect = np.r_[np.linspace(0.6, 1, 30), np.linspace(0, 0.5, 30)]
    weak = np.random.default_rng(0).random(60)
    with pytest.warns(NearPerfectAucWarning, match=r"scores_a \(AUC 1.0000\).*not reliable"):
        bootstrap_auc_difference(y, perfect, weak, n_boot=100)
    with pytest.warns(NearPerfectAucWarning, match=r"good \(AUC 1.0000\)"):
        bootstrap_contrasts(y, np.vstack([perfect, weak]), [[1, -1]], n_boot=100, names=["good", "weak"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bootstrap_auc_difference(y, weak, weak[::-1], n_boot=100)  # nowhere near 1: no warning
