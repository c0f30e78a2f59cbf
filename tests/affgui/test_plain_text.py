"""Patient IDs and paths are shown as typed: ``<img src=x>`` never renders as rich text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from affgui import display
from affgui.thumbnails import ThumbnailModel
from engine.store import Project

from .conftest import open_in

EVIL = "<img src='x'><b>P000</b>"


def _rendered(rich: str) -> str:
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def test_helpers_keep_markup_as_text():
    assert _rendered(display.esc(EVIL)) == EVIL
    assert _rendered(display.plain_tooltip(f"a {EVIL}\nb")) == f"a {EVIL}\nb"


def test_window_shows_a_patient_id_with_markup_as_typed(qtbot, window, project_path):
    with Project.open(project_path) as project, project.transaction() as conn:
        conn.execute("UPDATE images SET path = ? WHERE id = 1", ("/data/<img src=y>.dcm",))
        conn.execute("UPDATE patients SET patient_key = ? WHERE id = "
                     "(SELECT patient_id FROM images WHERE id = 1)", (EVIL,))
    open_in(qtbot, window, project_path)
    model = window.grid.model()
    row = next(r for r in range(model.rowCount()) if model.image_row(r).id == 1)
    window.grid.setCurrentIndex(model.index(row))
    qtbot.waitUntil(lambda: "#1 " in _rendered(window.info_label.text()))
    shown = _rendered(window.info_label.text())
    assert EVIL in shown and "/data/<img src=y>.dcm" in shown
    tip = model.index(row).data(Qt.ItemDataRole.ToolTipRole)
    assert EVIL in _rendered(tip) and "<img src=y>" in _rendered(tip)
    assert isinstance(model, ThumbnailModel)
    lines = display.metadata_lines(model.image_row(row))
    assert _rendered(lines[0]) == EVIL
