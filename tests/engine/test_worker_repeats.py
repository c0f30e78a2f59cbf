"""A repeated-CV run (repeat 1, seed 1) trains on its repeat's fold, survives a killed worker, cancels."""

import json
import os
import signal
import time

from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue
from engine.runs import read_events
from engine.splits import create_split
from engine.store import Project
from tests.engine._train_factory import make_project, tiny_spec
from tests.engine.test_worker_training import _log, _wait, _worker


def test_repeat_run_is_resumed_after_a_kill_and_predicts_its_repeats_fold(tmp_path):
    path = make_project(tmp_path / "Study", patients=16, per_patient=2, k=2)
    with Project.open(path) as project:
        split = create_split(project, "cv", k=2, seed=0, repeats=2)
        create_experiment(project, "rep", tiny_spec(path, split="cv", epochs=3, progress_every=1, seed=1),
                          repeats=[1], folds=[0])
        create_experiment(project, "later", tiny_spec(path, split="cv", seed=0), repeats=2)
        (job,) = experiment_jobs(project, "rep")
        later = experiment_jobs(project, "later")
        assert job.label == "r1f0s1" and [j.label for j in later] == ["r0f0s0", "r0f1s0", "r1f0s0", "r1f1s0"]
        JobQueue(project).request_cancel(later[2].id)  # a queued repeated run cancels at once
        assert JobQueue(project).get(later[2].id).state == "cancelled"
        for j in later:
            JobQueue(project).set_priority(j.id, -1)
        run_dir = project.runs_dir / job.run_id
    w = _worker(path)
    _wait(lambda: (run_dir / "checkpoints" / "last.pt").exists(), what="the first checkpoint")
    os.killpg(w.pid, signal.SIGKILL)
    w.wait(30)
    time.sleep(2.5)
    with Project.open(path) as project:
        for j in later:  # only the resumed run is left to do
            if j.state != "cancelled":
                JobQueue(project).request_cancel(j.id)
    w2 = _worker(path, "--exit-when-idle")  # a dead worker on this host is reaped at once
    assert w2.wait(600) == 0, _log(w2)
    with Project.open(path) as project:
        done = JobQueue(project).get(job.id)
        assert (done.state, done.attempts) == ("finished", 2)
    events = read_events(run_dir / "events.jsonl")
    started = [e for e in events if e["type"] == "started"]
    assert len(started) == 2 and {e["run"] for e in started} == {"r1f0s1"}
    assert started[0]["spec"]["repeat"] == 1 and started[0]["spec"]["seed"] == 1
    import csv

    with open(run_dir / "predictions.csv", newline="") as fh:
        predicted = sorted(int(r["image_id"]) for r in csv.DictReader(fh))
    _, val = split.train_val(0, repeat=1)
    assert predicted == sorted(val.tolist())
    assert predicted != sorted(split.train_val(0, repeat=0)[1].tolist())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["spec"]["repeat"] == 1
