"""Every part of the window is built from ``(session, shell)`` alone: here the shell is a bare
object that implements :class:`affgui.shell.Shell` and is no ``MainWindow``.

The parts then work through the session only: a project opened through the session fills
the browser, a label key written through the registry reaches the store, the heatmap part
steps the browser through the session, the reads part finds the Label menu the shell made.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from affgui.listing import load_rows
from affgui.main_window import PARTS
from affgui.menus import ActionRegistry
from affgui.session import ProjectSession
from affgui.settings import get_settings
from affgui.shell import Shell
from engine.store import Project


class BareShell:
    """Just the Shell protocol, over a plain QMainWindow (no menus built, no parts known)."""

    def __init__(self):
        self.host = QMainWindow()
        self.registry = ActionRegistry(self.host, {})
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.messages: list[str] = []
        self.errors: list[tuple[str, str]] = []
        self.status_widgets: list[QWidget] = []

    def add_dock(self, widget, name, title, area=Qt.DockWidgetArea.RightDockWidgetArea,
                 visible=True, view_menu=True):
        dock = QDockWidget(title, self.host)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.host.addDockWidget(area, dock)
        if view_menu:
            self.add_menu("view", "View").addAction(dock.toggleViewAction())
        dock.setVisible(visible)
        self.docks[name] = dock
        return dock

    def add_menu(self, name, title):
        if name not in self.menus:
            self.menus[name] = self.host.menuBar().addMenu(title)
        return self.menus[name]

    def add_action(self, action, menu=None):
        (self.add_menu(menu, menu) if menu else self.host).addAction(action)

    def show_message(self, text, timeout_ms=0):
        self.messages.append(text)

    def show_error(self, title, error):
        self.errors.append((title, str(error)))

    def add_status_widget(self, widget, permanent=True, stretch=0):
        self.status_widgets.append(widget)

    def dialog_parent(self):
        return self.host

    def set_window_visible(self, visible):
        self.host.setVisible(visible)

    def window_visible(self):
        return self.host.isVisible()


def test_every_part_is_built_from_the_session_and_a_bare_shell(qtbot, project_path):
    shell = BareShell()
    qtbot.addWidget(shell.host)
    assert isinstance(shell, Shell)
    session = ProjectSession(get_settings())
    parts = {name: make(session, shell) for name, make in PARTS}
    assert set(parts) == {"browser", "panels", "flows", "results", "heatmaps", "reads", "keymap",
                          "status_extras", "experiments_panel"}
    assert {"patientDock", "historyDock", "resultsDock", "experimentsDock"} <= set(shell.docks)
    assert {"label", "view", "experiments"} <= set(shell.menus)  # made by the parts that need them
    browser = parts["browser"]
    assert browser.info_label in shell.status_widgets and browser.counts_label in shell.status_widgets

    # a project opened through the session alone reaches the browser
    project = Project.open(project_path)
    session.open_listed(project, load_rows(project, session.listing))
    assert browser.grid.model().rowCount() == len(session.rows) > 0
    qtbot.waitUntil(lambda: browser.grid.current_image_id() is not None)
    first = session.current_image
    assert first is not None and first.id == browser.grid.current_image_id()

    # a label key (the registry's action) writes through the session into the store and the rows
    shell.registry.action("label.AFF").trigger()
    assert project.labels.get(first.id) == "AFF"
    assert session.row(first.id).label == "AFF"
    assert session.counts["AFF"] == 1

    # the heatmap part steps the browser through the session (it never sees the grid)
    other = session.rows[3]
    parts["heatmaps"].step_to(other.id)
    assert browser.grid.current_image_id() == other.id == session.current_image.id

    # the reads part hides and shows the shell's window, not a MainWindow's
    shell.host.show()
    parts["reads"].reading_closed()
    assert shell.window_visible() and "its reads are saved" in shell.messages[-1]

    session.close()
    assert browser.grid.model().rowCount() == 0 and session.project is None
    assert not shell.errors
