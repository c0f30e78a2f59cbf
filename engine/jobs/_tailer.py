"""Progress, ETA and new events of a project's jobs, read from the queue and each run's events.

:class:`JobTailer` is the one place that turns a job's row and its ``events.jsonl`` into a
:class:`JobRow` (state, progress 0..1, epoch, ETA). The GUI's job monitor calls it off its
thread about once a second; ``affengine jobs list`` calls it once. Each call reads only the
bytes appended since the previous call (:class:`EventReader` keeps the offset).

The ETA comes from the events, not from the clock of whoever is looking: the rate between
the first and the latest ``progress`` event since the run (re)started, applied to the steps
left and counted down from the latest event. When that countdown has run out while the job
still runs (validation, a stalled worker, a project reopened long after the last event) the
ETA is unknown (``None``), never "0 s".
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.jobs._queue import TERMINAL_STATES
from engine.runs import EventReader, run_label

if TYPE_CHECKING:
    from engine.store import Project

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
    eta_s: float | None  # seconds left, from the run's latest progress event (None: unknown)
    device: str
    backend: str
    error: str | None
    run_id: str
    worker: str | None
    model: str | None
    repeat: int | None = None  # from the job's spec; absent (older jobs) reads as 0
    seed: int | None = None

    @property
    def label(self) -> str:
        """``r0f1s0`` for a fold's run, ``""`` for a job of no fold (see :func:`run_label`)."""
        return run_label(self.repeat, self.fold, self.seed)

    @property
    def title(self) -> str:
        """How a person reads the job: ``cnn r0f1s0``, ``cnn explain``, or ``job 7 (explain)``."""
        if self.experiment:
            return f"{self.experiment} {self.label or self.kind}"
        return f"job {self.id} ({self.kind})"


@dataclass(frozen=True)
class WorkerStatus:
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
    workers: list[WorkerStatus]
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
            if state not in TERMINAL_STATES:
                self._caught_up.discard(run_id)  # retried: follow it again
            if run_id not in self._caught_up:
                # a line that parses but names no event type (hand-edited, another writer) is skipped
                new = [e for e in self._reader(run_id).read_new() if isinstance(e.get("type"), str)]
                if new:
                    events[run_id] = new
                    self._remember(run_id, new)
                if state in TERMINAL_STATES:
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
            if r["state"] == "running":
                eta = _eta(eta_s, t)
        if r["state"] == "finished":
            progress = 1.0
        device = r["worker_device"] or last.get("device") or spec.get("device") or ""
        experiment = r["experiment"] or spec.get("experiment")  # an explain job names it in its spec
        return JobRow(r["id"], experiment, r["fold"], r["kind"], r["state"], r["priority"],
                      r["attempts"], progress, epoch, epochs, eta, device, r["backend"], r["error"],
                      r["run_id"], r["worker"], spec.get("model"), _int_or_none(spec.get("repeat")),
                      _int_or_none(spec.get("seed")))


def format_eta(seconds: float | None, compact: bool = False) -> str:
    """Seconds left as people read them: ``1 h 05 min``, ``3 min 07 s``, ``42 s`` (the GUI's
    queue), or with ``compact`` ``1h05m``, ``3m07s``, ``42s`` (``affengine jobs list``'s column);
    empty when unknown."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        hours, minutes = s // 3600, s % 3600 // 60
        return f"{hours}h{minutes:02d}m" if compact else f"{hours} h {minutes:02d} min"
    if s >= 60:
        minutes, secs = s // 60, s % 60
        return f"{minutes}m{secs:02d}s" if compact else f"{minutes} min {secs:02d} s"
    return f"{s}s" if compact else f"{s} s"


def _eta(eta_s, t, now: float | None = None) -> float | None:
    """Seconds left: the worker's estimate at its latest progress event, counted down since.

    ``None`` when there is no estimate, or when the countdown has run out while the job still
    runs (a long validation, a stalled worker, a project reopened long after the event): the
    events no longer say how long is left, and "0 s" would be a wrong answer.
    """
    if not _is_number(eta_s):
        return None
    now = time.time() if now is None else now
    # never more than the worker said: event times are rounded, and clocks can step back
    left = eta_s - max(0.0, now - t) if _is_number(t) else float(eta_s)
    return left if left > 0.5 else None


def _int_or_none(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _worker_row(r) -> WorkerStatus:
    alive = r["state"] in ("idle", "busy") and time.time() - r["heartbeat_at"] < WORKER_SILENT_S
    if alive and r["host"] == socket.gethostname():
        alive = pid_alive(r["pid"])
    return WorkerStatus(r["id"], r["host"], r["pid"], r["device"], r["state"], r["heartbeat_at"], alive)


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
