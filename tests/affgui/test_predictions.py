"""Per-image predictions in the browser: each filter and order on two experiments' stored predictions.

The experiments' run folders are written by hand (finished jobs, ``predictions.csv``), so the
scores, and with them every expected list, are known exactly; nothing trains.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent, QTextDocument
from PySide6.QtWidgets import QApplication, QToolTip

from affgui.predictions import PredictionQuery, PredictionReader, select_rows
from engine.store import ImageRow, Project

from .conftest import make_project, open_in

N, PATIENTS, UNLABELLED_IDS = 16, 8, 2  # the last two images stay unlabelled: no prediction


def cnn_score(k: int) -> float:
    return (k * 5 % 14 + 0.5) / 14


def vit_score(k: int) -> float:
    return ((13 - k) * 3 % 14 + 0.5) / 14


def write_experiment(project: Project, name: str, model: str, score, k_of: dict[int, int]) -> None:
    """A finished experiment whose fold runs predicted ``score(k)`` for the k-th image."""
    from engine.experiments import create_experiment, experiment_jobs
    from engine.jobs import JobQueue
    from engine.splits import load_split
    from tests.engine._train_factory import tiny_spec

    create_experiment(project, name, tiny_spec(project.path, model))
    plan = load_split(project, "default").plan
    queue = JobQueue(project)
    for job in experiment_jobs(project, name):
        assert queue.claim("test-worker", experiment_id=job.experiment_id).id == job.id
        run = project.runs_dir / job.run_id
        run.mkdir(parents=True)
        with open(run / "predictions.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(("image_id", "patient_id", "fold", "probability", "label"))
            for i, pid, y, fold in zip(plan.image_ids, plan.patients, plan.labels, plan.folds):
                if fold == job.fold:
                    w.writerow((int(i), pid, int(fold), score(k_of[int(i)]), int(y)))
        (run / "metrics.json").write_text(json.dumps({"best_val_auc": 0.5}))
        queue.finish(job.id, "finished")


def make_study(path: Path) -> tuple[Path, dict[int, int]]:
    """16 images of 8 patients, 14 labelled (patients 0-2 AFF), a 2-fold split, ``cnn`` and ``vit``."""
    from engine.splits import create_split

    ids = make_project(path, n=N, patients=PATIENTS)
    k_of = {image_id: k for k, image_id in enumerate(ids)}
    with Project.open(path) as project:
        project.labels.set_each({i: "AFF" if k % PATIENTS < 3 else "NFF" for i, k in k_of.items()
                                 if k < N - UNLABELLED_IDS}, "tester", "cli")
        create_split(project, "default", k=2, seed=0)
        write_experiment(project, "cnn", "resnet10t", cnn_score, k_of)
        write_experiment(project, "vit", "vit_tiny_patch16_224", vit_score, k_of)
    return path, k_of


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path / "Study.affproj")


def rows_of(win) -> list[ImageRow]:
    model = win.grid.model()
    return [model.image_row(r) for r in range(model.rowCount())]


def choose(qtbot, win, combo, data):
    with qtbot.waitSignal(win.sigRowsChanged, timeout=10_000):
        combo.setCurrentIndex(combo.findData(data))


def test_each_filter_and_order_lists_exactly_the_expected_images(qtbot, window, study):
    path, k_of = study
    with Project.open(path) as project:
        labels = {r.id: r.label for r in project.images.list(order="id")}
        patient_order = [r.id for r in project.images.list()]
    cnn = {i: cnn_score(k) for i, k in k_of.items() if labels[i] is not None}
    vit = {i: vit_score(k) for i, k in k_of.items() if labels[i] is not None}
    open_in(qtbot, window, path)
    bar = window.filter_bar
    qtbot.waitUntil(lambda: bar.experiment_combo.count() == 3)
    assert bar.prediction() is None and not bar.order_combo.model().item(2).isEnabled()
    choose(qtbot, window, bar.experiment_combo, "cnn")
    assert [r.id for r in rows_of(window)] == patient_order  # no filter yet: the same list
    choose(qtbot, window, bar.order_combo, "p_desc")
    ids = [r.id for r in rows_of(window)]
    assert ids == sorted(cnn, key=cnn.get, reverse=True) + [i for i in patient_order if i not in cnn]
    assert window.grid.current_image_id() == ids[0]  # a new order starts at its top
    choose(qtbot, window, bar.order_combo, "p_asc")
    assert [r.id for r in rows_of(window)][:len(cnn)] == sorted(cnn, key=cnn.get)
    assert {r.id for r in rows_of(window)[len(cnn):]} == set(k_of) - set(cnn)  # unpredicted last

    def expect(mode, wanted, threshold=0.5):
        choose(qtbot, window, bar.prediction_combo, mode)
        got = [r.id for r in rows_of(window)]
        assert got == sorted(wanted, key=cnn.get), mode  # still ordered by P(AFF), ascending
        assert 0 < len(got) < len(cnn), mode  # the case is not trivial
        return got

    aff = expect("aff", [i for i, p in cnn.items() if p >= 0.5])
    assert expect("nff", [i for i, p in cnn.items() if p < 0.5]) == [i for i in sorted(cnn, key=cnn.get)
                                                                    if i not in aff]
    truth = {i: labels[i] == "AFF" for i in cnn}
    expect("wrong", [i for i in cnn if (cnn[i] >= 0.5) != truth[i]])
    assert not bar.prediction_combo.model().item(bar.prediction_combo.findData("models_disagree")).isEnabled()
    choose(qtbot, window, bar.other_combo, "vit")
    assert bar.prediction_combo.itemText(bar.prediction_combo.findData("a_right_b_wrong")) == \
        "cnn right, vit wrong"
    expect("models_disagree", [i for i in cnn if (cnn[i] >= 0.5) != (vit[i] >= 0.5)])
    cnn_right = {i for i in cnn if (cnn[i] >= 0.5) == truth[i]}
    vit_right = {i for i in vit if (vit[i] >= 0.5) == truth[i]}
    expect("a_right_b_wrong", cnn_right - vit_right)
    expect("b_right_a_wrong", vit_right - cnn_right)
    at_half = [r.id for r in rows_of(window)]
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        bar.threshold_spin.setValue(0.3)
    assert [r.id for r in rows_of(window)] == sorted(
        {i for i in cnn if (vit[i] >= 0.3) == truth[i]} - {i for i in cnn if (cnn[i] >= 0.3) == truth[i]},
        key=cnn.get)
    assert rows_of(window) and [r.id for r in rows_of(window)] != at_half
    # dropping the second experiment drops the comparison too (and the list shows everything)
    choose(qtbot, window, bar.other_combo, None)
    assert bar.prediction_combo.currentData() is None and len(rows_of(window)) == N


def review_order(path: Path, names: list[str]) -> list:
    from engine.evaluate import review_experiments

    with Project.open(path) as project:
        return list(review_experiments(project, names).items)


@pytest.mark.qt_log_ignore("This plugin does not support (raise|propagateSizeHints)")  # offscreen
def test_review_queue_follows_review_experiments_and_relabelling_goes_to_the_store(qtbot, window, study):
    path, _ = study
    queue = review_order(path, ["cnn", "vit"])
    with Project.open(path) as project:
        labels = project.labels.all()
    expected = [it.image_id for it in queue if (it.p_aff_mean >= 0.5) != (labels[it.image_id] == "AFF")]
    assert 0 < len(expected) < len(queue)
    open_in(qtbot, window, path)
    bar = window.filter_bar
    qtbot.waitUntil(lambda: bar.experiment_combo.count() == 3)
    choose(qtbot, window, bar.experiment_combo, "cnn")
    choose(qtbot, window, bar.other_combo, "vit")
    choose(qtbot, window, bar.prediction_combo, "review")
    assert [r.id for r in rows_of(window)] == expected
    # the current image's scores, rank and reason are shown under the filters and in the tooltip
    first = queue[[it.image_id for it in queue].index(expected[0])]
    assert window.grid.current_image_id() == first.image_id  # the queue opens at its top
    info = bar.prediction_info
    assert info.isVisible()
    assert info.text() == (f"P(AFF) cnn {first.p_aff['cnn']:.2f} · vit {first.p_aff['vit']:.2f} · "
                           f"review #{first.rank} of {len(queue)}" + (" (flagged)" if first.flagged else ""))
    assert first.reason in info.toolTip()
    assert first.reason in window.browser.predictions.describe(first.image_id, long=True)
    tile = window.grid.visualRect(window.grid.model().index(0)).center()
    QApplication.sendEvent(window.grid.viewport(), QHelpEvent(
        QEvent.Type.ToolTip, tile, window.grid.viewport().mapToGlobal(tile)))
    doc = QTextDocument()
    doc.setHtml(QToolTip.text())  # escaped rich text: shown as the plain text below
    tip = doc.toPlainText()
    assert tip.startswith(f"#{first.image_id}  ") and info.text() in tip and first.reason in tip
    # relabel it with the label key: the store and its history change, the rank stays the model's
    new = "NFF" if first.label == "AFF" else "AFF"
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A if new == "AFF" else Qt.Key.Key_N)
    with Project.open(path) as project:
        assert project.labels.get(first.image_id) == new
        history = project.labels.history(first.image_id)
    assert history[-1].new_label == new and history[-1].source == "gui"
    assert window.grid.model().image_row(0).label == new
    assert window.browser.predictions.describe(first.image_id, long=True).endswith(f"; now labelled {new}")
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        window.reload_rows()  # it now agrees with the models: out of the queue
    assert [r.id for r in rows_of(window)] == expected[1:]


def test_one_experiments_review_queue_is_review_experiments_of_that_one(qtbot, window, study):
    path, _ = study
    queue = review_order(path, ["vit"])
    with Project.open(path) as project:
        kept = PredictionReader().apply(project, project.images.list(), PredictionQuery("vit", "review", 0.5))
    expected = [it.image_id for it in queue if (it.p_aff_mean >= 0.5) != (it.label == "AFF")]
    assert [r.id for r in kept] == expected and expected


def test_scores_are_read_once_per_state_of_the_run_folders(study):
    path, k_of = study
    cache = PredictionReader()
    with Project.open(path) as project:
        rows = project.images.list()
        q = PredictionQuery("cnn", "aff", 0.5, sort="desc")
        first = cache.apply(project, rows, q)
        cache.apply(project, rows, PredictionQuery("cnn", "nff", 0.4))
        assert cache.reads == 1  # re-filtering reads no file
        # a fold's predictions rewritten (as a re-run would): read again, new scores used
        from engine.experiments import experiment_jobs

        job = experiment_jobs(project, "cnn")[0]
        csv_path = project.runs_dir / job.run_id / "predictions.csv"
        text = csv_path.read_text().splitlines()
        rewritten = [text[0]] + [",".join(line.split(",")[:3] + ["0.99"] + line.split(",")[4:])
                                 for line in text[1:]]
        csv_path.write_text("\n".join(rewritten) + "\n")
        stat = csv_path.stat()
        os.utime(csv_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        again = cache.apply(project, rows, q)
        assert cache.reads == 2 and again != first
        fold0 = {int(line.split(",")[0]) for line in text[1:]}
        assert {r.id for r in again[:len(fold0)]} == fold0  # all 0.99 now: first


def test_unfinished_and_unknown_experiments_say_why(study):
    path, _ = study
    from engine.experiments import experiment_jobs

    cache = PredictionReader()
    with Project.open(path) as project:
        rows = project.images.list()
        job = experiment_jobs(project, "vit")[1]
        with project.transaction() as conn:  # back in the queue: the experiment is not finished
            conn.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", (job.id,))
        with pytest.raises(ValueError, match="'vit' is not complete: fold 1 has not finished"):
            cache.apply(project, rows, PredictionQuery("vit", "aff"))
        # listing without a filter still lists, and says why there are no scores
        kept, annotations = cache.select(project, rows, PredictionQuery("vit"))
        assert kept == rows
        assert "not complete" in annotations.short(rows[0].id)
        with pytest.raises(ValueError, match="no experiment 'nope'.*known: cnn, vit"):
            cache.apply(project, rows, PredictionQuery("nope", "aff"))


def _row(i: int, label: str | None) -> ImageRow:
    return ImageRow(path=f"/d/{i}.png", source_folder="/d", sha256=str(i), bytes=1, format="png",
                    width=1, height=1, patient_key=f"P{i}", id=i, label=label)


def test_select_rows_edge_cases_and_query_checks():
    rows = [_row(1, "AFF"), _row(2, "NFF"), _row(3, None), _row(4, "uncertain"), _row(5, "AFF")]
    a = {1: 0.7, 2: 0.7, 3: 0.9, 4: 0.1, 5: 0.7}
    b = {1: 0.2, 2: 0.2, 3: 0.1}
    q = PredictionQuery("a", sort="desc")
    # ties keep the listing's order, in both directions; unpredicted rows are never dropped
    assert [r.id for r in select_rows(rows, q, {"a": {k: a[k] for k in (1, 2, 5)}})] == [1, 2, 5, 3, 4]
    assert [r.id for r in select_rows(rows, PredictionQuery("a", sort="asc"), {"a": a})] == [4, 1, 2, 5, 3]
    wrong = PredictionQuery("a", "wrong", 0.5)
    assert [r.id for r in select_rows(rows, wrong, {"a": a})] == [2]  # no label, uncertain: never wrong
    pair = PredictionQuery("a", "models_disagree", 0.5, other="b")
    assert [r.id for r in select_rows(rows, pair, {"a": a, "b": b})] == [1, 2, 3]  # 5: b has no score
    right = PredictionQuery("a", "a_right_b_wrong", 0.5, other="b")
    assert [r.id for r in select_rows(rows, right, {"a": a, "b": b})] == [1]  # 3 has no label
    for bad, message in (({"mode": "maybe"}, "unknown prediction filter 'maybe'"),
                         ({"mode": "models_disagree"}, "choose a second one"),
                         ({"other": "a"}, "not 'a' twice"), ({"threshold": 1.5}, r"\[0, 1\], not 1.5"),
                         ({"sort": "up"}, "unknown probability order 'up'")):
        with pytest.raises(ValueError, match=message):
            PredictionQuery("a", **bad)


def test_filter_bar_drops_choices_the_experiments_no_longer_allow(qtbot):
    from affgui.widgets.filter_bar import FilterBarWidget

    bar = FilterBarWidget()
    qtbot.addWidget(bar)
    bar.set_experiments(["cnn", "vit"])
    for combo, data in ((bar.experiment_combo, "cnn"), (bar.other_combo, "vit"),
                        (bar.prediction_combo, "b_right_a_wrong"), (bar.order_combo, "p_asc")):
        combo.setCurrentIndex(combo.findData(data))
    assert bar.prediction() == PredictionQuery("cnn", "b_right_a_wrong", 0.5, "vit", "asc")
    assert bar.order() == "patient"  # the store lists by patient; the probability sort follows
    with qtbot.waitSignal(bar.sigFilterChanged, timeout=1000):
        bar.set_experiments(["cnn"])  # vit is gone: its comparison goes with it
    assert bar.prediction() == PredictionQuery("cnn", None, 0.5, None, "asc")
    with qtbot.assertNotEmitted(bar.sigFilterChanged):
        bar.set_experiments(["cnn"])  # the same list: nothing changes
    with qtbot.waitSignal(bar.sigFilterChanged, timeout=1000):
        bar.set_experiments([])
    assert bar.prediction() is None and bar.order_combo.currentData() == "patient"
    assert not bar.experiment_combo.isEnabled()
