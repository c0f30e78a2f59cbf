"""The study report end to end on two tiny real experiments; numbers recomputed independently here."""

import argparse
import base64
import csv
import dataclasses
import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from engine.cli import _report
from engine.evaluate import ExperimentRuns, Predictions
from engine.experiments import experiment_jobs
from engine.report import (
    DataSummary,
    assemble_report,
    build_report_data,
    pretraining_pairs,
    study_answers,
    write_report,
)
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return tiny_study(shared_base(tmp_path_factory))


def _cli(argv) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    _report.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _patient_level(project, name):
    """Patient label (any image AFF) and mean probability, read straight from the runs' CSV files."""
    per = {}
    for job in experiment_jobs(project, name):
        for r in _read(project.runs_dir / job.run_id / "predictions.csv"):
            lab, probs = per.setdefault(r["patient_id"], [0, []])
            per[r["patient_id"]][0] = max(lab, int(r["label"]))
            probs.append(float(r["probability"]))
    keys = sorted(per)
    return keys, np.array([per[k][0] for k in keys]), np.array([np.mean(per[k][1]) for k in keys])


def _delong_bruteforce(y, a, b):
    """Paired DeLong by explicit pair comparisons (O(m n)), independent of engine.evaluate."""
    pos, neg = y == 1, y == 0
    v10, v01 = [], []
    for s in (a, b):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    cov = s10 / pos.sum() + s01 / neg.sum()
    d = v10[0].mean() - v10[1].mean()
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    return d, 2 * stats.norm.sf(abs(d / se)), d - 1.959963984540054 * se, d + 1.959963984540054 * se


def test_report_tables_hold_independently_computed_numbers(study, tmp_path, capsys):
    assert _cli(["report", str(study), "--experiments", CNN, VIT, "--n-boot", "500"]) == 0
    out = capsys.readouterr()
    assert "[vit_vs_cnn]" in out.out and "report written to" in out.err
    with Project.open(study) as project:
        folders = sorted(project.reports_dir.iterdir())
        truth = {n: _patient_level(project, n) for n in (CNN, VIT)}
    folder = folders[-1]
    assert {p.name for p in folder.iterdir()} >= {"report.html", "report.json", "experiments.csv",
                                                   "comparisons.csv", "compute.csv", "data_summary.csv"}
    exp = {(r["experiment"], r["level"]): r for r in _read(folder / "experiments.csv")}
    for name, (_, y, s) in truth.items():
        row = exp[(name, "patient")]
        assert float(row["auc"]) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert float(row["average_precision"]) == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert float(row["brier"]) == pytest.approx(np.mean((s - y) ** 2), abs=1e-12)
        assert int(row["n_cases"]) == 16 and int(row["n_aff"]) == int(y.sum())
    assert truth[CNN][0] == truth[VIT][0]
    y, a, b = truth[CNN][1], truth[CNN][2], truth[VIT][2]
    (cmp,) = _read(folder / "comparisons.csv")
    assert (cmp["first"], cmp["second"]) == (CNN, VIT)
    d, p, lo, hi = _delong_bruteforce(y, a, b)
    assert float(cmp["difference"]) == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert float(cmp["p_delong"]) == pytest.approx(p, rel=1e-9)
    assert float(cmp["p_delong_holm"]) == pytest.approx(p, rel=1e-9)  # one comparison: Holm changes nothing
    assert (float(cmp["delong_ci_low"]), float(cmp["delong_ci_high"])) == pytest.approx((lo, hi), rel=1e-9)
    assert float(cmp["boot_ci_low"]) <= d <= float(cmp["boot_ci_high"])
    b_, c_ = int(cmp["mcnemar_b"]), int(cmp["mcnemar_c"])  # few discordant patients: exact binomial
    assert float(cmp["p_mcnemar"]) == pytest.approx(min(1.0, 2 * stats.binom.cdf(min(b_, c_), b_ + c_, 0.5)))
    assert 2 / 501 <= float(cmp["p_boot"]) <= 1

    with Project.open(study) as project:
        metrics = json.loads((project.runs_dir / experiment_jobs(project, VIT)[0].run_id
                              / "metrics.json").read_text())["compute"]
    compute = {r["name"]: r for r in _read(folder / "compute.csv")}
    assert int(compute[VIT]["parameters"]) == metrics["parameters"]
    assert float(compute[VIT]["forward_gflops"]) == pytest.approx(metrics["forward_gflops"])
    assert compute[CNN]["family"] == "cnn" and compute[VIT]["family"] == "vit"

    summary = {r["item"]: r["value"] for r in _read(folder / "data_summary.csv")}
    assert summary["cross-validation images"] == "32" and summary["cross-validation patients"] == "16"

    page = (folder / "report.html").read_text()
    pngs = [chunk.split("'")[0] for chunk in page.split("data:image/png;base64,")[1:]]
    assert len(pngs) == 4 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "http://" not in page and "https://" not in page  # self-contained
    assert f"AUC {roc_auc_score(y, a):.3f}" in page or f"{roc_auc_score(y, a):.4f}" in page
    doc = json.loads((folder / "report.json").read_text())
    assert doc["experiments"][0]["patient"]["auc"]["auc"] == pytest.approx(roc_auc_score(y, a))
    assert doc["comparisons"][0]["p_delong"] == pytest.approx(p, rel=1e-9)
    assert set(doc["answers"]) == {"vit_vs_cnn", "compute", "pretraining"}
    assert "no pair of experiments differs only in pre-training" in doc["answers"]["pretraining"]


def test_image_level_uses_the_bootstrap_only_and_says_so(study, tmp_path):
    assert _cli(["report", str(study), "-e", CNN, VIT, "--level", "image", "--n-boot", "200",
                 "--out", str(tmp_path)]) == 0
    (folder,) = tmp_path.iterdir()
    (cmp,) = _read(folder / "comparisons.csv")
    assert cmp["p_delong"] == "" and float(cmp["p_boot"]) > 0
    answer = json.loads((folder / "report.json").read_text())["answers"]["vit_vs_cnn"]
    assert "patient bootstrap" in answer and "DeLong's test is not used at image level" in answer


def test_cli_refuses_unknown_reference_and_experiment(study, capsys):
    from engine.cli import CliError

    with pytest.raises(CliError, match="reference 'nope' is not among"):
        _cli(["report", str(study), "-e", CNN, VIT, "--reference", "nope"])
    with pytest.raises(CliError, match="no experiment 'ghost'"):
        _cli(["report", str(study), "-e", CNN, "ghost"])


def test_answers_state_non_significance_with_the_interval(study):
    with Project.open(study) as project:
        data = build_report_data(project, [CNN, VIT], n_boot=200)
    row = dataclasses.replace(data.comparisons[0], p_delong=0.3, p_delong_holm=0.3, delong_ci_low=-0.1,
                              delong_ci_high=0.2, difference=0.05)
    text = study_answers(dataclasses.replace(data, comparisons=[row]))["vit_vs_cnn"]
    assert "not significant at 0.05 after Holm correction" in text
    assert "not shown to differ" in text and "this does not show equivalence" in text
    assert "difference (ViT - CNN) -0.050" in text and "-0.200 to +0.100" in text  # sign turned to ViT - CNN


def test_pretraining_pairs_differ_only_in_pretrained():
    base = {"model": "resnet50", "lr": 1e-3, "epochs": 30, "device": "cuda:0", "pretrained": True}
    specs = {
        "r50-pre": base,
        "r50-scratch": {**base, "pretrained": False, "device": "cuda:1"},  # where it ran does not matter
        "r50-scratch-lr": {**base, "pretrained": False, "lr": 1e-4},
        "vit-pre": {**base, "model": "vit_base_patch16_224"},
        "vit-scratch-other-epochs": {**base, "model": "vit_base_patch16_224", "pretrained": False,
                                     "epochs": 10},
    }
    assert pretraining_pairs(specs) == [("r50-pre", "r50-scratch")]


def _four_experiments():
    """CNN and ViT, each pretrained and from scratch, on 60 patients x 2 images; the ViT gains more."""
    rng = np.random.default_rng(3)
    patients = np.repeat([f"P{i:02d}" for i in range(60)], 2)
    y = np.repeat((np.arange(60) < 20).astype(int), 2)
    quality = {"cnn-pre": 1.6, "cnn-scratch": 1.3, "vit-pre": 1.7, "vit-scratch": 0.4}
    preds, runs, specs = {}, {}, {}
    for name, q in quality.items():
        family, pre = name.split("-")[0], name.endswith("pre")
        score = 1 / (1 + np.exp(-(q * (2 * y - 1) + rng.normal(0, 1.2, len(y)))))
        preds[name] = Predictions(name=name, split_id="default v1", image_ids=np.arange(len(y)),
                                  patients=patients, labels=y, scores=score,
                                  folds=np.repeat(np.arange(60) % 2, 2))
        model = "resnet50" if family == "cnn" else "vit_base_patch16_224"
        runs[name] = ExperimentRuns(name=name, model=model, family=family, pretrained=pre, image_size=224,
                                    epochs=30, split_name="default", split_version=1, split_id=1, k=2,
                                    run_dirs=(), folds=(0, 1))
        specs[name] = {"model": model, "pretrained": pre, "lr": 1e-3, "epochs": 30}
    data = DataSummary(project="synthetic", images_total=120, labels={"AFF": 40, "NFF": 80},
                       split="default v1", k=2, test_images=0, cv_images=120, cv_patients=60,
                       cv_aff_images=40, cv_aff_patients=20, images_per_patient=2.0, folds=[])
    return preds, runs, specs, data


def test_pretraining_gains_and_diff_in_diff_match_sklearn(tmp_path):
    preds, runs, specs, data = _four_experiments()
    report = assemble_report(preds, runs, specs, [], data, n_boot=300)

    def patient_auc(name):
        e = preds[name].to_patients()
        return roc_auc_score(e.labels, e.scores)

    rows = {r.family: r for r in report.pretraining}
    assert (rows["cnn"].pretrained, rows["cnn"].scratch) == ("cnn-pre", "cnn-scratch")
    gain_cnn = patient_auc("cnn-pre") - patient_auc("cnn-scratch")
    gain_vit = patient_auc("vit-pre") - patient_auc("vit-scratch")
    assert rows["cnn"].gain == pytest.approx(gain_cnn) and rows["vit"].gain == pytest.approx(gain_vit)
    (did,) = report.diff_in_diff
    assert did.difference == pytest.approx(gain_cnn - gain_vit)
    assert did.ci_low <= did.difference <= did.ci_high
    assert "Difference in differences" in report.answers["pretraining"]
    assert len(report.comparisons) == 6  # all pairs
    assert report.comparisons[0].p_delong_holm >= report.comparisons[0].p_delong
    written = write_report(report, tmp_path)
    assert len(_read(written.tables["pretraining"])) == 2 and len(_read(written.tables["diff_in_diff"])) == 1
    page = written.html.read_text()
    assert "Pre-training effect" in page and "Does pre-training help ViTs more than CNNs?" in page
    assert "Not answered side by side" in report.answers["compute"]


def test_calibration_figure_draws_bins_observed_all_aff_or_all_nff():
    """A bin with every case AFF has a Wilson upper bound a rounding error below 1 (matplotlib refused)."""
    from engine.evaluate import results_from_predictions
    from engine.report._plots import calibration_figure

    y = np.array([0] * 30 + [1] * 30)
    pred = Predictions(name="sharp", split_id="s", image_ids=np.arange(60),
                       patients=np.arange(60).astype(str), labels=y, scores=np.where(y == 1, 0.95, 0.05))
    res = results_from_predictions(pred)
    assert res.patient.calibration.observed[-1] == 1.0
    png = base64.b64decode(calibration_figure([res], "patient"))
    assert png[:4] == b"\x89PNG"
