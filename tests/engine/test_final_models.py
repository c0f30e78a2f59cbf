"""Final models: the ensemble of every fold model, its provenance, and scoring through the training path."""

import argparse
import json
import shutil

import numpy as np
import pytest

from engine.cli import _finalize
from engine.evaluate import operating_points
from engine.experiments import experiment_jobs
from engine.final import (
    FinalModelError,
    experiment_members,
    file_sha256,
    finalize,
    latest_final_model,
    list_final_models,
    score_images,
)
from engine.jobs import JobQueue
from engine.splits import load_split
from engine.store import Project
from engine.train import read_predictions
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return held_out_study(shared_base(tmp_path_factory))


def _cli(argv) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    _finalize.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_ensemble_provenance_names_every_fold_model_and_its_weights(study, tmp_path, capsys):
    path = copy_study(study, tmp_path)
    assert _cli(["finalize", str(path), "-e", A]) == 0
    assert "RESULT final_model_id 1" in capsys.readouterr().out
    with Project.open(path) as project:
        final = latest_final_model(project, A)
        prov = final.provenance
        jobs = {j.run_id: j for j in experiment_jobs(project, A)}
        assert [(m["repeat"], m["fold"]) for m in prov["members"]] == [(0, 0), (0, 1)]
        for m in prov["members"]:
            assert m["run_id"] in jobs and jobs[m["run_id"]].fold == m["fold"]
            assert m["sha256"] == file_sha256(project.path / m["weights"])
        split = load_split(project, "default")
        assert prov["split"]["version"] == split.version == 2 and prov["split"]["test_images"] > 0
        assert prov["image_size"] == 64 and prov["recipe"]["model"] == "resnet10t"
        assert "fold" not in prov["recipe"] and "device" not in prov["recipe"]
        assert prov["code_version"]["engine"] and prov["preprocessing"]["orientation"]
        # thresholds fixed on the pooled out-of-fold predictions, recomputed from the runs' files
        cols = [read_predictions(project.runs_dir / m["run_id"] / "predictions.csv") for m in prov["members"]]
        y = np.concatenate([c["label"] for c in cols])
        s = np.concatenate([c["probability"] for c in cols])
        expected = {k: op.threshold for k, op in operating_points(y, s).items()}
        assert prov["thresholds"]["image"] == pytest.approx(expected)
        assert len(list_final_models(project, A)) == 1


def test_scores_go_through_the_training_path(study, tmp_path):
    """A member scoring its own validation images reproduces predictions.csv; the ensemble is the mean."""
    with Project.open(copy_study(study, tmp_path)) as project:
        final = finalize(project, A)
        members = final.members
        for m in members:
            cols = read_predictions(project.runs_dir / m["run_id"] / "predictions.csv")
            one = final.__class__(**{**final.__dict__, "provenance": {**final.provenance, "members": [m]}})
            got = score_images(project, one, cols["image_id"])
            np.testing.assert_allclose(got, cols["probability"], atol=2e-6)
        test_ids = load_split(project, "default").test_ids()
        each = [score_images(project, final.__class__(**{**final.__dict__,
                "provenance": {**final.provenance, "members": [m]}}), test_ids) for m in members]
        np.testing.assert_allclose(score_images(project, final, test_ids), np.mean(each, 0), atol=1e-6)


def test_refuses_unfinished_folds_and_changed_weights(study, tmp_path):
    path = copy_study(study, tmp_path)
    with Project.open(path) as project:
        final = finalize(project, A)
        weights = project.path / final.members[0]["weights"]
        weights.write_bytes(weights.read_bytes() + b"x")
        with pytest.raises(FinalModelError, match="changed since the final model was made"):
            latest_final_model(project, A)
        job = experiment_jobs(project, A)[1]
        with project.transaction() as conn:
            conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (job.id,))
        with pytest.raises(FinalModelError, match=r"repeat 0 fold 1 has not finished \(job \d+ failed\)"):
            experiment_members(project, A)
        with pytest.raises(FinalModelError, match="no experiment 'nope'"):
            finalize(project, "nope")
        assert JobQueue(project).get(job.id).state == "failed"
    assert json.loads(json.dumps(final.to_json()))["mode"] == "ensemble"


def test_every_fold_model_of_every_repeat_is_a_member(study, tmp_path):
    """Jobs whose spec carries ``repeat`` (repeated cross-validation) add members; a missing one is named."""
    path = copy_study(study, tmp_path)
    with Project.open(path) as project:
        jobs = experiment_jobs(project, A)
        with project.transaction() as conn:
            for job in jobs:  # repeat 1 copies repeat 0's run folders: the grouping is what is tested
                shutil.copytree(project.runs_dir / job.run_id, project.runs_dir / f"{job.run_id}-r1")
                conn.execute(
                    "INSERT INTO jobs(experiment_id, kind, fold, spec, run_id, state, priority, attempts, "
                    "created_at) VALUES (?, 'train', ?, ?, ?, 'finished', 0, 1, ?)",
                    (job.experiment_id, job.fold, json.dumps({**job.spec, "repeat": 1, "seed": 7}),
                     f"{job.run_id}-r1", job.created_at))
        members = experiment_members(project, A)
        assert [(m.repeat, m.fold, m.seed) for m in members] == [(0, 0, 0), (0, 1, 0), (1, 0, 7), (1, 1, 7)]
        final = finalize(project, A)
        assert len(final.members) == 4
        ids = load_split(project, "default").test_ids()
        two = finalize(project, A).__class__(**{**final.__dict__, "provenance": {
            **final.provenance, "members": final.members[:2]}})
        np.testing.assert_allclose(score_images(project, final, ids), score_images(project, two, ids),
                                   atol=1e-6)
        with project.transaction() as conn:
            conn.execute("UPDATE jobs SET state = 'cancelled' WHERE spec LIKE '%\"repeat\": 1%' AND fold = 1")
        with pytest.raises(FinalModelError, match=r"repeat 1 fold 1 has not finished \(job \d+ cancelled\)"):
            experiment_members(project, A)
