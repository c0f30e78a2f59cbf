"""Predict jobs on a REAL single-node Slurm cluster (see _slurm_cluster): run with
``flock /tmp/slurm.lock python -m pytest tests/engine/test_slurm_predict_cluster.py``.

The node scores from its snapshot and writes chunk files to the run folder; ``sync`` imports
them, and the stored P(AFF) equals the final model's own scores. A job killed at its time
limit is submitted again and scores only the images it had not scored; that job is started,
in a copy of the archive, with the session's other time-limit jobs (see _slurm_fixtures).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.final import SCORED_DIR, finalize, read_scored, score_images, stored_predictions, submit_predict
from engine.jobs import JobQueue
from engine.runs import read_events
from engine.slurm import ClusterSettings, slurm_log, submissions
from engine.store import Project
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base
from tests.engine._slurm_fixtures import _sync_until, timed_out
from tests.engine.test_final_predict import _add_unlabelled, _label_state


@pytest.fixture(scope="module", autouse=True)
def _time_limit_jobs_first(time_limit_jobs):
    """Start every time-limit job of the session (if no earlier Slurm module did; see _slurm_fixtures)."""


@pytest.fixture
def timed_out_start(time_limit_jobs):
    """The job of test_predict_killed_at_its_time_limit_resumes_without_rescoring: all images of a
    copy of the archive below, chunks of one, submitted with a one-minute limit, paused after its
    first scored chunk, its limit set back to ten minutes (see _slurm_fixtures)."""
    return timed_out(time_limit_jobs, "predict")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path_factory.mktemp("screen"))
    with Project.open(path) as project:
        assert finalize(project, A).id == 1
        new = _add_unlabelled(project, 8)
    ClusterSettings(partition="debug", cpus=1, mem="1G", time="10", signal_grace_s=0).save(path)
    return path, new


def test_predict_on_slurm_stores_the_final_models_scores(cluster, archive):
    path, new = archive
    with Project.open(path) as project:
        before = _label_state(project)
        job_id = submit_predict(project, A, "unlabelled", backend="slurm", chunk=3)
        imported = {}
        final = _sync_until(project, [job_id], ("finished", "failed"), cluster,
                            on_round=lambda r: imported.update({k: imported.get(k, 0) + v
                                                                for k, v in r.imported.items()}))
        assert final == {job_id: "finished"}, slurm_log(project, job_id)
        assert imported == {job_id: len(new)}  # every row once, over however many syncs
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
        assert len(read_scored(run)) == len(new) and len(list((run / SCORED_DIR).glob("chunk-*"))) == 3
        preds = stored_predictions(project, experiment=A)
        assert sorted(preds) == new and all(p.job_id == job_id for p in preds.values())
        np.testing.assert_allclose([preds[i].probability for i in new],
                                   score_images(project, finalize(project, A), new), atol=1e-6)
        assert _label_state(project) == before
        assert not (run / "slurm" / "project.affproj").exists()  # the snapshot is dropped once finished
        assert [s.state for s in submissions(project, job_id)] == ["COMPLETED"]
        assert "affwb: finished" in slurm_log(project, job_id)


def test_predict_killed_at_its_time_limit_resumes_without_rescoring(cluster, timed_out_start):
    path, job_id, run = timed_out_start  # submitted, paused and its limit set back to ten minutes
    with Project.open(path) as project:
        total = len(JobQueue(project).get(job_id).spec["image_ids"])
        final = _sync_until(project, [job_id], ("finished", "failed"), cluster, timeout_s=300)
        assert final == {job_id: "finished"}, slurm_log(project, job_id, every=True)
        assert [s.state for s in submissions(project, job_id)] == ["TIMEOUT", "COMPLETED"]
        started = [e for e in read_events(run / "events.jsonl") if e["type"] == "started"]
        assert len(started) == 2 and 1 <= started[1]["already"] < total
        scored = [r[0] for r in read_scored(run)]
        assert sorted(scored) == sorted(set(scored)) and len(scored) == total  # none scored twice
        rows = project.query("SELECT COUNT(*) FROM predictions WHERE job_id = ?", (job_id,))[0][0]
        assert rows == total
