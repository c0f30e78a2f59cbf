"""JobMonitor tails events.jsonl incrementally; the curves follow it, redrawn at a throttled rate."""

from __future__ import annotations

import json
import time

import pytest

from affgui.parts.experiments.curves import REDRAW_HZ, TrainingCurvesWidget
from affgui.parts.experiments.job_monitor import JobMonitor, JobTailer
from engine.experiments import create_experiment
from engine.jobs import JobQueue
from engine.runs import EventWriter
from engine.store import Project
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture
def project(tmp_path):
    path = make_project(tmp_path / "Study", patients=8, per_patient=1, aff_share=0.5, k=2)
    with Project.open(path) as p:
        create_experiment(p, "cnn", tiny_spec(path, epochs=3))
        yield p


@pytest.fixture
def monitor(qtbot, project):
    m = JobMonitor(interval_ms=60_000)  # the tests poll by hand
    yield m
    m.stop()


def poll(qtbot, monitor) -> dict:
    """One poll; returns ``run_id -> events`` it emitted (one sigEvents per run at most)."""
    got: dict[str, list] = {}

    def collect(run_id, events):
        assert run_id not in got, "two emissions for one run in one poll"
        got[run_id] = events

    monitor.sigEvents.connect(collect)
    try:
        with qtbot.waitSignal(monitor.sigJobs, timeout=10_000):
            monitor.poll_now()
    finally:
        monitor.sigEvents.disconnect(collect)
    return got


def metric(w: EventWriter, epoch: int, auc: float | None) -> None:
    w.emit("metric", epoch=epoch, train_loss=1.0 / epoch, val_loss=0.8 / epoch, val_auc=auc,
           val_bal_acc=0.5, lr=1e-3, epoch_seconds=1.0)


def test_monitor_reads_only_new_events_and_reports_progress(qtbot, project, monitor):
    queue = JobQueue(project)
    with qtbot.waitSignal(monitor.sigJobs, timeout=10_000) as first:
        monitor.set_project(project)
    rows = first.args[0]
    assert [(r.experiment, r.fold, r.state, r.progress, r.epochs) for r in rows] == [
        ("cnn", 0, "queued", 0.0, 3), ("cnn", 1, "queued", 0.0, 3)]
    job = queue.claim("w1")
    run_dir = project.runs_dir / job.run_id
    with EventWriter(run_dir / "events.jsonl") as w:
        w.emit("started", device="cpu")
        w.emit("progress", epoch=1, epochs=3, step=2, total=12, eta_s=50.0)
        metric(w, 1, 0.6)
    got = poll(qtbot, monitor)
    assert list(got) == [job.run_id]
    assert [e["seq"] for e in got[job.run_id]] == [1, 2, 3]
    row = monitor.job(job.id)
    assert (row.state, row.epoch, row.epochs, row.device) == ("running", 1, 3, "cpu")
    assert row.progress == pytest.approx(2 / 12)
    assert 40.0 < row.eta_s <= 50.0

    with EventWriter(run_dir / "events.jsonl") as w:
        w.emit("progress", epoch=2, epochs=3, step=8, total=12, eta_s=20.0)
        metric(w, 2, 0.7)
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"seq":6,"t":1.0,"type":"log","mes')  # a line still being written
    got = poll(qtbot, monitor)
    assert [e["seq"] for e in got[job.run_id]] == [4, 5]
    assert monitor.job(job.id).progress == pytest.approx(8 / 12)
    assert [m["epoch"] for m in monitor.metrics(job.run_id)] == [1, 2]

    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('sage":"done"}\n')
    assert [e["message"] for e in poll(qtbot, monitor)[job.run_id]] == ["done"]
    assert poll(qtbot, monitor) == {}  # nothing new: nothing emitted


def test_experiment_finished_is_announced_once_when_its_last_job_finishes(qtbot, project, monitor):
    queue = JobQueue(project)
    with qtbot.waitSignal(monitor.sigJobs, timeout=10_000):
        monitor.set_project(project)
    announced = []
    monitor.sigExperimentFinished.connect(announced.append)
    a, b = queue.claim("w1"), queue.claim("w2")
    queue.finish(a.id, "finished")
    poll(qtbot, monitor)
    assert announced == []
    with EventWriter(project.runs_dir / b.run_id / "events.jsonl") as w:
        w.emit("finished", best_epoch=1)
    queue.finish(b.id, "finished")
    got = poll(qtbot, monitor)
    assert [e["type"] for e in got[b.run_id]] == ["finished"]  # the final event comes with the state
    assert announced == ["cnn"]
    assert monitor.job(b.id).progress == 1.0
    explain = queue.submit("explain", {"experiment": "cnn", "method": "gradcam", "batch_size": 4})
    poll(qtbot, monitor)
    assert monitor.job(explain).experiment == "cnn"  # named from its spec
    queue.finish(queue.claim("w3").id, "finished")
    poll(qtbot, monitor)
    assert announced == ["cnn"]  # heatmaps made later do not finish the experiment again

    fresh = JobMonitor(interval_ms=60_000)  # a GUI opened after it finished: no announcement
    fresh.sigExperimentFinished.connect(announced.append)
    with qtbot.waitSignal(fresh.sigJobs, timeout=10_000):
        fresh.set_project(project)
    poll(qtbot, fresh)
    fresh.stop()
    assert announced == ["cnn"]


def test_tailer_follows_a_retried_run_again(project):
    queue = JobQueue(project)
    tailer = JobTailer(project.runs_dir)
    job = queue.claim("w1")
    path = project.runs_dir / job.run_id / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("failed", error="boom")
    queue.finish(job.id, "failed", "RuntimeError: boom")
    assert [e["type"] for e in tailer.poll(project).events[job.run_id]] == ["failed"]
    with EventWriter(path) as w:
        w.emit("log", message="written after the end")
    assert tailer.poll(project).events == {}  # a final run is not re-read every poll
    queue.retry(job.id)
    snap = tailer.poll(project)
    assert [e["message"] for e in snap.events[job.run_id]] == ["written after the end"]
    assert next(j for j in snap.jobs if j.id == job.id).error is None


def test_curves_show_selected_runs_and_redraw_at_a_limited_rate(qtbot, project, monitor):
    queue = JobQueue(project)
    with qtbot.waitSignal(monitor.sigJobs, timeout=10_000):
        monitor.set_project(project)
    job = queue.claim("w1")
    curves = TrainingCurvesWidget(monitor)
    qtbot.addWidget(curves)
    curves.show()
    path = project.runs_dir / job.run_id / "events.jsonl"
    with EventWriter(path) as w:
        metric(w, 1, 0.55)
        metric(w, 2, None)  # a one-class validation fold
    poll(qtbot, monitor)
    curves.set_runs([monitor.job(job.id)])
    qtbot.waitUntil(lambda: curves.redraws >= 1, timeout=5000)
    train, val, auc = curves._curves[job.run_id]
    assert list(train.getData()[0]) == [1.0, 2.0]
    assert list(train.getData()[1]) == [1.0, 0.5]
    assert auc.getData()[1][0] == pytest.approx(0.55)

    before = curves.redraws
    start = time.monotonic()
    with EventWriter(path) as w:
        for epoch in range(3, 40):  # a burst of epochs, one poll (and emission) each
            metric(w, epoch, 0.6)
            poll(qtbot, monitor)
    qtbot.wait(int(1000 / REDRAW_HZ) + 50)
    elapsed = time.monotonic() - start
    assert curves.redraws - before <= elapsed * REDRAW_HZ + 2
    assert list(train.getData()[0]) == [float(e) for e in range(1, 40)]
    assert json.loads(path.read_text().splitlines()[-1])["epoch"] == 39


def test_gui_thread_stays_free_while_a_run_streams_events(qtbot, project):
    """Events written as fast as a fast run writes them cost the GUI thread < 100 ms per callback.

    Measured as the GUI thread's own CPU time per callback (``time.thread_time``), which other
    load on the machine does not inflate.
    """
    import threading

    monitor = JobMonitor(interval_ms=50)
    curves = TrainingCurvesWidget(monitor)
    qtbot.addWidget(curves)
    curves.show()
    worst = {"poll": 0.0, "redraw": 0.0}

    def timed(name, fn):
        def wrapper(*args):
            t0 = time.thread_time()
            fn(*args)
            worst[name] = max(worst[name], time.thread_time() - t0)
        return wrapper

    monitor._on_poll = timed("poll", monitor._on_poll)
    curves._timer.timeout.disconnect()
    curves._timer.timeout.connect(timed("redraw", curves._redraw_if_stale))
    job = JobQueue(project).claim("w1")
    path = project.runs_dir / job.run_id / "events.jsonl"
    with qtbot.waitSignal(monitor.sigJobs, timeout=10_000):
        monitor.set_project(project)
    curves.set_runs([monitor.job(job.id)])
    epochs = 300

    def stream():
        with EventWriter(path) as w:
            for epoch in range(1, epochs + 1):
                for step in range(5):
                    w.emit("progress", epoch=epoch, epochs=epochs, step=5 * epoch + step,
                           total=5 * epochs, eta_s=1.0)
                metric(w, epoch, 0.5 + epoch / (4 * epochs))
                time.sleep(0.002)

    writer = threading.Thread(target=stream)
    writer.start()
    qtbot.waitUntil(lambda: not writer.is_alive(), timeout=60_000)
    writer.join()
    qtbot.waitUntil(lambda: len(monitor.metrics(job.run_id)) == epochs, timeout=20_000)
    qtbot.waitUntil(lambda: len(curves._curves[job.run_id][2].getData()[0]) == epochs, timeout=5000)
    monitor.stop()
    assert monitor.polls >= 2
    assert worst["poll"] < 0.1 and worst["redraw"] < 0.1, worst
