"""File-menu flows of the main window: new, open, demo and import, all off the GUI thread.

Each flow asks (a file dialog), runs the slow part on the window's
:class:`~affgui.tasks.TaskRunner` (with a cancellable progress dialog when it
takes a while), and hands the result back to the window on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from affgui.predictions import Annotations, PredictionQuery, PredictionReader
from affgui.settings import demo_project_path, save_settings
from affgui.tasks import Cancelled, Progress
from affgui.widgets.import_dialog import ImportDialog, ImportReportDialog
from engine.store import DamagedProject, ImageFilter, Project, ProjectError

if TYPE_CHECKING:
    from affgui.shell import WindowShell

STAGES = {"phantom": "Generating phantom radiographs", "import": "Importing images"}


def load_rows(project: Project, filt: ImageFilter, order: str = "patient",
              prediction: PredictionQuery | None = None, reviewed: bool | None = None,
              reader: PredictionReader | None = None) -> tuple[list, dict, list, set, Annotations | None]:
    """The image rows for one filter, the label counts, the import folders and the ids of
    reviewed images, and the rows' prediction annotations (worker thread). ``reviewed``
    True/False keeps only (not) reviewed rows. The annotations travel with the rows (there is
    no shared cache to pick them up from later).

    ``prediction`` (the filter bar's :meth:`~affgui.widgets.filter_bar.FilterBarWidget.prediction`)
    keeps and orders the rows by experiments' out-of-fold predictions, read once by ``reader``
    (the session's :class:`~affgui.predictions.PredictionReader`; a fresh one when ``None``).
    """
    folders = sorted(f for f in project.images.counts(by="source_folder") if f)
    if prediction is not None and reader is None:
        reader = PredictionReader()
    rows, annotations = (reader.select(project, project.images.list(filt, order=order), prediction)
                         if prediction is not None else (project.images.list(filt, order=order), None))
    seen = project.labels.reviewed()
    if reviewed is not None:
        rows = [r for r in rows if (r.id in seen) == reviewed]
    return rows, project.images.counts(by="label"), folders, seen, annotations


class ProjectFlows(QObject):
    """New / Open / Demo / Import for one :class:`MainWindow`."""

    def __init__(self, window: WindowShell):
        super().__init__(window)
        self.window = window
        self.progress_dialog: QProgressDialog | None = None
        self.last_report = None

    # -- open and create ------------------------------------------------------------
    def open_project(self, path: Path, quiet: bool = False, create: bool = False) -> None:
        """Open (or create) the project at ``path`` and list its images on a worker."""
        w = self.window
        filt, order, reviewed = w.filter_bar.image_filter(), w.filter_bar.order(), w.filter_bar.reviewed()
        w.statusBar().showMessage(f"{'Creating' if create else 'Opening'} {path}…")

        def work(_progress: Progress) -> tuple:
            project = Project.create(path) if create else Project.open(path)
            try:
                return (project, *load_rows(project, filt, order, reviewed=reviewed))
            except BaseException:
                project.close()
                raise

        def failed(exc: BaseException) -> None:
            if isinstance(exc, DamagedProject):
                # Never quiet, and kept in the recent list: the labels are still in there, and
                # the message says how to get them back (restore a backup, or recover).
                w.show_error("The project is damaged", exc)
                return
            if quiet:
                w.statusBar().showMessage(f"Could not reopen {path}: {exc}", 10_000)
            else:
                w.show_error("Cannot open the project" if not create else
                             "Cannot create the project", exc)
            if isinstance(exc, ProjectError) and not create:  # moved or deleted: forget it
                w.settings.remove_recent(path)
                save_settings(w.settings)

        w.tasks.submit(work, done=lambda result: w.set_project(*result), failed=failed)

    def ask_open_project(self) -> None:
        start = self.window.settings.last_project or str(Path.home())
        path = QFileDialog.getExistingDirectory(self.window, "Open Project (.affproj folder)",
                                                str(Path(start).parent))
        if path:
            self.open_project(Path(path))

    def ask_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "New Project", str(Path.home()),
                                              "AFF Workbench project (*.affproj)")
        if path:
            self.open_project(Path(path), create=True)

    def open_demo(self) -> None:
        """Open the demo project, building it first (tens of seconds) on first use."""
        path = demo_project_path()
        if (path / "project.sqlite").is_file():
            self.open_project(path)
            return

        def build(progress: Progress) -> Path:
            from engine.demo import build_demo_project

            return build_demo_project(path, progress=progress)

        self.run_with_progress("Building the demo project",
                               "Generating phantom radiographs (first run only)…", build,
                               done=lambda built: self.open_project(Path(built)))

    # -- import ---------------------------------------------------------------------
    def ask_import(self) -> None:
        dialog = ImportDialog(self.window)
        if dialog.exec():
            self.import_images(dialog.folder(), dialog.manifest(), dialog.folder_labels())

    def import_images(self, folder: Path, manifest: Path | None = None,
                      folder_labels: bool = True) -> None:
        """Import ``folder`` (and ``manifest``) into the open project, then show the report."""
        project = self.window.project
        if project is None:
            return

        def work(progress: Progress):
            from engine.io import import_sources

            return import_sources(project, [Path(folder)], manifest=manifest,
                                  folder_labels=folder_labels,
                                  progress=lambda done, total, *_: progress("import", done, total))

        def done(report) -> None:
            self.last_report = report
            ImportReportDialog(report, self.window).open()
            self.window.reload_rows()

        self.run_with_progress("Importing images", f"Reading {folder}…", work, done=done,
                               on_cancel=self.window.reload_rows)

    def rebuild_cache(self) -> None:
        """Decode the sources again where cached pixels are missing, then show the outcome."""
        project = self.window.project
        if project is None:
            return

        def work(progress: Progress):
            from engine.io import rebuild_cache

            return rebuild_cache(project,
                                 progress=lambda done, total, *_: progress("rebuild", done, total))

        def done(report) -> None:
            self.last_report = report
            lines = [f"{report.rebuilt} image(s) rebuilt, {report.present} already cached."]
            lines += [f"{path}: {reason}" for path, reason in report.errors[:20]]
            if len(report.errors) > 20:
                lines.append(f"... and {len(report.errors) - 20} more")
            box = QMessageBox(QMessageBox.Icon.Warning if report.errors else QMessageBox.Icon.Information,
                              "Pixel cache", "\n".join(lines), parent=self.window)
            box.open()
            self.last_message = box
            self.window.reload_rows()

        self.run_with_progress("Rebuilding the pixel cache", "Decoding source files…", work, done=done,
                               on_cancel=self.window.reload_rows)

    # -- progress -------------------------------------------------------------------
    def run_with_progress(self, title: str, text: str, fn: Callable[[Progress], Any],
                          done: Callable[[Any], None],
                          on_cancel: Callable[[], None] | None = None) -> int:
        """Run ``fn`` on a worker behind a window-modal, cancellable progress dialog."""
        dialog = QProgressDialog(text, "Cancel", 0, 0, self.window)
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.setMinimumWidth(420)
        self.progress_dialog = dialog

        closed, in_set_value = [], []

        def finish() -> None:
            closed.append(True)
            dialog.canceled.disconnect()
            dialog.close()
            if not in_set_value:  # else progress() deletes it once setValue has returned
                dialog.deleteLater()
            if self.progress_dialog is dialog:
                self.progress_dialog = None

        def progress(stage: str, n: int, total: int) -> None:
            if closed:
                return
            dialog.setLabelText(f"{STAGES.get(stage, stage)}… {n:,} of {total:,}")
            dialog.setMaximum(max(total, 1))
            # A modal QProgressDialog runs the event loop inside setValue, where the task can
            # finish: the dialog must outlive that call (deleting it there crashed).
            in_set_value.append(True)
            try:
                dialog.setValue(min(n, total))
            finally:
                in_set_value.pop()
                if closed:
                    dialog.deleteLater()

        def succeeded(result: Any) -> None:
            finish()
            done(result)

        def failed(exc: BaseException) -> None:
            finish()
            if isinstance(exc, Cancelled):
                self.window.statusBar().showMessage(f"{title}: cancelled", 5000)
                if on_cancel:
                    on_cancel()
            else:
                self.window.show_error(f"{title} failed", exc)

        task = self.window.tasks.submit(fn, done=succeeded, failed=failed, progress=progress)

        def cancel() -> None:
            self.window.tasks.cancel(task)
            dialog.setLabelText("Cancelling…")

        dialog.canceled.connect(cancel)
        dialog.show()
        return task

    # -- export ---------------------------------------------------------------------
    def ask_export_history(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export Label History", "label_history.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_history(path)

    def export_history(self, path: str | Path) -> None:
        """Write the project's whole label history to ``path`` on a worker."""
        w = self.window
        project = w.project
        w.tasks.submit(
            lambda _progress: project.labels.export_history_csv(path),
            done=lambda n: w.statusBar().showMessage(f"{n} label changes written to {path}", 6000),
            failed=partial(w.show_error, "Cannot export the label history"))
