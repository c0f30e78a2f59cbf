"""The first window: open a project, see thumbnails, label with keys, filter, undo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from affgui import theme
from affgui.main_window import MainWindow
from affgui.settings import get_settings
from affgui.widgets.thumbnail_grid import ThumbnailDelegate, ThumbnailModel
from engine.store import Project

from .conftest import N_IMAGES, THUMB_SHAPE, open_in, thumb_value


def db_label(path, image_id):
    with Project.open(path) as project:
        return project.labels.get(image_id)


def focus_grid(qtbot, win):
    win.activateWindow()
    win.grid.setFocus()
    qtbot.waitUntil(lambda: win.grid.hasFocus())


def test_starts_on_the_welcome_page_with_project_actions_disabled(window):
    assert window.stack.currentWidget() is window.welcome
    assert not window.menu_actions.labels["AFF"].isEnabled()
    assert not window.menu_actions.import_images.isEnabled()
    assert window.menu_actions.open_project.isEnabled()


def test_open_project_lists_images_and_loads_their_thumbnails(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    model = window.grid.model()
    assert model.rowCount() == N_IMAGES
    assert window.stack.currentWidget() is window.splitter
    assert "Study" in window.windowTitle()
    ids = model.image_ids()
    qtbot.waitUntil(lambda: all(model.pixmap(i) is not None for i in ids), timeout=10_000)
    rows = {model.image_row(r).id: model.image_row(r) for r in range(model.rowCount())}
    for image_id in ids:
        image = model.pixmap(image_id).toImage()
        assert (image.height(), image.width()) == THUMB_SHAPE
        k = int(rows[image_id].path[-7:-4])
        assert image.pixelColor(10, 10).red() == thumb_value(k)
    assert model.index(0).data(ThumbnailModel.ThumbStateRole) == "loaded"
    # the first image is current and shown in the viewer
    assert window.grid.current_image_id() == ids[0]
    qtbot.waitUntil(lambda: window.viewer.image_item.image is not None)
    assert f"{N_IMAGES} images" in window.counts_label.text()
    assert get_settings().recent_projects[0] == str(project_path.resolve())


def test_label_key_saves_at_once_and_advances(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    assert db_label(project_path, ids[0]) == "AFF"
    assert window.grid.current_image_id() == ids[1]
    assert window.grid.model().index(0).data(ThumbnailModel.LabelRole) == "AFF"
    assert window.counts == {"AFF": 1, "unlabelled": N_IMAGES - 1}
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    qtbot.keyClick(window.grid, Qt.Key.Key_U)
    qtbot.keyClick(window.grid, Qt.Key.Key_X)
    assert [db_label(project_path, i) for i in ids[:5]] == ["AFF", "NFF", "uncertain", "exclude",
                                                             None]
    assert window.grid.current_image_id() == ids[4]
    with Project.open(project_path) as project:
        change = project.labels.history(ids[0])[-1]
    assert (change.reader, change.source) == (get_settings().reader, "gui")


def test_auto_advance_off_keeps_the_current_image(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    window.menu_actions.auto_advance.setChecked(False)
    first = window.grid.current_image_id()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    assert db_label(project_path, first) == "NFF"
    assert window.grid.current_image_id() == first
    assert get_settings().auto_advance is False
    ids = window.grid.model().image_ids()
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)  # next / previous without labelling
    assert window.grid.current_image_id() == ids[1]
    qtbot.keyClick(window.grid, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert window.grid.current_image_id() == ids[0]
    assert db_label(project_path, ids[1]) is None


def test_label_and_badge_survive_closing_the_window(qtbot, project_path):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    open_in(qtbot, win, project_path)
    first = win.grid.current_image_id()
    focus_grid(qtbot, win)
    qtbot.keyClick(win.grid, Qt.Key.Key_A)
    win.close()

    again = MainWindow()
    qtbot.addWidget(again)
    again.resize(1400, 900)
    again.show()
    qtbot.waitExposed(again)
    open_in(qtbot, again, project_path)  # settings remember it, but open it explicitly here
    model = again.grid.model()
    index = model.index(model.row_of(first))
    assert index.data(ThumbnailModel.LabelRole) == "AFF"
    # the badge is painted in the AFF colour at the tile's top-left corner
    tile = again.grid.visualRect(index)
    badge = ThumbnailDelegate.badge_rect(tile)
    shot = again.grid.viewport().grab().toImage()
    color = shot.pixelColor(badge.left() + 3, badge.top() + 3)
    assert _close(color, QColor(theme.LABEL_COLORS["AFF"]))
    # an unlabelled tile has no badge there
    other = ThumbnailDelegate.badge_rect(again.grid.visualRect(model.index(model.row_of(first) + 1)))
    assert not _close(shot.pixelColor(other.left() + 3, other.top() + 3),
                      QColor(theme.LABEL_COLORS["AFF"]))


def _close(a: QColor, b: QColor, tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_backspace_clears_and_ctrl_z_undoes(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)  # ids[0] = AFF, now on ids[1]
    qtbot.keyClick(window.grid, Qt.Key.Key_N)  # ids[1] = NFF, now on ids[2]
    window.grid.select_image(ids[1])
    qtbot.keyClick(window.grid, Qt.Key.Key_Backspace)
    assert db_label(project_path, ids[1]) is None
    assert window.grid.current_image_id() == ids[1]  # clearing does not advance
    assert window.counts["unlabelled"] == N_IMAGES - 1

    window.grid.select_image(ids[5])
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_label(project_path, ids[1]) == "NFF"  # the clear is undone
    assert window.grid.current_image_id() == ids[1]  # and that image is shown
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_label(project_path, ids[1]) is None
    assert db_label(project_path, ids[0]) is None
    assert window.grid.model().image_row(0).label is None
    assert window.counts == {"unlabelled": N_IMAGES, "AFF": 0, "NFF": 0}
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "Nothing to undo" in window.statusBar().currentMessage()


def test_filters_show_only_matching_images(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    focus_grid(qtbot, window)
    for key in (Qt.Key.Key_A, Qt.Key.Key_N, Qt.Key.Key_A):
        qtbot.keyClick(window.grid, key)
    combo = window.filter_combo
    with qtbot.waitSignal(window.sigRowsChanged) as blocker:
        combo.setCurrentIndex(combo.findText("Unlabelled"))
    assert blocker.args == [N_IMAGES - 3]
    shown = window.grid.model().image_ids()
    assert not set(shown) & set(ids[:3])
    assert window.grid.current_image_id() == ids[3]  # the current image stays current
    with qtbot.waitSignal(window.sigRowsChanged):
        combo.setCurrentIndex(combo.findText("AFF"))
    assert window.grid.model().image_ids() == [ids[0], ids[2]]
    with qtbot.waitSignal(window.sigRowsChanged):
        combo.setCurrentIndex(combo.findText("All images"))
    assert window.grid.model().rowCount() == N_IMAGES


def test_status_bar_shows_counts_and_current_image(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    row = window.grid.model().image_row(0)
    assert row.patient_key in window.info_label.text()
    assert f"1 of {N_IMAGES}" in window.info_label.text()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    text = window.counts_label.text()
    assert "AFF</span> 1" in text and f"unlabelled</span> {N_IMAGES - 1}" in text


def test_open_missing_project_reports_and_forgets_it(qtbot, window, tmp_path):
    missing = tmp_path / "Gone.affproj"
    get_settings().add_recent(missing)
    window.open_project(missing)
    qtbot.waitUntil(lambda: "Cannot open the project" in getattr(window, "last_error", ""))
    assert str(missing) not in get_settings().recent_projects
    assert window.project is None


def test_reader_name_and_recent_menu(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    window.set_reader("  dr-lind ")
    assert get_settings().reader == "dr-lind"
    focus_grid(qtbot, window)
    first = window.grid.current_image_id()
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    with Project.open(project_path) as project:
        assert project.labels.history(first)[-1].reader == "dr-lind"
    menu = window.menu_actions.recent_menu
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions()] == [str(project_path.resolve())]
    window.close_project()
    assert window.project is None and window.stack.currentWidget() is window.welcome
    with qtbot.waitSignal(window.sigRowsChanged):
        menu.actions()[0].trigger()
    assert window.project.path == project_path.resolve()


def test_arrow_home_end_and_page_keys_move_through_the_list(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    focus_grid(qtbot, window)
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.current_image_id() == ids[1]
    qtbot.keyClick(window.grid, Qt.Key.Key_Left)
    assert window.grid.current_image_id() == ids[0]
    qtbot.keyClick(window.grid, Qt.Key.Key_End)
    assert window.grid.current_image_id() == ids[-1]
    qtbot.keyClick(window.grid, Qt.Key.Key_Home)
    assert window.grid.current_image_id() == ids[0]
    qtbot.keyClick(window.grid, Qt.Key.Key_PageDown)
    assert ids.index(window.grid.current_image_id()) > 0
    qtbot.keyClick(window.grid, Qt.Key.Key_PageUp)
    assert window.grid.current_image_id() == ids[0]
