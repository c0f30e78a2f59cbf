"""The study protocol through the New Experiment dialog: the repeats and seeds set in its
Protocol box are what it queues; the jobs run (an in-process worker) and the report shows
per-repeat AUCs, the Methods text and the corrected test. Smaller than
tests/e2e/test_cli_protocol.py (K = 2, no tuning), which covers the whole path with 2 tuning
trials through the CLI; test_experiments_study_preset.py shows the dialog queues tuning as the
CLI does."""

from __future__ import annotations

import pytest

from affgui.parts.experiments.new_experiment_dialog import NewExperimentDialog
from affgui.tasks import TaskRunner
from engine.experiments import experiment_jobs
from engine.jobs import Worker
from engine.report import build_report
from engine.splits import create_split
from engine.store import Project
from tests.engine._train_factory import make_project

CNN, VIT = "resnet10t", "vit_tiny_patch16_224"


@pytest.fixture
def tasks(qtbot):
    runner = TaskRunner(max_threads=2)
    yield runner
    runner.shutdown()


@pytest.mark.timeout(600)  # 8 one-epoch trainings in-process
def test_a_repeated_study_queued_from_the_dialog_reaches_the_report(qtbot, tasks, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    path = make_project(tmp_path / "Study", patients=12, per_patient=2, aff_share=0.5, k=2)
    with Project.open(path) as project:
        create_split(project, "cv", k=2, repeats=2, seed=0)
        dialog = NewExperimentDialog(project, tasks, weights_probe=None)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=20_000)
        dialog.splits.combo.setCurrentText("cv")
        qtbot.waitUntil(lambda: dialog.splits.current_split() == "cv", timeout=10_000)
        dialog.set_models([CNN, VIT], "scratch")
        for box, value in ((dialog.epochs, 1), (dialog.image_size, 32), (dialog.batch_size, 8),
                           (dialog.repeats, 2), (dialog.train_seeds, 1)):
            box.setValue(value)
        dialog.lr.setValue(1e-3)
        with qtbot.waitSignal(dialog.sigCreated, timeout=60_000) as created:
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        names = created.args[0]
        assert names == ["resnet10t-scratch", "vit_tiny-scratch"]
        for name in names:
            jobs = experiment_jobs(project, name)
            assert [j.label for j in jobs] == ["r0f0s0", "r0f1s0", "r1f0s0", "r1f1s0"]
    Worker(path, device="cpu").run(exit_when_idle=True)
    with Project.open(path) as project:
        assert {j.state for n in names for j in experiment_jobs(project, n)} == {"finished"}
        report = build_report(project, names, reference=names[0], n_boot=100,
                              out_dir=tmp_path / "reports")
    page = report.html.read_text(encoding="utf-8")
    assert "Repeated cross-validation" in page
    assert "<h2>Methods</h2>" in page and "repeated 2 time(s)" in page
    assert "Corrected resampled t-test across repeats and folds" in page
    rows = report.data.repeats["experiments"]
    assert {e["experiment"]: len(e["rows"]) for e in rows} == {n: 2 for n in names}  # one AUC per repeat
