"""Lines of events.jsonl that parse as JSON but lack what an event carries never stop the queue view."""

from __future__ import annotations

import json

import pytest

from affgui.parts.experiments.curves import TrainingCurvesWidget
from affgui.parts.experiments.job_monitor import JobTailer
from engine.jobs import JobQueue
from engine.runs import EventWriter
from tests.affgui.test_experiments_monitor import metric, monitor, poll, project  # noqa: F401


def _append(path, *events: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")


def test_tailer_skips_events_without_a_type_and_keeps_following(project):  # noqa: F811
    job = JobQueue(project).claim("w1")
    path = project.runs_dir / job.run_id / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("started", device="cpu")
    _append(path, {"seq": 2, "t": 1.0}, {"seq": 3, "t": 1.0, "type": "progress", "epoch": 1,
                                          "step": None, "total": 12, "eta_s": "soon"})
    tailer = JobTailer(project.runs_dir)
    snap = tailer.poll(project)
    row = next(j for j in snap.jobs if j.id == job.id)
    assert (row.state, row.progress, row.eta_s, row.device) == ("running", 0.0, None, "cpu")
    with EventWriter(path) as w:
        w.emit("progress", epoch=1, epochs=3, step=6, total=12, eta_s=10.0)
    snap = tailer.poll(project)
    assert [e["seq"] for e in snap.events[job.run_id]] == [4]  # the run is still followed
    assert next(j for j in snap.jobs if j.id == job.id).progress == pytest.approx(0.5)


def test_curves_skip_a_metric_without_an_epoch(qtbot, project, monitor):  # noqa: F811
    with qtbot.waitSignal(monitor.sigJobs, timeout=10_000):
        monitor.set_project(project)
    job = JobQueue(project).claim("w1")
    curves = TrainingCurvesWidget(monitor)
    qtbot.addWidget(curves)
    path = project.runs_dir / job.run_id / "events.jsonl"
    with EventWriter(path) as w:
        metric(w, 1, 0.6)
    _append(path, {"seq": 2, "t": 1.0, "type": "metric", "train_loss": 0.5},
            {"seq": 3, "t": 1.0, "type": "metric", "epoch": 2, "train_loss": "n/a", "val_auc": 0.7})
    poll(qtbot, monitor)
    curves.set_runs([monitor.job(job.id)])
    qtbot.waitUntil(lambda: curves.redraws >= 1, timeout=5000)
    points = curves.points(job.run_id)
    assert points["epoch"] == [1.0, 2.0]
    assert points["val_auc"] == pytest.approx([0.6, 0.7])
    assert points["train_loss"][0] == 1.0 and points["train_loss"][1] != points["train_loss"][1]  # NaN
