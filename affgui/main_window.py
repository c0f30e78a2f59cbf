"""The main window: thumbnail grid and image viewer side by side, labelled by keys.

It composes the widgets, owns the open :class:`~engine.store.Project`, and runs
everything slow (open, list, import, demo build) through :class:`TaskRunner`.
A label key writes through ``project.labels.set`` at once (one small SQLite
transaction), updates the badge and the counts, and moves to the next image.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDockWidget,
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
from affgui.labelling import LabelEditor, LabellingMixin
from affgui.menus import build_menus, build_toolbar, fill_recent_menu, show_about
from affgui.panels import PanelDocks
from affgui.predictions import ExperimentList
from affgui.project_flows import ProjectFlows, load_rows
from affgui.reads import install as install_reads
from affgui.results import install as install_results
from affgui.roi_sync import RoiSync
from affgui.settings import Settings, get_settings, save_settings
from affgui.status import StatusExtras
from affgui.tasks import TaskRunner
from affgui.widgets.filter_bar import FilterBarWidget
from affgui.widgets.image_viewer import ImageViewerWidget
from affgui.widgets.thumbnail_grid import ThumbnailGridView
from affgui.widgets.welcome import WelcomeWidget
from engine.store import LABELS, UNLABELLED, ImageRow, Project

CENTRAL_SHARE = 0.55  # of the height below the toolbar that the grid and viewer keep when docks open


class MainWindow(LabellingMixin, QMainWindow):
    """The labelling window of one project (or the welcome page while none is open)."""

    sigProjectChanged = Signal(object)  # the open Project, or None
    sigRowsChanged = Signal(int)  # number of images listed after a (re)load

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings or get_settings()
        self.project: Project | None = None
        self.tasks = TaskRunner(self)
        self.counts: dict[str, int] = {}
        self.reviewed: set[int] = set()  # images labelled or confirmed in the GUI (label_history)
        self.outside_image: ImageRow | None = None  # shown from the patient panel, hidden by the filter
        self.setWindowTitle("AFF Workbench")
        self.resize(1400, 900)

        self.grid = ThumbnailGridView()
        self.viewer = ImageViewerWidget()
        self.filter_bar = FilterBarWidget()
        self.filter_combo = self.filter_bar.label_combo
        self.menu_actions = build_menus(self, self.viewer.actions_for_menu())
        self.flows = ProjectFlows(self)
        self.editor = LabelEditor(lambda: self.settings.reader, self)
        self._build_central()
        self.panels = PanelDocks(self)
        self.roi_sync = RoiSync(self)
        self.compare = CompareMode(self)
        self.menu_actions.view_menu.addAction(self.compare.action)
        self.toolbar = build_toolbar(self, self.menu_actions)
        self.menu_actions.view_menu.addAction(self.toolbar.toggleViewAction())
        self.results = install_results(self)
        self.heatmaps = install_heatmaps(self)
        self.reads = install_reads(self)
        self.keymap = KeyMap(self)
        self._build_status_bar()
        self.status_extras = StatusExtras(self)
        self.experiments = ExperimentList(self)
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
        self.editor.sigLabelsApplied.connect(self._on_history_step)
        self.editor.sigFailed.connect(self.show_error)
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
                    reviewed: set[int] | frozenset = frozenset()) -> None:
        """Show an opened project (called on the GUI thread with its first listing)."""
        self.close_project()
        self.project = project
        self.editor.set_project(project)
        self.grid.set_cache(project.cache)
        self.viewer.set_cache(project.cache)
        self.setWindowTitle(f"{project.name} — AFF Workbench")
        self.stack.setCurrentWidget(self.splitter)
        self.statusBar().clearMessage()
        self._set_project_actions_enabled(True)
        self.settings.add_recent(project.path)
        save_settings(self.settings)
        self._show_rows(rows, counts, folders, reviewed)
        self.grid.setFocus()
        self.sigProjectChanged.emit(project)

    @Slot()
    def close_project(self) -> None:
        if self.project is None:
            return
        self.tasks.supersede("rows")
        self.tasks.wait(10_000)  # listings still reading the old project
        self.grid.set_rows([])
        self.grid.set_cache(None)
        self.viewer.set_cache(None)
        self.compare.detach()
        self.heatmaps.detach()
        self.grid.wait(10_000)
        self.viewer.wait(10_000)
        self.editor.set_project(None)
        self.panels.clear()
        self.project.close()
        self.project = None
        self.counts = {}
        self.reviewed = set()
        self.setWindowTitle("AFF Workbench")
        self.stack.setCurrentWidget(self.welcome)
        self._set_project_actions_enabled(False)
        self._update_status()
        self.sigProjectChanged.emit(None)

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
        self.tasks.submit(lambda _progress: load_rows(project, filt, order, prediction, reviewed),
                          done=lambda result: self._show_rows(*result),
                          failed=partial(self.show_error, "Cannot list the images"), key="rows")

    def _show_rows(self, rows: list, counts: dict, folders: list,
                   reviewed: set[int] | frozenset = frozenset()) -> None:
        self.counts = dict(counts)
        self.reviewed = set(reviewed)
        self.filter_bar.set_folders(folders)
        self.grid.set_rows(rows, current=self.grid.current_image_id())
        self._update_status()
        self.sigRowsChanged.emit(len(rows))

    # -- current image and status -------------------------------------------------
    def current_image_id(self) -> int | None:
        """The image shown and labelled: the grid's, or one outside the filter (patient panel)."""
        return self.outside_image.id if self.outside_image is not None else self.grid.current_image_id()

    def show_outside_filter(self, image: ImageRow) -> None:
        """Show ``image`` although the filter hides it (another view of the current patient)."""
        self.outside_image = image
        self.viewer.show_image(image)
        self.panels.show_image(image)
        self.roi_sync.show(image.id)
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
        self.outside_image = None
        model = self.grid.model()
        row = model.row_of(image_id)
        image = model.image_row(row) if row is not None else None
        self.viewer.show_image(image)
        self.panels.show_image(image)
        self.roi_sync.show(image.id if image is not None else None)
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
