"""The project-flows part: File > New, Open, Demo, Import, Rebuild Cache and Export History.

Built from ``(session, shell)``. Each flow asks (a file dialog), runs the slow part on the
session's :class:`~affgui.tasks.TaskRunner` (with a cancellable progress dialog when it
takes a while), and hands the result to the session on the GUI thread: an opened project
with its first listing (:meth:`~affgui.session.ProjectSession.open_listed`), or a re-listing
after an import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from affgui.listing import load_rows
from affgui.session import ProjectSession
from affgui.settings import demo_project_path, save_settings
from affgui.shell import Shell
from affgui.tasks import Cancelled, Progress
from affgui.widgets.import_dialog import ImportDialog, ImportReportDialog
from engine.store import DamagedProject, Project, ProjectError

STAGES = {"phantom": "Generating phantom radiographs", "import": "Importing images"}


class ProjectFlows(QObject):
    """New / Open / Demo / Import / Rebuild Cache / Export History: the File menu's flows."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session, self.shell = session, shell
        self.progress_dialog: QProgressDialog | None = None
        self.last_report = None
        action = shell.registry.action
        action("file.new").triggered.connect(self.ask_new_project)
        action("file.open").triggered.connect(self.ask_open_project)
        action("file.demo").triggered.connect(self.open_demo)
        action("file.import").triggered.connect(self.ask_import)
        action("file.rebuildCache").triggered.connect(self.rebuild_cache)
        action("file.exportHistory").triggered.connect(self.ask_export_history)

    # -- open and create ------------------------------------------------------------
    def open_project(self, path: Path, quiet: bool = False, create: bool = False) -> None:
        """Open (or create) the project at ``path`` and list its images on a worker."""
        s, shell = self.session, self.shell
        # the browser's choices, less the predictions' query (the new project has other experiments)
        listing = dataclasses.replace(s.listing, prediction=None)
        shell.show_message(f"{'Creating' if create else 'Opening'} {path}…")

        def work(_progress: Progress) -> tuple:
            project = Project.create(path) if create else Project.open(path)
            try:
                return project, load_rows(project, listing)
            except BaseException:
                project.close()
                raise

        def failed(exc: BaseException) -> None:
            if isinstance(exc, DamagedProject):
                # Never quiet, and kept in the recent list: the labels are still in there, and
                # the message says how to get them back (restore a backup, or recover).
                shell.show_error("The project is damaged", exc)
                return
            if quiet:
                shell.show_message(f"Could not reopen {path}: {exc}", 10_000)
            else:
                shell.show_error("Cannot open the project" if not create else
                                 "Cannot create the project", exc)
            if isinstance(exc, ProjectError) and not create:  # moved or deleted: forget it
                s.settings.remove_recent(path)
                save_settings(s.settings)

        def opened(result: tuple) -> None:
            s.listing = listing
            s.open_listed(*result)

        s.tasks.submit(work, done=opened, failed=failed)

    def ask_open_project(self) -> None:
        start = self.session.settings.last_project or str(Path.home())
        path = QFileDialog.getExistingDirectory(self.shell.dialog_parent(), "Open Project (.affproj folder)",
                                                str(Path(start).parent))
        if path:
            self.open_project(Path(path))

    def ask_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.shell.dialog_parent(), "New Project", str(Path.home()),
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
        dialog = ImportDialog(self.shell.dialog_parent())
        if dialog.exec():
            self.import_images(dialog.folder(), dialog.manifest(), dialog.folder_labels())

    def import_images(self, folder: Path, manifest: Path | None = None,
                      folder_labels: bool = True) -> None:
        """Import ``folder`` (and ``manifest``) into the open project, then show the report."""
        project = self.session.project
        if project is None:
            return

        def work(progress: Progress):
            from engine.io import import_sources

            return import_sources(project, [Path(folder)], manifest=manifest,
                                  folder_labels=folder_labels,
                                  progress=lambda done, total, *_: progress("import", done, total))

        def done(report) -> None:
            self.last_report = report
            ImportReportDialog(report, self.shell.dialog_parent()).open()
            self.session.reload_rows()

        self.run_with_progress("Importing images", f"Reading {folder}…", work, done=done,
                               on_cancel=self.session.reload_rows)

    def rebuild_cache(self) -> None:
        """Decode the sources again where cached pixels are missing, then show the outcome."""
        project = self.session.project
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
                              "Pixel cache", "\n".join(lines), parent=self.shell.dialog_parent())
            box.open()
            self.last_message = box
            self.session.reload_rows()

        self.run_with_progress("Rebuilding the pixel cache", "Decoding source files…", work, done=done,
                               on_cancel=self.session.reload_rows)

    # -- progress -------------------------------------------------------------------
    def run_with_progress(self, title: str, text: str, fn: Callable[[Progress], Any],
                          done: Callable[[Any], None],
                          on_cancel: Callable[[], None] | None = None) -> int:
        """Run ``fn`` on a worker behind a window-modal, cancellable progress dialog."""
        dialog = QProgressDialog(text, "Cancel", 0, 0, self.shell.dialog_parent())
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
                self.shell.show_message(f"{title}: cancelled", 5000)
                if on_cancel:
                    on_cancel()
            else:
                self.shell.show_error(f"{title} failed", exc)

        task = self.session.tasks.submit(fn, done=succeeded, failed=failed, progress=progress)

        def cancel() -> None:
            self.session.tasks.cancel(task)
            dialog.setLabelText("Cancelling…")

        dialog.canceled.connect(cancel)
        dialog.show()
        return task

    # -- export ---------------------------------------------------------------------
    def ask_export_history(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.shell.dialog_parent(), "Export Label History",
                                              "label_history.csv", "CSV files (*.csv)")
        if path:
            self.export_history(path)

    def export_history(self, path: str | Path) -> None:
        """Write the project's whole label history to ``path`` on a worker."""
        project, shell = self.session.project, self.shell
        if project is None:
            return
        self.session.tasks.submit(
            lambda _progress: project.labels.export_history_csv(path),
            done=lambda n: shell.show_message(f"{n} label changes written to {path}", 6000),
            failed=partial(shell.show_error, "Cannot export the label history"))
