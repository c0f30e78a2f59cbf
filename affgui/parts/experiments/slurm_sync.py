"""Keep ``slurm`` jobs moving: submit waiting ones and bring cluster states into the database.

``engine.slurm.sync`` runs on a worker thread every :data:`SYNC_MS` while a project is
open (and at once after experiments are queued for the cluster). With no active Slurm
job it returns without running any Slurm command, so the timer costs nothing on a
project that never uses the cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    from affgui.tasks import TaskRunner
    from engine.store import Project

SYNC_MS = 30_000


def _sync(project: Project):
    from engine.slurm import sync

    return sync(project)


class SlurmSync(QObject):
    """Runs ``engine.slurm.sync`` off the GUI thread; says what changed and new problems."""

    sigMessage = Signal(str)
    sigSynced = Signal(object)  # the engine's SyncReport

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None, interval_ms: int = SYNC_MS):
        super().__init__(parent)
        self.tasks = tasks
        self.project: Project | None = None
        self.errors: list[str] = []
        self._in_flight = False
        self._key = ("slurm-sync", id(self))  # a project change supersedes a sync in flight
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.sync_now)

    def set_project(self, project: Project | None) -> None:
        self.tasks.supersede(self._key)
        self.project, self.errors, self._in_flight = project, [], False
        if project is None:
            self._timer.stop()
        else:
            self._timer.start()
            self.sync_now()

    @property
    def busy(self) -> bool:
        """Whether a sync is running."""
        return self._in_flight

    def sync_now(self) -> None:
        if self.project is None or self._in_flight:
            return
        self._in_flight = True
        project = self.project
        self.tasks.submit(lambda _p: _sync(project), done=self._done, failed=self._failed, key=self._key)

    def _done(self, report) -> None:
        self._in_flight = False
        if report.changes:
            self.sigMessage.emit("Slurm: " + "; ".join(f"job {j} {what}" for j, what in report.changes))
        if report.errors and report.errors != self.errors:  # say a problem once, not every sync
            self.sigMessage.emit("Slurm: " + "; ".join(report.errors))
        self.errors = list(report.errors)
        self.sigSynced.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self._in_flight = False
        self.sigMessage.emit(f"Slurm sync failed: {exc}")
