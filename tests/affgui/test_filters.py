"""The filter bar: patient search, view, side, import folder, order; combined with labels."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.store import Project

from .conftest import N_IMAGES, open_in


def rows_of(win):
    model = win.grid.model()
    return [model.image_row(r) for r in range(model.rowCount())]


def choose(qtbot, win, combo, text):
    with qtbot.waitSignal(win.sigRowsChanged, timeout=5000):
        combo.setCurrentIndex(combo.findText(text))


def test_patient_search_view_and_side_filters(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    bar = window.filter_bar
    with qtbot.waitSignal(window.sigRowsChanged, timeout=5000):
        qtbot.keyClicks(bar.search_edit, "P002")  # one re-list after typing pauses
    assert {r.patient_key for r in rows_of(window)} == {"P002"}
    assert len(rows_of(window)) == N_IMAGES // 4
    bar.search_edit.clear()
    qtbot.waitUntil(lambda: len(rows_of(window)) == N_IMAGES)
    choose(qtbot, window, bar.view_combo, "lateral")
    assert len(rows_of(window)) == N_IMAGES // 2
    assert all(r.view == "lateral" for r in rows_of(window))
    choose(qtbot, window, bar.side_combo, "Right")
    assert [(r.view, r.laterality) for r in rows_of(window)] == [("lateral", "R")] * (N_IMAGES // 4)
    # labels combine with the other filters
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    choose(qtbot, window, bar.label_combo, "AFF")
    assert len(rows_of(window)) == 1 and rows_of(window)[0].view == "lateral"


def test_import_folder_filter_and_import_order(qtbot, window, project_path):
    with Project.open(project_path) as project, project.transaction() as conn:
        for row in project.images.list(order="id")[:5]:
            project.images.relocate(conn, row.id, "/scans/" + row.path, "/scans", None)
    open_in(qtbot, window, project_path)
    bar = window.filter_bar
    assert [bar.folder_combo.itemText(i) for i in range(bar.folder_combo.count())] == [
        "Any folder", "/data", "/scans"]
    choose(qtbot, window, bar.folder_combo, "/scans")
    assert sorted(r.id for r in rows_of(window)) == [1, 2, 3, 4, 5]
    assert [r.patient_key for r in rows_of(window)] == sorted(r.patient_key for r in rows_of(window))
    choose(qtbot, window, bar.order_combo, "Import order")
    assert [r.id for r in rows_of(window)] == [1, 2, 3, 4, 5]
    choose(qtbot, window, bar.folder_combo, "Any folder")
    assert len(rows_of(window)) == N_IMAGES


def test_a_folder_the_next_project_lacks_is_dropped_from_the_listing_too(qtbot, window, project_path,
                                                                       tmp_path):
    """Opening a project without the chosen folder resets the bar to "Any folder", and the
    session's listing (which Refresh, an import or a reading session uses) follows the bar."""
    from .conftest import make_project

    with Project.open(project_path) as project, project.transaction() as conn:
        for row in project.images.list(order="id")[:5]:
            project.images.relocate(conn, row.id, "/scans/" + row.path, "/scans", None)
    other = tmp_path / "Other.affproj"
    make_project(other, n=6)  # every image in /data
    open_in(qtbot, window, project_path)
    bar = window.filter_bar
    choose(qtbot, window, bar.folder_combo, "/scans")
    assert window.session.listing.image_filter.source_folder == "/scans"
    open_in(qtbot, window, other)
    assert bar.folder_combo.currentText() == "Any folder"
    qtbot.waitUntil(lambda: window.session.listing.image_filter.source_folder is None, timeout=5000)
    qtbot.waitUntil(lambda: len(rows_of(window)) == 6, timeout=5000)  # listed again, as the bar shows
    with qtbot.waitSignal(window.sigRowsChanged, timeout=5000):
        window.session.reload_rows()  # View > Refresh
    assert len(rows_of(window)) == 6


def test_tiles_are_grouped_by_patient_with_a_marker_on_each_first_tile(qtbot, window,
                                                                       project_path):
    from affgui.widgets.thumbnail_grid import ThumbnailDelegate

    open_in(qtbot, window, project_path)
    model = window.grid.model()
    starts = [r for r in range(model.rowCount()) if ThumbnailDelegate.starts_patient(model, r)]
    assert starts == [0, 3, 6, 9]  # 4 patients of 3 images, listed patient by patient
    shot = window.grid.viewport().grab().toImage()
    for row, marked in ((3, True), (4, False)):
        tile = window.grid.visualRect(model.index(row))
        color = shot.pixelColor(tile.x() + 2, tile.center().y())
        assert (color.name() == "#3b82c4") is marked


def test_status_bar_shows_import_errors_and_worker_state(qtbot, window, project_path):
    with Project.open(project_path) as project:
        project.images.record_errors([("/data/bad1.dcm", "not DICOM"), ("/data/bad2.png", "empty")])
    extras = window.status_extras
    open_in(qtbot, window, project_path)
    qtbot.waitUntil(lambda: extras.import_errors == 2)
    assert extras.errors_label.isVisible() and "2 import errors" in extras.errors_label.text()
    qtbot.waitUntil(lambda: extras.worker_label.text() == "idle")
    window.close_project()
    assert extras.import_errors is None and not extras.errors_label.isVisible()


# Filters and orders on real experiments' predictions: tests/affgui/test_predictions.py


def test_a_project_without_experiments_offers_no_prediction_filter(qtbot, window, project_path):

    from affgui import predictions

    with Project.open(project_path) as project:
        assert predictions.experiment_names(project) == []  # the engine's real listing
    open_in(qtbot, window, project_path)
    bar = window.filter_bar
    qtbot.waitUntil(lambda: not window.tasks.is_running())
    assert bar.experiment_combo.itemText(0) == "No predictions"
    assert not bar.experiment_combo.isEnabled() and bar.prediction() is None
