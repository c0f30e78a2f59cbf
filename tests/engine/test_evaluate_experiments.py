"""Refusals, patient aggregation, aligning experiments by image id, Holm-corrected study comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import (
    Predictions,
    aggregate_patients,
    align_predictions,
    bootstrap_auc_difference,
    compare_experiments,
    delong_test,
    holm_adjust,
    pretraining_effect,
    roc_auc,
    roc_curve,
)


def _experiment(name: str, seed: int, split: str = "default-v1", n_patients: int = 60, noise: float = 1.0):
    rng = np.random.default_rng(100)  # same images, patients and labels for every experiment
    n_img = rng.integers(1, 4, n_patients)
    patients = np.repeat([f"P{i:03d}" for i in range(n_patients)], n_img)
    labels = np.repeat(rng.random(n_patients) < 0.3, n_img).astype(int)
    ids = np.arange(len(labels)) + 1000
    folds = np.repeat(np.arange(n_patients) % 5, n_img)
    scores = 1 / (1 + np.exp(-(labels * 2.0 - 1 + np.random.default_rng(seed).normal(0, noise, len(ids)))))
    return Predictions(name=name, split_id=split, image_ids=ids, patients=patients, labels=labels,
                       scores=scores, folds=folds)


# --- refusals -------------------------------------------------------------------------------


def test_one_class_only_names_the_missing_class():
    with pytest.raises(ValueError, match=r"no AFF \(1\) case among 3 \(all are NFF"):
        roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"no NFF \(0\) case"):
        roc_curve([1, 1], [0.1, 0.2])


def test_mismatched_lengths_list_each_length():
    with pytest.raises(ValueError, match="labels=3, scores=2"):
        roc_auc([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="scores_b=2"):
        delong_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2])


def test_nan_scores_are_refused_with_their_position():
    with pytest.raises(ValueError, match="1 NaN or infinite values \\(first at index 2\\)"):
        roc_auc([0, 1, 0, 1], [0.1, 0.2, np.nan, 0.4])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_auc_difference([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, np.inf, 0.3, 0.4])


def test_labels_must_be_0_or_1():
    with pytest.raises(ValueError, match=r"0 \(NFF\) or 1 \(AFF\); found \[2\]"):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="0 \\(NFF\\) or 1"):
        roc_auc(["AFF", "NFF"], [0.1, 0.2])


def test_experiments_from_different_splits_are_refused():
    match = "different splits.*'cnn' uses split 'default-v1'.*'vit' uses split 'default-v2'"
    with pytest.raises(ValueError, match=match):
        align_predictions(_experiment("cnn", 1), _experiment("vit", 2, split="default-v2"))


def test_experiments_on_different_images_are_refused_with_counts():
    a, b = _experiment("cnn", 1), _experiment("vit", 2)
    keep = np.ones(len(b), bool)
    keep[:4] = False
    ids = b.image_ids.copy()
    ids[-1] = 99999
    b = Predictions(name="vit", split_id=b.split_id, image_ids=ids[keep], patients=b.patients[keep],
                    labels=b.labels[keep], scores=b.scores[keep])
    with pytest.raises(ValueError, match="5 ids only in 'cnn' .*1 only in 'vit' \\(99999\\)"):
        align_predictions(a, b)


def test_label_disagreement_and_duplicate_ids_are_refused():
    a, b = _experiment("cnn", 1), _experiment("vit", 2)
    flipped = b.labels.copy()
    flipped[0] = 1 - flipped[0]
    b = Predictions(name="vit", split_id=b.split_id, image_ids=b.image_ids, patients=b.patients,
                    labels=flipped, scores=b.scores)
    with pytest.raises(ValueError, match="disagree on the label of 1 images"):
        align_predictions(a, b)
    with pytest.raises(ValueError, match="occur more than once"):
        Predictions(name="x", split_id="s", image_ids=[1, 1], patients=["a", "b"], labels=[0, 1],
                    scores=[0.1, 0.2])


def test_delong_at_image_level_refuses_repeated_patients():
    with pytest.raises(ValueError, match="independent cases.*level='patient' or method='bootstrap'"):
        compare_experiments([_experiment("cnn", 1), _experiment("vit", 2)], level="image")


# --- aggregation and alignment ------------------------------------------------------------------


def test_patient_aggregation_mean_max_and_any_aff():
    agg = aggregate_patients(["b", "a", "b", "a", "c"], [0, 0, 1, 0, 0], [0.2, 0.1, 0.6, 0.3, 0.5])
    np.testing.assert_array_equal(agg.patients, ["a", "b", "c"])
    np.testing.assert_array_equal(agg.labels, [0, 1, 0])
    np.testing.assert_allclose(agg.scores, [0.2, 0.4, 0.5])
    np.testing.assert_array_equal(agg.n_images, [2, 2, 1])
    top = aggregate_patients(["b", "a", "b", "a", "c"], [0, 0, 1, 0, 0], [0.2, 0.1, 0.6, 0.3, 0.5], how="max")
    np.testing.assert_allclose(top.scores, [0.3, 0.6, 0.5])


def test_to_patients_keeps_folds_and_split():
    p = _experiment("cnn", 1).to_patients()
    assert len(p) == 60 and p.split_id == "default-v1"
    np.testing.assert_array_equal(p.folds, np.arange(60) % 5)


def test_alignment_reorders_by_image_id():
    a, b = _experiment("cnn", 1), _experiment("vit", 2)
    order = np.random.default_rng(0).permutation(len(b))
    shuffled = Predictions(name="vit", split_id=b.split_id, image_ids=b.image_ids[order],
                           patients=b.patients[order], labels=b.labels[order], scores=b.scores[order])
    _, aligned = align_predictions(a, shuffled)
    np.testing.assert_array_equal(aligned.scores, b.scores)


# --- study comparisons ----------------------------------------------------------------------


def test_compare_all_pairs_at_patient_level_with_delong_and_holm():
    exps = [_experiment("resnet50", 1, noise=0.8), _experiment("vit_b16", 2),
            _experiment("deit_s", 3, noise=1.5)]
    table = compare_experiments(exps)
    assert table.first == ("resnet50", "resnet50", "vit_b16")
    assert table.second == ("vit_b16", "deit_s", "deit_s")
    assert table.level == "patient" and table.method == "delong" and table.n_cases == 60
    pats = [e.to_patients() for e in exps]
    direct = delong_test(pats[0].labels, pats[0].scores, pats[2].scores)
    assert table.difference[1] == pytest.approx(direct.difference)
    assert table.p_value[1] == pytest.approx(direct.p_value)
    np.testing.assert_allclose(table.p_holm, holm_adjust(table.p_value))
    np.testing.assert_array_equal(table.significant(0.05), table.p_holm < 0.05)


def test_compare_against_reference_with_patient_bootstrap_on_images():
    exps = [_experiment("resnet50", 1, noise=0.8), _experiment("vit_b16", 2), _experiment("deit_s", 3)]
    table = compare_experiments(exps, reference="resnet50", level="image", method="bootstrap", n_boot=300)
    assert table.first == ("vit_b16", "deit_s") and table.second == ("resnet50", "resnet50")
    direct = bootstrap_auc_difference(exps[1].labels, exps[1].scores, exps[0].scores, exps[1].patients,
                                      n_boot=300)
    assert table.difference[0] == pytest.approx(direct.estimate)
    assert (table.ci_low[0], table.p_value[0]) == pytest.approx((direct.ci_low, direct.p_value))


def test_pretraining_effect_aligns_then_bootstraps():
    exps = [_experiment(n, s, noise=v) for n, s, v in
            (("cnn_pre", 1, 1.6), ("cnn_scr", 2, 2.0), ("vit_pre", 3, 1.6), ("vit_scr", 4, 3.0))]
    did = pretraining_effect(*exps, n_boot=300)
    aucs = [roc_auc(e.to_patients().labels, e.to_patients().scores) for e in exps]
    assert did.difference.estimate == pytest.approx((aucs[0] - aucs[1]) - (aucs[2] - aucs[3]))
    assert did.difference.n_patients == 60
    with pytest.raises(ValueError, match="different splits"):
        pretraining_effect(*exps[:3], _experiment("vit_scr", 4, split="other"))
