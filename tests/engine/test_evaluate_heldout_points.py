"""Operating points at thresholds chosen on training data: Wilson vs statsmodels, counts by hand, McNemar,
and train_predictions.csv written by real training."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from engine.evaluate import (
    Predictions,
    held_out_mcnemar,
    held_out_operating_point,
    load_training_predictions,
    mcnemar_test,
    threshold_for_sensitivity,
    wilson_ci,
    youden_threshold,
)
from tests.engine._results_factory import CNN, shared_base, tiny_study


@pytest.mark.parametrize("k, n", [(0, 10), (1, 10), (5, 10), (10, 10), (37, 41), (3, 1000), (250, 400)])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k, n, conf):
    low, high = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    assert wilson_ci(k, n, conf) == pytest.approx((low, high), abs=1e-12)


def _pred(name, scores, y, patients, folds):
    return Predictions(name=name, split_id="s", image_ids=np.arange(len(y)), patients=patients, labels=y,
                       scores=scores, folds=folds)


def _study(seed=0, n_pat=40, shift=1.2):
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 4, n_pat)
    patients = np.repeat([f"P{i:02d}" for i in range(n_pat)], k)
    y = np.repeat((np.arange(n_pat) % 3 == 0).astype(int), k)
    folds = np.repeat(np.arange(n_pat) % 2, k)
    held = _pred("m", 1 / (1 + np.exp(-rng.normal(shift * (2 * y - 1), 1.0))), y, patients, folds)
    train = {}
    for f in (0, 1):
        sel = folds != f  # the other fold is this fold's training data
        s = 1 / (1 + np.exp(-rng.normal(1.5 * shift * (2 * y[sel] - 1), 1.0)))
        train[f] = _pred(f"m{f}", s, y[sel], patients[sel], np.full(sel.sum(), f))
    return held, train


@pytest.mark.parametrize("level", ["image", "patient"])
@pytest.mark.parametrize("rule", ["youden", "sens90"])
def test_thresholds_come_from_training_and_counts_by_hand(level, rule):
    held, train = _study()
    op = held_out_operating_point(held, train, rule, level=level, n_boot=300)
    ev = held.to_patients() if level == "patient" else held
    called = np.zeros(len(ev.labels), bool)
    for f in (0, 1):
        tr = train[f].to_patients() if level == "patient" else train[f]
        t = (youden_threshold(tr.labels, tr.scores) if rule == "youden"
             else threshold_for_sensitivity(tr.labels, tr.scores, 0.9))
        assert op.thresholds[f] == pytest.approx(t)
        called[ev.folds == f] = ev.scores[ev.folds == f] >= t
    y = ev.labels == 1
    tp, fn, fp, tn = (int(np.sum(y & called)), int(np.sum(y & ~called)), int(np.sum(~y & called)),
                      int(np.sum(~y & ~called)))
    assert (op.tp, op.fn, op.fp, op.tn) == (tp, fn, fp, tn)
    sens = op.metrics["sensitivity"]
    assert (sens.k, sens.n) == (tp, tp + fn) and sens.estimate == pytest.approx(tp / (tp + fn))
    assert (sens.wilson_low, sens.wilson_high) == pytest.approx(
        proportion_confint(tp, tp + fn, method="wilson"))
    assert op.metrics["npv"].estimate == pytest.approx(tn / (tn + fn))
    for m in op.metrics.values():
        assert m.boot_low <= m.estimate <= m.boot_high


def test_the_evaluated_scores_do_not_move_the_threshold():
    held, train = _study()
    a = held_out_operating_point(held, train, "youden", n_boot=100)
    shuffled = _pred("m", np.random.default_rng(9).permutation(held.scores), held.labels, held.patients,
                     held.folds)
    b = held_out_operating_point(shuffled, train, "youden", n_boot=100)
    assert a.thresholds == b.thresholds


def test_mcnemar_on_held_out_decisions_and_refusals():
    held, train = _study(seed=1)
    noisy = np.clip(held.scores + np.random.default_rng(5).normal(0, 0.3, len(held.scores)), 0, 1)
    other = _pred("o", noisy, held.labels, held.patients, held.folds)
    a = held_out_operating_point(held, train, "youden", n_boot=100)
    b = held_out_operating_point(other, train, "sens90", n_boot=100)
    with pytest.raises(ValueError, match="like with like"):
        held_out_mcnemar(a, b)
    b = held_out_operating_point(other, train, "youden", n_boot=100)
    t = held_out_mcnemar(a, b)
    ref = mcnemar_test(a.called == (a.labels == 1), b.called == (b.labels == 1))
    assert (t.b, t.c, t.p_value) == (ref.b, ref.c, ref.p_value) and t.b + t.c > 0
    with pytest.raises(ValueError, match="no training predictions for fold 1"):
        held_out_operating_point(held, {0: train[0]}, "youden")
    with pytest.raises(ValueError, match="rule must be"):
        held_out_operating_point(held, train, "f1")


def test_training_writes_train_predictions_for_its_own_training_images(tmp_path_factory):
    from engine.store import Project

    path = tiny_study(shared_base(tmp_path_factory))
    with Project.open(path) as project:
        from engine.evaluate import load_experiment_predictions

        train = load_training_predictions(project, CNN)
        held = load_experiment_predictions(project, CNN)
        op = held_out_operating_point(held, train, "youden", n_boot=100)
    assert sorted(train) == [0, 1]
    for f, tr in train.items():
        # a fold's training images are exactly the other folds' held-out images, same patients and labels
        other = held.folds != f
        assert sorted(tr.image_ids.tolist()) == sorted(held.image_ids[other].tolist())
        lookup = dict(zip(held.image_ids.tolist(), zip(held.patients.tolist(), held.labels.tolist())))
        assert all(lookup[i] == (p, y) for i, p, y in zip(tr.image_ids.tolist(), tr.patients.tolist(),
                                                          tr.labels.tolist()))
        assert np.all((tr.scores >= 0) & (tr.scores <= 1)) and np.all(tr.folds == f)
    assert op.tp + op.fn + op.fp + op.tn == len(np.unique(held.patients))
