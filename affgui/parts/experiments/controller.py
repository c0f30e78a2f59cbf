"""The Experiments dock and menu: job queue over live training curves, workers in the status bar.

Slurm jobs are submitted and followed by :class:`SlurmSync` on the same worker threads.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMenu, QMessageBox, QSplitter, QWidget

from affgui.parts.experiments.curves import TrainingCurvesWidget
from affgui.parts.experiments.job_monitor import JobMonitor
from affgui.parts.experiments.job_queue import JobQueueWidget
from affgui.parts.experiments.new_experiment_dialog import NewExperimentDialog, default_weights_probe
from affgui.parts.experiments.slurm_sync import SlurmSync
from affgui.parts.experiments.workers import WorkerManager
from affgui.session import ProjectSession
from affgui.settings import save_settings
from affgui.shell import Shell
from affgui.tasks import TaskRunner


def ask_about_running_jobs(parent: QWidget, busy: int) -> str:
    """Quit with jobs running (or queued) for workers this window started: ``keep``, ``stop``
    or ``cancel``."""
    box = QMessageBox(QMessageBox.Icon.Question, "Jobs are running",
                      f"{busy} job(s) are running or queued for workers this window started.",
                      parent=parent)
    box.setInformativeText(
        "Keep running in the background (the default: training goes on and the next start shows "
        "the workers), or stop them now: each job stops at its next step and is left resumable "
        "from its checkpoint.")
    keep = box.addButton("Keep Running in Background", QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton("Stop Jobs Now", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return "keep" if clicked is keep else "stop" if clicked is stop else "cancel"


class ExperimentsController(QObject):
    """Owns the monitor, the worker manager and the Experiments dock and menu.

    Built from ``(session, shell)``. Its own :class:`TaskRunner` runs the polls and queue
    actions, so a cancel waiting out its grace period never holds up the session's listing
    or opening work. It tells the session when an experiment finishes and what the jobs
    are (``sigExperimentFinished``, ``sigJobsChanged``), and starts a worker when another
    part queued local work (``sigWorkQueued``).
    """

    def __init__(self, session: ProjectSession, shell: Shell, dialog_kwargs: dict | None = None):
        super().__init__(session)
        self.session, self.shell = session, shell
        self.dialog_kwargs = dict(dialog_kwargs or {})
        self._weights = None  # the weights probe's answer, once it came
        self.tasks = TaskRunner(self, max_threads=3)  # polls, queue actions, dialog reads
        self.monitor = JobMonitor(self, self.tasks)
        self.workers = WorkerManager(self.monitor, self.tasks, self)
        self.slurm = SlurmSync(self.tasks, self)
        self.queue = JobQueueWidget(self.monitor, self.tasks)
        self.curves = TrainingCurvesWidget(self.monitor)
        self.dialog: NewExperimentDialog | None = None

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.queue)
        splitter.addWidget(self.curves)
        splitter.setSizes([300, 220])
        self.panel = splitter  # the dock's contents, should the window rather show it as a tab
        # hidden: labelling keeps the whole window until experiments are queued or asked for;
        # its show/hide action is this part's menu's (Show Job Queue)
        self.dock = shell.add_dock(splitter, "experimentsDock", "Experiments",
                                   Qt.DockWidgetArea.BottomDockWidgetArea, visible=False, view_menu=False)
        shell.add_status_widget(self.workers.label)

        action = shell.registry.action
        self.new_action = action("experiments.new")
        self.start_action = action("experiments.startWorkers")
        self.stop_action = action("experiments.stopWorkers")
        self.workers.auto_start = session.settings.auto_start_workers
        self.auto_action = action("experiments.autoStart")
        self.auto_action.setChecked(self.workers.auto_start)  # before the toggle is connected
        self.new_action.triggered.connect(self.new_experiment)
        self.start_action.triggered.connect(self.workers.start_requested)
        self.stop_action.triggered.connect(self.workers.stop)
        self.auto_action.toggled.connect(self._set_auto_start)
        self.cluster_action = action("experiments.cluster")
        self.cluster_action.triggered.connect(self.edit_cluster_settings)
        self.menu = self._menu()

        self.queue.sigSelectionChanged.connect(self.curves.set_runs)
        self.queue.sigMessage.connect(self._message)
        self.workers.sigMessage.connect(self._message)
        self.slurm.sigMessage.connect(self._message)
        self.slurm.sigSynced.connect(lambda _report: self.monitor.poll_now())
        self.monitor.sigExperimentFinished.connect(session.sigExperimentFinished)
        self.monitor.sigJobs.connect(session.sigJobsChanged)
        session.sigWorkQueued.connect(self._work_queued)
        session.sigProjectChanged.connect(self.set_project)
        self.set_project(session.project)

    def _menu(self) -> QMenu:
        menu = self.shell.add_menu("experiments", "E&xperiments")
        menu.addAction(self.new_action)
        menu.addSeparator()
        menu.addActions([self.start_action, self.stop_action, self.auto_action])
        menu.addSeparator()
        menu.addAction(self.cluster_action)
        menu.addSeparator()
        show = self.dock.toggleViewAction()
        show.setText("Show &Job Queue")
        menu.addAction(show)
        return menu

    def _work_queued(self) -> None:
        """Another part queued local jobs (screening, a heatmap): a worker takes them."""
        if self.session.project is not None:
            self.workers.ensure_running()
            self.monitor.poll_now()

    def set_project(self, project) -> None:
        for action in (self.new_action, self.start_action, self.stop_action, self.cluster_action):
            action.setEnabled(project is not None)
        if self.dialog is not None:
            self.dialog.reject()
            self.dialog.deleteLater()
            self.dialog = None
        self.monitor.set_project(project)
        self.slurm.set_project(project)

    def prepare_quit(self) -> bool:
        """Before the window closes: stop idle workers it started, ask about running jobs.

        Returns False when the user cancels the quit. Workers the GUI did not start are left
        alone (the next start reports them in the status bar).
        """
        rows, _unregistered = self.workers.started_here()
        busy = sum(w.state == "busy" for w in rows)
        # a worker between two jobs is not idle while local jobs wait: it takes the next at once
        queued = sum(j.state == "queued" and j.backend == "local" for j in self.monitor.jobs) if rows else 0
        answer = "keep"
        if busy or queued:
            answer = self.ask_running(self.shell.dialog_parent(), busy + queued)
            if answer == "cancel":
                return False
        stopped, kept = self.workers.stop_for_quit(stop_busy=answer == "stop", queued_work=queued > 0)
        if stopped:
            self.shell.show_message(f"Stopping {len(stopped)} worker(s)…")
        return True

    ask_running = staticmethod(ask_about_running_jobs)  # tests replace it (a modal dialog)

    def new_experiment(self) -> NewExperimentDialog | None:
        """Open the New Experiment dialog (non-modal); returns it."""
        project = self.session.project
        if project is None:
            return None
        if self.dialog is not None:
            self.dialog.deleteLater()
        kwargs = dict(self.dialog_kwargs)
        probe = kwargs.get("weights_probe", default_weights_probe)
        if probe is not None:  # one probe (a child process, seconds) per session, not per opening
            kwargs["weights_probe"] = self._cached_probe(probe)
        self.dialog = NewExperimentDialog(project, self.tasks, self.shell.dialog_parent(), **kwargs)
        self.dialog.sigCreated.connect(self._created)
        self.dialog.sigWeightsChanged.connect(self._forget_weights)
        self.dialog.open()
        return self.dialog

    def _forget_weights(self) -> None:
        self._weights = None  # a file was imported: the next probe asks again

    def _cached_probe(self, probe):
        def cached():
            if self._weights is None:
                self._weights = probe()
            return self._weights

        return cached

    def _created(self, names: list[str], backend: str) -> None:
        started = backend == "local" and self.workers.ensure_running()
        if backend == "slurm":
            self.slurm.sync_now()  # submits them
        self.dock.show()
        self.dock.raise_()
        self._message(f"Queued {len(names)} experiment(s): {', '.join(names)}"
                      + ("; starting a worker" if started else ""))
        self.monitor.poll_now()

    def edit_cluster_settings(self):
        """Experiments > Cluster Settings: the project's ``slurm.json`` (docs/slurm.md)."""
        from affgui.widgets.cluster_settings import ClusterSettingsDialog

        if self.session.project is None:
            return None
        dialog = ClusterSettingsDialog(self.session.project.path, self.shell.dialog_parent())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _set_auto_start(self, on: bool) -> None:
        self.workers.auto_start = on
        self.session.settings.auto_start_workers = on
        save_settings(self.session.settings)

    def _message(self, text: str) -> None:
        self.shell.show_message(text, 8000)
