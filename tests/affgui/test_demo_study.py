"""The real demo study (phantom DICOMs imported by the engine), labelled in the window."""

from __future__ import annotations

from PySide6.QtCore import Qt

from affgui.main_window import MainWindow
from affgui.settings import demo_project_path
from engine.demo import build_demo_project
from engine.store import Project

from .conftest import open_in


def test_press_a_on_the_demo_study_saves_and_survives_reopening(qtbot, window):
    path = build_demo_project(demo_project_path(), patients=4, seed=5, size=(400, 320))
    with Project.open(path) as project:
        rows = project.images.list()
        assert len(rows) >= 4 and all(r.thumb_height for r in rows)
        first = rows[0]
        # Phantom labels came in with the import; clear the first so A is a real change.
        project.labels.set(first.id, None, "tester")

    open_in(qtbot, window, path)
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(lambda: window.grid.hasFocus())
    assert window.grid.current_image_id() == first.id
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    with Project.open(path) as project:
        assert project.labels.get(first.id) == "AFF"
        assert project.labels.history(first.id)[-1].source == "gui"
    window.close()

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    open_in(qtbot, again, path)
    model = again.grid.model()
    assert model.image_row(model.row_of(first.id)).label == "AFF"
    again.close()
