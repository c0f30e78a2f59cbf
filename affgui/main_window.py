"""The main window, the shell: menus, toolbar, docks and status bar around its parts.

It implements :class:`~affgui.shell.Shell` (docks, menus, status line, error boxes, a
parent for dialogs) and builds each part of :data:`PARTS` from ``(session, shell)``; the
open project, the listing, the task runner and the label edits are the
:class:`~affgui.session.ProjectSession`'s, the labelling view (grid, viewer, filter bar,
label keys) is the :class:`~affgui.parts.browser.Browser` part's. The window itself only
switches between the welcome page and the browser's page, enables the project's actions,
keeps its layout and asks the parts before it quits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from affgui.menus import ActionRegistry, build_menus, build_toolbar, fill_recent_menu, show_about
from affgui.parts.browser import Browser
from affgui.parts.experiments import ExperimentsController
from affgui.parts.heatmaps import HeatmapController
from affgui.parts.keymap import KeyMap
from affgui.parts.panels import PanelDocks
from affgui.parts.project_flows import ProjectFlows
from affgui.parts.reads import ReadsController
from affgui.parts.results import ResultsController
from affgui.parts.status import StatusExtras
from affgui.session import ProjectSession
from affgui.settings import Settings, get_settings, save_settings
from affgui.widgets.welcome import WelcomeWidget
from engine.store import ImageRow, Project

# The window's parts, in the order they are built (their docks, menu entries and status-bar
# widgets appear in that order); each is built from (session, shell) alone and is the
# window's attribute of that name. A new part is one file and one line here (docs/interfaces.md).
PARTS: tuple[tuple[str, Callable[[ProjectSession, MainWindow], QObject]], ...] = (
    ("browser", Browser),  # filter bar, grid and viewer (with compare mode, prediction info)
    ("panels", PanelDocks),  # patient and label-history docks
    ("flows", ProjectFlows),  # File > New, Open, Demo, Import, ...
    ("results", ResultsController),  # the Results dock (curves, statistics, final models, report)
    ("heatmaps", HeatmapController),  # View > Compare Heatmaps
    ("reads", ReadsController),  # Label > reading sessions, disagreement queue
    ("keymap", KeyMap),  # File > Settings (keys, reader, auto-advance)
    ("status_extras", StatusExtras),  # import errors and background workers in the status bar
    ("experiments_panel", ExperimentsController),  # the Experiments dock, menu and workers
)

CENTRAL_SHARE = 0.55  # of the height below the toolbar that the grid and viewer keep when docks open


class MainWindow(QMainWindow):
    """The shell: menus, toolbar, docks and status bar around the parts of :data:`PARTS`
    (the browser's page while a project is open, the welcome page while none is)."""

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = ProjectSession(settings or get_settings(), self)
        self.setWindowTitle("AFF Workbench")
        self.resize(1400, 900)

        # every action of the window, with the reader's keys (affgui.menus declares them)
        self.registry = ActionRegistry(self, self.settings.key_bindings)
        self.menu_actions = build_menus(self, self.registry)
        self._menus: dict[str, QMenu] = {
            a.text().replace("&", "").lower(): a.menu() for a in self.menuBar().actions() if a.menu()}
        self.stack = QStackedWidget()
        a = self.menu_actions
        self.welcome = WelcomeWidget([a.open_demo, a.open_project, a.new_project])
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self.toolbar = build_toolbar(self, self.menu_actions)
        self.parts: dict[str, QObject] = {}
        for name, make in PARTS:
            part = self.parts[name] = make(self.session, self)
            setattr(self, name, part)
            if name == "browser":  # the page shown while a project is open
                self.stack.addWidget(self.browser.widget)
        self.resizeDocks([self.panels.patient_dock], [300], Qt.Orientation.Horizontal)
        self.menu_actions.view_menu.addAction(self.toolbar.toggleViewAction())
        self._connect()
        for dock in self.findChildren(QDockWidget):
            if self.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea:
                dock.visibilityChanged.connect(self._on_bottom_dock_shown)
        self._default_state = self.saveState()  # what View > Reset Layout goes back to
        self.menu_actions.reset_layout.triggered.connect(self.reset_layout)
        self._restore_layout()
        self._set_project_actions_enabled(False)

    # -- the session's state and the browser's widgets, as the tests have always read them --
    @property
    def project(self) -> Project | None:
        return self.session.project

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def tasks(self):
        return self.session.tasks

    @property
    def editor(self):
        return self.session.editor

    @property
    def counts(self) -> dict[str, int]:
        return self.session.counts

    @property
    def reviewed(self) -> set[int]:
        return self.session.reviewed

    @property
    def sigRowsChanged(self):
        return self.session.sigRowsChanged

    grid = property(lambda self: self.browser.grid)
    viewer = property(lambda self: self.browser.viewer)
    filter_bar = property(lambda self: self.browser.filter_bar)
    filter_combo = property(lambda self: self.browser.filter_bar.label_combo)
    splitter = property(lambda self: self.browser.splitter)
    compare = property(lambda self: self.browser.compare)
    info_label = property(lambda self: self.browser.info_label)
    counts_label = property(lambda self: self.browser.counts_label)

    def current_image_id(self) -> int | None:
        return self.browser.current_image_id()

    def current_row(self) -> ImageRow | None:
        return self.browser.current_row()

    def set_label(self, label: str | None) -> None:
        self.browser.set_label(label)

    def show_outside_filter(self, image: ImageRow) -> None:
        self.browser.show_outside_filter(image)

    def reload_rows(self) -> None:
        self.session.reload_rows()

    def set_reader(self, name: str) -> None:
        self.session.set_reader(name)

    # -- Shell ------------------------------------------------------------------------
    def add_dock(self, widget: QWidget, name: str, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 visible: bool = True, view_menu: bool = True) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if view_menu:
            self.add_menu("view", "&View").addAction(dock.toggleViewAction())
        if not visible:
            dock.hide()
        return dock

    def add_menu(self, name: str, title: str) -> QMenu:
        menu = self._menus.get(name)
        if menu is None:
            menu = self._menus[name] = QMenu(title, self)
            bar = self.menuBar()
            help_menu = self._menus.get("help")
            if help_menu is not None:
                bar.insertMenu(help_menu.menuAction(), menu)
            else:
                bar.addMenu(menu)
        return menu

    def add_action(self, action: QAction, menu: str | None = None) -> None:
        (self.add_menu(menu, f"&{menu.capitalize()}") if menu is not None else self).addAction(action)

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def add_status_widget(self, widget: QWidget, permanent: bool = True, stretch: int = 0) -> None:
        bar = self.statusBar()
        (bar.addPermanentWidget if permanent else bar.addWidget)(widget, stretch)

    def dialog_parent(self) -> QWidget:
        return self

    def set_window_visible(self, visible: bool) -> None:
        self.setVisible(visible)

    def window_visible(self) -> bool:
        return self.isVisible()

    def _connect(self) -> None:
        a = self.menu_actions
        a.close_project.triggered.connect(self.close_project)
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(self.session.undo)
        a.redo.triggered.connect(self.session.redo)
        a.reader_name.triggered.connect(self._ask_reader_name)
        a.about.triggered.connect(lambda: show_about(self, self.settings.reader))
        a.recent_menu.aboutToShow.connect(
            lambda: fill_recent_menu(a.recent_menu, self.settings.recent_projects,
                                     self.open_project))
        s = self.session
        s.sigMessage.connect(self.show_message)
        s.sigError.connect(self.show_error)
        s.sigProjectOpening.connect(self._on_project_opening)
        s.sigProjectChanged.connect(self._on_project_changed)

    # -- project ----------------------------------------------------------------
    def open_project(self, path: str | Path, quiet: bool = False) -> None:
        """Open the project at ``path`` on a worker; the window switches when it is read."""
        self.flows.open_project(Path(path), quiet=quiet)

    @Slot()
    def close_project(self) -> None:
        """Close the open project through the session (its parts follow its signals)."""
        self.session.close()

    def _on_project_opening(self, project: Project) -> None:
        self.setWindowTitle(f"{project.name} — AFF Workbench")
        self.stack.setCurrentWidget(self.browser.widget)
        self.statusBar().clearMessage()
        self._set_project_actions_enabled(True)

    def _on_project_changed(self, project: Project | None) -> None:
        if project is None:
            self.setWindowTitle("AFF Workbench")
            self.stack.setCurrentWidget(self.welcome)
            self._set_project_actions_enabled(False)

    def _set_project_actions_enabled(self, enabled: bool) -> None:
        for action in self.menu_actions.project_actions():
            action.setEnabled(enabled)

    def _ask_reader_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Reader Name", "Name stored with your labels:",
                                        text=self.settings.reader)
        if ok:
            self.set_reader(name)

    # -- small dialogs --------------------------------------------------------------
    def show_error(self, title: str, error: object) -> None:
        """A non-blocking error box (and the text in the status bar)."""
        self.last_error = f"{title}: {error}"
        self.statusBar().showMessage(self.last_error, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, title,
                          QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(str(error))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- window state -------------------------------------------------------------
    def _restore_layout(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))
        if len(s.splitter_sizes) == 2:
            self.splitter.setSizes([*s.splitter_sizes, 0])  # the compare viewer starts hidden
        if s.window_state:  # docks: which are shown, where, how large
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))

    def reset_layout(self) -> None:
        """Docks and panes as on a first start (the saved layout is replaced when the window closes)."""
        self.restoreState(self._default_state)
        QTimer.singleShot(0, self._reset_splitter)  # once the docks have taken their room

    def _on_bottom_dock_shown(self, visible: bool) -> None:
        if visible:  # once the dock has been laid out
            QTimer.singleShot(0, self.keep_central_share)

    def keep_central_share(self) -> None:
        """Shrink the bottom docks when they leave the grid and viewer less than half the height.

        A dock opens at its contents' size hint: the Results page and the Experiments queue
        together took three quarters of a 900-pixel window, leaving the grid a thin strip.
        """
        bottom = [d for d in self.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()
                  and self.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea]
        if not bottom:
            return
        central = self.centralWidget().height()
        docks = max(d.height() for d in bottom)
        if central >= CENTRAL_SHARE * (central + docks):
            return
        height = max(int((1 - CENTRAL_SHARE) * (central + docks)), 1)
        self.resizeDocks(bottom, [height] * len(bottom), Qt.Orientation.Vertical)

    def _reset_splitter(self) -> None:
        width = max(self.splitter.width(), 2)
        grid = width * 520 // 1400  # grid : viewer as first laid out; the compare viewer hidden
        self.splitter.setSizes([grid, width - grid, 0])

    def closeEvent(self, event) -> None:
        # a part with work that outlives the window (the experiments' workers) may ask first
        for part in self.parts.values():
            prepare = getattr(part, "prepare_quit", None)
            if prepare is not None and not prepare():  # the user chose to stay
                event.ignore()
                return
        if self.tasks.is_running():
            self.statusBar().showMessage("Stopping background work…")
        self.tasks.shutdown(15_000)
        self.close_project()
        s = self.settings
        s.window_geometry = self.saveGeometry().toBase64().data().decode()
        s.splitter_sizes = self.splitter.sizes()[:2]
        s.window_state = self.saveState().toBase64().data().decode()
        save_settings(s)
        super().closeEvent(event)
