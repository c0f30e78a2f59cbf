"""Decision curves: net benefit by hand, treat all / treat none, and the limits."""

import numpy as np
import pytest

from engine.evaluate import decision_curve


def test_net_benefit_by_hand():
    # 10 cases, 3 AFF. At pt = 0.25 (odds 1/3): treated p >= 0.25 are 0.9 (AFF), 0.6 (NFF), 0.3 (AFF),
    # 0.25 (NFF): TP 2, FP 2 -> NB = 2/10 - 2/10 * 1/3 = 0.1333...
    y = [1, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.6, 0.3, 0.25, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0]
    dc = decision_curve(y, p, thresholds=[0.25, 0.5, 0.1])
    assert dc.net_benefit[0] == pytest.approx(0.2 - 0.2 / 3)
    # pt = 0.5 (odds 1): treated 0.9, 0.6 -> TP 1, FP 1 -> 0
    assert dc.net_benefit[1] == pytest.approx(0.0)
    # pt = 0.1 (odds 1/9): treated p >= 0.1: 0.9 .6 .3 .25 .2 .1 .1 -> TP 3, FP 4 -> 0.3 - 0.4/9
    assert dc.net_benefit[2] == pytest.approx(0.3 - 0.4 / 9)
    assert list(dc.true_positives) == [2, 1, 3] and list(dc.false_positives) == [2, 1, 4]
    assert dc.treat_all == pytest.approx([0.3 - 0.7 / 3, 0.3 - 0.7, 0.3 - 0.7 / 9])
    assert np.all(dc.treat_none == 0) and dc.prevalence == pytest.approx(0.3)


def test_perfect_model_gains_the_prevalence_and_treat_all_crosses_zero_at_the_prevalence():
    y = np.r_[np.ones(20), np.zeros(80)].astype(int)
    p = np.r_[np.full(20, 0.99), np.full(80, 0.001)]
    dc = decision_curve(y, p)
    assert dc.net_benefit == pytest.approx(np.full(len(dc.thresholds), 0.2))
    i = int(np.flatnonzero(dc.thresholds == 0.2)[0])
    assert dc.treat_all[i] == pytest.approx(0.0)
    assert len(dc.thresholds) == 99 and dc.thresholds[0] == 0.01 and dc.thresholds[-1] == 0.99


@pytest.mark.parametrize("bad", [[0.0, 0.5], [0.5, 1.0], [], [float("nan")]])
def test_thresholds_must_lie_strictly_inside_0_1(bad):
    with pytest.raises(ValueError, match="strictly between 0"):
        decision_curve([0, 1], [0.2, 0.8], thresholds=bad)
