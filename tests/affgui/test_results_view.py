"""The Results dock on a small study whose experiments' run folders are written directly (no training)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.evaluate import compare_experiments, compute_cost, experiment_results, load_experiment_predictions
from engine.experiments import create_experiment, experiment_jobs
from engine.splits import load_split
from engine.store import Project
from tests.affgui.conftest import open_in
from tests.engine._train_factory import make_project, tiny_spec

CNN, VIT, PENDING = "cnn", "vit", "pending"
N_BOOT = 200


def finish_experiment(path: Path, name: str, strength: float, family: str, seed: int) -> None:
    """Write every fold's run folder as a finished worker would, scores separating by ``strength``."""
    rng = np.random.default_rng(seed)
    with Project.open(path) as project:
        split = load_split(project, "default")
        plan = split.plan
        for job in experiment_jobs(project, name):
            run_dir = project.runs_dir / job.run_id
            run_dir.mkdir(parents=True, exist_ok=True)
            rows = np.flatnonzero(plan.folds == job.fold)
            lines = ["image_id,patient_id,fold,probability,label"]
            for i in rows:
                y = int(plan.labels[i])
                p = 1.0 / (1.0 + np.exp(-(strength * (2 * y - 1) + rng.normal(0, 1.0))))
                lines.append(f"{int(plan.image_ids[i])},{plan.patients[i]},{job.fold},{p:.9g},{y}")
            (run_dir / "predictions.csv").write_text("\n".join(lines) + "\n")
            compute = {"parameters": 5_000_000 + 1000 * seed, "forward_gflops": 0.5 + seed,
                       "image_size": 64, "train_images_per_s": 100.0 + job.fold,
                       "epoch_seconds": [2.0, 4.0], "wall_seconds_total": 10.0 + job.fold,
                       "peak_memory_bytes": (100 + job.fold) * 2 ** 20, "peak_memory_kind": "cpu_rss",
                       "latency_ms_batch1": 3.0, "latency_ms_per_image_batched": 1.0, "latency_batch": 8,
                       "device": "cpu", "device_name": "test cpu", "precision": "fp32"}
            (run_dir / "metrics.json").write_text(json.dumps({"compute": compute, "epochs_run": 2}))
            config = {"spec": job.spec, "resolved": {"family": family}}
            (run_dir / "config.json").write_text(json.dumps(config))
            with project.transaction() as conn:
                conn.execute("UPDATE jobs SET state = 'finished' WHERE id = ?", (job.id,))


@pytest.fixture
def study(tmp_path) -> Path:
    path = make_project(tmp_path / "Study", patients=16, per_patient=2, k=2, height=32, width=24)
    with Project.open(path) as project:
        for name, model in ((CNN, "resnet10t"), (VIT, "vit_tiny_patch16_224"), (PENDING, "resnet10t")):
            create_experiment(project, name, tiny_spec(path, model, epochs=1))
    finish_experiment(path, CNN, 0.5, "cnn", 1)
    finish_experiment(path, VIT, 1.0, "vit", 2)
    return path


@pytest.fixture
def results(qtbot, window, study):
    controller = window.results  # installed by the main window
    controller.n_boot = N_BOOT
    open_in(qtbot, window, study)
    with qtbot.waitSignal(controller.sigStatusesShown, timeout=10_000):
        controller.dock.show()
    yield controller
    controller.exporter.wait()
    window.tasks.wait(10_000)


def _check(qtbot, controller, names, level="patient"):
    with qtbot.waitSignal(controller.sigResultsShown, timeout=30_000) as blocker:
        controller.page.set_level(level)
        controller.page.set_checked(names)
        controller.recompute()
    return blocker.args[0]


def test_roc_curves_and_legends_match_engine_evaluate(qtbot, results, study):
    data = _check(qtbot, results, [CNN, VIT])
    roc = results.page.roc_plot
    assert sorted(roc.curves) == [CNN, VIT] and [r.name for r in data.results] == [CNN, VIT]
    with Project.open(study) as project:
        expected = {n: experiment_results(project, n).patient for n in (CNN, VIT)}
    for name, level in expected.items():
        x, y = roc.curves[name].getData()
        np.testing.assert_allclose(x, level.roc.fpr)
        np.testing.assert_allclose(y, level.roc.tpr)
        a = level.auc
        assert f"{name}  AUC {a.auc:.2f} ({a.ci_low:.2f}-{a.ci_high:.2f})" in roc.legend_texts()
        youden = level.operating_points["youden"]
        (px, py), = [(p.pos().x(), p.pos().y()) for p in roc.points[name]["youden"].points()]
        assert (px, py) == pytest.approx((1 - youden.specificity, youden.sensitivity))
        assert "sensitivity" in roc.points[name]
        px, py = results.page.pr_plot.curves[name].getData()
        np.testing.assert_allclose(px, level.pr.recall)
        assert f"{name}  AP {level.pr.average_precision:.2f}" in results.page.pr_plot.legend_texts()
    assert expected[CNN].auc.auc != pytest.approx(expected[VIT].auc.auc)
    prevalence = [line.value() for line in results.page.pr_plot.prevalence_lines]
    assert prevalence == pytest.approx([expected[CNN].pr.prevalence], abs=1e-6)


def test_comparison_and_cost_tables_hold_engine_numbers(qtbot, results, study):
    _check(qtbot, results, [CNN, VIT])
    with Project.open(study) as project:
        preds = [load_experiment_predictions(project, n) for n in (CNN, VIT)]
        costs = [compute_cost(project, n) for n in (CNN, VIT)]
    delong = compare_experiments(preds, level="patient", method="delong")
    boot = compare_experiments(preds, level="patient", method="bootstrap", n_boot=N_BOOT, seed=0)
    model = results.page.comparison
    assert model.rowCount() == 1
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    row = dict(zip(header, (model.raw(0, c) for c in range(model.columnCount()))))
    assert (row["First"], row["Second"]) == (delong.first[0], delong.second[0])
    assert row["Δ AUC"] == pytest.approx(delong.difference[0])
    assert row["DeLong 95% CI"] == pytest.approx((delong.ci_low[0], delong.ci_high[0]))
    assert row["DeLong p"] == pytest.approx(delong.p_value[0])
    assert row["DeLong p (Holm)"] == pytest.approx(delong.p_holm[0])
    assert row["Bootstrap p"] == pytest.approx(boot.p_value[0])
    assert row["Bootstrap 95% CI"] == pytest.approx((boot.ci_low[0], boot.ci_high[0]))
    assert row["Significant"] == bool(delong.significant()[0])
    cost = results.page.costs
    assert [cost.raw(r, 0) for r in range(cost.rowCount())] == [CNN, VIT]
    cols = {cost.headerData(c, Qt.Orientation.Horizontal): c for c in range(cost.columnCount())}
    for r, c in enumerate(costs):
        assert cost.raw(r, cols["Params (M)"]) == c.parameters
        assert cost.raw(r, cols["Wall s (total)"]) == pytest.approx(c.wall_seconds_total) == 21.0
        assert cost.raw(r, cols["Peak memory (MiB)"]) == c.peak_memory_bytes
        assert cost.text(r, cols["Peak memory (MiB)"]) == "101"
        assert cost.raw(r, cols["Family"]) == ("cnn", "vit")[r]


def test_patient_and_image_level_show_different_curves(qtbot, results, study):
    patient = _check(qtbot, results, [CNN, VIT], "patient")
    x_patient, _ = results.page.roc_plot.curves[VIT].getData()
    with qtbot.waitSignal(results.sigResultsShown, timeout=30_000) as blocker:
        results.page.set_level("image")  # the combo alone triggers the (debounced) request
    image = blocker.args[0]
    assert (patient.level, image.level) == ("patient", "image")
    with Project.open(study) as project:
        level = experiment_results(project, VIT).image
    x_image, y_image = results.page.roc_plot.curves[VIT].getData()
    np.testing.assert_allclose(x_image, level.roc.fpr)
    np.testing.assert_allclose(y_image, level.roc.tpr)
    assert len(x_image) != len(x_patient) or not np.allclose(x_image, x_patient)
    assert level.n_cases == 32 and image.results[0].level("image").n_cases == 32
    # patients have two images each: no DeLong at image level, the bootstrap stands alone
    assert results.page.comparison.raw(0, 6) is None and results.page.comparison.text(0, 6) == "—"
    assert any("DeLong not shown at image level" in n for n in image.notes)


def test_incomplete_experiment_is_greyed_with_the_reason(results, window):
    item = results.page.picker.item_named(PENDING)
    assert item is not None and not item.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "has not finished" in item.toolTip() and "fold 0" in item.toolTip()
    assert "0/2 folds (2 queued)" in item.text()
    assert "2/2 folds" in results.page.picker.item_named(CNN).text()
    assert results.action in window.menu_actions.view_menu.actions()
    assert results.action.isChecked() and results.dock.isVisible()
    results.page.set_checked([CNN, PENDING])
    assert results.page.checked() == [CNN]


def test_finished_experiment_appears_checked(qtbot, results, study):
    _check(qtbot, results, [CNN])
    finish_experiment(study, PENDING, 0.7, "cnn", 3)
    with qtbot.waitSignal(results.sigResultsShown, timeout=30_000) as blocker:
        results.on_experiment_finished(PENDING)
    assert [r.name for r in blocker.args[0].results] == [CNN, PENDING]
    assert sorted(results.page.roc_plot.curves) == [CNN, PENDING]
    assert results.page.picker.item_named(PENDING).flags() & Qt.ItemFlag.ItemIsEnabled


def test_a_superseded_request_is_dropped(qtbot, results):
    shown = []
    results.sigResultsShown.connect(shown.append)
    results.page.set_checked([CNN])
    results.recompute()
    results.page.set_checked([CNN, VIT])
    with qtbot.waitSignal(results.sigResultsShown, timeout=30_000):
        results.recompute()
    qtbot.wait(400)  # the debounce timer the checks started was stopped by recompute
    assert [[r.name for r in d.results] for d in shown] == [[CNN, VIT]]


def test_export_writes_the_html_report(qtbot, results, study):
    page_data = _check(qtbot, results, [CNN, VIT])
    assert results.page.export_button.isEnabled()
    with qtbot.waitSignal(results.sigReportWritten, timeout=240_000) as blocker:
        results.page.export_button.click()
        assert not results.page.export_button.isEnabled()
    html = Path(blocker.args[0])
    assert html.is_file() and html.parent.parent == study / "reports"
    text = html.read_text(encoding="utf-8")
    assert "<html" in text.lower() and CNN in text and VIT in text
    report = json.loads((html.parent / "report.json").read_text())
    assert (report["level"], report["n_boot"]) == ("patient", N_BOOT)
    (row,) = report["comparisons"]
    shown = page_data.comparison[0]
    assert (row["p_boot"], row["p_delong"]) == pytest.approx((shown.p_boot, shown.p_delong))
    assert not list((study / "reports").glob(".writing-*"))
    assert results.page.export_button.isEnabled()
    box = results.page.findChild(object, "reportWrittenBox")
    assert box is not None
    box.close()


def test_failed_export_says_why_and_leaves_nothing(qtbot, results, study):
    with qtbot.waitSignal(results.sigReportFailed, timeout=240_000) as blocker:
        results.exporter.start(study, study / "reports", ["no-such-experiment"], "patient")
    assert "no-such-experiment" in blocker.args[0]
    assert not list((study / "reports").glob("*"))


def test_results_are_computed_without_torch(study):
    code = textwrap.dedent(f"""
        import sys
        from engine.store import Project
        from affgui.parts.results import compute_results, list_status
        with Project.open({str(study)!r}) as project:
            statuses = list_status(project)
            data = compute_results(project, ["cnn", "vit"], "patient", n_boot=100)
        assert [s.ready for s in statuses] == [True, True, False], statuses
        assert len(data.results) == 2 and len(data.comparison) == 1
        assert "torch" not in sys.modules and "timm" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=study.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_each_against_a_reference_with_holm_over_the_rows(qtbot, results, study):
    finish_experiment(study, PENDING, 0.7, "cnn", 3)
    with qtbot.waitSignal(results.sigStatusesShown, timeout=10_000):
        results.refresh()
    data = _check(qtbot, results, [CNN, VIT, PENDING])
    assert len(data.comparison) == 3  # all pairs
    with qtbot.waitSignal(results.sigResultsShown, timeout=30_000) as blocker:
        combo = results.page.reference_combo
        combo.setCurrentIndex(combo.findData(VIT))
    rows = blocker.args[0].comparison
    with Project.open(study) as project:
        preds = [load_experiment_predictions(project, n) for n in (CNN, VIT, PENDING)]
    delong = compare_experiments(preds, reference=VIT, level="patient", method="delong")
    assert [(r.first, r.second) for r in rows] == list(zip(delong.first, delong.second))
    assert [r.p_delong_holm for r in rows] == pytest.approx(list(delong.p_holm))
    assert results.page.comparison.rowCount() == 2


def test_closing_the_project_empties_the_page(qtbot, results, window):
    _check(qtbot, results, [CNN, VIT])
    window.close_project()
    qtbot.waitUntil(lambda: results.page.picker.count() == 0 and not results.page.roc_plot.curves)
    assert results.page.comparison.rowCount() == 0 and results.results is None
    assert not results.page.export_button.isEnabled()
