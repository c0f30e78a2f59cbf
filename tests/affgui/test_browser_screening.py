"""Screening unlabelled images, shown in the browser (issue 18's acceptance point).

The Results view queues a real ``predict`` job with the study's final model; a worker runs it
(in this process, as ``affengine worker`` would); the browser then shows each unlabelled
image's stored P(AFF) and lists "likely AFF, not yet labelled" most likely first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from affgui.predictions import PredictionQuery, select_rows
from affgui.thumbnails import ThumbnailModel
from engine.evaluate import load_experiment_predictions
from engine.final import stored_predictions
from engine.jobs import JobQueue, Worker
from engine.store import ImageRow, Project
from tests.affgui._final_study import EXPERIMENT, UNLABELLED, final_study
from tests.affgui.conftest import open_in


@pytest.fixture
def dev(tmp_path_factory, tmp_path) -> Path:
    return final_study(tmp_path_factory, tmp_path / "copies")[0]


def rows_of(win) -> list[ImageRow]:
    model = win.grid.model()
    return [model.image_row(r) for r in range(model.rowCount())]


def choose(qtbot, win, combo, data) -> None:
    with qtbot.waitSignal(win.sigRowsChanged, timeout=10_000):
        combo.setCurrentIndex(combo.findData(data))


def _labels(path: Path):
    with Project.open(path) as project:
        return project.labels.all(), project.query("SELECT COUNT(*) FROM label_history")[0][0]


def test_screening_of_unlabelled_images_shown_in_the_browser(qtbot, window, dev):
    window.experiments_panel.workers.auto_start = False  # this test runs the worker itself
    before = _labels(dev)
    final = window.results.final
    with qtbot.waitSignal(final.sigShown, timeout=30_000):
        open_in(qtbot, window, dev)
        window.results.dock.show()
    widget = window.results.page.final_models
    widget.final_view.selectRow(0)
    assert widget.screen_button.isEnabled()
    with qtbot.waitSignal(final.sigScreeningQueued, timeout=30_000) as queued:
        widget.screen_button.click()
    job_id = queued.args[0]
    with Project.open(dev) as project:
        job = JobQueue(project).get(job_id)
        unlabelled = sorted(r.id for r in project.images.list(order="id") if r.label is None)
    assert job.kind == "predict" and job.spec["final_model_id"] == 1 and job.spec["images"] == "unlabelled"
    assert job.spec["image_ids"] == unlabelled and len(unlabelled) == UNLABELLED
    assert f"Queued predict job {job_id}" in widget.message.text()

    with qtbot.waitSignals([final.sigScreeningFinished, window.sigRowsChanged], timeout=30_000):
        Worker(dev, device="cpu").run(exit_when_idle=True)  # what a local worker does with the job
    assert _labels(dev) == before  # a prediction never changes a label
    with Project.open(dev) as project:
        stored = {i: p.probability for i, p in stored_predictions(project, experiment=EXPERIMENT).items()}
    assert sorted(stored) == unlabelled

    bar = window.filter_bar
    bar.threshold_spin.setValue(0.0)
    choose(qtbot, window, bar.experiment_combo, EXPERIMENT)
    choose(qtbot, window, bar.prediction_combo, "unlabelled_aff")
    likely_first = sorted(unlabelled, key=lambda i: -stored[i])
    assert [r.id for r in rows_of(window)] == likely_first  # only unlabelled, most likely AFF first
    model = window.grid.model()
    for row, image_id in enumerate(likely_first):  # each tile shows its stored P(AFF)
        assert model.data(model.index(row), ThumbnailModel.ScoreRole) == stored[image_id]
    window.grid.select_row(0)
    top_p = stored[likely_first[0]]
    assert bar.prediction_info.text() == f"P(AFF) {EXPERIMENT} {top_p:.2f} (final 1, screening)"
    # labelled images keep their out-of-fold P(AFF) on their tiles
    choose(qtbot, window, bar.prediction_combo, None)
    with Project.open(dev) as project:
        oof = load_experiment_predictions(project, EXPERIMENT)
    shown = {r.id: model.data(model.index(k), ThumbnailModel.ScoreRole)
             for k, r in enumerate(rows_of(window))}
    assert {i: shown[i] for i in oof.image_ids.tolist()} == dict(zip(oof.image_ids.tolist(),
                                                                     oof.scores.tolist()))
    assert {i: shown[i] for i in unlabelled} == stored

    # the threshold keeps only p >= t (a t on the spin box's 0.01 grid that splits the images)
    grid = [k / 100 for k in range(101)]
    t = next(x for x in grid if 0 < sum(p >= x for p in stored.values()) < UNLABELLED)
    choose(qtbot, window, bar.prediction_combo, "unlabelled_aff")
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        bar.threshold_spin.setValue(t)
    assert [r.id for r in rows_of(window)] == [i for i in likely_first if stored[i] >= t]
    # a reader labels the most likely one: it leaves the "not yet labelled" list
    top = likely_first[0]
    window.grid.select_row(0)
    window.set_label("AFF")
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        window.reload_rows()
    assert top not in [r.id for r in rows_of(window)]
    assert [r.id for r in rows_of(window)] == [i for i in likely_first[1:] if stored[i] >= t]


def _row(image_id: int, label: str | None) -> ImageRow:
    return ImageRow(path=f"/x/{image_id}.png", source_folder="/x", sha256=str(image_id), bytes=1,
                    format="png", width=1, height=1, patient_key=f"P{image_id}", id=image_id, label=label)


def test_likely_aff_not_yet_labelled_keeps_unlabelled_above_t_most_likely_first():
    rows = [_row(1, "AFF"), _row(2, None), _row(3, None), _row(4, None), _row(5, "NFF"), _row(6, None)]
    scores = {"cnn": {1: 0.9, 2: 0.7, 3: 0.95, 4: 0.2, 5: 0.6}}  # 6 was never scored
    q = PredictionQuery("cnn", "unlabelled_aff", threshold=0.5)
    assert [r.id for r in select_rows(rows, q, scores)] == [3, 2]
    q0 = PredictionQuery("cnn", "unlabelled_aff", threshold=0.0)
    assert [r.id for r in select_rows(rows, q0, scores)] == [3, 2, 4]
