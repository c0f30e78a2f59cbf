"""The New Experiment dialog's CNN vs ViT Study preset and Import weights file…: the CLI's
design and the CLI's refusals, through the dialog."""

from __future__ import annotations

import subprocess
import sys

import pytest

from affgui.parts.experiments.new_experiment_dialog import NewExperimentDialog
from affgui.parts.experiments.plan import StudyOptions, probe_weights, study_args
from affgui.tasks import TaskRunner
from engine.experiments import list_experiments
from engine.jobs import JobQueue
from engine.models import weights_dir
from engine.splits import create_split
from engine.store import Project
from tests.engine._train_factory import make_project


def _project(path):
    make_project(path, patients=18, per_patient=2, aff_share=0.4, k=3)
    with Project.open(path) as p:
        create_split(p, "cv", k=3, repeats=2, seed=0)
    return path


@pytest.fixture
def tasks(qtbot):
    runner = TaskRunner(max_threads=2)
    yield runner
    runner.shutdown()


def real_probe():
    return probe_weights(), False  # what `affengine weights` says; offline


def open_dialog(qtbot, project, tasks, probe=real_probe) -> NewExperimentDialog:
    dialog = NewExperimentDialog(project, tasks, weights_probe=probe)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=10_000)
    if probe is not None:
        qtbot.waitUntil(lambda: dialog.weights is not None, timeout=60_000)
    return dialog


def _design(project: Project) -> tuple:
    """What a study queued: per experiment its spec (less the project path) and its job labels."""
    out = {}
    for e in list_experiments(project):
        spec = {k: v for k, v in e.spec.items() if k != "project"}
        jobs = sorted((j.repeat, j.fold, j.seed, j.kind) for j in JobQueue(project).list()
                      if j.experiment_id == e.id)
        out[e.name] = (spec, jobs)
    return out


def test_the_study_preset_queues_what_study_create_queues(qtbot, tasks, tmp_path):
    gui, cli = _project(tmp_path / "Gui"), _project(tmp_path / "Cli")
    options = StudyOptions(split="cv", quick=True, repeats=2, seeds=2, tune_trials=3, drop_missing=True,
                           epochs=2, prefix="s1-")
    subprocess.run([sys.executable, "-m", "engine", *study_args(str(cli), options)], check=True,
                   capture_output=True, timeout=300)
    with Project.open(gui) as project:
        dialog = open_dialog(qtbot, project, tasks)
        dialog.splits.combo.setCurrentText("cv")
        qtbot.waitUntil(lambda: dialog.splits.current_split() == "cv", timeout=10_000)
        dialog.preset_button.click()
        assert dialog.study_mode() and not dialog.models.isEnabled()
        dialog.quick.setChecked(True)
        assert dialog.epochs.value() == 12  # the quick preset's epochs
        dialog.drop_missing.setChecked(True)
        dialog.repeats.setValue(2)
        dialog.train_seeds.setValue(2)
        dialog.tune_trials.setValue(3)
        dialog.epochs.setValue(2)
        dialog.prefix.setText("s1-")
        # no weights here: only the scratch arms, named as the CLI names them
        assert [p.name for p in dialog.planned()] == ["s1-resnet10t-scratch",
                                                      "s1-vit_tiny_patch16_224-scratch"]
        with qtbot.waitSignal(dialog.sigCreated, timeout=120_000) as blocker:
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        assert blocker.args == [["s1-resnet10t-scratch", "s1-vit_tiny_patch16_224-scratch"], "local"]
        got = _design(project)
    with Project.open(cli) as project:
        want = _design(project)
    assert got == want
    spec, jobs = got["s1-resnet10t-scratch"]
    assert spec["tune_trials"] == 3 and spec["epochs"] == 2 and spec["image_size"] == 128
    assert len(jobs) == 2 * 3 * 2  # R x K x S


def test_the_study_preset_is_refused_with_the_folder_and_commands_when_weights_are_missing(
        qtbot, tasks, tmp_path):
    with Project.open(_project(tmp_path / "P")) as project:
        dialog = open_dialog(qtbot, project, tasks)
        dialog.splits.combo.setCurrentText("cv")
        dialog.apply_study_preset()
        dialog.quick.setChecked(True)
        assert [p.name for p in dialog.planned()][:2] == ["resnet10t-pretrained", "resnet10t-scratch"]
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=120_000)
        text = dialog.error.text()
        assert "needs ImageNet weights for resnet10t" in text
        assert str(weights_dir()) in text and "affengine weights fetch" in text
        assert "affengine weights import FILE --model" in text and "--drop-missing" in text
        assert "Traceback" not in text and dialog.isVisible()
        assert list_experiments(project) == [] and JobQueue(project).list() == []


def test_import_weights_file_stores_a_checked_file_and_the_dialog_sees_it(qtbot, tasks, tmp_path,
                                                                         monkeypatch):
    import timm
    import torch
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    good, bad = tmp_path / "resnet10t.pth", tmp_path / "wrong.pth"
    torch.save(timm.create_model("resnet10t", num_classes=1000).state_dict(), good)
    torch.save({"conv1.weight": torch.zeros(3, 3)}, bad)
    with Project.open(_project(tmp_path / "P")) as project:
        dialog = open_dialog(qtbot, project, tasks)
        assert dialog.weights["resnet10t"] is False
        assert "Import weights file…" == dialog.import_button.text()
        chosen = iter([str(bad), str(good)])
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (next(chosen), ""))
        monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("resnet10t", True))
        dialog.import_button.click()
        qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=120_000)
        assert dialog.error.text().startswith("Weights not imported:")
        assert "resnet10t" in dialog.error.text() and "Traceback" not in dialog.error.text()
        with qtbot.waitSignal(dialog.sigWeightsChanged, timeout=120_000):
            dialog.import_button.click()
        assert "stored" in dialog.error.text()
        assert (weights_dir() / "resnet10t.safetensors").is_file()
        qtbot.waitUntil(lambda: dialog.weights.get("resnet10t") is True, timeout=60_000)
        assert dialog.model_items["resnet10t"].text(2) == "on this machine"
