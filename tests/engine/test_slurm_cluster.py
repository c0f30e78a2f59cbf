"""The Slurm backend against a REAL single-node Slurm cluster started on localhost (see _slurm_cluster).

A tiny 2-fold experiment runs through ``sbatch`` and its predictions equal the same experiment
run by a local worker; a cancel maps to ``scancel``; a job killed at its time limit is
submitted again and resumes from its checkpoint. Run with
``flock /tmp/slurm.lock python -m pytest tests/engine/test_slurm_cluster.py``.

The session's one cluster and its three time-limit jobs come from _slurm_fixtures (via
conftest.py); this module's first test starts all three, so their one-minute clocks run
while the other tests do.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue, Worker, cancel_job
from engine.runs import read_events
from engine.slurm import ClusterSettings, slurm_log, submissions, sync
from engine.store import Project
from engine.train import read_predictions
from tests.engine._slurm_fixtures import _sync_until, _wait_for, timed_out
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture(scope="module")
def project_path(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("slurmproj") / "study", patients=16, k=2)
    ClusterSettings(partition="debug", cpus=1, mem="500M", time="10", signal_grace_s=0).save(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _time_limit_jobs_first(time_limit_jobs):
    """Start every time-limit job of the session before this module's first test (see _slurm_fixtures)."""


@pytest.fixture
def timed_out_start(time_limit_jobs):
    """The job of test_time_limit_kill_then_resume: submitted with a one-minute limit, paused after
    its first checkpoint in its own project, its limit set back to ten minutes (see _slurm_fixtures)."""
    return timed_out(time_limit_jobs, "train")


def test_experiment_on_slurm_equals_local_run(cluster, project_path):
    with Project.open(project_path) as project:
        spec = tiny_spec(project.path)
        create_experiment(project, "on-slurm", spec, backend="slurm")
        create_experiment(project, "here", spec)
        jobs = [j.id for j in experiment_jobs(project, "on-slurm")]
        assert len(jobs) == 2 and sync(project).submitted == jobs
        final = _sync_until(project, jobs, ("finished", "failed"), cluster)
        assert final == {j: "finished" for j in jobs}, [slurm_log(project, j) for j in jobs]
        slurm_runs = {j.fold: project.runs_dir / j.run_id for j in experiment_jobs(project, "on-slurm")}
        subs = [submissions(project, j) for j in jobs]
        assert [len(s) for s in subs] == [1, 1] and all(s[0].state == "COMPLETED" for s in subs)
    Worker(project_path, device="cpu").run(exit_when_idle=True)  # the same experiment, locally
    with Project.open(project_path) as project:
        local = experiment_jobs(project, "here")
        assert [j.state for j in local] == ["finished", "finished"]
        for job in local:
            here = read_predictions(project.runs_dir / job.run_id / "predictions.csv")
            there = read_predictions(slurm_runs[job.fold] / "predictions.csv")
            assert np.array_equal(here["image_id"], there["image_id"])
            assert np.array_equal(here["probability"], there["probability"])
        # the node trained from the project snapshot in its run folder, never the live database
        run = slurm_runs[0]
        config = json.loads((run / "config.json").read_text())
        assert config["spec"]["project"] == str(run / "slurm" / "project.affproj")
        assert not (run / "slurm" / "project.affproj").exists()  # dropped once finished
        assert "#SBATCH --partition=debug" in (run / "slurm" / "job.sbatch").read_text()
        assert "affwb: finished" in slurm_log(project, jobs[0])


def test_cancel_maps_to_scancel(cluster, project_path):
    with Project.open(project_path) as project:
        create_experiment(project, "to-cancel", tiny_spec(project.path, epochs=400), folds=[0],
                          backend="slurm")
        job = experiment_jobs(project, "to-cancel")[0]
        _sync_until(project, [job.id], ("running",), cluster)
        run = project.runs_dir / job.run_id
        _wait_for(lambda: any(e["type"] == "progress" for e in read_events(run / "events.jsonl"))
                  if (run / "events.jsonl").exists() else False, 120, "no training progress")
        assert cancel_job(project, job.id) == "running"  # flagged and scancelled; sync sees the end
        assert _sync_until(project, [job.id], ("cancelled", "failed"), cluster, 60) == {job.id: "cancelled"}
        assert submissions(project, job.id)[-1].state == "CANCELLED"
        types = [e["type"] for e in read_events(run / "events.jsonl")]
        assert "cancelled" in types and "finished" not in types  # stopped at a step, checkpoint written
        assert (run / "checkpoints" / "last.pt").exists()


def test_failed_job_keeps_its_error_and_slurm_log(cluster, project_path, capsys, monkeypatch):
    from engine.slurm import _backend

    monkeypatch.setattr(_backend, "STATUS_WAIT_S", 3.0)  # local disk: no NFS delay to wait out
    good = ClusterSettings.load(project_path)
    good.replace(setup="echo 'cluster set-up broke: no module cuda/99' >&2; exit 3").save(project_path)
    with Project.open(project_path) as project:
        create_experiment(project, "broken", tiny_spec(project.path), folds=[0])  # for local workers
        job = experiment_jobs(project, "broken")[0]
    try:
        assert main(["slurm", "submit", str(project_path), "broken"]) == 0  # moved to Slurm, submitted
        assert f"job {job.id}: submitted as Slurm job" in capsys.readouterr().out
        with Project.open(project_path) as project:
            assert JobQueue(project).get(job.id).backend == "slurm"
            assert _sync_until(project, [job.id], ("failed", "finished"), cluster, 120) == {job.id: "failed"}
            error = JobQueue(project).get(job.id).error
            assert "ended FAILED without a result" in error and "no module cuda/99" in error
    finally:
        good.save(project_path)
    assert main(["slurm", "log", str(project_path), str(job.id)]) == 0
    out = capsys.readouterr().out
    assert "==> submission 1: Slurm job" in out and "cluster set-up broke" in out


def test_time_limit_kill_then_resume(cluster, timed_out_start):
    path, job_id, run = timed_out_start  # submitted, paused and its limit set back to ten minutes
    with Project.open(path) as project:
        job = JobQueue(project).get(job_id)
        final = _sync_until(project, [job.id], ("finished", "failed"), cluster, timeout_s=300)
        assert final == {job.id: "finished"}, slurm_log(project, job.id, every=True)
        subs = submissions(project, job.id)
        assert [s.state for s in subs] == ["TIMEOUT", "COMPLETED"]
        assert JobQueue(project).get(job.id).attempts == 2
        events = read_events(run / "events.jsonl")
        started = [e for e in events if e["type"] == "started"]
        assert len(started) == 2 and started[1]["resumed_epoch"] >= 1
        assert any("resumed from" in e.get("message", "") for e in events)
        assert len(read_predictions(run / "predictions.csv")["probability"]) == started[1]["val_images"]
