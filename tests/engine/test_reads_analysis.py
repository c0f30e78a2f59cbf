"""Agreement over stored reads (image and patient level) and readers against a model's predictions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import (
    Predictions,
    cohen_kappa,
    compare_readers_with_predictions,
    fleiss_kappa,
    reader_agreement,
    roc_auc,
    subject_calls,
    wilson_ci,
)
from engine.reads import ImageSet, adjudicate, create_session, record_read
from engine.store import Project
from tests.engine._store_factory import add_images


@pytest.fixture
def three_readers(tmp_path):
    p = Project.create(tmp_path / "Agree")
    ids = add_images(p, 60, patients=20)
    rng = np.random.default_rng(3)
    truth = {i: ("AFF" if k % 3 == 0 else "NFF") for k, i in enumerate(ids)}
    p.labels.set_each(truth, "import", "import")
    calls = {}
    for name in ("a", "b", "c"):
        s = create_session(p, name, f"reader {name}", confidence=True)
        calls[name] = {}
        for i in ids:
            lab = truth[i] if rng.random() < 0.8 else str(rng.choice(["AFF", "NFF", "uncertain"]))
            conf = int(rng.integers(1, 6))
            record_read(p, s, i, lab, confidence=conf)
            calls[name][i] = (lab, conf)
    yield p, ids, truth, calls
    p.close()


def test_pairwise_fleiss_and_vs_labels_match_the_formulas(three_readers):
    p, ids, truth, calls = three_readers
    ag = reader_agreement(p, ["a", "b", "c"], n_boot=200)
    assert [(x.first, x.second) for x in ag.pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    ab = ag.pairs[0]
    ref = cohen_kappa([calls["a"][i][0] for i in ids], [calls["b"][i][0] for i in ids],
                      categories=("AFF", "NFF", "uncertain"))
    assert ab.kappa.kappa == pytest.approx(ref.kappa) and ab.n == 60
    score = {"AFF": 1, "uncertain": 0, "NFF": -1}
    w = cohen_kappa([score[calls["a"][i][0]] * (calls["a"][i][1] if calls["a"][i][0] != "uncertain" else 0)
                     for i in ids],
                    [score[calls["b"][i][0]] * (calls["b"][i][1] if calls["b"][i][0] != "uncertain" else 0)
                     for i in ids], categories=tuple(range(-5, 6)), weights="quadratic")
    assert ab.weighted.kappa == pytest.approx(w.kappa)
    assert ab.patient_ci[0] < ab.kappa.kappa < ab.patient_ci[1]
    f = fleiss_kappa([[calls[s][i][0] for s in "abc"] for i in ids], categories=("AFF", "NFF", "uncertain"),
                     n_boot=10)
    assert ag.fleiss.kappa == pytest.approx(f.kappa) and ag.n_common == 60
    va = ag.vs_labels[0]
    assert va.kappa.kappa == pytest.approx(cohen_kappa(
        [calls["a"][i][0] for i in ids], [truth[i] for i in ids],
        categories=("AFF", "NFF", "uncertain")).kappa)
    assert ag.adjudicated_labels == 0
    adjudicate(p, ids[:3], "AFF", "chief")
    assert reader_agreement(p, ["a", "b"], n_boot=10).adjudicated_labels == 3
    assert ag.to_json()["pairs"][0]["kappa"]["kappa"] == pytest.approx(ref.kappa)


def test_patient_level_calls(three_readers):
    p, ids, _, calls = three_readers
    pc = subject_calls(p, ["a"], "patient")["a"]
    assert len(pc) == 20
    by = {}
    for i in ids:
        by.setdefault(p.images.get(i).patient_key, []).append(calls["a"][i])
    for key, reads in by.items():
        labs = [r[0] for r in reads]
        want = "AFF" if "AFF" in labs else "uncertain" if "uncertain" in labs else "NFF"
        assert pc[key][0] == want
    ag = reader_agreement(p, ["a", "b"], level="patient", n_boot=10)
    assert ag.pairs[0].n == 20 and ag.pairs[0].patient_ci is None


def test_only_common_images_are_compared(tmp_path):
    p = Project.create(tmp_path / "Part")
    ids = add_images(p, 10, patients=5)
    a = create_session(p, "a", "ann", ImageSet(kind="ids", ids=tuple(ids[:6])))
    b = create_session(p, "b", "bob", ImageSet(kind="ids", ids=tuple(ids[3:])))
    for i in ids[:6]:
        record_read(p, a, i, "AFF")
    for i in ids[3:]:
        record_read(p, b, i, "AFF" if i != ids[4] else "NFF")
    ag = reader_agreement(p, ["a", "b"], n_boot=10)
    assert ag.pairs[0].n == 3 and ag.pairs[0].kappa.table.sum() == 3
    p.close()


def test_readers_against_model_points_misses_and_mrmc():
    rng = np.random.default_rng(0)
    n = 200
    ids = np.arange(1, n + 1)
    y = (rng.random(n) < 0.3).astype(int)
    folds = ids % 2
    scores = np.clip(0.5 * y + rng.normal(0.25, 0.2, n), 0, 1)
    pred = Predictions("cnn", "1", ids, np.array([f"P{i}" for i in ids]), y, scores, folds)
    train = {f: Predictions("cnn", "1", ids + 1000, np.array([f"T{i}" for i in ids]), y, scores, folds)
             for f in (0, 1)}
    calls, truth_calls = {}, {}
    for name, sens in (("a", 0.8), ("b", 0.6)):
        called = np.where(y == 1, rng.random(n) < sens, rng.random(n) < 0.05)
        conf = rng.integers(1, 6, n)
        calls[name] = {int(i): ("AFF" if c else "NFF", int(k) if c else -int(k))
                       for i, c, k in zip(ids, called, conf, strict=True)}
        truth_calls[name] = called
    del calls["b"][int(ids[0])]  # b did not read image 1: it is left out of every comparison
    r = compare_readers_with_predictions(calls, {"a": "ann", "b": "bob"}, pred, train, rule="youden")
    assert r.n_cases == n - 1 and r.n_aff == int(y[1:].sum())
    keep = slice(1, None)
    yk, sk = y[keep], scores[keep]
    from engine.evaluate import youden_threshold

    t = youden_threshold(y, scores)  # both folds' "training" predictions are the same here
    model_called = sk >= t
    tp = int(np.sum(model_called & (yk == 1)))
    assert (r.model.tp, r.model.fn) == (tp, int(yk.sum()) - tp)
    assert r.model.sensitivity_ci == wilson_ci(tp, int(yk.sum()))
    assert r.model.auc == pytest.approx(roc_auc(yk, sk))
    for x, name in zip(r.readers, ("a", "b"), strict=True):
        rc = truth_calls[name][keep]
        assert x.point.tp == int(np.sum(rc & (yk == 1)))
        assert x.point.specificity == pytest.approx(np.mean(~rc[yk == 0]))
        assert len(x.missed_found_by_model) == int(np.sum((yk == 1) & model_called & ~rc))
        assert len(x.found_missed_by_model) == int(np.sum((yk == 1) & ~model_called & rc))
        assert set(x.missed_found_by_model) <= set(ids[keep][yk == 1].tolist())
    assert r.mrmc is not None and r.mrmc.n_readers == 2
    assert r.mrmc.model_auc == pytest.approx(r.model.auc)
    assert r.roc_fpr[0] == 0 and r.roc_tpr[-1] == 1
    assert r.to_json()["readers"][0]["reader"] == "ann"
