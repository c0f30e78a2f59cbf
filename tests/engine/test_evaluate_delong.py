"""DeLong CI and paired/unpaired tests: a hand-computed variance and pROC's aSAH values (no R needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.evaluate import delong_ci, delong_covariance, delong_test, delong_test_unpaired

ASAH = Path(__file__).parent / "data" / "asah.csv"


@pytest.fixture(scope="module")
def asah():
    """pROC's aSAH data (outcome 1 = Poor), written by Rscript from ``data(aSAH)``."""
    d = np.genfromtxt(ASAH, delimiter=",", names=True)
    assert len(d) == 113 and int(d["outcome"].sum()) == 41
    return d


def test_variance_of_tiny_example_by_hand():
    # AFF 3, 2, 2; NFF 2, 1. Placements: AFF 1, 3/4, 3/4 (var 1/48); NFF 2/3, 1 (var 1/18).
    # Var(AUC) = (1/48) / 3 + (1/18) / 2 = 5/144.
    res = delong_ci([1, 1, 1, 0, 0], [3, 2, 2, 2, 1])
    assert res.auc == pytest.approx(5 / 6)
    assert res.se**2 == pytest.approx(5 / 144, abs=1e-15)
    assert res.ci_high == 1.0  # 5/6 + 1.96 * 0.186 > 1: clipped as pROC does
    assert res.ci_low == pytest.approx(5 / 6 - 1.959963984540054 * np.sqrt(5 / 144))


def test_asah_ci_auc_delong(asah):
    # pROC 1.18.0: ci.auc(roc(outcome, x, direction = "<"), method = "delong")
    expected = {"s100b": (0.6301182118, 0.7313685637, 0.8326189156),
                "ndka": (0.5012449993, 0.6119579946, 0.7226709899),
                "wfns": (0.7485348878, 0.8236788618, 0.8988228358)}
    for name, (low, auc, high) in expected.items():
        res = delong_ci(asah["outcome"], asah[name])
        assert (res.ci_low, res.auc, res.ci_high) == pytest.approx((low, auc, high), abs=1e-9)
        assert (res.n_pos, res.n_neg) == (41, 72)


def test_asah_paired_s100b_vs_ndka(asah):
    # pROC 1.18.0: roc.test(r_s100b, r_ndka, method = "delong", paired = TRUE)
    t = delong_test(asah["outcome"], asah["s100b"], asah["ndka"])
    assert (t.auc_a, t.auc_b) == pytest.approx((0.7313685637, 0.6119579946), abs=1e-9)
    assert t.statistic == pytest.approx(1.3907700257, abs=1e-9)
    assert t.p_value == pytest.approx(0.1642951752, abs=1e-9)
    assert (t.ci_low, t.ci_high) == pytest.approx((-0.0488706064, 0.2876917446), abs=1e-9)


def test_asah_paired_s100b_vs_wfns_as_in_proc_manual(asah):
    # The roc.test help page example: Z = -2.209, p-value = 0.02718, AUCs 0.7314 and 0.8237.
    t = delong_test(asah["outcome"], asah["s100b"], asah["wfns"])
    assert (t.auc_a, t.auc_b) == pytest.approx((0.7313685637, 0.8236788618), abs=1e-9)
    assert t.statistic == pytest.approx(-2.2089835914, abs=1e-9)
    assert t.p_value == pytest.approx(0.0271757822, abs=1e-9)
    assert (t.ci_low, t.ci_high) == pytest.approx((-0.1742144192, -0.0104061770), abs=1e-9)


def test_asah_unpaired(asah):
    # pROC 1.18.0, paired = FALSE: D = 1.56, df = 222.24, p-value = 0.1202
    t = delong_test_unpaired(asah["outcome"], asah["s100b"], asah["outcome"], asah["ndka"])
    assert t.statistic == pytest.approx(1.559957434, abs=1e-8)
    assert t.df == pytest.approx(222.235396, abs=1e-5)
    assert t.p_value == pytest.approx(0.1201928324, abs=1e-8)
    assert not t.paired


def test_swapping_curves_flips_sign_only(asah):
    ab = delong_test(asah["outcome"], asah["s100b"], asah["ndka"])
    ba = delong_test(asah["outcome"], asah["ndka"], asah["s100b"])
    assert ba.statistic == pytest.approx(-ab.statistic) and ba.p_value == pytest.approx(ab.p_value)
    assert (ba.ci_low, ba.ci_high) == pytest.approx((-ab.ci_high, -ab.ci_low))


def test_covariance_diagonal_is_single_curve_variance(asah):
    aucs, cov = delong_covariance(asah["outcome"], np.vstack([asah["s100b"], asah["ndka"]]))
    assert cov.shape == (2, 2) and cov[0, 1] == pytest.approx(cov[1, 0])
    assert np.sqrt(cov[0, 0]) == pytest.approx(delong_ci(asah["outcome"], asah["s100b"]).se)
    assert aucs[1] == pytest.approx(0.6119579946, abs=1e-9)


def test_reversed_direction_is_one_minus_auc_with_same_se(asah):
    up = delong_ci(asah["outcome"], asah["ndka"])
    down = delong_ci(asah["outcome"], -asah["ndka"])
    assert down.auc == pytest.approx(1 - up.auc) and down.se == pytest.approx(up.se)


def test_identical_scores_give_z_0_and_p_1():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.5, 0.4, 0.9, 0.3, 0.6])
    t = delong_test(y, s, s)
    assert (t.difference, t.se, t.statistic, t.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_needs_two_cases_per_class():
    with pytest.raises(ValueError, match="at least 2 AFF"):
        delong_ci([1, 0, 0], [0.9, 0.1, 0.2])
