"""The main window, the shell: thumbnail grid and image viewer side by side, labelled by keys.

It implements :class:`~affgui.shell.Shell` (docks, menu entries, status line, error
boxes) and builds its parts from ``(session, shell)``; the open project, the task runner
and the label edits are the :class:`~affgui.session.ProjectSession`'s. A label key writes
through the session at once (one small SQLite transaction); the window follows the
session's signals to update the badge and the counts, and moves to the next image.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from affgui import theme
from affgui.compare import CompareMode
from affgui.display import esc
from affgui.experiments import install as install_experiments
from affgui.heatmaps import install as install_heatmaps
from affgui.keymap import KeyMap
from affgui.menus import ActionRegistry, build_menus, build_toolbar, fill_recent_menu, show_about
from affgui.panels import PanelDocks
from affgui.prediction_info import PredictionInfo
from affgui.project_flows import ProjectFlows, load_rows
from affgui.reads import install as install_reads
from affgui.results import install as install_results
from affgui.session import ProjectSession
from affgui.settings import Settings, get_settings, save_settings
from affgui.status import StatusExtras
from affgui.widgets.filter_bar import FilterBarWidget
from affgui.widgets.image_viewer import ImageViewerWidget
from affgui.widgets.thumbnail_grid import ThumbnailGridView
from affgui.widgets.welcome import WelcomeWidget
from engine.store import LABELS, UNLABELLED, ImageRow, Project

CENTRAL_SHARE = 0.55  # of the height below the toolbar that the grid and viewer keep when docks open


class MainWindow(QMainWindow):
    """The labelling window of one project (or the welcome page while none is open)."""

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = ProjectSession(settings or get_settings(), self)
        self.session.sigProjectClosing.connect(self._on_project_closing)  # before the parts' own
        self.setWindowTitle("AFF Workbench")
        self.resize(1400, 900)

        # every action of the window, with the reader's keys (affgui.menus declares them)
        self.registry = ActionRegistry(self, self.settings.key_bindings)
        self.grid = ThumbnailGridView()
        self.viewer = ImageViewerWidget(actions=lambda name, _viewer: self.registry.action(name))
        self.filter_bar = FilterBarWidget()
        self.filter_combo = self.filter_bar.label_combo
        self.menu_actions = build_menus(self, self.registry)
        self.flows = ProjectFlows(self)
        self._build_central()
        self.panels = PanelDocks(self.session, self)
        self.resizeDocks([self.panels.patient_dock], [300], Qt.Orientation.Horizontal)
        self._menus = {"view": self.menu_actions.view_menu}
        self.compare = CompareMode(self.session, self, self.viewer, self.splitter)
        self.toolbar = build_toolbar(self, self.menu_actions)
        self.menu_actions.view_menu.addAction(self.toolbar.toggleViewAction())
        self.results = install_results(self.session, self)
        self.heatmaps = install_heatmaps(self)
        self.reads = install_reads(self)
        self.keymap = KeyMap(self)
        self._build_status_bar()
        self.status_extras = StatusExtras(self.session, self)
        self.experiments = PredictionInfo(self)  # the browser's prediction info (filter bar, tooltips)
        self.experiments_panel = install_experiments(self)
        self.experiments_panel.monitor.sigExperimentFinished.connect(self.results.on_experiment_finished)
        # screening from the Results view: a local worker runs the predict job; the browser re-lists
        final, panel = self.results.final, self.experiments_panel
        panel.monitor.sigJobs.connect(final.on_jobs)
        final.sigScreeningQueued.connect(lambda _job: (panel.workers.ensure_running(),
                                                       panel.monitor.poll_now()))
        final.sigScreeningFinished.connect(lambda _job: self.reload_rows())
        self._connect()
        for dock in self.findChildren(QDockWidget):
            if self.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea:
                dock.visibilityChanged.connect(self._on_bottom_dock_shown)
        self._default_state = self.saveState()  # what View > Reset Layout goes back to
        self.menu_actions.reset_layout.triggered.connect(self.reset_layout)
        self._restore_layout()
        self._set_project_actions_enabled(False)

    # -- the session's state, as the window's tests and parts have always read it ---------
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
    def outside_image(self) -> ImageRow | None:
        """The image shown from the patient panel although the filter hides it."""
        return self.session.current_image if self.session.outside_filter else None

    @property
    def sigProjectChanged(self):
        return self.session.sigProjectChanged

    @property
    def sigRowsChanged(self):
        return self.session.sigRowsChanged

    # -- Shell ------------------------------------------------------------------------
    def add_dock(self, widget: QWidget, name: str, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 visible: bool = True) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if self.menu_actions.view_menu is not None:
            self.menu_actions.view_menu.addAction(dock.toggleViewAction())
        if not visible:
            dock.hide()
        return dock

    def add_action(self, action: QAction, menu: str | None = None) -> None:
        target = self._menus.get(menu) if menu is not None else None
        if target is None and menu is not None:
            target = self._menus[menu] = self.menuBar().addMenu(menu)
        (target or self).addAction(action)

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def add_status_widget(self, widget: QWidget) -> None:
        self.statusBar().addPermanentWidget(widget)

    # -- layout -----------------------------------------------------------------
    def _build_central(self) -> None:
        left = QWidget()
        box = QVBoxLayout(left)
        box.setContentsMargins(6, 6, 0, 0)
        box.addWidget(self.filter_bar)
        box.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 880])
        a = self.menu_actions
        self.welcome = WelcomeWidget([a.open_demo, a.open_project, a.new_project])
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

    def _build_status_bar(self) -> None:
        self.info_label = QLabel()
        self.counts_label = QLabel()
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.statusBar().addWidget(self.info_label, 1)
        self.statusBar().addPermanentWidget(self.counts_label)

    def _connect(self) -> None:
        a = self.menu_actions
        a.new_project.triggered.connect(self.flows.ask_new_project)
        a.open_project.triggered.connect(self.flows.ask_open_project)
        a.open_demo.triggered.connect(self.flows.open_demo)
        a.import_images.triggered.connect(self.flows.ask_import)
        a.rebuild_cache.triggered.connect(self.flows.rebuild_cache)
        a.close_project.triggered.connect(self.close_project)
        a.quit.triggered.connect(self.close)
        for label, action in a.labels.items():
            action.triggered.connect(partial(self.set_label, label))
        a.clear_label.triggered.connect(partial(self.set_label, None))
        for label, action in a.patient_labels.items():
            action.triggered.connect(partial(self.set_patient_label, label))
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        a.export_history.triggered.connect(self.flows.ask_export_history)
        s = self.session
        s.sigLabelsChanged.connect(self._on_labels_changed)
        s.sigHistoryStep.connect(self._on_history_step)
        s.sigRoisChanged.connect(self._show_rois)
        s.sigCurrentImageChanged.connect(self._show_rois)  # the boxes of each image shown
        s.sigImageRequested.connect(self._show_requested)
        s.sigMessage.connect(self.show_message)
        s.sigError.connect(self.show_error)
        s.sigProjectChanged.connect(self._on_project_changed)
        self.viewer.sigRoiDrawn.connect(s.add_roi)
        self.viewer.sigRoiChanged.connect(lambda roi_id, box: s.update_roi(roi_id, box,
                                                                           self.current_image_id()))
        self.viewer.sigRoiDeleted.connect(lambda roi_id: s.delete_roi(roi_id, self.current_image_id()))
        a.next_image.triggered.connect(partial(self.grid.select_next, 1))
        a.previous_image.triggered.connect(partial(self.grid.select_next, -1))
        a.auto_advance.setChecked(self.settings.auto_advance)
        a.auto_advance.toggled.connect(self._set_auto_advance)
        a.reader_name.triggered.connect(self._ask_reader_name)
        a.settings.triggered.connect(lambda: self.keymap.edit())
        a.refresh.triggered.connect(self.reload_rows)
        a.about.triggered.connect(lambda: show_about(self, self.settings.reader))
        a.recent_menu.aboutToShow.connect(
            lambda: fill_recent_menu(a.recent_menu, self.settings.recent_projects,
                                     self.open_project))
        self.grid.sigCurrentImageChanged.connect(self._on_current_image_changed)
        self.grid.pressed.connect(self._back_to_the_list)  # a click on the current tile, too
        self.filter_bar.sigFilterChanged.connect(self.reload_rows)

    # -- project ----------------------------------------------------------------
    def open_project(self, path: str | Path, quiet: bool = False) -> None:
        """Open the project at ``path`` on a worker; the window switches when it is read."""
        self.flows.open_project(Path(path), quiet=quiet)

    def set_project(self, project: Project, rows: list, counts: dict, folders: list,
                    reviewed: set[int] | frozenset = frozenset(), annotations=None) -> None:
        """Show an opened project (called on the GUI thread with its first listing)."""
        self.session.set_project(project)
        self.grid.set_cache(project.cache)
        self.viewer.set_cache(project.cache)
        self.setWindowTitle(f"{project.name} — AFF Workbench")
        self.stack.setCurrentWidget(self.splitter)
        self.statusBar().clearMessage()
        self._set_project_actions_enabled(True)
        self._show_rows(rows, counts, folders, reviewed, annotations)
        self.grid.setFocus()
        self.session.announce_project()

    @Slot()
    def close_project(self) -> None:
        """Close the open project through the session (its parts follow its signals)."""
        self.session.close()

    def _on_project_closing(self, _project: Project) -> None:
        self.grid.set_rows([])
        self.grid.set_cache(None)
        self.viewer.set_cache(None)
        self.grid.wait(10_000)
        self.viewer.wait(10_000)

    def _on_project_changed(self, project: Project | None) -> None:
        if project is not None:
            return
        self.setWindowTitle("AFF Workbench")
        self.stack.setCurrentWidget(self.welcome)
        self._set_project_actions_enabled(False)
        self._update_status()

    def label_filter(self) -> str | None:
        return self.filter_bar.image_filter().label

    @Slot()
    def reload_rows(self) -> None:
        """Re-list the images of the current filter on a worker thread."""
        if self.project is None:
            return
        project = self.project
        filt, order = self.filter_bar.image_filter(), self.filter_bar.order()
        prediction, reviewed = self.filter_bar.prediction(), self.filter_bar.reviewed()
        self.tasks.submit(lambda _progress: load_rows(project, filt, order, prediction, reviewed,
                                                           self.session.predictions),
                          done=lambda result: self._show_rows(*result),
                          failed=partial(self.show_error, "Cannot list the images"), key="rows")

    def _show_rows(self, rows: list, counts: dict, folders: list,
                   reviewed: set[int] | frozenset = frozenset(), annotations=None) -> None:
        self.filter_bar.set_folders(folders)
        self.grid.set_rows(rows, current=self.grid.current_image_id())
        self.session.set_rows(rows, counts, reviewed, annotations)
        self._update_status()

    # -- current image and status -------------------------------------------------
    def current_image_id(self) -> int | None:
        """The image shown and labelled: the grid's, or one outside the filter (patient panel)."""
        return self.outside_image.id if self.outside_image is not None else self.grid.current_image_id()

    def show_outside_filter(self, image: ImageRow) -> None:
        """Show ``image`` although the filter hides it (another view of the current patient)."""
        self.viewer.show_image(image)
        self.session.set_current_image(image, outside_filter=True)
        self.info_label.setText(self._info_text(image, f"<span style='color:{theme.WARNING}'>"
                                                       "outside the current filter</span>"))

    def _back_to_the_list(self, *_args) -> None:
        if self.outside_image is not None and self.grid.current_image_id() is not None:
            self._on_current_image_changed(self.grid.current_image_id())

    def current_row(self) -> ImageRow | None:
        if self.outside_image is not None:
            return self.outside_image
        model = self.grid.model()
        row = model.row_of(self.grid.current_image_id() or -1)
        return model.image_row(row) if row is not None else None

    @Slot(int)
    def _on_current_image_changed(self, image_id: int) -> None:
        model = self.grid.model()
        row = model.row_of(image_id)
        image = model.image_row(row) if row is not None else None
        self.viewer.show_image(image)
        self.session.set_current_image(image)
        if row is not None and row + 1 < model.rowCount():
            self.viewer.prefetch(model.image_row(row + 1).sha256)
        if image is None:
            self.info_label.setText("")
        else:
            self.info_label.setText(self._info_text(image, f"{row + 1} of {model.rowCount()}"))

    @staticmethod
    def _info_text(image: ImageRow, where: str) -> str:
        return (f"#{image.id} · <b>{esc(image.patient_key)}</b> · {esc(image.view or '?')} "
                f"{esc(image.laterality or '?')} · {theme.badge_html(image.label)} · {where} · "
                f"<span style='color:{theme.TEXT_DIM}'>{esc(image.path)}</span>")

    def _update_status(self) -> None:
        if self.project is None:
            self.counts_label.setText("")
            self.info_label.setText("No project open: File > Open Project or Open Demo Project")
            return
        parts = [f"{theme.badge_html(label)} {self.counts.get(label, 0)}" for label in LABELS]
        parts.append(f"{theme.badge_html(None)} {self.counts.get(UNLABELLED, 0)}")
        total = sum(self.counts.values())
        self.counts_label.setText("  ·  ".join(parts) + f"  ·  {total} images"
                                  f"  ·  {len(self.reviewed)} reviewed")

    def _set_project_actions_enabled(self, enabled: bool) -> None:
        for action in self.menu_actions.project_actions():
            action.setEnabled(enabled)
        self.filter_bar.setEnabled(enabled)
        if not enabled:
            self._update_status()

    # -- labels (written by the session; the window follows) ----------------------------
    def set_label(self, label: str | None) -> None:
        """Store ``label`` (``None`` clears) for the current image; label keys advance."""
        image_id = self.current_image_id()
        if self.project is None or image_id is None:
            return
        self.session.set_label(image_id, label)
        if label is not None and self.settings.auto_advance and self.outside_image is None:
            self.grid.select_next()

    def set_patient_label(self, label: str | None) -> None:
        """Store ``label`` for every image of the current image's patient (one undo step)."""
        row = self.current_row()
        if self.project is not None and row is not None:
            self.session.set_patient_label(row.patient_key, label)

    @Slot()
    def undo(self) -> None:
        self.session.undo()

    @Slot()
    def redo(self) -> None:
        self.session.redo()

    def set_reader(self, name: str) -> None:
        self.session.set_reader(name)

    def _ask_reader_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Reader Name", "Name stored with your labels:",
                                        text=self.settings.reader)
        if ok:
            self.set_reader(name)

    def _on_labels_changed(self, changes: list) -> None:
        current = self.grid.current_image_id()
        outside = self.outside_image
        for change in changes:
            self.grid.set_label(change.image_id, change.new_label)
        if outside is not None and any(c.image_id == outside.id for c in changes):
            label = next(c.new_label for c in reversed(changes) if c.image_id == outside.id)
            self.show_outside_filter(dataclasses.replace(outside, label=label))
        elif any(c.image_id == current for c in changes):
            self._on_current_image_changed(current)
        self._update_status()

    def _on_history_step(self, changes: list, _text: str) -> None:
        if changes and not any(c.image_id == self.grid.current_image_id() for c in changes):
            self.grid.select_image(changes[0].image_id)

    def _show_rois(self, _image_id: int | None = None) -> None:
        image_id = self.current_image_id()
        if self.project is not None and image_id is not None:
            self.viewer.set_rois(self.session.rois(image_id))

    def _show_requested(self, image: ImageRow) -> None:
        """A part asked for ``image`` (the patient panel): selected, or shown outside the filter."""
        if not self.grid.select_image(image.id):
            self.show_outside_filter(image)

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

    def _set_auto_advance(self, on: bool) -> None:
        self.settings.auto_advance = on
        save_settings(self.settings)

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
        if not self.experiments_panel.prepare_quit():  # the user chose to stay
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
