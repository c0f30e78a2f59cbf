"""The job queue view: every job with its state and progress; cancel, retry, reprioritise, log.

Rows come from :class:`~affgui.parts.experiments.job_monitor.JobMonitor`; actions write through
``engine.jobs`` on a worker thread (a cancel waits out its grace period there) and then
ask the monitor for a fresh poll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from affgui.parts.experiments.job_monitor import JobMonitor, JobRow
from affgui.parts.experiments.run_log import RunLogDialog
from engine.jobs import format_eta  # the GUI's wording; `jobs list` prints it compact

if TYPE_CHECKING:
    from affgui.tasks import TaskRunner

COLUMNS = ("Job", "Experiment", "Fold", "Kind", "State", "Progress", "Epoch", "ETA", "Device",
           "Backend", "Priority", "Error")
PROGRESS_COLUMN = COLUMNS.index("Progress")
WIDTHS = (50, 180, 45, 60, 90, 120, 60, 90, 70, 65, 60)  # every column but the last (Error)
CANCEL_GRACE_S = 10.0
_Index = QModelIndex | QPersistentModelIndex


def cancel_one(project, job: JobRow) -> str:
    """Cancel ``job`` through its backend (``engine.jobs.cancel_job``): ``scancel`` for a Slurm
    job; a local one gets a grace period, then a kill."""
    from engine.jobs import cancel_job

    return cancel_job(project, job.id, grace_s=CANCEL_GRACE_S)


def _cell(j: JobRow, column: int) -> object:
    return (
        j.id, j.experiment or "", "" if j.fold is None else j.fold, j.kind, j.state, j.progress,
        "" if j.epoch is None else f"{j.epoch}/{j.epochs}", format_eta(j.eta_s), j.device,
        j.backend, j.priority, (j.error or "").splitlines()[0] if j.error else "",
    )[column]


class JobTableModel(QAbstractTableModel):
    """The monitor's job rows as a table; updates in place while the set of jobs is unchanged."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.jobs: list[JobRow] = []

    def set_jobs(self, jobs: list[JobRow]) -> None:
        if [j.id for j in jobs] == [j.id for j in self.jobs]:
            self.jobs = list(jobs)
            if jobs:
                self.dataChanged.emit(self.index(0, 0), self.index(len(jobs) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.jobs = list(jobs)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.jobs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        job = self.jobs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = _cell(job, index.column())
            return f"{value * 100:.0f}%" if index.column() == PROGRESS_COLUMN else value
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role == Qt.ItemDataRole.ToolTipRole and job.error:
            return job.error
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


class ProgressDelegate(QStyledItemDelegate):
    """Paints the progress column as a progress bar."""

    def paint(self, painter, option, index) -> None:
        job: JobRow = index.data(Qt.ItemDataRole.UserRole)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(round(job.progress * 1000))
        bar.text = f"{job.progress * 100:.0f}%"
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class JobQueueWidget(QWidget):
    """The queue table with Cancel, Retry, priority up/down and Show log."""

    sigSelectionChanged = Signal(list)  # the selected JobRows
    sigMessage = Signal(str)

    def __init__(self, monitor: JobMonitor, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.monitor = monitor
        self.tasks = tasks
        self.model = JobTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate(WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _i: self.show_log())

        self.job_actions: dict[str, QAction] = {}
        buttons = QHBoxLayout()
        for key, text, slot in (("cancel", "Cancel", self.cancel), ("retry", "Retry", self.retry),
                                ("up", "Priority +", lambda: self.change_priority(+1)),
                                ("down", "Priority −", lambda: self.change_priority(-1)),
                                ("log", "Show Log", self.show_log)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            self.job_actions[key] = action
            button = QPushButton(text)
            button.setObjectName(f"{key}Button")
            button.clicked.connect(action.trigger)
            action.changed.connect(lambda b=button, a=action: b.setEnabled(a.isEnabled()))
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        monitor.sigJobs.connect(self.model.set_jobs)
        monitor.sigJobs.connect(lambda _jobs: self._update_actions())
        self._kept: set[int] = set()
        self._update_actions()

    # -- selection ------------------------------------------------------------------
    def selected_jobs(self) -> list[JobRow]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.jobs[r] for r in rows if r < len(self.model.jobs)]

    def select_jobs(self, job_ids: list[int]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        flags = (sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
        for r, j in enumerate(self.model.jobs):
            if j.id in job_ids:
                sel.select(self.model.index(r, 0), flags)

    def _remember_selection(self) -> None:
        self._kept = {j.id for j in self.selected_jobs()}

    def _restore_selection(self) -> None:
        if self._kept:
            self.select_jobs(list(self._kept))
        self._selection_changed()  # a reset clears the selection without saying so

    def _selection_changed(self, *_args) -> None:
        self._update_actions()
        self.sigSelectionChanged.emit(self.selected_jobs())

    def _update_actions(self) -> None:
        jobs = self.selected_jobs()
        states = {j.state for j in jobs}
        self.job_actions["cancel"].setEnabled(bool(states & {"queued", "running", "interrupted"}))
        self.job_actions["retry"].setEnabled(bool(states & {"failed", "cancelled", "interrupted"}))
        for key in ("up", "down"):
            self.job_actions[key].setEnabled(bool(jobs))
        self.job_actions["log"].setEnabled(len(jobs) == 1)

    # -- actions ----------------------------------------------------------------------
    def cancel(self) -> None:
        jobs = [j for j in self.selected_jobs() if j.state in ("queued", "running", "interrupted")]
        self._act(jobs, cancel_one, "cancel")

    def retry(self) -> None:
        from engine.jobs import JobQueue

        jobs = [j for j in self.selected_jobs() if j.state in ("failed", "cancelled", "interrupted")]
        self._act(jobs, lambda p, j: JobQueue(p).retry(j.id), "retry")

    def change_priority(self, step: int) -> None:
        from engine.jobs import JobQueue

        def change(project, job: JobRow) -> None:
            queue = JobQueue(project)  # from the stored priority: the row may predate a last click
            queue.set_priority(job.id, queue.get(job.id).priority + step)

        self._act(self.selected_jobs(), change, "reprioritise")

    def show_log(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) != 1 or self.monitor.project is None:
            return
        dialog = RunLogDialog(self.monitor.project, jobs[0], self.tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.log_dialog = dialog  # tests and the user's next click find it

    def _act(self, jobs: list[JobRow], fn: Callable, verb: str) -> None:
        project = self.monitor.project
        if project is None or not jobs:
            return

        def work(_progress):
            errors = []
            for j in jobs:
                try:
                    fn(project, j)
                except (KeyError, ValueError, RuntimeError) as exc:  # RuntimeError: SlurmError
                    errors.append(f"job {j.id}: {exc.args[0] if isinstance(exc, KeyError) else exc}")
            return errors

        def done(errors: list[str]) -> None:
            self.sigMessage.emit(f"Could not {verb} " + "; ".join(errors) if errors
                                 else f"{verb.capitalize()}: {len(jobs)} job(s)")
            self.monitor.poll_now()

        self.tasks.submit(work, done=done,
                          failed=lambda exc: self.sigMessage.emit(f"Could not {verb}: {exc}"))

    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        menu.addActions(list(self.job_actions.values()))
        menu.popup(self.table.viewport().mapToGlobal(pos))
