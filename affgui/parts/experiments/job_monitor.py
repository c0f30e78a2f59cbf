"""Watch the job queue: the ``jobs`` and ``workers`` tables and each run's new events.

The poll itself is :class:`engine.runs.JobTailer` (Qt-free, shared with ``affengine jobs
list``); this module runs it off the GUI thread about once a second while a project is open. It reads
the two small tables and, for every run still worth following, only the bytes appended
to ``runs/<run-id>/events.jsonl`` since the last poll (:class:`engine.runs.EventReader`
keeps the byte offset and last sequence number). The GUI thread gets one batch per
poll: at most one emission of each signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from affgui.tasks import TaskRunner
from engine.jobs import JobRow, JobTailer, Snapshot, pid_alive
from engine.jobs import WorkerStatus as WorkerRow

if TYPE_CHECKING:
    from engine.store import Project

__all__ = ["POLL_MS", "JobMonitor", "JobRow", "JobTailer", "Snapshot", "WorkerRow", "pid_alive"]

POLL_MS = 1000


class JobMonitor(QObject):
    """Polls the open project's queue off the GUI thread and reports what changed.

    ``sigJobs(list[JobRow])`` after every poll; ``sigEvents(run_id, list[dict])`` for runs
    with new events; ``sigWorkers(list[WorkerRow])``; ``sigExperimentFinished(name)`` when
    the last training job of an experiment finishes while the project is open.
    """

    sigJobs = Signal(list)
    sigEvents = Signal(str, list)
    sigWorkers = Signal(list)
    sigExperimentFinished = Signal(str)

    def __init__(self, parent: QObject | None = None, tasks: TaskRunner | None = None,
                 interval_ms: int = POLL_MS):
        super().__init__(parent)
        self.tasks = tasks or TaskRunner(self, max_threads=1)
        self.project: Project | None = None
        self.jobs: list[JobRow] = []
        self.workers: list[WorkerRow] = []
        self.polls = 0
        self._metrics: dict[str, list[dict]] = {}
        self._tailer: JobTailer | None = None
        self._key = ("job-poll", id(self))  # a newer poll (or a project change) supersedes an older
        self._in_flight = False
        self._finished: set[str] | None = None  # None until the first poll of a project
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll_now)

    def set_project(self, project: Project | None) -> None:
        """Follow ``project`` (``None``: stop polling and forget everything)."""
        self.tasks.supersede(self._key)
        self.project = project
        self.jobs, self.workers, self._metrics = [], [], {}
        self._finished = None
        self._in_flight = False
        if project is None:
            self._tailer = None
            self._timer.stop()
            self.sigJobs.emit([])
            self.sigWorkers.emit([])
            return
        self._tailer = JobTailer(project.runs_dir)
        self._timer.start()
        self.poll_now()

    def poll_now(self) -> None:
        """Start a poll unless one is running (the timer calls this too)."""
        if self.project is None or self._in_flight:
            return
        self._in_flight = True
        project, tailer = self.project, self._tailer
        self.tasks.submit(lambda _progress: tailer.poll(project), done=self._on_poll,
                          failed=self._on_failed, key=self._key)

    def metrics(self, run_id: str) -> list[dict]:
        """The ``metric`` events (one per epoch) seen so far for ``run_id``."""
        return list(self._metrics.get(run_id, ()))

    def job(self, job_id: int) -> JobRow | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def stop(self, timeout_ms: int = 10_000) -> None:
        """Stop polling and wait for a poll in flight (for shutdown)."""
        self._timer.stop()
        self.tasks.supersede(self._key)
        self.tasks.shutdown(timeout_ms)

    # -- GUI thread ---------------------------------------------------------------
    def _on_failed(self, exc: BaseException) -> None:
        self._in_flight = False  # a locked database or a closing project: try again next tick

    def _on_poll(self, snap: Snapshot) -> None:
        self._in_flight = False  # a poll of a project no longer open was superseded: never here
        self.polls += 1
        for run_id, metrics in snap.metrics.items():
            self._metrics.setdefault(run_id, []).extend(metrics)
        self.jobs, self.workers = snap.jobs, snap.workers
        self.sigJobs.emit(snap.jobs)
        self.sigWorkers.emit(snap.workers)
        for run_id, events in snap.events.items():
            self.sigEvents.emit(run_id, events)
        self._check_finished(snap.jobs)

    def _check_finished(self, jobs: list[JobRow]) -> None:
        states: dict[str, list[str]] = {}
        for j in jobs:
            if j.experiment is not None and j.kind == "train":  # its folds, not heatmaps made later
                states.setdefault(j.experiment, []).append(j.state)
        done = {name for name, s in states.items() if all(x == "finished" for x in s)}
        before, self._finished = self._finished, done
        if before is None:
            return  # finished before this project was opened here: nothing new to announce
        for name in sorted(done - before):
            self.sigExperimentFinished.emit(name)

