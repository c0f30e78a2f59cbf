"""Tuning jobs and repeated-CV runs on the REAL local Slurm cluster (see _slurm_cluster), like
test_slurm_cluster's: a tuned run of repeat 1 equals the same run by a local worker (chosen values
and predictions); a tuning job is cancelled mid-tuning through scancel; one killed at its time
limit mid-tuning is submitted again and resumes its Optuna journal (no trial is run twice); that
job is started with the session's other time-limit jobs (see _slurm_fixtures). Run with
``flock /tmp/slurm.lock python -m pytest tests/engine/test_slurm_tuning_repeats.py``."""

from __future__ import annotations

import numpy as np
import pytest

from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue, Worker, cancel_job
from engine.runs import read_events
from engine.slurm import ClusterSettings, slurm_log, submissions, sync
from engine.splits import create_split
from engine.store import Project
from engine.train import read_predictions
from engine.tune import read_tuning
from tests.engine._slurm_fixtures import TUNED, _sync_until, _trial_starts, _wait_for, timed_out
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture(scope="module")
def project_path(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("slurmtune") / "study", patients=16, k=2)
    with Project.open(path) as project:
        create_split(project, "cv", k=2, seed=0, repeats=2)
    ClusterSettings(partition="debug", cpus=1, mem="500M", time="10", signal_grace_s=0).save(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _time_limit_jobs_first(time_limit_jobs):
    """Start every time-limit job of the session (if no earlier Slurm module did; see _slurm_fixtures)."""


@pytest.fixture
def timed_out_start(time_limit_jobs):
    """The job of test_time_limit_kill_mid_tuning_then_resume: 4 trials, submitted with a one-minute
    limit in its own project, paused after its second trial started, its limit set back to ten
    minutes (see _slurm_fixtures)."""
    return timed_out(time_limit_jobs, "tuning")


def test_tuned_repeat_run_on_slurm_equals_the_local_run(cluster, project_path):
    with Project.open(project_path) as project:
        spec = tiny_spec(project.path, **TUNED)
        create_experiment(project, "tuned-slurm", spec, repeats=[1], folds=[0], backend="slurm")
        create_experiment(project, "tuned-here", spec, repeats=[1], folds=[0])
        (job,) = experiment_jobs(project, "tuned-slurm")
        assert job.label == "r1f0s0" and job.kind == "train"
        assert sync(project).submitted == [job.id]
        final = _sync_until(project, [job.id], ("finished", "failed"), cluster, timeout_s=400)
        assert final == {job.id: "finished"}, slurm_log(project, job.id)
        there = project.runs_dir / job.run_id
    Worker(project_path, device="cpu").run(exit_when_idle=True)
    with Project.open(project_path) as project:
        (local,) = experiment_jobs(project, "tuned-here")
        assert local.state == "finished"
        here = project.runs_dir / local.run_id
    a, b = read_tuning(there), read_tuning(here)
    assert a["trials"] == b["trials"] == 2 and a["chosen"] == pytest.approx(b["chosen"])
    p, q = read_predictions(there / "predictions.csv"), read_predictions(here / "predictions.csv")
    assert np.array_equal(p["image_id"], q["image_id"])
    assert np.allclose(p["probability"], q["probability"], atol=1e-6)


def test_a_tuning_job_cancels_through_scancel(cluster, project_path):
    with Project.open(project_path) as project:
        spec = tiny_spec(project.path, **{**TUNED, "tune_trials": 200, "epochs": 3})
        create_experiment(project, "tune-cancel", spec, repeats=[0], folds=[1], backend="slurm")
        (job,) = experiment_jobs(project, "tune-cancel")
        _sync_until(project, [job.id], ("running",), cluster)
        run = project.runs_dir / job.run_id
        _wait_for(lambda: len(_trial_starts(run)) >= 1, 180, "no tuning trial started")
        assert cancel_job(project, job.id) == "running"
        assert _sync_until(project, [job.id], ("cancelled", "failed"), cluster, 90) == {job.id: "cancelled"}
        assert submissions(project, job.id)[-1].state == "CANCELLED"
        types = [e["type"] for e in read_events(run / "events.jsonl")]
        assert "finished" not in types  # scancel (no grace) stops it mid-trial
        assert read_tuning(run) is None and (run / "tuning" / "journal.log").is_file()


def test_time_limit_kill_mid_tuning_then_resume(cluster, timed_out_start):
    path, job_id, run = timed_out_start  # submitted, paused and its limit set back to ten minutes
    with Project.open(path) as project:
        job = JobQueue(project).get(job_id)
        final = _sync_until(project, [job.id], ("finished", "failed"), cluster, timeout_s=400)
        assert final == {job.id: "finished"}, slurm_log(project, job.id, every=True)
        assert [s.state for s in submissions(project, job.id)] == ["TIMEOUT", "COMPLETED"]
        assert JobQueue(project).get(job.id).attempts == 2
    result = read_tuning(run)
    assert result["trials"] == 4 and result["completed"] + result["pruned"] == 4
    events = read_events(run / "events.jsonl")
    assert sorted({e["trial"] for e in events if "trial" in e}) == [1, 2, 3, 4]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "finished"
