"""A damaged project opened from the recent list: the recovery steps are shown, the entry is kept."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from affgui.settings import get_settings, save_settings
from tests.affgui.conftest import open_in


def _damage(path) -> None:
    """A zero-byte database beside a non-empty cache: damaged, never a new project."""
    for extra in ("project.sqlite-wal", "project.sqlite-shm"):
        (path / extra).unlink(missing_ok=True)
    (path / "project.sqlite").write_bytes(b"")


def _message_box(window) -> QMessageBox:
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes, "no message box shown"
    return boxes[-1]


def test_damaged_project_from_recents_shows_how_to_recover(qtbot, window, project_path):
    path = project_path.resolve()
    open_in(qtbot, window, path)  # known to work, so it is in the recent list
    window.close_project()
    _damage(path)
    menu = window.menu_actions.recent_menu
    menu.aboutToShow.emit()
    action = next(a for a in menu.actions() if a.text() == str(path))
    action.trigger()
    qtbot.waitUntil(lambda: "damaged" in getattr(window, "last_error", ""), timeout=10_000)
    box = _message_box(window)
    text = box.informativeText()
    assert "damaged" in box.text().lower()
    assert str(path) in text and "damaged project" in text
    # the recovery steps of docs/recovery.md: restore a backup, or recover what can be read
    assert str(path / "backups") in text and "affengine project backup" in text
    assert f"affengine project recover {path}" in text
    assert window.project is None
    assert str(path) in get_settings().recent_projects  # kept: the labels may still be saved
    menu.aboutToShow.emit()
    assert str(path) in [a.text() for a in menu.actions()]
    box.close()


def test_damaged_last_project_at_start_is_not_only_a_status_line(qtbot, window, project_path):
    """The quiet reopen of the last project still shows a damaged project's message box."""
    path = project_path.resolve()
    settings = get_settings()
    settings.add_recent(path)
    save_settings(settings)
    _damage(path)
    window.open_project(path, quiet=True)
    qtbot.waitUntil(lambda: "damaged" in getattr(window, "last_error", ""), timeout=10_000)
    assert f"affengine project recover {path}" in _message_box(window).informativeText()
    assert get_settings().recent_projects[0] == str(path)


def test_a_missing_project_is_still_forgotten(qtbot, window, tmp_path):
    missing = (tmp_path / "Gone.affproj").resolve()
    get_settings().add_recent(missing)
    window.open_project(missing)
    qtbot.waitUntil(lambda: "Cannot open the project" in getattr(window, "last_error", ""))
    assert "damaged" not in window.last_error
    assert str(missing) not in get_settings().recent_projects
