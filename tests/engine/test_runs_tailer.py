"""engine.runs.JobTailer: progress and ETA from a run's events, the same for the GUI and the CLI."""

from __future__ import annotations

import json
import time

import pytest

from engine.cli import main
from engine.experiments import create_experiment
from engine.jobs import JobQueue, JobTailer, format_eta
from engine.jobs._tailer import _eta
from engine.store import Project
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture
def project(tmp_path):
    path = make_project(tmp_path / "Study", patients=8, per_patient=1, aff_share=0.5, k=2)
    with Project.open(path) as p:
        create_experiment(p, "cnn", tiny_spec(path, epochs=3))
        yield p


def _append(path, *events: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")


def test_one_eta_wording_for_the_gui_and_a_compact_one_for_jobs_list():
    seconds = (None, 4.4, 75, 3725)
    assert [format_eta(s) for s in seconds] == ["", "4 s", "1 min 15 s", "1 h 02 min"]
    assert [format_eta(s, compact=True) for s in seconds] == ["", "4s", "1m15s", "1h02m"]


def test_eta_counts_down_and_is_unknown_once_run_out():
    assert _eta(50.0, 1000.0, now=1010.0) == pytest.approx(40.0)
    assert _eta(50.0, 1000.0, now=1100.0) is None  # overdue: unknown, never "0 s"
    assert _eta("soon", 1000.0, now=1001.0) is None
    assert _eta(None, 1000.0, now=1001.0) is None
    # an event stamped a little after "now" (rounded times, a clock stepped back) adds nothing
    assert _eta(50.0, 1000.0, now=999.9) == 50.0


def test_reopened_project_shows_eta_from_events_not_zero(project):
    job = JobQueue(project).claim("w1")
    path = project.runs_dir / job.run_id / "events.jsonl"
    now = time.time()
    _append(path, {"seq": 1, "t": now - 30, "type": "started", "device": "cpu"},
            {"seq": 2, "t": now - 20, "type": "progress", "epoch": 1, "epochs": 3, "step": 3,
             "total": 12, "eta_s": 60.0})
    row = next(j for j in JobTailer(project.runs_dir).poll(project).jobs if j.id == job.id)
    assert row.progress == pytest.approx(0.25)
    assert 39.0 < row.eta_s <= 40.5  # 60 s at the event, 20 s ago
    _append(path, {"seq": 3, "t": now - 200, "type": "progress", "epoch": 1, "epochs": 3, "step": 4,
                   "total": 12, "eta_s": 60.0})
    row = next(j for j in JobTailer(project.runs_dir).poll(project).jobs if j.id == job.id)
    assert row.eta_s is None


def test_jobs_list_shows_progress_and_eta(project, capsys):
    job = JobQueue(project).claim("w1")
    path = project.runs_dir / job.run_id / "events.jsonl"
    _append(path, {"seq": 1, "t": time.time(), "type": "progress", "epoch": 2, "epochs": 3,
                   "step": 6, "total": 12, "eta_s": 125.0})
    assert main(["jobs", "list", str(project.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "done" in lines[0] and "eta" in lines[0]
    mine = next(ln for ln in lines[1:] if ln.split()[0] == str(job.id))
    assert " 50% " in mine and ("2m05s" in mine or "2m04s" in mine)
    other = next(ln for ln in lines[1:] if ln.split()[0] != str(job.id))
    assert "queued" in other and " 0% " in other


def test_job_titles_never_say_none(project):
    queue = JobQueue(project)
    spec = json.loads(project.query("SELECT spec FROM jobs ORDER BY id LIMIT 1")[0]["spec"])
    spec.update(repeat=2, seed=7)
    with project.transaction() as conn:
        conn.execute("UPDATE jobs SET spec = ? WHERE id = 1", (json.dumps(spec),))
        conn.execute("UPDATE jobs SET fold = NULL, kind = 'explain' WHERE id = 2")
    rows = {r.id: r for r in JobTailer(project.runs_dir).poll(project).jobs}
    assert rows[1].title == "cnn r2f0s7"
    assert rows[2].title == "cnn explain" and rows[2].label == ""
    assert all("None" not in r.title for r in rows.values())
    assert queue.get(1).fold == 0
