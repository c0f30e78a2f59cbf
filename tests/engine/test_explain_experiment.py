"""Out-of-fold explanation of a trained experiment: foreground, as a job, and from the CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from engine.explain import (
    explain_experiment,
    fold_runs,
    load_experiment_heatmaps,
    read_heatmaps,
    submit_explain,
)
from engine.store import Project
from engine.train import PREDICTIONS, read_predictions
from tests.engine._results_factory import CNN, VIT, shared_base, study_copy, tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    src = tiny_study(shared_base(tmp_path_factory))
    return study_copy(src, tmp_path_factory.mktemp("explain"))


def test_every_image_gets_one_map_from_the_fold_that_validated_it(study):
    with Project.open(study) as project:
        result = explain_experiment(project, CNN, "gradcam", "cpu", batch_size=5)
        assert result.state == "finished" and len(result.files) == 2
        h = load_experiment_heatmaps(project, CNN, "gradcam")
        runs = fold_runs(project, CNN)
        n_images = project.images.count()
    assert len(np.unique(h.image_ids)) == len(h) == n_images
    assert h.maps.dtype == np.float16 and h.maps.shape[1:] == (2, 2)  # resnet10t at 64 px
    m = h.maps.astype(np.float32)
    assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1 and m.std() > 0
    for fold, run in runs:
        preds = read_predictions(run / PREDICTIONS)
        mine = h.subset(preds["image_id"])
        assert (mine.fold == fold).all()
        np.testing.assert_array_equal(mine.label, preds["label"])
        # The explaining model is the one whose prediction the report shows.
        np.testing.assert_allclose(mine.probability, preds["probability"], atol=1e-4)
        info = read_heatmaps(run, "gradcam").info
        assert info["grid"] == [2, 2] and info["input_size"] == 64 and info["fold"] == fold


def test_rollout_for_the_vit_experiment(study):
    with Project.open(study) as project:
        explain_experiment(project, VIT, "rollout", "cpu", batch_size=16)
        h = load_experiment_heatmaps(project, VIT, "rollout")
        assert len(h) == project.images.count()
    assert h.maps.shape[1:] == (4, 4)
    assert np.isclose(h.maps.astype(np.float32).reshape(len(h), -1).max(1), 1, atol=1e-3).all()


def test_stop_request_cancels_without_writing(study):
    with Project.open(study) as project:
        result = explain_experiment(project, CNN, "hirescam", "cpu", should_stop=lambda: True)
        assert result.state == "cancelled" and result.files == []
        for _, run in fold_runs(project, CNN):
            assert not (run / "heatmaps" / "hirescam.npz").exists()


def test_queued_job_runs_in_a_worker(study):
    from engine.jobs import JobQueue, Worker
    from engine.runs import read_events

    with Project.open(study) as project:
        job_id = submit_explain(project, CNN, "eigencam", batch_size=8)
        with pytest.raises(ValueError, match="unknown method"):
            submit_explain(project, CNN, "nope")
        with pytest.raises(KeyError):
            submit_explain(project, "missing", "gradcam")
    assert Worker(study, device="cpu").run(exit_when_idle=True, max_jobs=1) == 1
    with Project.open(study) as project:
        job = JobQueue(project).get(job_id)
        assert job.state == "finished", job.error
        events = read_events(project.runs_dir / job.run_id / "events.jsonl")
        h = load_experiment_heatmaps(project, CNN, "eigencam")
        assert len(h) == project.images.count()
    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished" and types.count("artifact") == 2


def test_cli_foreground_and_queue(study, capsys):
    from engine.cli import _explain

    parser = argparse.ArgumentParser()
    _explain.add_parser(parser.add_subparsers())
    args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", "gradcam++",
                              "--device", "cpu"])
    assert args.func(args) == 0
    assert "gradcam++: 32 images explained" in capsys.readouterr().out
    from engine.cli import CliError

    args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--method", "rollout"])
    with pytest.raises(CliError, match="class token"):
        args.func(args)
    args = parser.parse_args(["explain", str(study), "--experiment", CNN, "--queue"])
    assert args.func(args) == 0
    assert "queued explain job" in capsys.readouterr().out


def test_sanity_check_against_randomised_weights(study):
    from engine.explain import compare_to_random, randomised_model, sanity_check_experiment

    with Project.open(study) as project:
        explain_experiment(project, VIT, "gradcam", "cpu")
        result = sanity_check_experiment(project, VIT, "gradcam", max_images=6, seed=3)
        assert sanity_check_experiment(project, VIT, "gradcam", should_stop=lambda: True) is None
    assert len(result.image_ids) == 12  # 6 per fold
    assert set(result.summary) == {"pearson", "spearman", "iou_top10", "iou_top20"}
    # The randomised maps are new maps, not the stored ones.
    assert not np.array_equal(result.trained.maps, result.randomised.maps)
    assert all(-1 <= v.mean <= 1 for v in result.summary.values() if v.n)
    same = compare_to_random(result.trained, result.trained, n_boot=50)
    flat = np.isnan(same.similarity["pearson"])  # constant maps have no correlation
    np.testing.assert_allclose(same.similarity["pearson"][~flat], 1.0, atol=1e-6)
    a, b = randomised_model("resnet10t", 64, seed=1), randomised_model("resnet10t", 64, seed=1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert (pa == pb).all(), name


def test_compare_cnn_and_vit_maps_on_the_same_images(study):
    from engine.explain import (
        compare_experiments,
        compare_heatmaps,
        format_roi_summary,
        roi_scores,
        roi_summary,
    )

    with Project.open(study) as project:
        for exp in (CNN, VIT):
            explain_experiment(project, exp, "gradcam", "cpu")
        cnn = load_experiment_heatmaps(project, CNN, "gradcam")
        vit = load_experiment_heatmaps(project, VIT, "gradcam")
        # The factory's images are 72 x 96: a box over the upper half of each.
        for image_id in cnn.image_ids[:10]:
            if not project.rois.for_image(int(image_id)):
                project.rois.add(int(image_id), (0, 0, 72, 48), "tester", source="import")
        result = compare_heatmaps(project, cnn, vit, source="import", n_boot=200)
        scores = roi_scores(project, cnn, source="import")
        summary = roi_summary(project, CNN, "gradcam", source="import", n_boot=200)
        both = compare_experiments(project, CNN, VIT, "gradcam", source="import", n_boot=200)
    assert summary["images"] == 32 and summary["with_roi"] == 10 and summary["grid"] == [2, 2]
    assert summary["groups"]["all"]["chance"]["mean"] == pytest.approx(0.375)
    assert "ROI energy" in format_roi_summary(summary)[1]
    assert both["images"] == 32 and set(both["agreement"]) == set(result.agreement)
    json.dumps(both, allow_nan=True)
    assert cnn.maps.shape[1:] == (2, 2) and vit.maps.shape[1:] == (4, 4)
    assert len(result.image_ids) == 32
    assert set(result.agreement) == {"pearson", "spearman", "iou_top10", "iou_top20"}
    assert all(len(v) == 32 for v in result.agreement.values())
    assert len(result.energy_a) == len(result.energy_b) == 10
    np.testing.assert_allclose(result.energy_a, scores.energy)
    # 64-px letterbox of a 72x96 image: 48 px wide, centred; the box is its upper half.
    np.testing.assert_allclose(scores.chance, 48 * 32 / 64 ** 2)
    assert result.energy_test.n <= 10
