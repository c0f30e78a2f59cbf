"""The report's further statistics (pAUC, held-out operating points, calibration fit, margin tests,
decision curves) in JSON, CSV, HTML and the answer text; `affengine report --margin` end to end."""

import argparse
import csv
import json

import numpy as np
import pytest

from engine.cli import _report
from engine.evaluate import (
    ExperimentRuns,
    Predictions,
    calibration_fit,
    held_out_operating_point,
    margin_test_delong,
    partial_auc,
)
from engine.report import DataSummary, assemble_report, write_report
from tests.engine._results_factory import shared_base, tiny_study


def _experiments(gap=0.0):
    """A CNN and a ViT on 80 patients x 2 images (2 folds), with training predictions for each fold."""
    rng = np.random.default_rng(11)
    n = 80
    patients = np.repeat([f"P{i:02d}" for i in range(n)], 2)
    y = np.repeat(((np.arange(n) // 2) % 4 == 0).astype(int), 2)  # AFF in both folds
    folds = np.repeat(np.arange(n) % 2, 2)
    latent = rng.normal(1.5 * (2 * y - 1), 1.0)
    preds, runs, specs, train = {}, {}, {}, {}
    for name, family, noise in (("cnn", "cnn", 0.5), ("vit", "vit", 0.5 + gap)):
        score = 1 / (1 + np.exp(-(latent + rng.normal(0, noise, len(y)))))
        preds[name] = Predictions(name=name, split_id="s v1", image_ids=np.arange(len(y)), patients=patients,
                                  labels=y, scores=score, folds=folds)
        runs[name] = ExperimentRuns(name=name, model=name, family=family, pretrained=True, image_size=64,
                                    epochs=1, split_name="s", split_version=1, split_id=1, k=2, run_dirs=(),
                                    folds=(0, 1))
        specs[name] = {"model": name, "pretrained": True}
        train[name] = {}
        for f in (0, 1):
            sel = folds != f
            ts = 1 / (1 + np.exp(-(2 * latent[sel] + rng.normal(0, noise, sel.sum()))))
            train[name][f] = Predictions(name=f"{name}{f}", split_id="s v1", image_ids=np.flatnonzero(sel),
                                         patients=patients[sel], labels=y[sel], scores=ts,
                                         folds=np.full(sel.sum(), f))
    data = DataSummary(project="synthetic", images_total=2 * n, labels={"AFF": int(y.sum())}, split="s v1",
                       k=2, test_images=0, cv_images=2 * n, cv_patients=n, cv_aff_images=int(y.sum()),
                       cv_aff_patients=n // 4, images_per_patient=2.0, folds=[])
    return preds, runs, specs, train, data


def _rows(section, key):
    t = section["tables"][key]
    return [dict(zip(t["header"], r)) for r in t["rows"]]


def test_statistics_hold_the_engine_numbers_and_reach_every_output(tmp_path):
    preds, runs, specs, train, data = _experiments()
    report = assemble_report(preds, runs, specs, [], data, n_boot=200, margin=0.1, train=train)
    st = report.statistics
    pat = {n: p.to_patients() for n, p in preds.items()}
    pa = {r["experiment"]: r for r in _rows(st, "partial_auc")}
    assert pa["vit"]["pauc_standardised"] == pytest.approx(
        partial_auc(pat["vit"].labels, pat["vit"].scores).standardised)
    assert len(_rows(st, "partial_auc_comparisons")) == 1
    cal = {(r["experiment"], r["level"]): r for r in _rows(st, "calibration_fit")}
    ref = calibration_fit(preds["cnn"].labels, preds["cnn"].scores)
    assert cal[("cnn", "image")]["slope"] == pytest.approx(ref.slope)
    assert cal[("cnn", "image")]["ece_binning"] == "equal-width on [0, 1]"
    key = ("vit", "patient", "youden", "sensitivity")
    ops = [r for r in _rows(st, "operating_points")
           if (r["experiment"], r["level"], r["rule"], r["metric"]) == key]
    op = held_out_operating_point(preds["vit"], train["vit"], "youden", "patient", n_boot=200)
    assert ops[0]["estimate"] == pytest.approx(op.metrics["sensitivity"].estimate)
    assert ops[0]["wilson_low"] == pytest.approx(op.metrics["sensitivity"].wilson_low)
    assert len(_rows(st, "operating_point_mcnemar")) == 2  # youden and sens90, patient level
    ni = {r["level"]: r for r in _rows(st, "noninferiority")}
    ref = margin_test_delong(pat["vit"].labels, pat["vit"].scores, pat["cnn"].scores, 0.1)
    assert ni["patient"]["p_noninferior"] == pytest.approx(ref.p_noninferior)
    assert ni["image"]["method"] == "bootstrap"
    answer = report.answers["vit_vs_cnn"]
    assert "With the margin M = 0.1 (paired DeLong" in answer
    assert ("vit is non-inferior within 0.1" in answer) == ref.noninferior
    assert ("equivalent within ±0.1 (TOST" in answer) == ref.equivalent
    assert "sampling variance of patients" in answer
    assert len(st["decision_curves"]["thresholds"]) == 99

    written = write_report(report, tmp_path)
    for key in ("partial_auc", "operating_points", "calibration_fit", "noninferiority"):
        with open(written.tables[key], newline="") as fh:
            assert len(list(csv.DictReader(fh))) == len(st["tables"][key]["rows"])
    doc = json.loads(written.json.read_text())
    assert doc["statistics"]["margin"] == 0.1 and doc["margin"] == 0.1
    page = written.html.read_text()
    assert "Partial AUC, sensitivity 0.9-1.0" in page and "Non-inferiority and equivalence" in page
    assert "alt='Decision curves'" in page and "descriptive" in page
    assert "p = 0.000" not in page and "<td>0.000</td>" not in page


def test_without_a_margin_the_answer_says_it_does_not_show_equivalence():
    preds, runs, specs, _, data = _experiments()
    report = assemble_report(preds, runs, specs, [], data, n_boot=200, train_missing=["cnn: no file"])
    assert "noninferiority" not in report.statistics["tables"]
    text = report.answers["vit_vs_cnn"]
    if "not shown to differ" in text:
        assert "this does not show equivalence" in text
    assert "non-inferior" not in text
    assert "no held-out operating points for cnn: no file" in report.statistics["notes"]
    assert report.statistics["tables"]["operating_points"]["rows"] == []
    with pytest.raises(ValueError, match="margin"):
        assemble_report(preds, runs, specs, [], data, n_boot=200, margin=1.5)


def _cli(argv) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    _report.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_margin_end_to_end(tmp_path_factory, tmp_path, capsys):
    from engine.cli import CliError

    study = tiny_study(shared_base(tmp_path_factory))
    with pytest.raises(CliError, match="--margin must be an AUC difference"):
        _cli(["report", str(study), "-e", "cnn", "vit", "--margin", "0", "--out", str(tmp_path)])
    assert _cli(["report", str(study), "-e", "cnn", "vit", "--margin", "0.05", "--n-boot", "200",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "With the margin M = 0.05" in out
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "report.json").read_text())
    assert doc["statistics"]["tables"]["operating_points"]["rows"]  # the runs wrote train_predictions.csv
    assert (folder / "noninferiority.csv").is_file() and (folder / "partial_auc.csv").is_file()


def test_image_level_answer_flags_an_auc_near_one():
    preds, runs, specs, _, data = _experiments()
    y = preds["vit"].labels
    preds["vit"] = Predictions(name="vit", split_id="s v1", image_ids=preds["vit"].image_ids,
                               patients=preds["vit"].patients, labels=y, scores=0.1 + 0.8 * y,
                               folds=preds["vit"].folds)
    report = assemble_report(preds, runs, specs, [], data, level="image", n_boot=200)
    (row,) = report.comparisons
    assert row.boot_near_one and row.p_clustered is not None and row.p_delong is None
    assert "within 0.005 of 1, where no percentile-bootstrap p is reliable" in report.answers["vit_vs_cnn"]
