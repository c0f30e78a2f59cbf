"""Remapped keys (Settings dialog), About versions, and no label lost when the GUI is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox

from affgui.main_window import MainWindow
from affgui.menus import versions
from affgui.settings import get_settings, load_settings, settings_path
from engine.store import Project

from .conftest import N_IMAGES, open_in


def db_labels(path):
    with Project.open(path) as project:
        return project.labels.all()


def test_remap_a_label_key_in_settings(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    dialog = window.keymap.edit()
    qtbot.waitExposed(dialog)
    edit = dialog.edits["label.AFF"]
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Q)  # the reader presses the new key
    assert dialog.bindings()["label.AFF"] == "Q"
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.edits["label.NFF"].setKeySequence(QKeySequence("Q"))  # a clash disables OK
    assert not ok.isEnabled() and "Q is used by" in dialog.conflict_label.text()
    dialog.edits["label.NFF"].setKeySequence(QKeySequence("Ctrl+O"))  # File > Open's key
    assert not ok.isEnabled() and "Open Project" in dialog.conflict_label.text()
    dialog.edits["label.NFF"].setKeySequence(QKeySequence("N"))
    assert ok.isEnabled()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert get_settings().key_bindings == {"label.AFF": "Q"}
    assert load_settings(settings_path()).key_bindings == {"label.AFF": "Q"}
    ids = window.grid.model().image_ids()
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(window.grid.hasFocus)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)  # A no longer labels
    qtbot.keyClick(window.grid, Qt.Key.Key_Q)
    assert db_labels(project_path) == {ids[0]: "AFF"}
    # a new window (next start) uses the remapped key; Restore Defaults brings A back
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.menu_actions.labels["AFF"].shortcut().toString() == "Q"
    d2 = again.keymap.dialog()
    d2.restore_defaults()
    assert d2.bindings()["label.AFF"] == "A"
    assert {"view.rotate_90", "view.flip_horizontal", "view.ruler", "view.box"} <= set(d2.edits)
    again.keymap.set_bindings(d2.bindings())
    assert get_settings().key_bindings == {}
    assert again.menu_actions.labels["AFF"].shortcut().toString() == "A"
    d2.deleteLater()


def test_about_lists_versions(qtbot, window):
    import PySide6

    v = versions()
    assert v["PySide6"] == PySide6.__version__ and v["Python"].count(".") == 2
    from affgui.menus import show_about

    box = show_about(window, "dr-lind")
    assert PySide6.__version__ in box.text() and "dr-lind" in box.text()
    box.close()


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from affgui.main_window import MainWindow

    app = QApplication([])
    win = MainWindow()
    win.show()
    keys = [Qt.Key.Key_A, Qt.Key.Key_N, Qt.Key.Key_U, Qt.Key.Key_X, Qt.Key.Key_A, Qt.Key.Key_N,
            Qt.Key.Key_A]

    def go(_n):
        win.activateWindow()
        win.grid.setFocus()
        for _ in range(200):  # shortcuts fire only in the active window
            if win.grid.hasFocus():
                break
            QTest.qWait(10)
        for key in keys:
            QTest.keyClick(win.grid, key)
        QTest.keyClick(win.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo last A
        QTest.keyClick(win.grid, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # patient NFF
        print("pressed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no cleanup

    win.sigRowsChanged.connect(go)
    win.open_project(sys.argv[1])
    app.exec()
""")


def test_killing_the_gui_after_key_presses_loses_no_label(project_path, tmp_path):
    script = tmp_path / "drive.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(script), str(project_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "pressed" in proc.stdout
    with Project.open(project_path) as project:
        rows = project.images.list()
        labels = project.labels.all()
        history = project.labels.history()
    ids = [r.id for r in rows]  # the grid's order (by patient)
    expected = dict(zip(ids, ["AFF", "NFF", "uncertain", "exclude", "AFF", "NFF"], strict=False))
    # Ctrl+Z undid the 7th label; Shift+N then labelled the current (7th) image's patient NFF
    patient = rows[6].patient_key
    expected.update({r.id: "NFF" for r in rows if r.patient_key == patient})
    assert labels == expected
    assert len(history) == 7 + 1 + sum(
        1 for r in rows if r.patient_key == patient)  # every step is in the history
    assert len(labels) < N_IMAGES
