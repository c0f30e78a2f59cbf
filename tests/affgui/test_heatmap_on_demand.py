"""Heatmaps on demand (affgui/parts/heatmaps/on_demand.py): one screened image's map from the final model.

A real worker (in this process, as ``affengine worker`` would) runs the queued job; the object
then says the map is ready and hands over the image's row, which the heatmap panes draw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from affgui.parts.heatmaps.on_demand import HeatmapOnDemand
from engine.jobs import JobQueue, Worker
from engine.store import Project
from tests.affgui._final_study import EXPERIMENT, final_study


@pytest.fixture
def dev(tmp_path_factory, tmp_path) -> Path:
    return final_study(tmp_path_factory, tmp_path / "copies")[0]


def _unlabelled(project) -> list[int]:
    return sorted(r.id for r in project.images.list(order="id") if r.label is None)


def test_a_screened_images_heatmap_is_queued_computed_and_reported(qtbot, dev):
    with Project.open(dev) as project:
        image = _unlabelled(project)[2]
        queued_hook = []
        on = HeatmapOnDemand(project, interval_ms=50, on_queued=queued_hook.append)
        with qtbot.waitSignal(on.sigQueued, timeout=10_000) as queued:
            job_id = on.request(EXPERIMENT, image)
        assert queued.args == [EXPERIMENT, image, "gradcam", job_id] and queued_hook == [job_id]
        assert on.request(EXPERIMENT, image) == job_id  # asked twice: one job
        job = JobQueue(project).get(job_id)
        assert (job.kind, job.spec["explain"], job.spec["image_ids"]) == ("predict", "gradcam", [image])
        Worker(dev, device="cpu").run(exit_when_idle=True)
        with qtbot.waitSignal(on.sigReady, timeout=30_000) as ready:
            pass
        got_experiment, got_image, method, maps = ready.args
        assert (got_experiment, got_image, method) == (EXPERIMENT, image, "gradcam") and not on.pending
        assert maps.image_ids.tolist() == [image] and maps.label.tolist() == [-1]
        assert maps.maps.shape == (1, *maps.info["grid"]) and 0 <= float(np.min(maps.maps))
        assert maps.info["input_size"] == 64 and maps.info["final_model_id"] == 1
        # stored now: a new request answers at once, with no job
        with qtbot.waitSignal(on.sigReady, timeout=1_000):
            assert on.request(EXPERIMENT, image) is None
        assert len([j for j in JobQueue(project).list() if j.spec.get("explain")]) == 1


def test_refusals_and_a_cancelled_job_are_reported_in_one_line(qtbot, dev):
    with Project.open(dev) as project:
        image = _unlabelled(project)[0]
        on = HeatmapOnDemand(project, interval_ms=50)
        with qtbot.waitSignal(on.sigFailed, timeout=1_000) as failed:
            assert on.request("nope", image) is None
        assert failed.args[:2] == ["nope", image] and "nope" in failed.args[3]
        assert "\n" not in failed.args[3]
        with qtbot.waitSignal(on.sigFailed, timeout=1_000) as failed:
            on.request(EXPERIMENT, image, "rollout")
        assert "class token" in failed.args[3]
        job_id = on.request(EXPERIMENT, image)
        JobQueue(project).request_cancel(job_id)  # cancelled before any worker took it
        with qtbot.waitSignal(on.sigFailed, timeout=5_000) as failed:
            pass
        assert failed.args[:3] == [EXPERIMENT, image, "gradcam"]
        assert failed.args[3].startswith(f"heatmap job #{job_id} cancelled") and not on.pending
        on.set_project(None)
        with qtbot.waitSignal(on.sigFailed, timeout=1_000) as failed:
            on.request(EXPERIMENT, image)
        assert failed.args[3] == "no project is open"


def test_the_heatmap_window_offers_and_draws_the_final_models_map_of_a_screened_image(qtbot, dev):
    from PySide6.QtCore import Qt

    from affgui.parts.heatmaps.compare_widget import HeatmapCompareWidget

    with Project.open(dev) as project:
        rows = {r.id: r for r in project.images.list(order="id")}
        screened = rows[_unlabelled(project)[1]]
        labelled = next(r for r in rows.values() if r.label is not None)
        widget = HeatmapCompareWidget()
        qtbot.addWidget(widget)
        widget.on_demand._timer.setInterval(50)
        widget.set_project(project)
        widget.set_rows_provider(lambda: list(rows.values()))
        widget.set_experiment_names([EXPERIMENT], [EXPERIMENT])
        pane = widget.panes[0]
        widget.show_row(labelled)
        qtbot.waitUntil(lambda: pane.maps is not None, timeout=10_000)
        assert pane.final_button.isHidden()  # a cross-validation image: its map is out of fold
        widget.show_row(screened)
        qtbot.waitUntil(lambda: not pane.final_button.isHidden(), timeout=10_000)
        assert pane.overlay_image() is None
        with qtbot.waitSignal(widget.on_demand.sigQueued, timeout=10_000) as queued:
            qtbot.mouseClick(pane.final_button, Qt.MouseButton.LeftButton)
        job_id = queued.args[3]
        assert pane.maps.final_model and pane.maps.job_id == job_id and pane.final_button.isHidden()
        assert f"job #{job_id}" in widget.status.text()
        Worker(dev, device="cpu").run(exit_when_idle=True)
        qtbot.waitUntil(lambda: pane.overlay_image() is not None, timeout=30_000)
        assert pane.maps.final_model and pane.probability is not None
        assert "final model #1" in pane.title.text() and pane.final_button.isHidden()
        widget.show_row(labelled)  # back on a cross-validation image: the out-of-fold state again
        assert not pane.maps.final_model
        widget.show_row(screened)  # and the final model's map is kept
        assert pane.maps.final_model and pane.overlay_image() is not None
        widget.set_project(None)


def test_a_final_map_asked_for_in_the_window_starts_a_worker_through_the_session(qtbot, dev, window,
                                                                                 monkeypatch):
    """The heatmaps part and the experiments part never see each other: the queued job reaches
    the experiments part as the session's sigWorkQueued, which starts a worker (auto-start on)."""
    from PySide6.QtCore import Qt

    from .conftest import open_in

    started = []
    monkeypatch.setattr(window.experiments_panel.workers, "ensure_running", lambda: started.append(1))
    open_in(qtbot, window, dev)
    screened = _unlabelled(window.project)[1]
    assert window.grid.select_image(screened)
    widget = window.heatmaps.open()
    widget.set_experiment_names([EXPERIMENT], [EXPERIMENT])
    pane = widget.panes[0]
    qtbot.waitUntil(lambda: not pane.final_button.isHidden(), timeout=10_000)
    with qtbot.waitSignal(window.session.sigWorkQueued, timeout=10_000):
        qtbot.mouseClick(pane.final_button, Qt.MouseButton.LeftButton)
    assert started == [1]
    job = JobQueue(window.project).get(pane.maps.job_id)
    assert job.kind == "predict" and job.state == "queued"
    window.close_project()
