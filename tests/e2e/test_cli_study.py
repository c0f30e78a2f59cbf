"""A whole small study through the command line, on phantom data."""

import csv
import json
import subprocess
import sys

import numpy as np

from engine.store import Project


def _affengine(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], capture_output=True,
                         text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_phantom_import_info_labels(tmp_path):
    src = tmp_path / "phantom"
    _affengine("phantom", "--out", src, "--patients", 8, "--seed", 3, "--size", "400x320",
               "--workers", 2)
    manifest = list(csv.DictReader((src / "manifest.csv").read_text().splitlines()))
    assert len(manifest) >= 8

    _affengine("init", tmp_path / "Study")
    proj = tmp_path / "Study.affproj"
    _affengine("import", proj, src, "--manifest", src / "manifest.csv", "--workers", 2)
    info = json.loads(_affengine("info", proj, "--json").stdout)
    assert info["images"] == len(manifest)
    assert info["patients"] == len({r["patient_id"] for r in manifest})
    want = {lab: sum(r["label"] == lab for r in manifest) for lab in ("AFF", "NFF")}
    assert {k: info["labels"][k] for k in want} == want
    assert info["rois"] == len(manifest) and info["import_errors"] == 0

    # Import is incremental: a second run adds nothing and decodes nothing.
    again = _affengine("import", proj, src, "--manifest", src / "manifest.csv")
    assert json.loads(_affengine("info", proj, "--json").stdout)["images"] == len(manifest)
    assert "0 added" in again.stdout + again.stderr

    # The cache holds the decoded pixels: every image has a thumbnail and a 1024-px copy.
    with Project.open(proj) as p:
        rows = p.images.list()
        assert all(r.thumb_height and r.cache_height for r in rows)
        img = p.cache.load_full(rows[0].sha256)
        assert img.dtype == np.uint8 and img.shape == (rows[0].cache_height, rows[0].cache_width)
        assert img.std() > 5  # a real picture, not a blank

    labels = tmp_path / "labels.csv"
    _affengine("labels", "export", proj, "--out", labels)
    exported = list(csv.DictReader(labels.read_text().splitlines()))
    assert sorted(r["label"] for r in exported) == sorted(r["label"] for r in manifest)


def test_cnn_and_vit_cross_validation_on_a_phantom_project(tmp_path):
    src = tmp_path / "phantom"
    _affengine("phantom", "--out", src, "--patients", 12, "--seed", 7, "--aff-share", 0.4,
               "--size", "400x320", "--workers", 2)
    proj = tmp_path / "Study.affproj"
    _affengine("init", proj)
    _affengine("import", proj, src, "--manifest", src / "manifest.csv", "--workers", 2)
    _affengine("split", "create", proj, "--name", "cv", "--k", 2, "--seed", 1)
    common = ["--split", "cv", "--no-pretrained", "--epochs", 1, "--batch-size", 8,
              "--image-size", 64, "--device", "cpu", "--num-threads", 2]
    _affengine("experiment", "create", proj, "--name", "cnn", "--model", "resnet10t", *common)
    _affengine("experiment", "create", proj, "--name", "vit", "--model", "vit_tiny_patch16_224",
               *common)
    for name in ("cnn", "vit"):
        out = _affengine("run", proj, name, "--device", "cpu").stdout
        assert out.count(": finished") == 2, out

    from engine.experiments import experiment_jobs
    from engine.train import read_predictions

    with Project.open(proj) as p:
        labelled = sorted(i for i, lab in p.labels.all().items() if lab in ("AFF", "NFF"))
        for name in ("cnn", "vit"):
            ids = []
            for job in experiment_jobs(p, name):
                run = p.runs_dir / job.run_id
                ids += read_predictions(run / "predictions.csv")["image_id"].tolist()
                metrics = json.loads((run / "metrics.json").read_text())
                assert metrics["state"] == "finished" and metrics["epochs_run"] == 1
                compute = metrics["compute"]
                assert compute["parameters"] > 1e5 and compute["forward_gflops"] > 0
                assert compute["train_images_per_s"] > 0 and len(compute["epoch_seconds"]) == 1
            assert sorted(ids) == labelled  # out-of-fold: every image once
