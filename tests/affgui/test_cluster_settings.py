"""The cluster settings dialog edits the project's slurm.json and refuses wrong values."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QDialogButtonBox

from affgui.widgets.cluster_settings import ClusterSettingsDialog
from engine.slurm import ClusterSettings
from engine.store import Project


def _project(tmp_path):
    with Project.create(tmp_path / "study") as project:
        return project.path


def test_edit_and_save_settings(qtbot, tmp_path):
    path = _project(tmp_path)
    ClusterSettings(partition="cpu", time="01:00:00").save(path)
    dialog = ClusterSettingsDialog(path)
    qtbot.addWidget(dialog)
    assert dialog.edits["partition"].text() == "cpu" and dialog.edits["time"].text() == "01:00:00"
    dialog.edits["partition"].setText("gpu")
    dialog.edits["account"].setText("aff-lab")
    dialog.spins["gpus"].setValue(2)
    dialog.extra_edit.setPlainText("--constraint=a100\n\n#SBATCH --exclusive\n")
    dialog.setup_edit.setPlainText("module load cuda/12\nsource ~/affwb/bin/activate")
    assert "#SBATCH --gpus=2" in dialog.preview.toPlainText()
    assert "#SBATCH --constraint=a100" in dialog.preview.toPlainText()
    dialog.accept()
    saved = ClusterSettings.load(path)
    assert (saved.partition, saved.account, saved.gpus, saved.time) == ("gpu", "aff-lab", 2, "01:00:00")
    assert saved.extra == ("--constraint=a100", "#SBATCH --exclusive")
    assert saved.setup == "module load cuda/12\nsource ~/affwb/bin/activate"


def test_wrong_values_disable_ok_and_save_nothing(qtbot, tmp_path):
    path = _project(tmp_path)
    dialog = ClusterSettingsDialog(path)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()
    dialog.edits["mem"].setText("lots")
    dialog.extra_edit.setPlainText("--output=/tmp/elsewhere.log")
    assert not ok.isEnabled()
    text = dialog.problem_label.text()
    assert "mem 'lots'" in text and "sets --output itself" in text
    assert dialog.preview.toPlainText() == ""
    dialog.accept()  # refused: the dialog stays open and writes nothing
    assert not (path / "slurm.json").exists()
    dialog.edits["mem"].setText("32G")
    dialog.extra_edit.setPlainText("")
    assert ok.isEnabled() and dialog.problem_label.text() == ""


def test_a_broken_file_is_reported_and_replaced_on_save(qtbot, tmp_path):
    path = _project(tmp_path)
    (path / "slurm.json").write_text("{broken")
    dialog = ClusterSettingsDialog(path)
    qtbot.addWidget(dialog)
    assert "cannot read cluster settings" in dialog.problem_label.text()
    assert dialog.edits["mem"].text() == ClusterSettings().mem
    dialog.accept()
    assert json.loads((path / "slurm.json").read_text())["mem"] == "16G"
