"""Experiments run by real worker processes: spread over workers, killed, resumed, cancelled."""

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.cli import main
from engine.experiments import create_experiment
from engine.jobs import JobQueue, cancel_job
from engine.runs import read_events
from engine.store import Project
from tests.engine._results_factory import pooled_prediction_rows
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture
def project_path(tmp_path):
    return make_project(tmp_path / "Study", patients=16, per_patient=2, k=2)


def _worker(path, *extra):
    """A worker process; its output goes to a log file beside the project (``_log(proc)``)."""
    log = path.parent / f"worker-{time.monotonic_ns()}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "worker", str(path), "--device", "cpu",
                                 *extra], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    return proc


def _log(proc):
    return proc.log.read_text(errors="replace")[-3000:]


def _wait(predicate, timeout=180, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_experiment_cli_and_foreground_run_cover_every_image_once(project_path, capsys):
    assert main(["experiment", "create", str(project_path), "--name", "cnn", "--model", "resnet10t",
                 "--no-pretrained", "--epochs", "1", "--batch-size", "8", "--image-size", "64",
                 "--device", "cpu", "--num-threads", "2"]) == 0
    assert "2 job(s) queued" in capsys.readouterr().out
    assert main(["experiment", "create", str(project_path), "--name", "cnn", "--model",
                 "resnet10t", "--no-pretrained"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["experiment", "create", str(project_path), "--name", "x", "--model", "resnet5"]) == 2
    assert "did you mean resnet50" in capsys.readouterr().err

    assert main(["run", str(project_path), "cnn", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count(": finished") == 2
    with Project.open(project_path) as project:
        rows = pooled_prediction_rows(project, "cnn")
        labelled = set(project.labels.all())
        assert sorted(int(r["image_id"]) for r in rows) == sorted(labelled)
        assert {r["fold"] for r in rows} == {"0", "1"}


def test_two_workers_share_the_queue(project_path):
    with Project.open(project_path) as project:
        create_experiment(project, "a", tiny_spec(project_path, epochs=1))
        create_experiment(project, "b", tiny_spec(project_path, "vit_tiny_patch16_224", epochs=1))
    workers = [_worker(project_path, "--exit-when-idle") for _ in range(2)]
    for w in workers:
        assert w.wait(600) == 0, _log(w)
    with Project.open(project_path) as project:
        jobs = JobQueue(project).list()
        assert [j.state for j in jobs] == ["finished"] * 4
        assert all(j.attempts == 1 for j in jobs)  # no job ran twice
        assert len({j.worker for j in jobs}) == 2   # both workers took part


def test_killed_worker_leaves_job_interrupted_and_next_worker_resumes_it(project_path):
    with Project.open(project_path) as project:
        create_experiment(project, "k", tiny_spec(project_path, epochs=3, progress_every=1), folds=[0])
        job = JobQueue(project).list()[0]
        run_dir = project.runs_dir / job.run_id
    w = _worker(project_path)
    _wait(lambda: (run_dir / "checkpoints" / "last.pt").exists(), what="the first checkpoint")
    os.killpg(w.pid, signal.SIGKILL)
    w.wait(30)
    with Project.open(project_path) as project:
        assert JobQueue(project).get(job.id).state == "running"  # nobody has noticed yet
    # no waiting for --stale-after (at least 3 heartbeats, 15 s): the next worker sees that the
    # dead worker's process on this host is gone, marks it dead and resumes its job at once
    w2 = _worker(project_path, "--exit-when-idle")
    assert w2.wait(600) == 0, _log(w2)
    with Project.open(project_path) as project:
        done = JobQueue(project).get(job.id)
        assert (done.state, done.attempts) == ("finished", 2)
    events = read_events(run_dir / "events.jsonl")
    epochs = [e["epoch"] for e in events if e["type"] == "metric"]
    assert epochs[-1] == 3 and len(set(epochs)) == 3
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "started" for e in events) == 2


def test_cancel_kills_a_worker_that_does_not_stop(project_path):
    with Project.open(project_path) as project:
        create_experiment(project, "c", tiny_spec(project_path, epochs=50, progress_every=1), folds=[0])
        job = JobQueue(project).list()[0]
    w = _worker(project_path)
    with Project.open(project_path) as project:
        q = JobQueue(project)
        _wait(lambda: q.get(job.id).state == "running", what="the job to start")
        os.killpg(w.pid, signal.SIGSTOP)  # a hung worker: it can neither poll nor heartbeat
        assert cancel_job(project, job.id, grace_s=1.0) == "cancelled"
        assert "killed after not stopping" in q.get(job.id).error
    assert w.wait(30) == -signal.SIGKILL
