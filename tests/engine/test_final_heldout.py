"""Held-out test evaluation end to end: a split with a 20 % test share, two final models, the report."""

import argparse
import csv
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.cli import _evaluate, _report
from engine.experiments import experiment_jobs
from engine.final import (
    FinalModelError,
    Target,
    check_never_seen,
    finalize,
    recalibration,
    score_images,
)
from engine.splits import load_split
from engine.store import Project
from engine.train import read_predictions, read_run_config
from tests.engine._final_factory import TEST_SHARE, A, B, copy_study, held_out_study, shared_base


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path_factory.mktemp("heldout"))
    with Project.open(path) as project:
        finalize(project, A)
        finalize(project, B)
    return path


def _cli(module, argv) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    module.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_test_images_never_reach_training_tuning_or_thresholds(evaluated):
    """From the stored run configs: no run trained or validated on a test image (validation picked the
    best epoch and, pooled, the thresholds), and the thresholds were fixed on exactly the CV images."""
    with Project.open(evaluated) as project:
        split = load_split(project, "default")
        test = set(split.test_ids().tolist())
        patients = dict(zip(split.plan.image_ids.tolist(), split.plan.patients.tolist()))
        n_patients = len(set(patients.values()))
        test_patients = {patients[i] for i in test}
        assert len(test_patients) == round(TEST_SHARE * n_patients)
        for name in (A, B):
            for job in experiment_jobs(project, name):
                spec, config = read_run_config(project.runs_dir / job.run_id)
                run_split = load_split(project, spec.split, config["resolved"]["split_version"])
                assert run_split.id == split.id
                train, val = run_split.train_val(spec.fold)
                assert not test & set(train.tolist()) and not test & set(val.tolist())
                assert config["data"]["train_images"] + config["data"]["val_images"] == len(train) + len(val)
                assert not {patients[i] for i in train.tolist() + val.tolist()} & test_patients
                seen = read_predictions(project.runs_dir / job.run_id / "predictions.csv")["image_id"]
                assert not test & set(seen.tolist())
        cv_images = int((split.plan.folds >= 0).sum())
        final = finalize(project, A)
        assert final.provenance["thresholds_fixed_on"]["image"]["cases"] == cv_images
        # the evaluation refuses a "test" set holding an image some member validated on
        cv_id = int(split.plan.image_ids[split.plan.folds == 0][0])
        leaky = Target("test", "leaky", str(project.path), np.array([cv_id]), np.array(["x"]), np.array([1]))
        with pytest.raises(FinalModelError, match="used 1 of the test images"):
            check_never_seen(project, final, leaky)


def test_evaluate_on_test_and_the_report_keeps_it_apart(evaluated, capsys):
    assert _cli(_evaluate, ["evaluate", str(evaluated), "-e", A, B, "--on", "test", "--n-boot", "200",
                            "--device", "cpu"]) == 0
    out = capsys.readouterr()
    assert f"RESULT test_patient_auc_{A}" in out.out and "held-out test" in out.out
    with Project.open(evaluated) as project:
        folder = sorted((project.path / "evaluations").iterdir())[-1]
        ev = json.loads((folder / "evaluation.json").read_text())
        split = load_split(project, "default")
        test_ids = split.test_ids()
        assert ev["kind"] == "test" and ev["data"]["images"] == len(test_ids)
        for e in ev["experiments"]:
            rows = _read(folder / f"predictions_{e['experiment']}.csv")
            ids = np.array([int(r["image_id"]) for r in rows])
            y = np.array([int(r["label"]) for r in rows])
            s = np.array([float(r["probability"]) for r in rows])
            np.testing.assert_array_equal(ids, test_ids)
            final = finalize(project, e["experiment"])
            np.testing.assert_allclose(s, score_images(project, final, ids), atol=1e-6)
            assert e["image"]["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
            for p in e["image"]["operating_points"]:
                assert p["threshold"] == final.provenance["thresholds"]["image"][p["rule"]]
                called = s >= p["threshold"]
                assert p["tp"] == int(np.sum(called & (y == 1))) and p["fp"] == int(np.sum(called & (y == 0)))
            rc, stored = recalibration(y, s), e["image"]["recalibration"]
            if np.isnan(rc.slope):  # the tiny test set may be perfectly separated
                assert stored["slope"] is None and "separated" in stored["note"]
            else:
                assert stored["slope"] == pytest.approx(rc.slope)
        (cmp,) = ev["comparisons"]
        assert (cmp["first"], cmp["second"]) == (A, B) and cmp["p_delong"] is not None
        assert {"test_results.csv", "test_operating_points.csv", "test_comparisons.csv",
                "evaluation.html"} <= {p.name for p in folder.iterdir()}
    assert _cli(_report, ["report", str(evaluated), "--experiments", A, B, "--n-boot", "200"]) == 0
    capsys.readouterr()
    with Project.open(evaluated) as project:
        report = sorted(project.reports_dir.iterdir())[-1]
    data = json.loads((report / "report.json").read_text())
    (section,) = data["evaluations"]
    assert section["kind"] == "test" and section["experiments"][0]["image"]["auc"] == ev["experiments"][0][
        "image"]["auc"]
    rows = _read(report / "test_results.csv")
    assert {r["evaluation"] for r in rows} == {"held-out test"} and len(rows) == 4
    page = (report / "report.html").read_text()
    assert "<h2>Held-out test</h2>" in page and "Results per experiment (internal (cross-validation))" in page
    # the cross-validation table still holds out-of-fold figures only
    cv = _read(report / "experiments.csv")
    assert all(int(r["n_cases"]) <= int((split.plan.folds >= 0).sum()) for r in cv)


def test_recalibration_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.98, 300)
    logit = np.log(p / (1 - p))
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(0.4 + 0.6 * logit)))).astype(int)
    rc = recalibration(y, p)
    slope = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
    citl = sm.GLM(y, np.ones((300, 1)), family=sm.families.Binomial(), offset=logit).fit()
    assert rc.slope == pytest.approx(slope.params[1], abs=1e-8)
    assert rc.slope_intercept == pytest.approx(slope.params[0], abs=1e-8)
    assert rc.citl == pytest.approx(citl.params[0], abs=1e-8)
    lo, hi = slope.conf_int()[1]
    assert (rc.slope_ci_low, rc.slope_ci_high) == pytest.approx((lo, hi), abs=1e-6)
    assert rc.observed_expected == pytest.approx(y.mean() / p.mean())


def test_recalibration_says_when_classes_are_separated():
    rc = recalibration([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    assert np.isnan(rc.slope) and "perfectly separated" in rc.note
    with pytest.raises(ValueError, match="both AFF and NFF"):
        recalibration([1, 1], [0.2, 0.3])


def test_explain_on_the_held_out_test_images(evaluated, capsys):
    from engine.cli import main
    from engine.explain import read_heatmaps

    assert main(["explain", str(evaluated), "--experiment", A, "--on", "test", "--device", "cpu"]) == 0
    npz = capsys.readouterr().out.strip().splitlines()[-1]
    assert "-test/a/heatmaps/gradcam.npz" in npz
    maps = read_heatmaps(npz.rsplit("/heatmaps/", 1)[0], "gradcam")
    with Project.open(evaluated) as project:
        ids = load_split(project, "default").test_ids()
        np.testing.assert_allclose(maps.probability, score_images(project, finalize(project, A), ids),
                                   atol=1e-5)
    np.testing.assert_array_equal(maps.image_ids, ids)
    assert maps.info["target"] == "held-out test (split default v2)"
