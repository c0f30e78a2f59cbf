"""Undo/redo through the QUndoStack, patient-level labels, patient and history panels."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from affgui.settings import get_settings
from engine.store import Project

from .conftest import N_IMAGES, open_in

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def db_labels(path, ids):
    with Project.open(path) as project:
        return [project.labels.get(i) for i in ids]


def focus_grid(qtbot, win):
    win.activateWindow()
    win.grid.setFocus()
    qtbot.waitUntil(lambda: win.grid.hasFocus())


def test_undo_redo_walk_the_stack_and_write_history(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    assert db_labels(project_path, ids[:2]) == ["AFF", "NFF"]
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL)
    assert db_labels(project_path, ids[:2]) == [None, None]
    assert window.grid.current_image_id() == ids[0]
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL | SHIFT)
    assert db_labels(project_path, ids[:2]) == ["AFF", None]
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL | SHIFT)
    assert db_labels(project_path, ids[:2]) == ["AFF", "NFF"]
    assert window.grid.current_image_id() == ids[1]
    assert window.counts["AFF"] == 1 and window.counts["NFF"] == 1
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL | SHIFT)
    assert "Nothing to redo" in window.statusBar().currentMessage()
    with Project.open(project_path) as project:
        sources = [(c.source, c.new_label) for c in project.labels.history(ids[0])]
    assert sources == [("gui", "AFF"), ("undo", None), ("gui", "AFF")]
    # a new change after an undo drops the redo branch
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(window.grid, Qt.Key.Key_U)
    assert not window.editor.stack.canRedo()


def test_patient_label_sets_every_image_of_the_patient_in_one_step(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    row = window.current_row()
    with Project.open(project_path) as project:
        patient_ids = [r.id for r in project.images.patient_images(row.patient_key)]
    assert len(patient_ids) == N_IMAGES // 4
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)  # one image AFF first
    window.grid.select_image(row.id)
    qtbot.keyClick(window.grid, Qt.Key.Key_N, SHIFT)
    assert db_labels(project_path, patient_ids) == ["NFF"] * len(patient_ids)
    assert window.counts["NFF"] == len(patient_ids) and window.counts["AFF"] == 0
    assert window.grid.current_image_id() == row.id  # patient labels do not advance
    assert window.panels.patient_panel.labels() == dict.fromkeys(patient_ids, "NFF")
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, CTRL)  # one step undoes the whole patient
    assert db_labels(project_path, patient_ids) == ["AFF"] + [None] * (len(patient_ids) - 1)
    assert window.counts["unlabelled"] == N_IMAGES - 1


def test_patient_panel_shows_the_patients_images_and_selects_on_click(qtbot, window,
                                                                     project_path):
    open_in(qtbot, window, project_path)
    panel = window.panels.patient_panel
    row = window.current_row()
    with Project.open(project_path) as project:
        expected = [r.id for r in project.images.patient_images(row.patient_key)]
    assert panel.patient_key == row.patient_key
    assert panel.image_ids() == expected
    assert panel.currentItem().data(Qt.UserRole) == row.id
    assert not panel.item(0).icon().isNull()  # the thumbnail is the tile's icon
    other = panel.item(1)
    rect = panel.visualItemRect(other)
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.grid.current_image_id() == expected[1]
    window.grid.select_row(N_IMAGES // 4)  # the next patient
    assert panel.patient_key == window.current_row().patient_key != row.patient_key


def test_history_panel_shows_who_what_when_and_exports_csv(qtbot, window, project_path, tmp_path):
    open_in(qtbot, window, project_path)
    window.menu_actions.auto_advance.setChecked(False)
    window.set_reader("dr-lind")
    first = window.grid.current_image_id()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    qtbot.keyClick(window.grid, Qt.Key.Key_U)
    rows = window.panels.history_panel.row_texts()
    assert [r[1:] for r in rows] == [("dr-lind", "AFF → uncertain", "gui"),
                                     ("dr-lind", "unlabelled → AFF", "gui")]
    assert rows[0][0][:4].isdigit()  # a timestamp
    window.grid.select_row(1)
    assert window.panels.history_panel.row_texts() == []
    out = tmp_path / "history.csv"
    window.flows.export_history(out)
    qtbot.waitUntil(lambda: "2 label changes" in window.statusBar().currentMessage())
    with open(out, newline="") as fh:
        data = list(csv.DictReader(fh))
    assert [(int(d["image_id"]), d["new_label"], d["reader"]) for d in data] == [
        (first, "AFF", "dr-lind"), (first, "uncertain", "dr-lind")]
    assert get_settings().reader == "dr-lind"


def test_dock_layout_is_restored_on_the_next_start(qtbot, project_path):
    from affgui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.panels.history_dock.isVisible()
    win.panels.history_dock.hide()
    win.removeDockWidget(win.panels.patient_dock)
    win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, win.panels.patient_dock)
    win.panels.patient_dock.show()
    win.close()
    assert get_settings().window_state
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.panels.history_dock.isVisible()
    assert again.dockWidgetArea(again.panels.patient_dock) == Qt.DockWidgetArea.BottomDockWidgetArea


def test_undo_goes_on_into_an_earlier_session_after_the_stack(qtbot, project_path):
    from affgui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    open_in(qtbot, first, project_path)
    ids = first.grid.model().image_ids()
    focus_grid(qtbot, first)
    qtbot.keyClick(first.grid, Qt.Key.Key_A)  # earlier session: ids[0] AFF
    first.close()

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    open_in(qtbot, win, project_path)
    focus_grid(qtbot, win)
    win.grid.select_image(ids[1])
    qtbot.keyClick(win.grid, Qt.Key.Key_N)  # this session: ids[1] NFF
    qtbot.keyClick(win.grid, Qt.Key.Key_Z, CTRL)  # the stack's step
    assert db_labels(project_path, ids[:2]) == ["AFF", None]
    qtbot.keyClick(win.grid, Qt.Key.Key_Z, CTRL)  # then the earlier session's change
    assert db_labels(project_path, ids[:2]) == [None, None]
    assert win.grid.current_image_id() == ids[0] and win.counts["AFF"] == 0
    qtbot.keyClick(win.grid, Qt.Key.Key_Z, CTRL)
    assert "Nothing to undo" in win.statusBar().currentMessage()
    with Project.open(project_path) as project:
        undo_rows = [c for c in project.labels.history() if c.source == "undo"]
    assert all(c.undoes is not None for c in undo_rows) and len(undo_rows) == 2


def test_toolbar_buttons_label_and_undo(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    a = window.menu_actions
    buttons = {window.toolbar.widgetForAction(x).text(): window.toolbar.widgetForAction(x)
               for x in (*a.labels.values(), a.clear_label, a.undo, a.redo)}
    assert list(buttons) == ["AFF", "NFF", "UNC", "EXC", "Clear", "Undo", "Redo"]
    qtbot.mouseClick(buttons["UNC"], Qt.MouseButton.LeftButton)
    assert db_labels(project_path, ids[:1]) == ["uncertain"]
    assert window.grid.current_image_id() == ids[1]
    qtbot.mouseClick(buttons["Undo"], Qt.MouseButton.LeftButton)
    assert db_labels(project_path, ids[:1]) == [None]
    qtbot.mouseClick(buttons["Redo"], Qt.MouseButton.LeftButton)
    assert db_labels(project_path, ids[:1]) == ["uncertain"]
