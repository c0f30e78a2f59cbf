"""The Experiments dock in the main window: queue rows, cancel/retry/priority in the DB, the log."""

from __future__ import annotations

from dataclasses import replace

import pytest

from affgui.parts.experiments.job_queue import COLUMNS, format_eta
from engine.experiments import create_experiment
from engine.jobs import JobQueue
from engine.runs import EventWriter
from engine.store import Project
from tests.affgui.conftest import open_in
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture
def study(tmp_path):
    path = make_project(tmp_path / "Study", patients=8, per_patient=1, aff_share=0.5, k=2)
    with Project.open(path) as p:
        create_experiment(p, "cnn", tiny_spec(path, epochs=1))
    return path


@pytest.fixture
def panel(qtbot, window, study):
    controller = window.experiments_panel  # installed by the main window
    controller.dialog_kwargs = {"weights_probe": None}
    controller.monitor._timer.setInterval(100)
    open_in(qtbot, window, study)
    qtbot.waitUntil(lambda: controller.queue.model.rowCount() == 2, timeout=10_000)
    return controller


def db_job(window, job_id):
    return JobQueue(window.project).get(job_id)


def cell(model, row: int, column: str):
    return model.index(row, COLUMNS.index(column)).data()


def test_install_adds_dock_menu_and_status(qtbot, window, panel):
    assert panel.dock.objectName() == "experimentsDock"
    assert panel.dock.isHidden()  # until asked for: the labelling view keeps the window
    panel.dock.toggleViewAction().trigger()
    assert panel.dock.isVisible()
    assert window.findChild(type(panel.dock), "experimentsDock") is panel.dock
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("E&xperiments") == titles.index("&Help") - 1
    assert panel.new_action.shortcut().toString() == "Ctrl+E"
    assert panel.new_action.isEnabled()
    qtbot.waitUntil(lambda: panel.workers.label.text() == "Workers: none", timeout=5000)
    model = panel.queue.model
    assert [cell(model, r, "Experiment") for r in range(2)] == ["cnn", "cnn"]
    assert [cell(model, r, "State") for r in range(2)] == ["queued", "queued"]
    assert cell(model, 0, "Progress") == "0%"
    dialog = panel.new_experiment()
    qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=10_000)
    assert dialog.isVisible() and dialog.splits.current_split() == "default"
    dialog.reject()
    panel.queue.select_jobs([panel.queue.model.jobs[0].id])
    assert [j.run_id for j in panel.curves.runs] == [panel.queue.model.jobs[0].run_id]
    window.close_project()
    assert not panel.new_action.isEnabled()
    assert panel.curves.runs == []  # no curves of a closed project
    assert panel.queue.model.rowCount() == 0 and panel.workers.label.text() == ""


def test_cancel_retry_and_priority_change_the_database(qtbot, window, panel):
    queue = panel.queue
    first, second = (j.id for j in queue.model.jobs)
    queue.select_jobs([first])
    assert queue.job_actions["cancel"].isEnabled() and not queue.job_actions["retry"].isEnabled()
    queue.job_actions["cancel"].trigger()
    qtbot.waitUntil(lambda: db_job(window, first).state == "cancelled", timeout=10_000)
    qtbot.waitUntil(lambda: cell(queue.model, 0, "State") == "cancelled", timeout=10_000)
    assert queue.selected_jobs()[0].id == first  # the selection survives the refresh
    qtbot.waitUntil(lambda: queue.job_actions["retry"].isEnabled(), timeout=5000)
    queue.job_actions["retry"].trigger()
    qtbot.waitUntil(lambda: db_job(window, first).state == "queued", timeout=10_000)

    queue.select_jobs([first, second])
    queue.job_actions["up"].trigger()
    qtbot.waitUntil(lambda: db_job(window, second).priority == 1, timeout=10_000)
    assert db_job(window, first).priority == 1
    queue.select_jobs([second])
    queue.job_actions["down"].trigger()
    qtbot.waitUntil(lambda: db_job(window, second).priority == 0, timeout=10_000)
    qtbot.waitUntil(lambda: cell(queue.model, 1, "Priority") == 0, timeout=10_000)
    assert db_job(window, first).priority == 1


def test_running_job_row_and_its_log(qtbot, window, panel):
    queue = panel.queue
    job = JobQueue(window.project).claim("w1")
    run_dir = window.project.runs_dir / job.run_id
    with EventWriter(run_dir / "events.jsonl") as w:
        w.emit("started", device="cpu")
        w.emit("progress", epoch=1, epochs=1, step=3, total=4, eta_s=125.0)
        w.emit("log", message="out of memory at micro-batch 8")
        w.emit("failed", error="RuntimeError: boom", traceback="Traceback (most recent call last):\n  x")
    (run_dir / "error.txt").write_text("Traceback: the whole story\n", encoding="utf-8")
    qtbot.waitUntil(lambda: cell(queue.model, 0, "State") == "running"
                    and cell(queue.model, 0, "Progress") == "75%", timeout=10_000)
    assert cell(queue.model, 0, "Epoch") == "1/1"
    assert cell(queue.model, 0, "Device") == "cpu"
    assert cell(queue.model, 0, "ETA").endswith(" s")
    queue.select_jobs([job.id])
    assert queue.job_actions["log"].isEnabled()
    queue.job_actions["log"].trigger()
    dialog = queue.log_dialog
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    text = dialog.text.toPlainText()
    assert "out of memory at micro-batch 8" in text
    assert "progress  epoch=1  epochs=1  step=3  total=4" in text
    assert "error.txt:\nTraceback: the whole story" in text
    assert dialog.windowTitle().startswith(f"Job {job.id} (cnn r0f0s0)")  # run_label, never "fold None"
    dialog.close()


def test_format_eta():
    assert [format_eta(s) for s in (None, 4.4, 75, 3725)] == ["", "4 s", "1 min 15 s", "1 h 02 min"]


def test_progress_column_is_drawn_as_a_bar(qtbot, window, panel):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    view = panel.queue.table
    model = panel.queue.model
    delegate = view.itemDelegateForColumn(COLUMNS.index("Progress"))
    index = model.index(0, COLUMNS.index("Progress"))

    def painted(progress: float) -> QImage:
        model.jobs[0] = replace(model.jobs[0], progress=progress)
        image = QImage(200, 24, QImage.Format.Format_ARGB32)
        image.fill(0)
        option = QStyleOptionViewItem()
        option.rect = image.rect()
        option.widget = view
        painter = QPainter(image)
        delegate.paint(painter, option, index)
        painter.end()
        return image

    empty, half, full = painted(0.0), painted(0.5), painted(1.0)
    assert empty != half != full
    assert empty != full


def test_slurm_jobs_sync_cancel_and_log_without_slurm_commands(qtbot, window, panel, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    with Project.open(window.project.path) as p:
        create_experiment(p, "cluster", tiny_spec(p.path, epochs=1), folds=[0], backend="slurm")
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    qtbot.waitUntil(lambda: not panel.slurm.busy, timeout=10_000)  # the sync on opening
    with qtbot.waitSignal(panel.slurm.sigSynced, timeout=10_000) as synced:
        panel.slurm.sync_now()
    assert any("sbatch not found" in e for e in synced.args[0].errors)
    assert any(m.startswith("Slurm: job 3: sbatch not found") for m in messages)
    qtbot.waitUntil(lambda: panel.queue.model.rowCount() == 3, timeout=10_000)
    job = panel.queue.model.jobs[2]
    assert (job.experiment, job.backend, job.state) == ("cluster", "slurm", "queued")

    panel.queue.select_jobs([job.id])
    panel.queue.job_actions["log"].trigger()
    qtbot.waitUntil(lambda: panel.queue.log_dialog.loaded, timeout=10_000)
    assert f"Slurm:\njob {job.id} was never submitted to Slurm" in panel.queue.log_dialog.text.toPlainText()
    panel.queue.log_dialog.close()

    panel.queue.job_actions["cancel"].trigger()
    qtbot.waitUntil(lambda: db_job(window, job.id).state == "cancelled", timeout=10_000)
    messages.clear()
    qtbot.waitUntil(lambda: not panel.slurm.busy, timeout=10_000)
    with qtbot.waitSignal(panel.slurm.sigSynced, timeout=10_000) as synced:
        panel.slurm.sync_now()
    assert synced.args[0].errors == []  # nothing left to submit
    assert not [m for m in messages if m.startswith("Slurm")]


def test_queueing_from_the_dialog_starts_a_worker_when_none_is_alive(qtbot, window, panel, monkeypatch):
    starts = []
    monkeypatch.setattr(panel.workers, "start", lambda devices=None: starts.append(devices))
    messages = []
    window.statusBar().messageChanged.connect(messages.append)

    def queue_one(model: str) -> None:
        dialog = panel.new_experiment()
        qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=10_000)
        dialog.set_models([model], "scratch")
        with qtbot.waitSignal(dialog.sigCreated, timeout=10_000):
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()

    assert panel.dock.isHidden()
    queue_one("resnet10t")
    assert panel.dock.isVisible()  # the queue shows what was just queued
    assert starts == [None]
    assert "Queued 1 experiment(s): resnet10t-scratch; starting a worker" in messages
    qtbot.waitUntil(lambda: panel.queue.model.rowCount() == 4, timeout=10_000)

    panel.auto_action.setChecked(False)  # Experiments > Start a Worker When Queueing, off
    queue_one("vit_tiny_patch16_224")
    assert starts == [None]
    assert messages[-1] == "Queued 1 experiment(s): vit_tiny-scratch"


def test_cluster_settings_open_from_the_experiments_menu(qtbot, window, panel):
    from affgui.widgets.cluster_settings import ClusterSettingsDialog

    assert panel.cluster_action in panel.menu.actions() and panel.cluster_action.isEnabled()
    dialog = panel.edit_cluster_settings()
    assert isinstance(dialog, ClusterSettingsDialog) and dialog.isVisible()
    assert dialog.project_path == window.project.path
    dialog.reject()
    window.close_project()
    assert not panel.cluster_action.isEnabled()


def test_the_weights_probe_runs_once_per_session(qtbot, window, panel):
    calls = []

    def probe():
        calls.append(1)
        return {}, False

    panel.dialog_kwargs = {"weights_probe": probe}
    for _ in range(3):
        dialog = panel.new_experiment()
        qtbot.waitUntil(lambda d=dialog: d.weights is not None, timeout=10_000)
        dialog.reject()
    assert calls == [1]
