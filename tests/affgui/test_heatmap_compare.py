"""The heatmap comparison: panes side by side, maps at the right place, links, steps, explain jobs.

The project is the GUI tests' 12-image project (cached 160x200, source 2000x2500) with two
experiments whose fold run folders get hand-written gradcam maps (4x4 grid over a 64-px
letterboxed input): no training, so it builds in well under a second.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from engine.experiments import create_experiment, experiment_jobs
from engine.explain import write_heatmaps
from engine.jobs import JobQueue
from engine.splits import create_split
from engine.store import Project
from tests.affgui.conftest import N_IMAGES, make_project, open_in
from tests.engine._train_factory import tiny_spec

SIZE, GRID = 64, 4
EXPERIMENTS = ("cnn", "vit")


def stored_map(experiment: str, image_id: int) -> np.ndarray:
    """A map whose every cell differs, per experiment and image (float16, as stored)."""
    cells = np.arange(GRID * GRID, dtype=np.float32).reshape(GRID, GRID)
    if experiment == "vit":
        cells = cells.T
    return ((cells + image_id) / (GRID * GRID + N_IMAGES)).astype(np.float16)


def write_maps(project: Project, experiment: str, method: str = "gradcam", zero: bool = False) -> None:
    """Every labelled image's map in its fold's run folder (fold = image id parity)."""
    labelled = [r.id for r in project.images.list(order="id") if r.label in ("AFF", "NFF")]
    for job in experiment_jobs(project, experiment):
        ids = [i for i in labelled if i % 2 == job.fold]
        write_heatmaps(project.runs_dir / job.run_id, method, ids,
                       [stored_map(experiment, i) * (0 if zero else 1) for i in ids], [i / 100 for i in ids],
                       [1] * len(ids), {"input_size": SIZE, "fold": job.fold, "grid": [GRID, GRID],
                                        "method": method, "experiment": experiment})


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "Study.affproj"
    ids = make_project(path)
    with Project.open(path) as project:
        # The last image stays unlabelled, so no experiment has a map of it.
        project.labels.set_each({i: ("AFF", "AFF", "NFF", "NFF")[k % 4] for k, i in enumerate(ids[:-1])},
                                "tester", "cli")
        project.rois.add(ids[0], (500, 1000, 1500, 2000), "tester", source="import")
        create_split(project, "default", k=2, seed=0)
        for name in EXPERIMENTS:
            create_experiment(project, name, tiny_spec(path, "resnet10t"))
            write_maps(project, name)
    return path


@pytest.fixture
def compare(qtbot, window, study):
    open_in(qtbot, window, study)
    window.grid.select_row(0)
    window.heatmaps.action.trigger()
    widget = window.heatmaps.widget
    qtbot.waitExposed(widget)
    # Only gradcam maps exist, so the default pairing is gradcam for both (occlusion would be first).
    qtbot.waitUntil(lambda: widget.method() == "gradcam" and len(widget.panes) == 2
                    and all(_ready(p) and p.maps.method == "gradcam" for p in widget.panes), timeout=10_000)
    yield widget
    widget.set_project(None)


def _ready(pane) -> bool:
    return pane.image_item.image is not None and pane.maps is not None


def _sample(pane, x: float, y: float) -> float:
    """The overlay value drawn at cached pixel (x, y)."""
    p = pane.overlay_item.mapFromParent(QPointF(x, y))
    return float(pane.overlay_image()[int(p.y()), int(p.x())])


def test_two_panes_show_each_experiments_map_unletterboxed(compare):
    assert compare.experiments() == list(EXPERIMENTS)
    compare.controls.smooth_box.setChecked(False)  # the stored cells, exactly
    row = compare.row
    # Cached 160x200 in a 64 input: 51 px wide, 6 px of padding on the left.
    left, nw, cw, ch = 6, 51, 160, 200
    for pane in compare.panes:
        assert pane.overlay_image().shape == (64, 51)
        expected_map = stored_map(pane.experiment, row.id).astype(np.float32)
        # x = 35 and 125 lie in different cells than a map stretched over the image would give.
        for x, y in ((1, 1), (35, 70), (125, 120), (159, 199), (80, 100)):
            u, v = left + x * nw / cw, y * SIZE / ch
            cell = expected_map[int(v * GRID / SIZE), int(u * GRID / SIZE)]
            assert _sample(pane, x, y) == pytest.approx(cell, abs=1e-6), (pane.experiment, x, y)
        assert f"P(AFF) {row.id / 100:.3f}" in pane.title.text()
        assert "AFF" in pane.title.text()
        assert not pane.compute_button.isVisible()


def test_smooth_overlay_matches_the_engine_upsampling(compare):
    from engine.explain import upsample

    pane, row = compare.panes[0], compare.row
    full = upsample(stored_map(pane.experiment, row.id).astype(np.float32), SIZE)
    np.testing.assert_allclose(pane.overlay_image(), full[:, 6:57], atol=1e-3)


def test_roi_box_is_drawn_in_cached_pixels(compare):
    pane = compare.panes[1]
    assert len(pane._roi_items) == 1
    item = pane._roi_items[0]
    # Source (500, 1000)-(1500, 2000) at 160/2000 = 0.08 cached pixels per source pixel.
    assert (item.pos().x(), item.pos().y()) == pytest.approx((40, 80))
    assert (item.size().x(), item.size().y()) == pytest.approx((80, 80))


def test_zoom_and_pan_are_linked(qtbot, compare):
    a, b = compare.panes
    b.view_box.setRange(xRange=(20, 60), yRange=(50, 90), padding=0)
    qtbot.waitUntil(lambda: abs(a.view_box.viewRange()[0][0] - b.view_box.viewRange()[0][0]) < 1e-6)
    assert a.view_box.viewRange()[0] == pytest.approx(b.view_box.viewRange()[0])
    assert a.view_box.viewRange()[1] == pytest.approx(b.view_box.viewRange()[1], abs=1.0)
    assert a.view_box.viewRange()[0][1] - a.view_box.viewRange()[0][0] < 100  # zoomed, not fitted


def test_window_level_is_shared(compare):
    a, b = compare.panes
    c0, w0 = compare.window_level()
    b.view_box.sigWindowLevelDragged.emit(10.0, -20.0)
    assert compare.window_level() == (c0 - 20, w0 + 10)
    low, high = c0 - 20 - (w0 + 10) / 2, c0 - 20 + (w0 + 10) / 2
    for pane in (a, b):
        assert pane.image_item.levels == pytest.approx([low, high])


def test_keys_step_through_the_list_and_the_main_window_follows(qtbot, window, compare):
    ids = [r.id for r in window.heatmaps.rows()]
    assert compare.row.id == ids[0]
    compare.activateWindow()
    compare.panes[0].view.setFocus()
    qtbot.waitUntil(lambda: compare.isAncestorOf(QApplication.focusWidget()))
    for key, index in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_J, 2), (Qt.Key.Key_PageDown, 3),
                       (Qt.Key.Key_K, 2), (Qt.Key.Key_Left, 1), (Qt.Key.Key_PageUp, 0)):
        qtbot.keyClick(compare.panes[0].view, key)
        assert compare.row.id == ids[index]
        assert window.grid.current_image_id() == ids[index]
    qtbot.keyClick(compare.panes[0].view, Qt.Key.Key_Space)  # Space steps, as in the main window
    assert compare.row.id == ids[1]
    qtbot.keyClick(compare.panes[0].view, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert compare.row.id == ids[0]
    qtbot.keyClick(compare.panes[0].view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: all(p.overlay_image() is not None for p in compare.panes))
    assert f"P(AFF) {ids[1] / 100:.3f}" in compare.panes[1].title.text()
    compare.controls.smooth_box.setChecked(False)
    # The top-right cell of the vit map (transposed cells) of the new image.
    assert _sample(compare.panes[1], 159, 0) == pytest.approx(float(stored_map("vit", ids[1])[0, 3]))


def test_panes_follow_the_main_window(qtbot, window, compare):
    window.grid.select_image(window.heatmaps.rows()[-1].id)  # the unlabelled image: no maps
    last = window.heatmaps.rows()[-1]
    assert compare.row.id == last.id
    qtbot.waitUntil(lambda: all(p.image_item.image is not None for p in compare.panes))
    for pane in compare.panes:
        assert pane.overlay_image() is None
        assert f"no gradcam map for image #{last.id}" in pane.message.text()
        assert not pane.compute_button.isVisible()


def test_missing_method_offers_compute_which_queues_an_explain_job(qtbot, compare, study):
    compare.set_method("hirescam")
    pane = compare.panes[0]
    qtbot.waitUntil(lambda: pane.compute_button.isVisible(), timeout=10_000)
    assert "no hirescam maps for cnn" in pane.message.text()
    assert pane.overlay_image() is None
    qtbot.mouseClick(pane.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(compare.watcher.jobs), timeout=60_000)  # the engine checks the method first
    with Project.open(study) as project:
        jobs = [j for j in JobQueue(project).list() if j.kind == "explain"]
        assert [(j.spec["experiment"], j.spec["method"], j.state) for j in jobs] == [
            ("cnn", "hirescam", "queued")]
        assert not pane.compute_button.isVisible() and f"job #{jobs[0].id}" in pane.message.text()
        # A worker would now write the maps and finish the job: the pane picks them up.
        write_maps(project, "cnn", "hirescam")
        JobQueue(project).finish(jobs[0].id, "finished")
    qtbot.waitUntil(lambda: pane.overlay_image() is not None, timeout=10_000)
    assert not compare.watcher.jobs and not pane.compute_button.isVisible()
    assert compare.panes[1].compute_button.isVisible()  # vit still has no hirescam maps


def test_an_all_zero_map_is_explained_not_drawn_blank(qtbot, compare, study):
    with Project.open(study) as project:
        write_maps(project, "vit", "eigencam", zero=True)  # as Grad-CAM often gives for a ViT
        write_maps(project, "cnn", "eigencam")
    compare.refresh_experiments()
    compare.set_method("eigencam")
    cnn, vit = compare.panes
    qtbot.waitUntil(lambda: vit.maps is not None and vit.maps.method == "eigencam" and vit.empty_map,
                    timeout=10_000)
    assert "zero everywhere for this image" in vit.message.text() and not vit.compute_button.isVisible()
    qtbot.waitUntil(lambda: cnn.maps is not None and cnn.maps.method == "eigencam", timeout=10_000)
    assert not cnn.empty_map and "zero everywhere" not in cnn.message.text()


def test_more_than_four_experiments_are_refused(qtbot, compare):
    compare.set_experiment_names(["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e"])
    assert compare.experiments() == ["a", "b", "c", "d"]
    item = compare.controls.picker.item(4)
    item.setCheckState(Qt.CheckState.Checked)
    assert item.checkState() == Qt.CheckState.Unchecked
    assert "At most 4" in compare.status.text()


def test_a_queued_job_is_found_and_a_failed_one_offers_compute_again(qtbot, compare, study):
    with Project.open(study) as project:
        job_id = JobQueue(project).submit("explain", {"experiment": "vit", "method": "eigencam",
                                                      "batch_size": 16})
    compare.set_method("eigencam")
    pane = compare.panes[1]
    qtbot.waitUntil(lambda: pane.maps is not None and pane.maps.state == "pending", timeout=10_000)
    assert f"job #{job_id}" in pane.message.text() and not pane.compute_button.isVisible()
    # cnn has no job: it offers one (its pane reads off the GUI thread too: wait for it, not only pane 1)
    qtbot.waitUntil(lambda: compare.panes[0].compute_button.isVisible(), timeout=10_000)
    with Project.open(study) as project:
        JobQueue(project).finish(job_id, "failed", "CUDA out of memory")
    qtbot.waitUntil(lambda: pane.compute_button.isVisible(), timeout=10_000)
    assert f"explain job #{job_id} failed: CUDA out of memory" in pane.message.text()


def test_menu_action_and_project_close(qtbot, window, compare):
    action = window.heatmaps.action
    assert action in window.menu_actions.view_menu.actions()
    assert action.shortcut().toString() == "Ctrl+H" and action.isEnabled()
    window.close_project()
    assert not action.isEnabled()
    assert compare.project is None and compare.panes == [] and not compare.isVisible()
    assert window.heatmaps.open() is None


def test_panes_stay_level_when_one_title_wraps(qtbot, compare):
    a, b = compare.panes
    compare.resize(700, 600)
    b.title.setText("a very long experiment name " * 6)  # wraps in a narrow pane
    b.message.setText("No gradcam maps of this image yet: compute them or pick another method " * 2)
    b.message.show()
    a.title.setText("short")
    a.message.setText("")
    qtbot.wait(50)
    QApplication.processEvents()
    ya = a.view.mapTo(compare, a.view.rect().topLeft()).y()
    yb = b.view.mapTo(compare, b.view.rect().topLeft()).y()
    assert ya == yb and a.view.height() == b.view.height()


def test_reads_of_the_old_project_never_reach_the_new_one(qtbot, monkeypatch):
    """set_project supersedes every read in flight: neither its result nor its failure lands."""
    from affgui.parts.heatmaps import compare_widget

    widget = compare_widget.HeatmapCompareWidget()
    qtbot.addWidget(widget)
    old, new = object(), object()  # the reads below are stand-ins: no database is touched
    started, release = threading.Semaphore(0), threading.Event()

    def slow_names(project):
        started.release()
        release.wait(5)
        if project is old:
            return ["old experiment"]
        raise AssertionError("never read")

    def slow_failing(project):
        started.release()
        release.wait(5)
        raise OSError("the old project's folder is gone")

    widget.set_project(old)
    monkeypatch.setattr(compare_widget.loading, "experiment_names", slow_names)
    widget.refresh_experiments()
    assert started.acquire(timeout=5)  # the first read is in slow_names before the swap
    monkeypatch.setattr(compare_widget.loading, "experiment_names", slow_failing)
    widget.refresh_experiments()
    assert started.acquire(timeout=5)
    threading.Timer(0.2, release.set).start()  # set_project waits for the old reads to end
    widget.set_project(new)
    assert release.is_set()
    qtbot.wait(100)  # their results and failures have been delivered, and dropped
    assert widget.controls.picker.count() == 0 and widget.status.text() == ""

    monkeypatch.setattr(compare_widget.loading, "experiment_names", lambda p: ["new experiment"])
    widget.refresh_experiments()
    qtbot.waitUntil(lambda: widget.controls.picker.count() == 1, timeout=5000)
    assert widget.controls.picker.item(0).text() == "new experiment"
    widget.set_project(None)
