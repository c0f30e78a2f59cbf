"""The patient panel shows another view of the patient even when the filter hides it, marked so."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from engine.store import Project

from .conftest import open_in


def _plain(rich: str) -> str:
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def _one_image_listed(qtbot, window, project_path) -> list[int]:
    """Open the project, auto-advance off, the filter down to one image; its id in a list."""
    open_in(qtbot, window, project_path)
    window.menu_actions.auto_advance.setChecked(False)
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        window.filter_bar.search_edit.setText("img000")
        window.filter_bar.search_edit.returnPressed.emit()
    return window.grid.model().image_ids()


def test_a_hidden_view_of_the_patient_is_shown_marked_and_labelled(qtbot, window, project_path):
    shown = _one_image_listed(qtbot, window, project_path)
    assert len(shown) == 1
    panel = window.panels.patient_panel
    qtbot.waitUntil(lambda: len(panel.image_ids()) > 1)
    hidden = panel.image_ids()[1]
    assert hidden not in shown
    rect = panel.visualItemRect(panel.item(1))
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_image_id() == hidden
    assert window.viewer.row is not None and window.viewer.row.id == hidden
    assert "outside the current filter" in _plain(window.info_label.text())
    assert f"#{hidden} " in _plain(window.info_label.text())
    assert "not in the current filter" not in window.statusBar().currentMessage()
    window.set_label("AFF")  # the label key labels the image shown, not the grid's
    with Project.open(project_path) as project:
        assert project.labels.get(hidden) == "AFF" and project.labels.get(shown[0]) is None
    assert panel.labels()[hidden] == "AFF"
    assert window.current_image_id() == hidden
    tile = window.grid.visualRect(window.grid.model().index(0)).center()
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=tile)  # back in the list
    assert window.current_image_id() == shown[0]
    assert "outside" not in _plain(window.info_label.text())


def test_the_heatmap_window_stays_in_the_list_while_a_hidden_view_is_shown(qtbot, window, project_path):
    """It steps through the browser's listing: an image shown from outside the filter does not
    move it, a label given to its image does reach it (the final-model button depends on it)."""
    shown = _one_image_listed(qtbot, window, project_path)
    widget = window.heatmaps.open()
    assert widget.row.id == shown[0]
    hidden = next(r for r in window.project.images.patient_images(widget.row.patient_key)
                  if r.id not in shown)
    window.show_outside_filter(hidden)
    assert window.current_image_id() == hidden.id
    assert widget.row.id == shown[0]  # still the listed image
    window.grid.setFocus()
    tile = window.grid.visualRect(window.grid.model().index(0)).center()
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=tile)  # back in the list
    window.set_label("NFF")
    assert widget.row.id == shown[0] and widget.row.label == "NFF"
    window.close_project()
