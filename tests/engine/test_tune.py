"""Equal-budget tuning on inner folds: a queued job tunes, is cancelled mid-tuning, resumes, trains."""

import json

import pytest

from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue, Worker
from engine.runs import read_events
from engine.store import Project
from engine.tune import budget_sentence, read_tuning
from tests.engine._train_factory import make_project, tiny_spec


def test_tuning_job_cancel_resume_and_retrain_with_chosen_values(tmp_path):
    path = make_project(tmp_path / "P", patients=16, per_patient=2, k=2)
    spec = tiny_spec(path, epochs=1, image_size=32, tune_trials=3, tune_inner_folds=2)
    with Project.open(path) as project:
        create_experiment(project, "tuned", spec, folds=[0])
        (job,) = experiment_jobs(project, "tuned")
        run_dir = project.runs_dir / job.run_id
    # stopped as soon as the second trial starts, as a cancelled job's worker stops it
    from engine.train import RunSpec
    from engine.tune import run_tuning

    started = []

    def progress(event):
        if event.get("trial") == 2 and "lr=" in event.get("message", ""):
            started.append(event)

    assert run_tuning(RunSpec.from_json(job.spec), run_dir, lambda: bool(started), progress) is None
    assert read_tuning(run_dir) is None and (run_dir / "tuning" / "journal.log").is_file()
    # the queued job resumes the tuning (trials 2 and 3 left), then trains on the outer fold
    Worker(path, device="cpu").run(exit_when_idle=True)
    with Project.open(path) as project:
        assert JobQueue(project).get(job.id).state == "finished"
    result = read_tuning(run_dir)
    assert result["trials"] == 3 and result["inner_folds"] == 2
    assert result["completed"] + result["pruned"] == 3 and result["budget"] == budget_sentence(3, 2)
    assert result["budget"] == "each model: 3 trials x 2 inner folds"
    chosen = result["chosen"]
    assert spec.lr / 10 <= chosen["lr"] <= spec.lr * 10 and 0 <= chosen["augment"] <= 0.6
    config = json.loads((run_dir / "config.json").read_text())
    assert config["spec"]["lr"] == pytest.approx(chosen["lr"])  # retrained with the chosen values
    assert config["spec"]["weight_decay"] == pytest.approx(chosen["weight_decay"])
    events = read_events(run_dir / "events.jsonl")
    trials = sorted({e["trial"] for e in events if "trial" in e})
    assert trials == [1, 2, 3]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "finished"


def test_tuning_spec_fields_are_checked(tmp_path):
    with pytest.raises(ValueError, match="tune_inner_folds"):
        tiny_spec(tmp_path, tune_trials=2, tune_inner_folds=1)
