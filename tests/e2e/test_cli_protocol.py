"""The study protocol end to end through the CLI: repeated CV (R = 2, K = 3, S = 1), two models,
Optuna tuning with 2 trials on inner folds, and a report with per-repeat AUCs, the tuned values,
the Methods text and the corrected resampled t-test."""

import csv
import json
import subprocess
import sys

import pytest

from engine.store import Project


def _affengine(*args):
    out = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.timeout(900)  # 60 one-epoch trainings (12 runs x (2 trials x 2 inner folds + 1)): ~2 min idle
def test_repeated_tuned_cnn_vs_vit_study_through_the_cli(tmp_path):
    src = tmp_path / "phantom"
    _affengine("phantom", "--out", src, "--patients", 15, "--seed", 5, "--aff-share", 0.4,
               "--size", "320x256", "--workers", 2)
    proj = tmp_path / "Protocol.affproj"
    _affengine("init", proj)
    _affengine("import", proj, src, "--manifest", src / "manifest.csv", "--workers", 2)
    shown = _affengine("split", "create", proj, "--name", "cv", "--k", 3, "--repeats", 2, "--seed", 0)
    assert "repeat" in _affengine("split", "show", proj, "--name", "cv") + shown
    common = ["--split", "cv", "--repeats", 2, "--seeds", 1, "--tune-trials", 2, "--no-pretrained",
              "--epochs", 1, "--batch-size", 8, "--image-size", 32, "--device", "cpu", "--num-threads", 2]
    _affengine("experiment", "create", proj, "--name", "cnn", "--model", "resnet10t", *common)
    _affengine("experiment", "create", proj, "--name", "vit", "--model", "vit_tiny_patch16_224", *common)
    for name in ("cnn", "vit"):
        out = _affengine("run", proj, name, "--device", "cpu")
        assert out.count(": finished") == 6, out  # R x K x S runs
        for label in ("r0f0s0", "r1f2s0"):
            assert label in out
    out = _affengine("report", proj, "-e", "cnn", "vit", "--reference", "cnn", "--n-boot", 200,
                     "--out", tmp_path / "reports")
    html_path = next((tmp_path / "reports").rglob("report.html"))
    page = html_path.read_text(encoding="utf-8")
    folder = html_path.parent
    # per-repeat AUCs (two repeats per experiment, with their mean and SD)
    assert "Repeated cross-validation" in page
    with open(folder / "repeats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for name in ("cnn", "vit"):
        per_repeat = [r for r in rows if r["experiment"] == name and r["repeat"] in ("0", "1")]
        assert len(per_repeat) == 2, rows
        assert all(0.0 <= float(r["patient_auc"]) <= 1.0 for r in per_repeat)
    # the tuned values: every outer run tuned with the same budget, its chosen values listed
    assert "Tuned values" in page and "each model: 2 trials x 2 inner folds" in page
    with open(folder / "tuning.csv", newline="") as fh:
        tuning = list(csv.DictReader(fh))
    assert len(tuning) == 12 and all(float(t["lr"]) > 0 for t in tuning)
    # the Methods text and the CLAIM table
    assert "<h2>Methods</h2>" in page
    assert "repeated 2 time(s)" in page and "3-fold" in page
    assert "lateral cortex lies on the image left" in page
    assert "CLAIM" in page
    # the corrected resampled t-test across R x K folds
    assert "Corrected resampled t-test across repeats and folds" in page
    with open(folder / "repeated_tests.csv", newline="") as fh:
        tests = list(csv.DictReader(fh))
    assert any(float(t["df"]) == 5 for t in tests if t["df"]), tests  # R x K - 1
    data = json.loads((folder / "report.json").read_text())
    assert data
    with Project.open(proj) as p:
        assert p.query("SELECT COUNT(*) FROM jobs WHERE state = 'finished'")[0][0] == 12
