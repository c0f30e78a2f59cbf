"""Occlusion out of fold on the tiny study: maps at the stated grid, faithfulness files, summaries, CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from engine.explain import (
    explain_experiment,
    faithfulness_summary,
    fold_runs,
    load_experiment_heatmaps,
    read_heatmaps,
    reliance_summary,
    roi_summary,
    submit_explain,
)
from engine.store import Project
from engine.train import PREDICTIONS, read_predictions
from tests.engine._results_factory import CNN, VIT, shared_base, study_copy, tiny_study

# The factory's images are 72 x 96 without a spacing: 1 mm per pixel gives 1.5 mm per input pixel at 64 px.
FAST = {"patch_mm": 32.0, "stride_mm": 32.0, "deletion_steps": 4, "batch_size": 16}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = study_copy(tiny_study(shared_base(tmp_path_factory)), tmp_path_factory.mktemp("occlusion"))
    with Project.open(path) as project:
        with project.transaction() as c:
            c.execute("UPDATE images SET pixel_spacing_row = 1.0, pixel_spacing_col = 1.0")
        for r in project.images.list(order="id")[:12]:
            project.rois.add(r.id, (24, 40, 36, 52), "tester", source="import")
    return path


@pytest.mark.timeout(900)
def test_occlusion_for_a_cnn_and_a_vit_at_the_same_grid(study):
    with Project.open(study) as project:
        for exp, faith in ((CNN, True), (VIT, False)):  # one faithfulness run keeps the test short
            result = explain_experiment(project, exp, "occlusion", "cpu", faithfulness=faith, **FAST)
            assert result.state == "finished" and len(result.files) == 2
        cnn = load_experiment_heatmaps(project, CNN, "occlusion")
        vit = load_experiment_heatmaps(project, VIT, "occlusion")
        n = project.images.count()
        roi = roi_summary(project, CNN, "occlusion", n_boot=100)
        faith = faithfulness_summary(project, CNN, "occlusion", n_boot=100)
        rel = {CNN: reliance_summary(project, CNN, n_boot=100)}
        assert reliance_summary(project, VIT) is None
        assert faithfulness_summary(project, VIT, "occlusion") is None
        for _fold, run in fold_runs(project, CNN):
            preds = read_predictions(run / PREDICTIONS)
            np.testing.assert_allclose(cnn.subset(preds["image_id"]).probability, preds["probability"],
                                       atol=1e-4)
            info = read_heatmaps(run, "occlusion").info
            assert info["attribution"]["patch_px"] == 21 and info["attribution"]["stride_px"] == 21
            assert info["grid"] == [4, 4] and "all_zero" in info
    # The same method at the same grid for both families, unlike Grad-CAM's 2x2 vs 4x4.
    assert cnn.maps.shape[1:] == vit.maps.shape[1:] == (4, 4) and len(cnn) == len(vit) == n
    assert roi["with_roi"] == 12 and "verdict" in roi["groups"]["all"]
    assert isinstance(roi["blank_maps"], int)
    assert faith["images"] == n
    for curve in ("deletion", "insertion"):
        assert set(faith[curve]) == {"map", "random", "map_minus_random"}
        assert 0 <= faith[curve]["random"]["mean"] <= 1
    for r in rel.values():
        assert r["images"] == 12 and r["regions"]["roi"]["chance"] == 0.0
        assert r["regions"]["roi"]["verdict"] in ("above chance", "below chance", "at chance")
        assert -1 <= r["regions"]["roi"]["reliance"]["mean"] <= 1


def test_rollout_is_refused_for_a_model_without_a_class_token(study):
    from engine.cli import _explain
    from engine.cli._errors import CliError

    parser = argparse.ArgumentParser()
    _explain.add_parser(parser.add_subparsers())
    for method in ("rollout", "gradrollout"):
        args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", method])
        with pytest.raises(CliError, match="class token"):
            args.func(args)
        args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", method, "--queue"])
        with pytest.raises(CliError, match="class token"):
            args.func(args)
        with Project.open(study) as project, pytest.raises(ValueError, match="class token"):
            submit_explain(project, CNN, method)
    args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", "occlusion",
                              "--patch-mm", "0"])
    with pytest.raises(CliError, match="--patch-mm must be positive"):
        args.func(args)


def test_queued_occlusion_job_uses_its_patch_and_stride(study):
    """The occlusion options travel in the job spec: a queued job computes the grid that
    ``affengine explain --patch-mm 32 --stride-mm 32`` computes in the foreground (the
    default 20 / 10 mm would give 13 / 7 px and a 9 x 9 grid here)."""
    from engine.cli import _explain
    from engine.explain import explain_job_spec
    from engine.explain._storage import heatmap_paths
    from engine.jobs import JobQueue, Worker

    spec = explain_job_spec(CNN, "occlusion", 16, patch_mm=32, stride_mm=32, faithfulness=False)
    assert spec == {"experiment": CNN, "method": "occlusion", "batch_size": 16, "patch_mm": 32.0,
                    "stride_mm": 32.0, "faithfulness": False}
    assert set(explain_job_spec(CNN, "occlusion")) == {"experiment", "method", "batch_size"}
    with pytest.raises(ValueError, match="stride_mm must be a positive number"):
        explain_job_spec(CNN, "occlusion", stride_mm=0)
    parser = argparse.ArgumentParser()
    _explain.add_parser(parser.add_subparsers())
    args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", "occlusion",
                              "--patch-mm", "32", "--stride-mm", "32", "--no-faithfulness", "--queue"])
    assert args.func(args) == 0
    with Project.open(study) as project:
        for _fold, run in fold_runs(project, CNN):  # the maps the job writes replace these
            for path in heatmap_paths(run, "occlusion"):
                path.unlink(missing_ok=True)
        job = JobQueue(project).list()[-1]
        assert job.kind == "explain" and job.spec["patch_mm"] == 32.0 and job.spec["stride_mm"] == 32.0
    assert Worker(study, device="cpu").run(exit_when_idle=True, max_jobs=1) == 1
    with Project.open(study) as project:
        for _fold, run in fold_runs(project, CNN):
            info = read_heatmaps(run, "occlusion").info
            assert info["attribution"]["patch_px"] == 21 and info["attribution"]["stride_px"] == 21
            assert info["grid"] == [4, 4]
