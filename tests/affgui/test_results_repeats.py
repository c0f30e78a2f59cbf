"""The Results view shows per-repeat AUCs and the corrected test across repeats when repeats exist."""

from __future__ import annotations

import json

import pytest

from engine.evaluate import compare_repeated, load_repeated_predictions
from engine.experiments import experiment_jobs
from engine.store import Project
from tests.affgui.conftest import open_in
from tests.engine.test_evaluate_repeats import _study


@pytest.fixture
def repeated(qtbot, window, tmp_path):
    project, _ = _study(tmp_path)  # two experiments, 2 repeats x 3 folds, hand-written predictions
    path = project.path
    for name, family in (("good", "vit"), ("bad", "cnn")):
        for job in experiment_jobs(project, name):  # what a finished worker writes beside predictions.csv
            run = project.runs_dir / job.run_id
            compute = {"parameters": 1000, "forward_gflops": 0.1, "image_size": 32,
                       "train_images_per_s": 10.0,
                       "epoch_seconds": [1.0], "wall_seconds_total": 2.0, "peak_memory_bytes": 2 ** 20,
                       "peak_memory_kind": "cpu_rss", "latency_ms_batch1": 1.0,
                       "latency_ms_per_image_batched": 1.0, "latency_batch": 8, "device": "cpu",
                       "device_name": "test cpu", "precision": "fp32"}
            (run / "metrics.json").write_text(json.dumps({"compute": compute, "epochs_run": 1}))
            (run / "config.json").write_text(json.dumps({"spec": job.spec, "resolved": {"family": family}}))
    project.close()
    controller = window.results
    controller.n_boot = 50
    open_in(qtbot, window, path)
    with qtbot.waitSignal(controller.sigStatusesShown, timeout=10_000):
        controller.dock.show()
    yield controller, path
    controller.exporter.wait()
    window.tasks.wait(10_000)


def _rows(model) -> list[dict]:
    return [dict(zip(model.header, row)) for row in model.rows]


def test_repeats_and_the_corrected_test_are_tabs(qtbot, repeated):
    controller, path = repeated
    with qtbot.waitSignal(controller.sigResultsShown, timeout=60_000):
        controller.page.set_level("patient")
        controller.page.set_checked(["good", "bad"])
        controller.recompute()
    page = controller.page
    runs = [(r["experiment"], r["run"]) for r in _rows(page.stats_models["repeats"])]
    assert ("good", "r0s0") in runs and ("good", "r1s0") in runs and ("bad", "mean") in runs
    tests = _rows(page.stats_models["repeated_tests"])
    assert len(tests) == 1 and tests[0]["pairs"] == 6
    with Project.open(path) as project:
        ref = compare_repeated(load_repeated_predictions(project, tests[0]["first"]),
                               load_repeated_predictions(project, tests[0]["second"]), level="patient")
    assert tests[0]["p_value"] == pytest.approx(ref.ttest.p_value)
    assert tests[0]["mean_difference"] == pytest.approx(ref.ttest.mean_difference)
