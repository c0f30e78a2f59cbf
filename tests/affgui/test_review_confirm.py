"""Pressing the key of the current label records a confirm; reviewed/not reviewed is a filter and a count."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.store import Project

from .conftest import N_IMAGES, open_in


def test_same_label_key_writes_a_confirm_and_counts_as_reviewed(qtbot, window, project_path):
    with Project.open(project_path) as project:
        ids = sorted(r.id for r in project.images.list())
        project.labels.set(ids[1], "NFF", "importer", source="csv")  # labelled, never looked at here
    open_in(qtbot, window, project_path)
    window.grid.select_image(ids[1])
    window.grid.setFocus()
    qtbot.waitUntil(window.grid.hasFocus)
    qtbot.keyClick(window.grid, Qt.Key.Key_N)  # agrees with the imported label
    with Project.open(project_path) as project:
        rows = [(c.old_label, c.new_label, c.source) for c in project.labels.history(ids[1])]
        assert rows == [(None, "NFF", "csv"), ("NFF", "NFF", "gui")]
        assert project.labels.get(ids[1]) == "NFF"
        assert project.labels.reviewed() == {ids[1]}
    assert window.reviewed == {ids[1]}
    assert "1 reviewed" in window.counts_label.text()
    assert window.counts["NFF"] == 1  # a confirm changes no count

    combo = window.filter_bar.review_combo
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        combo.setCurrentIndex(combo.findData(True))
    assert window.grid.model().image_ids() == [ids[1]]
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        combo.setCurrentIndex(combo.findData(False))
    assert len(window.grid.model().image_ids()) == N_IMAGES - 1
    assert ids[1] not in window.grid.model().image_ids()


def test_confirm_skips_unlabelled_images(project_path):
    with Project.open(project_path) as project:
        ids = sorted(r.id for r in project.images.list())
        assert project.labels.confirm([ids[0]], "reader") == []
        assert project.labels.history(ids[0]) == [] and project.labels.reviewed() == set()
