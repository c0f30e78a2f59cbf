"""Puts the Results page in a dock of the shell and feeds it from worker threads.

Built from ``(session, shell)`` alone: the project comes from the
:class:`~affgui.session.ProjectSession` and its ``sigProjectChanged``; the dock and its View
menu toggle come from the :class:`~affgui.shell.Shell`.

Listing the experiments (each one's split and run folders) and computing their statistics
run on the controller's own :class:`TaskRunner`, so closing the project never waits for
them. Each kind of request runs under its own :class:`TaskRunner` key (:data:`LIST_KEY`,
:data:`RESULTS_KEY`): a newer request, a closed project or a changed choice supersedes the
task in flight, which is cancelled at its next check and whose callbacks never run, so a
result of a superseded request (or a closed project) never reaches the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDockWidget, QMessageBox

from affgui.parts.results._compute import N_BOOT, SEED, ResultsData, compute_results, list_status
from affgui.parts.results._export import ReportExport
from affgui.parts.results._final_controller import FinalModelsController
from affgui.parts.results._page import ResultsPageWidget
from affgui.tasks import Cancelled, TaskRunner

if TYPE_CHECKING:
    from affgui.session import ProjectSession
    from affgui.shell import Shell

DEBOUNCE_MS = 150  # ticking several boxes in a row computes once
LIST_KEY = "results-list"  # the TaskRunner key of the experiments listing
RESULTS_KEY = "results-compute"  # ... and of the statistics of the checked experiments


class ResultsController(QObject):
    """The Results dock: experiments, curves, comparison and cost tables, report export."""

    sigResultsShown = Signal(object)  # the ResultsData now on screen
    sigStatusesShown = Signal(list)  # the ExperimentStatus list now in the picker
    sigReportWritten = Signal(str)  # path of the new report.html
    sigReportFailed = Signal(str)

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session = session
        self.page = ResultsPageWidget()
        # saveState/restoreState find docks by name; its toggle goes into the View menu
        self.dock: QDockWidget = shell.add_dock(self.page, "resultsDock", "Results",
                                                Qt.DockWidgetArea.BottomDockWidgetArea, visible=False)
        self.action = self.dock.toggleViewAction()
        self.action.setText("&Results")
        self.action.setStatusTip("Show ROC/PR curves, the AUC comparison and the compute cost of experiments")
        self.n_boot, self.seed, self.how = N_BOOT, SEED, "mean"
        self.results: ResultsData | None = None
        self.last_report: Path | None = None
        self._auto_check: set[str] = set()
        self.tasks = TaskRunner(self, max_threads=2)  # a cancelled computation may run on a while
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.recompute)
        self.exporter = ReportExport(self)
        self.exporter.sigFinished.connect(self._report_written)
        self.exporter.sigFailed.connect(self._report_failed)
        self.final = FinalModelsController(session, self.page.final_models, self.tasks, self.page.level,
                                           lambda: self.how)
        self.page.level_combo.currentIndexChanged.connect(lambda _i: self.final.refresh())
        self.page.sigRequestChanged.connect(self._debounce.start)
        self.page.sigExportRequested.connect(self.export_report)
        self.page.sigExportCancelled.connect(self.exporter.cancel)
        self.dock.visibilityChanged.connect(self._on_visibility)
        # the experiments part's news, through the session; screening asks it for a worker
        session.sigExperimentFinished.connect(self.on_experiment_finished)
        session.sigJobsChanged.connect(self.final.on_jobs)
        self.final.sigScreeningQueued.connect(lambda _job: session.sigWorkQueued.emit())
        self.final.sigScreeningFinished.connect(lambda _job: session.reload_rows())
        session.sigProjectChanged.connect(self._on_project)
        if session.project is not None:
            self.refresh()

    # -- experiments list -------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Re-list the project's experiments (on a worker); the checked ones stay checked."""
        project = self.session.project
        if project is None:
            self.tasks.supersede(LIST_KEY)
            self.page.set_statuses([])
            return

        def done(statuses: list) -> None:
            if project is self.session.project:
                check = [s.name for s in statuses if s.ready and s.name in self._auto_check]
                self._auto_check.difference_update(check)
                self.page.set_statuses(statuses, check)
                self.sigStatusesShown.emit(statuses)
                self.final.refresh()  # finalize may have run in a terminal since

        self.tasks.submit(lambda _progress: list_status(project), done=done,
                          failed=self._list_failed, key=LIST_KEY)

    @Slot(str)
    def on_experiment_finished(self, name: str) -> None:
        """An experiment just finished: list it again and check it, so its curves appear."""
        self._auto_check.add(name)
        self.refresh()

    # -- results ----------------------------------------------------------------------
    @Slot()
    def recompute(self) -> None:
        """Compute the checked experiments' results at the chosen level (on a worker)."""
        self._cancel_results()
        project, names = self.session.project, self.page.checked()
        if project is None or not names:
            self.results = None
            self.page.clear_results()
            self.page.set_busy(False)
            self.page.set_message("" if project is None else
                                  "Check complete experiments to see their results.")
            return
        level, reference = self.page.level(), self.page.reference()
        n_boot, seed, how, margin = self.n_boot, self.seed, self.how, self.page.margin()

        def work(progress):
            return compute_results(project, names, level, reference=reference, how=how, n_boot=n_boot,
                                   seed=seed, cancelled=lambda: progress("results", 0, 1), margin=margin)

        def done(data: ResultsData) -> None:
            self.results = data
            self.page.set_busy(False)
            self.page.show_results(data)
            self.sigResultsShown.emit(data)

        self.page.set_busy(True)
        self.page.set_message(f"Computing {len(names)} experiment(s) at {level} level…")
        self.tasks.submit(work, done=done, failed=self._results_failed, key=RESULTS_KEY)

    def _cancel_results(self) -> None:
        """Drop the computation in flight (its result, whenever it comes, is not shown)."""
        self._debounce.stop()
        self.tasks.supersede(RESULTS_KEY)

    def _list_failed(self, exc: BaseException) -> None:
        """The current listing failed (a superseded one never gets here)."""
        if not isinstance(exc, Cancelled):  # cancelled by the runner's shutdown
            self.page.set_message(f"Cannot list the experiments: {exc}")

    def _results_failed(self, exc: BaseException) -> None:
        """The current computation failed (a superseded one never gets here)."""
        if not isinstance(exc, Cancelled):
            self.page.set_busy(False)
            self.page.set_message(f"Cannot compute the results: {exc}")

    # -- report -----------------------------------------------------------------------
    @Slot()
    def export_report(self) -> None:
        """Write the HTML report of the checked experiments in an ``affengine report`` process."""
        project, names = self.session.project, self.page.checked()
        if project is None or not names or self.exporter.is_running():
            return
        try:
            self.exporter.start(project.path, project.reports_dir, names, self.page.level(),
                                self.page.reference(), self.how, self.n_boot, self.seed,
                                margin=self.page.margin())
        except (OSError, ValueError, RuntimeError) as exc:
            self._report_failed(str(exc))
            return
        self.page.set_exporting(True)
        self.page.set_message(f"Writing the report of {', '.join(names)}…")

    def _report_written(self, html: str) -> None:
        self.page.set_exporting(False)
        self.last_report = Path(html)
        self.page.set_message(f"Report written to {html}")
        self.sigReportWritten.emit(html)
        box = QMessageBox(QMessageBox.Icon.Information, "Report written", "The report was written.",
                          QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Close, self.page)
        box.setInformativeText(html)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("reportWrittenBox")
        box.button(QMessageBox.StandardButton.Open).clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(html)))
        box.open()

    def _report_failed(self, message: str) -> None:
        self.page.set_exporting(False)
        self.page.set_message(f"No report: {message}")
        self.sigReportFailed.emit(message)

    # -- session ----------------------------------------------------------------------
    def _on_visibility(self, visible: bool) -> None:
        if visible:
            self.refresh()

    def _on_project(self, project) -> None:
        self.exporter.cancel()
        self._cancel_results()
        self.page.set_busy(False)
        self._auto_check.clear()
        self.page.picker.set_statuses([])
        self.results = None
        self.page.clear_results()
        self.page.set_message("")
        self.final.on_project(project)
        self.refresh()
