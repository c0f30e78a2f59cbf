"""The New Experiment dialog: split balance, the CNN vs ViT preset, and refusals shown in the dialog."""

from __future__ import annotations

import pytest

from affgui.parts.experiments.new_experiment_dialog import WEIGHTS_COLUMN, NewExperimentDialog
from affgui.parts.experiments.plan import plan_experiments, short_name, study_models
from affgui.tasks import TaskRunner
from engine.experiments import list_experiments
from engine.jobs import JobQueue
from engine.models import list_models
from engine.splits import fold_balance, load_split
from engine.store import Project
from tests.engine._train_factory import make_project

ALL_LOCAL = ({m: True for m in list_models()}, False)  # every model's weights on this machine
NONE_LOCAL = ({m: False for m in list_models()}, False)  # none, and no internet


@pytest.fixture
def project(tmp_path):
    path = make_project(tmp_path / "Study", patients=24, per_patient=2, aff_share=0.4, k=2)
    with Project.open(path) as p:
        yield p


@pytest.fixture
def tasks(qtbot):
    runner = TaskRunner(max_threads=2)
    yield runner
    runner.shutdown()


def open_dialog(qtbot, project, tasks, probe=ALL_LOCAL) -> NewExperimentDialog:
    dialog = NewExperimentDialog(project, tasks, weights_probe=(lambda: probe) if probe else None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.splits.split is not None, timeout=10_000)
    if probe:
        qtbot.waitUntil(lambda: dialog.weights is not None, timeout=10_000)
    return dialog


def submit_and_wait_failure(qtbot, dialog) -> str:
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    return dialog.error.text()


def test_plan_names_are_readable():
    assert short_name("vit_base_patch16_224") == "vit_base"
    assert short_name("swin_tiny_patch4_window7_224") == "swin_tiny"
    assert short_name("densenet121") == "densenet121"
    assert [p.name for p in plan_experiments(["resnet50"], "both", "s1-")] == [
        "s1-resnet50-imagenet", "s1-resnet50-scratch"]
    with pytest.raises(ValueError, match="weights must be one of"):
        plan_experiments(["resnet50"], "imagenet")


def test_split_balance_matches_the_stored_split(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks)
    assert dialog.splits.current_split() == "default"
    table = dialog.splits.table
    assert table.rowCount() == 2  # k = 2
    split = load_split(project, "default")
    for r, c in enumerate(fold_balance(split.plan)):
        m = split.plan.folds == r
        assert int(table.item(r, 1).text()) == int(m.sum())
        assert int(table.item(r, 2).text()) == int(split.plan.labels[m].sum())
        assert c.aff_patients + c.nff_patients == c.patients
    # 24 patients, 10 of them AFF, 2 images each
    assert sum(int(table.item(r, 2).text()) for r in range(2)) == 20
    assert sum(int(table.item(r, 3).text()) for r in range(2)) == 28
    assert sum(int(table.item(r, 5).text()) for r in range(2)) == 10
    assert sum(int(table.item(r, 6).text()) for r in range(2)) == 14


def test_create_split_with_held_out_share_and_refusal(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks)
    picker = dialog.splits
    assert picker.new_name.text() == "split2"  # "default" exists: a new split gets a new name
    picker.new_name.setText("cv3")
    picker.k.setValue(3)
    picker.test_share.setValue(0.25)
    with qtbot.waitSignal(picker.sigLoaded, timeout=10_000):
        picker.create_button.click()
    qtbot.waitUntil(lambda: picker.split is not None and picker.split.name == "cv3", timeout=10_000)
    assert picker.current_split() == "cv3"
    assert [picker.table.item(r, 0).text() for r in range(picker.table.rowCount())] == [
        "0", "1", "2", "held-out test"]
    counts = picker.counts
    assert sum(c.patients for c in counts) == 24 and sum(c.images for c in counts) == 48
    assert "held out" in picker.summary.text()

    picker.new_name.setText("too-many")
    picker.k.setValue(12)  # only 10 AFF patients: 12 folds cannot each hold one
    picker.test_share.setValue(0.0)
    with qtbot.waitSignal(picker.sigLoaded, timeout=10_000):
        picker.create_button.click()
    assert "12 folds need at least 12 AFF" in picker.message.text()
    assert picker.current_split() == "cv3"
    assert {r["name"] for r in project.query("SELECT name FROM splits")} == {"default", "cv3"}


def test_study_pairs_from_the_model_list_queue_on_one_split(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks)
    dialog.set_models(study_models(), "both")  # the preset's models as plain experiments
    names = [p.name for p in dialog.planned()]
    assert names == ["resnet50-imagenet", "resnet50-scratch", "vit_base-imagenet", "vit_base-scratch",
                     "densenet121-imagenet", "densenet121-scratch", "deit_small-imagenet",
                     "deit_small-scratch"]
    assert dialog.model_items["resnet50"].text(WEIGHTS_COLUMN) == "on this machine"
    dialog.epochs.setValue(3)
    with qtbot.waitSignal(dialog.sigCreated, timeout=20_000) as blocker:
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert blocker.args == [names, "local"]
    assert not dialog.isVisible()
    experiments = {e.name: e for e in list_experiments(project)}
    assert set(experiments) == set(names)
    assert experiments["vit_base-scratch"].spec["pretrained"] is False
    assert experiments["vit_base-scratch"].model == "vit_base_patch16_224"
    assert {e.spec["split_version"] for e in experiments.values()} == {1}
    jobs = JobQueue(project).list()
    assert len(jobs) == 16  # 8 experiments x 2 folds
    assert {(j.state, j.backend, j.kind) for j in jobs} == {("queued", "local", "train")}
    assert {j.spec["epochs"] for j in jobs} == {3}
    assert sorted(j.fold for j in jobs) == [0] * 8 + [1] * 8
    # reopened, it remembers this project's last choices (models, weights, epochs)
    again = open_dialog(qtbot, project, tasks)
    assert again.epochs.value() == 3 and again.weights_mode.currentData() == "both"
    assert [p.name for p in again.planned()] == names


def test_invalid_input_is_shown_in_the_dialog_and_nothing_is_written(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks, probe=NONE_LOCAL)
    assert dialog.model_items["vit_base_patch16_224"].text(WEIGHTS_COLUMN) == "not on this machine"
    dialog.set_models(["vit_tiny_patch16_224"], "scratch")
    dialog.image_size.setValue(50)  # not a multiple of the patch size 16
    text = submit_and_wait_failure(qtbot, dialog)
    assert "vit_tiny-scratch" in text and "not a multiple of vit_tiny_patch16_224's patch size 16" in text
    assert "Traceback" not in text
    assert dialog.isVisible()

    dialog.image_size.setValue(64)
    dialog.set_models(["resnet10t"], "pretrained")  # weights missing, no internet
    text = submit_and_wait_failure(qtbot, dialog)
    assert "ImageNet weights for resnet10t are not on this machine" in text
    from engine.models import weights_dir

    # the refusal names the weights folder and the commands that fill it
    assert str(weights_dir()) in text and "Import weights file…" in text
    assert "affengine weights import FILE --model resnet10t" in text
    assert "affengine weights fetch resnet10t" in text

    dialog.set_models(["resnet10t", "vit_tiny_patch16_224"], "scratch")
    dialog.plan_table.item(1, 0).setText("resnet10t-scratch")  # the same name twice
    dialog.prefix.setText("x-")  # a re-planned table keeps names typed by hand
    assert [p.name for p in dialog.planned()] == ["x-resnet10t-scratch", "resnet10t-scratch"]
    dialog.prefix.setText("")
    text = submit_and_wait_failure(qtbot, dialog)
    assert "planned twice" in text
    assert project.query("SELECT COUNT(*) FROM experiments")[0][0] == 0
    assert project.query("SELECT COUNT(*) FROM jobs")[0][0] == 0


def test_slurm_backend_and_existing_name(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks, probe=None)
    dialog.set_models(["resnet10t"], "scratch")
    dialog.backend.setCurrentIndex(dialog.backend.findData("slurm"))
    with qtbot.waitSignal(dialog.sigCreated, timeout=20_000):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert {j.backend for j in JobQueue(project).list()} == {"slurm"}

    again = open_dialog(qtbot, project, tasks, probe=None)
    again.set_models(["resnet10t"], "scratch")
    text = submit_and_wait_failure(qtbot, again)
    assert "an experiment named 'resnet10t-scratch' already exists" in text
    assert project.query("SELECT COUNT(*) FROM experiments")[0][0] == 1


def test_weights_probe_reads_affengine_weights_output(monkeypatch):
    import sys

    import engine.jobs
    from affgui.parts.experiments.plan import probe_weights

    out = ("resnet50                           file      /w/resnet50.safetensors\n"
           "vit_base_patch16_224               missing   missing (hub: timm/vit_base)\n"
           "densenet121                        hf-cache  /hf/model.safetensors\n")
    monkeypatch.setattr(engine.jobs, "engine_command",
                        lambda args: [sys.executable, "-c", f"print({out!r}, end='')"])
    assert probe_weights() == {"resnet50": True, "vit_base_patch16_224": False, "densenet121": True}
    monkeypatch.setattr(engine.jobs, "engine_command",
                        lambda args: [sys.executable, "-c", "import sys; sys.exit('no timm here')"])
    with pytest.raises(RuntimeError, match="affengine weights failed: no timm here"):
        probe_weights()


def test_a_choose_a_split_error_goes_once_a_split_is_chosen(qtbot, project, tasks):
    dialog = open_dialog(qtbot, project, tasks, probe=None)
    dialog.splits.combo.setCurrentIndex(-1)
    assert dialog.splits.current_split() == ""
    assert submit_and_wait_failure(qtbot, dialog) == "Choose a split, or create one above."
    dialog.splits.sigSplitChanged.emit("default")
    assert dialog.error.text() == ""
