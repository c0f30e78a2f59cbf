"""A slurm.json that is not text opens the dialog on the defaults with the reason, like a broken one."""

from __future__ import annotations

import json

from affgui.widgets.cluster_settings import ClusterSettingsDialog
from engine.slurm import ClusterSettings
from engine.store import Project


def test_a_file_that_is_not_utf8_is_reported_and_replaced_on_save(qtbot, tmp_path):
    with Project.create(tmp_path / "study") as project:
        path = project.path
    (path / "slurm.json").write_bytes(b'{"partition": "\xff\xfe"}')  # e.g. saved in Latin-1
    dialog = ClusterSettingsDialog(path)
    qtbot.addWidget(dialog)
    assert "slurm.json" in dialog.problem_label.text()
    assert dialog.edits["mem"].text() == ClusterSettings().mem
    dialog.accept()
    assert json.loads((path / "slurm.json").read_text())["mem"] == "16G"
