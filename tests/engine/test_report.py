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
from engine.jobs import experiment_jobs
from engine.report import build_report_data, pretraining_pairs, study_answers
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
    assert len(pngs) == 3 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
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
    assert "does not show the two are equivalent" in text
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
