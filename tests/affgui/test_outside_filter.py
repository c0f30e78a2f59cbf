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


def test_a_hidden_view_of_the_patient_is_shown_marked_and_labelled(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    window.menu_actions.auto_advance.setChecked(False)
    with qtbot.waitSignal(window.sigRowsChanged, timeout=10_000):
        window.filter_bar.search_edit.setText("img000")
        window.filter_bar.search_edit.returnPressed.emit()
    shown = window.grid.model().image_ids()
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
