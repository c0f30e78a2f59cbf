"""End to end in the window: a CNN-vs-ViT study from the dialog to ROC curves and heatmaps.

A phantom-free tiny project (the engine tests' factory) and tiny models on the CPU; a real
worker process started by the GUI does all the computing. Along the way the window is
closed while a job runs and opened again, and a job is cancelled from the queue.
"""

from __future__ import annotations

import socket

import pytest
from PySide6.QtCore import Qt

from engine.experiments import list_experiments
from engine.jobs import JobQueue, kill_process_tree
from engine.store import Project
from tests.affgui.conftest import open_in
from tests.engine._train_factory import make_project

CNN, VIT = "resnet10t", "vit_tiny_patch16_224"


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # one CPU worker, also on a GPU machine
    path = make_project(tmp_path / "Study", patients=12, per_patient=1, aff_share=0.5, k=2)
    yield path
    # Whatever happened, no worker of this project outlives the test.
    with Project.open(path) as p:
        pids = [r[0] for r in p.query("SELECT pid FROM workers WHERE host = ?", (socket.gethostname(),))]
    for pid in pids:
        kill_process_tree(pid)


def new_window(qtbot):
    from affgui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.experiments_panel.monitor._timer.setInterval(200)
    return win


def queue_from_dialog(qtbot, win, models, epochs, prefix=""):
    panel = win.experiments_panel
    panel.dialog_kwargs = {"weights_probe": None}  # from scratch: no weights needed
    dialog = panel.new_experiment()
    qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=20_000)
    dialog.set_models(models, "scratch")
    dialog.prefix.setText(prefix)
    dialog.epochs.setValue(epochs)
    dialog.image_size.setValue(32)
    dialog.batch_size.setValue(8)
    dialog.lr.setValue(1e-3)
    with qtbot.waitSignal(dialog.sigCreated, timeout=30_000) as created:
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    return created.args[0]


def jobs_by_state(win) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in win.experiments_panel.monitor.jobs:
        counts[job.state] = counts.get(job.state, 0) + 1
    return counts


def test_study_from_dialog_to_roc_curves_and_heatmaps(qtbot, study):
    win = new_window(qtbot)
    open_in(qtbot, win, study)
    names = queue_from_dialog(qtbot, win, [CNN, VIT], epochs=2)
    assert names == ["resnet10t-scratch", "vit_tiny-scratch"]
    panel = win.experiments_panel
    assert panel.dock.isVisible()  # queueing shows the queue
    qtbot.waitUntil(lambda: panel.queue.model.rowCount() == 4, timeout=10_000)

    # The GUI started a worker; events of the first run arrive while it trains.
    events = []
    panel.monitor.sigEvents.connect(lambda run_id, evs: events.extend(evs))
    qtbot.waitUntil(lambda: any(e["type"] == "progress" for e in events), timeout=120_000)
    qtbot.waitUntil(lambda: panel.workers.label.text().startswith("Workers: 1 running"), timeout=30_000)

    # Close the window while a job runs: the worker goes on; a new window picks it up.
    win.close()
    win2 = new_window(qtbot)
    open_in(qtbot, win2, study)
    panel2 = win2.experiments_panel
    qtbot.waitUntil(lambda: panel2.workers.label.text().startswith("Workers: 1 running"), timeout=30_000)
    finished = []
    panel2.monitor.sigExperimentFinished.connect(finished.append)
    qtbot.waitUntil(lambda: jobs_by_state(win2).get("finished") == 4, timeout=300_000)
    panel2.queue.select_jobs([panel2.monitor.jobs[-1].id])  # its curves: two epochs
    qtbot.waitUntil(lambda: len(panel2.curves.points(panel2.monitor.jobs[-1].run_id)["epoch"]) == 2,
                    timeout=10_000)

    # Results: both pooled out-of-fold ROC curves and the comparison row.
    results = win2.results
    results.dock.show()
    qtbot.waitUntil(lambda: results.page.picker.count() == 2, timeout=20_000)
    with qtbot.waitSignal(results.sigResultsShown, timeout=60_000,
                          check_params_cb=lambda data: len(data.results) == 2) as shown:
        results.page.set_checked(names)
    data = shown.args[0]
    assert sorted(results.page.roc_plot.curves) == sorted(names)
    assert len(data.comparison) >= 1 and results.page.comparison_view.model().rowCount() >= 1
    assert results.page.cost_view.model().rowCount() == 2

    # Heatmaps: none yet; Compute queues the explain jobs, the worker makes the maps.
    win2.grid.select_row(0)
    win2.heatmaps.action.trigger()
    widget = win2.heatmaps.widget
    qtbot.waitUntil(lambda: len(widget.panes) == 2, timeout=20_000)
    assert sorted(widget.experiments()) == sorted(names)
    for pane in widget.panes:
        qtbot.waitUntil(lambda pane=pane: pane.compute_button.isVisible(), timeout=20_000)
        qtbot.mouseClick(pane.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(p.maps is not None and p.image_item.image is not None
                                for p in widget.panes), timeout=300_000)

    # A long job, cancelled from the queue while it runs.
    long_job = queue_from_dialog(qtbot, win2, [CNN], epochs=500, prefix="long-")
    assert long_job == ["long-resnet10t-scratch"]
    with Project.open(study) as p:
        exp_id = next(e.id for e in list_experiments(p) if e.name == long_job[0])
        job_ids = [j.id for j in JobQueue(p).list(experiment_id=exp_id)]
    qtbot.waitUntil(lambda: any(j.id in job_ids and j.state == "running" for j in panel2.monitor.jobs),
                    timeout=120_000)
    panel2.queue.select_jobs(job_ids)
    panel2.queue.job_actions["cancel"].trigger()
    qtbot.waitUntil(lambda: all(j.state == "cancelled" for j in panel2.monitor.jobs if j.id in job_ids),
                    timeout=60_000)
    with Project.open(study) as p:
        assert {JobQueue(p).get(i).state for i in job_ids} == {"cancelled"}

    panel2.workers.stop()  # the second window stops the worker the first one started
    assert panel.workers.wait(60), "the worker did not stop"
