"""Non-inferiority and TOST against a margin: DeLong by hand from delong_test, bootstrap by counting."""

import numpy as np
import pytest
from scipy import stats

from engine.evaluate import (
    bootstrap_auc_difference,
    delong_test,
    margin_test_bootstrap,
    margin_test_delong,
)


def _pair(n=300, seed=0, gap=0.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    latent = rng.normal(1.4 * y, 1.0)
    return y, latent + rng.normal(0, 0.4, n) - gap * y, latent + rng.normal(0, 0.4, n)


def test_delong_margin_test_by_hand():
    y, a, b = _pair()
    t = delong_test(y, a, b)
    m = margin_test_delong(y, a, b, margin=0.05)
    assert m.difference == pytest.approx(t.difference) and m.se == pytest.approx(t.se)
    assert m.p_noninferior == pytest.approx(stats.norm.sf((t.difference + 0.05) / t.se))
    p_hi = stats.norm.cdf((t.difference - 0.05) / t.se)
    assert m.p_equivalence == pytest.approx(max(m.p_noninferior, p_hi))
    z = stats.norm.ppf(0.95)
    assert (m.ci_low, m.ci_high) == pytest.approx((t.difference - z * t.se, t.difference + z * t.se))
    # TOST and the 90 % interval agree
    assert m.equivalent == (-0.05 < m.ci_low and m.ci_high < 0.05)


def test_similar_models_are_non_inferior_and_a_worse_one_is_not():
    y, a, b = _pair(n=2000, seed=1)
    close = margin_test_delong(y, a, b, margin=0.05)
    assert close.noninferior and close.equivalent
    y, worse, b = _pair(n=2000, seed=1, gap=1.0)
    far = margin_test_delong(y, worse, b, margin=0.02)
    assert far.difference < -0.05 and not far.noninferior and not far.equivalent
    assert far.p_noninferior > 0.5


def test_bootstrap_margin_test_counts_replicates():
    y, a, b = _pair(n=200, seed=2)
    patients = np.arange(200) // 2
    m = margin_test_bootstrap(y, a, b, 0.03, patients=patients, n_boot=400, seed=4)
    c = bootstrap_auc_difference(y, a, b, patients=patients, n_boot=400, seed=4, conf_level=0.9)
    d = c.replicates
    assert m.p_noninferior == pytest.approx((1 + np.sum(d <= -0.03)) / 401)
    assert m.p_equivalence == pytest.approx(max(m.p_noninferior, (1 + np.sum(d >= 0.03)) / 401))
    assert (m.ci_low, m.ci_high) == pytest.approx((c.ci_low, c.ci_high))


@pytest.mark.parametrize("margin", [0, -0.1, 1.0, float("nan")])
def test_margin_is_checked(margin):
    y, a, b = _pair(n=50)
    with pytest.raises(ValueError, match="margin must be an AUC difference in"):
        margin_test_delong(y, a, b, margin)
