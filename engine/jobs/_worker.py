"""``affengine worker``: claims jobs from the project queue and runs them one at a time."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from engine.jobs._kinds import runner_for
from engine.jobs._queue import HEARTBEAT_S, STALE_AFTER_S, Job, JobQueue
from engine.runs import EventWriter
from engine.store import Project, utc_now


class Worker:
    """One worker process: one device, one job at a time (optionally one experiment's jobs).

    A heartbeat thread keeps the job alive in the database and turns a cancel
    request into the flag the running job polls. SIGTERM/SIGINT stop the
    current job at its next step; it is left ``interrupted`` so the next worker
    resumes it from its last checkpoint.
    """

    def __init__(self, project_path: str | Path, device: str = "cpu", worker_id: str | None = None,
                 poll_s: float = 1.0, heartbeat_s: float = HEARTBEAT_S,
                 stale_after_s: float = STALE_AFTER_S, experiment_id: int | None = None,
                 progress: Callable[[Job, dict], None] | None = None):
        self.project = Project.open(project_path)
        self.queue = JobQueue(self.project)
        self.device = device
        # started by start_worker for cuda:N, the worker sees only that GPU (as cuda:0)
        self.device_label = os.environ.get("AFFWB_PHYSICAL_DEVICE") or device
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.experiment_id = experiment_id
        self.progress = progress
        self._shutdown = threading.Event()
        self._cancel = threading.Event()
        # the heartbeat stops when run() has left its job, not at shutdown: a job told to stop may
        # take a while to reach its next step and write its checkpoint, and a silent one is reaped
        self._beats_done = threading.Event()
        self._current: Job | None = None

    # -- public -------------------------------------------------------------------
    def run(self, exit_when_idle: bool = False, max_jobs: int | None = None) -> int:
        """Claim and run jobs until shut down (or idle / ``max_jobs`` done); returns jobs run."""
        self._register()
        self._beats_done.clear()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        done = 0
        try:
            while not self._shutdown.is_set() and (max_jobs is None or done < max_jobs):
                self.queue.reap_stale(self.stale_after_s)
                job = self.queue.claim(self.id, experiment_id=self.experiment_id)
                if job is None:
                    if exit_when_idle:
                        break
                    self._shutdown.wait(self.poll_s)
                    continue
                self._run_one(job)
                done += 1
        finally:
            self._shutdown.set()
            self._beats_done.set()
            beat.join(timeout=self.heartbeat_s * 2)
            self._set_worker_state("stopped")
            self.project.close()
        return done

    def stop(self) -> None:
        self._shutdown.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    # -- internals ----------------------------------------------------------------
    def _should_stop(self) -> bool:
        return self._cancel.is_set() or self._shutdown.is_set()

    def _run_one(self, job: Job) -> None:
        self._cancel.clear()
        self._current = job
        run_dir = self.project.runs_dir / job.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        state, error = "failed", None
        try:
            progress = None if self.progress is None else (lambda event: self.progress(job, event))
            state = runner_for(job.kind)(job, self.project, run_dir, self._should_stop, self.device,
                                         progress)
            if state == "cancelled" and not self._cancel.is_set():
                state = "interrupted"  # stopped by shutdown, not by the user: resume later
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            (run_dir / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            with EventWriter(run_dir / "events.jsonl") as events:
                events.emit("failed", error=error, worker=self.id)
        finally:
            self._current = None
        self.queue.finish(job.id, state, error)

    def _heartbeat_loop(self) -> None:
        while not self._beats_done.wait(self.heartbeat_s):
            self._beat()
        self._beat()

    def _beat(self) -> None:
        try:
            job = self._current
            if job is not None and self.queue.heartbeat(job.id, self.id):
                self._cancel.set()
            with self.project.transaction() as conn:
                conn.execute("UPDATE workers SET heartbeat_at = ?, state = ? WHERE id = ?",
                             (time.time(), "busy" if job else "idle", self.id))
        except Exception:  # a locked or closed database must not kill the worker
            pass

    def _register(self) -> None:
        with self.project.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers(id, host, pid, device, started_at, heartbeat_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'idle')",
                (self.id, socket.gethostname(), os.getpid(), self.device_label, utc_now(), time.time()),
            )

    def _set_worker_state(self, state: str) -> None:
        try:
            with self.project.transaction() as conn:
                conn.execute("UPDATE workers SET state = ?, heartbeat_at = ? WHERE id = ?",
                             (state, time.time(), self.id))
        except Exception:
            pass
