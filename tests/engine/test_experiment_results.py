"""Pooled out-of-fold predictions, per-experiment results and compute cost from real tiny experiments."""

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from engine.evaluate import (
    ExperimentNotReady,
    compute_cost,
    experiment_results,
    experiment_runs,
    load_experiment_predictions,
)
from engine.experiments import create_experiment, experiment_jobs
from engine.store import Project
from tests.engine._results_factory import (
    CNN,
    VIT,
    pooled_prediction_rows,
    shared_base,
    study_copy,
    tiny_study,
)
from tests.engine._train_factory import tiny_spec


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return tiny_study(shared_base(tmp_path_factory))


def test_pooled_predictions_cover_the_split_once(study):
    with Project.open(study) as project:
        pred = load_experiment_predictions(project, CNN)
        rows = pooled_prediction_rows(project, CNN)
        runs = experiment_runs(project, VIT)
    assert len(pred) == 32 == len(rows)
    assert sorted(pred.image_ids.tolist()) == sorted(int(r["image_id"]) for r in rows)
    by_id = {int(r["image_id"]): r for r in rows}
    for i, p, y, f, s in zip(pred.image_ids, pred.patients, pred.labels, pred.folds, pred.scores):
        r = by_id[int(i)]
        assert (p, y, f) == (r["patient_id"], int(r["label"]), int(r["fold"]))
        assert s == pytest.approx(float(r["probability"]), abs=0)
    assert pred.split_id.startswith("default v1")
    assert (runs.model, runs.family, runs.pretrained, runs.k, runs.folds) == (
        "vit_tiny_patch16_224", "vit", False, 2, (0, 1))


def test_results_match_sklearn_at_image_and_patient_level(study):
    with Project.open(study) as project:
        pred = load_experiment_predictions(project, VIT)
        res = experiment_results(project, VIT)
    y, s = pred.labels, pred.scores
    assert res.image.auc.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert res.image.pr.average_precision == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert res.image.brier == pytest.approx(np.mean((s - y) ** 2))
    # patient level: mean of the patient's images, label AFF if any image is AFF
    pat = {}
    for p, yy, ss in zip(pred.patients, y, s):
        pat.setdefault(p, []).append((yy, ss))
    py = np.array([max(a for a, _ in v) for v in pat.values()])
    ps = np.array([np.mean([b for _, b in v]) for v in pat.values()])
    assert res.patient.n_cases == 16 and res.patient.n_pos == int(py.sum())
    assert res.patient.auc.auc == pytest.approx(roc_auc_score(py, ps), abs=1e-12)
    assert res.patient.auc.ci_low <= res.patient.auc.auc <= res.patient.auc.ci_high
    folds = res.image.fold_aucs
    expect = [roc_auc_score(y[pred.folds == f], s[pred.folds == f]) for f in (0, 1)]
    assert folds.aucs == pytest.approx(expect) and folds.sd == pytest.approx(np.std(expect, ddof=1))
    assert set(res.image.operating_points) == {"youden", "sensitivity", "specificity"}
    assert res.image.operating_points["sensitivity"].sensitivity >= 0.9


def test_results_serialise_to_strict_json(study):
    with Project.open(study) as project:
        res = experiment_results(project, CNN)
    text = json.dumps(res.to_json(), allow_nan=False)
    back = json.loads(text)
    assert back["patient"]["auc"]["auc"] == pytest.approx(res.patient.auc.auc)
    assert back["image"]["roc"]["thresholds"][0] is None  # +inf is not JSON
    assert len(back["image"]["roc"]["fpr"]) == len(res.image.roc.fpr)
    assert back["family"] == "cnn"


def test_compute_cost_combines_the_fold_metrics(study):
    with Project.open(study) as project:
        cost = compute_cost(project, VIT)
        metrics = [json.loads((project.runs_dir / j.run_id / "metrics.json").read_text())["compute"]
                   for j in experiment_jobs(project, VIT)]
    assert cost.n_runs == 2 and cost.epochs_run == 2
    assert cost.parameters == metrics[0]["parameters"] > 1_000_000
    assert cost.forward_gflops == pytest.approx(metrics[0]["forward_gflops"])
    assert cost.wall_seconds_total == pytest.approx(sum(m["wall_seconds_total"] for m in metrics))
    assert cost.train_images_per_s == pytest.approx(np.mean([m["train_images_per_s"] for m in metrics]))
    assert cost.peak_memory_bytes == max(m["peak_memory_bytes"] for m in metrics)
    assert cost.latency_ms_batch1 == pytest.approx(np.mean([m["latency_ms_batch1"] for m in metrics]))
    assert cost.device == "cpu" and cost.image_size == 64
    json.dumps(cost.to_json(), allow_nan=False)


def test_unfinished_experiment_is_refused_naming_the_folds(study, tmp_path):
    path = study_copy(study, tmp_path)
    with Project.open(path) as project:
        create_experiment(project, "queued", tiny_spec(path, epochs=1))
        with pytest.raises(ExperimentNotReady, match=r"fold 0 has not finished \(job \d+ queued\).*fold 1"):
            load_experiment_predictions(project, "queued")


def _rewrite(path, keep):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep(rows))


def test_missing_and_duplicated_images_are_refused(study, tmp_path):
    path = study_copy(study, tmp_path)
    with Project.open(path) as project:
        jobs = experiment_jobs(project, CNN)
        f0 = project.runs_dir / jobs[0].run_id / "predictions.csv"
        f1 = project.runs_dir / jobs[1].run_id / "predictions.csv"
        _rewrite(f0, lambda rows: rows[1:])
        with pytest.raises(ExperimentNotReady, match="1 of its images have no prediction"):
            load_experiment_predictions(project, CNN)
        with open(f1, newline="") as fh:
            first_of_f1 = next(csv.DictReader(fh))
        _rewrite(f0, lambda rows: rows + [dict(first_of_f1, fold=rows[0]["fold"])])
        with pytest.raises(ExperimentNotReady, match="predicted by more than one fold"):
            load_experiment_predictions(project, CNN)
        (project.runs_dir / jobs[1].run_id / "predictions.csv").unlink()
        with pytest.raises(ExperimentNotReady, match="predictions.csv is missing"):
            load_experiment_predictions(project, CNN)
