"""Watch the job queue: the ``jobs`` and ``workers`` tables and each run's new events.

A poll runs off the GUI thread about once a second while a project is open. It reads
the two small tables and, for every run still worth following, only the bytes appended
to ``runs/<run-id>/events.jsonl`` since the last poll (:class:`engine.runs.EventReader`
keeps the byte offset and last sequence number). The GUI thread gets one batch per
poll: at most one emission of each signal.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from affgui.tasks import TaskRunner
from engine.runs import EventReader

if TYPE_CHECKING:
    from engine.store import Project

POLL_MS = 1000
TERMINAL = ("finished", "failed", "cancelled")
WORKER_SILENT_S = 30.0  # a worker beats every 5 s; this long without one means it is gone
_JOBS_SQL = (
    "SELECT j.id, j.kind, j.fold, j.state, j.priority, j.attempts, j.worker, j.error, j.run_id, "
    "j.backend, j.spec, e.name AS experiment, w.device AS worker_device "
    "FROM jobs j LEFT JOIN experiments e ON e.id = j.experiment_id "
    "LEFT JOIN workers w ON w.id = j.worker ORDER BY j.id")


@dataclass(frozen=True)
class JobRow:
    """One job as the queue shows it."""

    id: int
    experiment: str | None
    fold: int | None
    kind: str
    state: str
    priority: int
    attempts: int
    progress: float  # 0..1 of the run's steps
    epoch: int | None
    epochs: int | None
    eta_s: float | None  # seconds left, from the run's latest progress event
    device: str
    backend: str
    error: str | None
    run_id: str
    worker: str | None
    model: str | None


@dataclass(frozen=True)
class WorkerRow:
    """One row of the ``workers`` table, with whether it still looks alive."""

    id: str
    host: str
    pid: int
    device: str
    state: str
    heartbeat_at: float
    alive: bool


@dataclass(frozen=True)
class Snapshot:
    """What one poll found."""

    jobs: list[JobRow]
    workers: list[WorkerRow]
    events: dict[str, list[dict]]  # run id -> events new since the previous poll
    metrics: dict[str, list[dict]]  # run id -> its new ``metric`` events (picked out off-thread)


class JobTailer:
    """The poll itself, free of Qt: call :meth:`poll` from one thread at a time."""

    def __init__(self, runs_dir: os.PathLike | str):
        self.runs_dir = runs_dir
        self._readers: dict[str, EventReader] = {}
        self._caught_up: set[str] = set()  # runs in a final state whose events are all read
        self._specs: dict[int, dict] = {}
        self._last: dict[str, dict] = {}  # run id -> latest progress / started / final event

    def poll(self, project: Project) -> Snapshot:
        rows = project.query(_JOBS_SQL)
        workers = [_worker_row(r) for r in project.query("SELECT * FROM workers ORDER BY started_at")]
        jobs, events = [], {}
        for r in rows:
            run_id, state = r["run_id"], r["state"]
            if state not in TERMINAL:
                self._caught_up.discard(run_id)  # retried: follow it again
            if run_id not in self._caught_up:
                # a line that parses but names no event type (hand-edited, another writer) is skipped
                new = [e for e in self._reader(run_id).read_new() if isinstance(e.get("type"), str)]
                if new:
                    events[run_id] = new
                    self._remember(run_id, new)
                if state in TERMINAL:
                    self._caught_up.add(run_id)  # the worker writes the last event before the state
            jobs.append(self._job_row(r))
        metrics = {run_id: [e for e in new if e["type"] == "metric"] for run_id, new in events.items()}
        return Snapshot(jobs, workers, events, {k: v for k, v in metrics.items() if v})

    # -- internals ----------------------------------------------------------------
    def _reader(self, run_id: str) -> EventReader:
        reader = self._readers.get(run_id)
        if reader is None:
            reader = self._readers[run_id] = EventReader(os.path.join(self.runs_dir, run_id,
                                                                      "events.jsonl"))
        return reader

    def _remember(self, run_id: str, events: list[dict]) -> None:
        last = self._last.setdefault(run_id, {})
        for e in events:
            if e["type"] == "progress":
                last["progress"] = e
            elif e["type"] == "started":
                last["device"] = e.get("device")
                last.pop("progress", None)  # a resumed run reports its position afresh

    def _spec(self, row) -> dict:
        spec = self._specs.get(row["id"])
        if spec is None:
            try:
                spec = json.loads(row["spec"])
            except ValueError:
                spec = {}
            self._specs[row["id"]] = spec
        return spec

    def _job_row(self, r) -> JobRow:
        spec = self._spec(r)
        last = self._last.get(r["run_id"], {})
        p = last.get("progress")
        epochs = spec.get("epochs")
        epoch, progress, eta = None, 0.0, None
        if p is not None:
            epoch, epochs = p.get("epoch"), p.get("epochs", epochs)
            step, total, eta_s, t = p.get("step"), p.get("total"), p.get("eta_s"), p.get("t")
            if _is_number(step) and _is_number(total) and total > 0:
                progress = min(1.0, step / total)
            if r["state"] == "running" and _is_number(eta_s):
                eta = max(0.0, eta_s - (time.time() - (t if _is_number(t) else time.time())))
        if r["state"] == "finished":
            progress = 1.0
        device = r["worker_device"] or last.get("device") or spec.get("device") or ""
        experiment = r["experiment"] or spec.get("experiment")  # an explain job names it in its spec
        return JobRow(r["id"], experiment, r["fold"], r["kind"], r["state"], r["priority"],
                      r["attempts"], progress, epoch, epochs, eta, device, r["backend"], r["error"],
                      r["run_id"], r["worker"], spec.get("model"))


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _worker_row(r) -> WorkerRow:
    alive = r["state"] in ("idle", "busy") and time.time() - r["heartbeat_at"] < WORKER_SILENT_S
    if alive and r["host"] == socket.gethostname():
        alive = pid_alive(r["pid"])
    return WorkerRow(r["id"], r["host"], r["pid"], r["device"], r["state"], r["heartbeat_at"], alive)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): the signal test is all there is


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
        self._generation = 0
        self._in_flight = False
        self._finished: set[str] | None = None  # None until the first poll of a project
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll_now)

    def set_project(self, project: Project | None) -> None:
        """Follow ``project`` (``None``: stop polling and forget everything)."""
        self._generation += 1
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
        project, tailer, generation = self.project, self._tailer, self._generation
        self.tasks.submit(lambda _progress: tailer.poll(project),
                          done=lambda snap: self._on_poll(generation, snap),
                          failed=lambda exc: self._on_failed(generation, exc))

    def metrics(self, run_id: str) -> list[dict]:
        """The ``metric`` events (one per epoch) seen so far for ``run_id``."""
        return list(self._metrics.get(run_id, ()))

    def job(self, job_id: int) -> JobRow | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def stop(self, timeout_ms: int = 10_000) -> None:
        """Stop polling and wait for a poll in flight (for shutdown)."""
        self._timer.stop()
        self._generation += 1
        self.tasks.shutdown(timeout_ms)

    # -- GUI thread ---------------------------------------------------------------
    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._in_flight = False  # a locked database or a closing project: try again next tick

    def _on_poll(self, generation: int, snap: Snapshot) -> None:
        if generation != self._generation:
            return  # a poll of a project no longer open
        self._in_flight = False
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

