"""``affengine worker``: claims jobs from the project queue and runs them one at a time."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from engine.errors import EngineError
from engine.jobs._kinds import runner_for
from engine.jobs._memory import MemoryGate, MemoryProbe, device_probe
from engine.jobs._queue import HEARTBEAT_S, STALE_AFTER_S, Job, JobLost, JobQueue, check_stale_after
from engine.jobs._workers_table import WorkerTable
from engine.runs import EventWriter, RunFenced, RunFolder, fence
from engine.store import Project


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A failed job's ``error``: the exception's first line (the GUI shows it in a table cell)."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    return line if len(line) <= limit else line[:limit - 3] + "..."


class Worker:
    """One worker process: one device, one job at a time (optionally one experiment's jobs).

    A heartbeat thread keeps the job alive in the database and turns a cancel
    request into the flag the running job polls. SIGTERM/SIGINT stop the
    current job at its next step; it is left ``interrupted`` so the next worker
    resumes it from its last checkpoint.

    The worker holds its job under a claim token. When a heartbeat finds the job taken
    over (this worker was paused past ``stale_after_s`` and another reclaimed it), or the
    run folder's ``.owner`` names a newer claim, the job stops at its next step and nothing
    more is written to its run folder or its row (see :func:`engine.runs.fence`).
    """

    def __init__(self, project_path: str | Path, device: str = "cpu", worker_id: str | None = None,
                 poll_s: float = 1.0, heartbeat_s: float = HEARTBEAT_S,
                 stale_after_s: float = STALE_AFTER_S, experiment_id: int | None = None,
                 progress: Callable[[Job, dict], None] | None = None,
                 log: Callable[[str], None] | None = None,
                 memory_probe: MemoryProbe | None | str = "device"):
        """``memory_probe() -> (free, total)`` bytes of this worker's device, checked before each
        claim; ``"device"`` (default) asks nvidia-smi for a GPU worker and checks nothing on the CPU."""
        check_stale_after(stale_after_s, heartbeat_s)
        self.project = Project.open(project_path)
        self.queue = JobQueue(self.project)
        self.workers = WorkerTable(self.project)
        self.device = device
        # started by start_worker for cuda:N, the worker sees only that GPU (as cuda:0)
        self.device_label = os.environ.get("AFFWB_PHYSICAL_DEVICE") or device
        probe = device_probe(self.device_label) if memory_probe == "device" else memory_probe
        self.memory = MemoryGate(probe)
        self._waiting_for: str | None = None
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.experiment_id = experiment_id
        self.progress = progress
        self.log = log or (lambda message: print(f"worker {self.id}: {message}", file=sys.stderr, flush=True))
        self._shutdown = threading.Event()
        self._cancel = threading.Event()
        # the heartbeat stops when run() has left its job, not at shutdown: a job told to stop may
        # take a while to reach its next step and write its checkpoint, and a silent one is reaped
        self._beats_done = threading.Event()
        self._current: Job | None = None
        self._folder: RunFolder | None = None
        self._lost: str | None = None
        self._job_lock = threading.Lock()  # a heartbeat for one job never marks the next one lost

    # -- public -------------------------------------------------------------------
    def run(self, exit_when_idle: bool = False, max_jobs: int | None = None) -> int:
        """Claim and run jobs until shut down (or idle / ``max_jobs`` done); returns jobs run."""
        self.workers.register(self.id, self.device_label)
        self._beats_done.clear()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        done = 0
        try:
            while not self._shutdown.is_set() and (max_jobs is None or done < max_jobs):
                self._reap()
                job = self.queue.claim(self.id, experiment_id=self.experiment_id,
                                       admit=self.memory.admit_fn())
                refusal = self.memory.last_refusal if job is None else None
                if refusal is not None and refusal != self._waiting_for:
                    self.log(f"waiting for memory on {self.device_label}: {refusal}")
                self._waiting_for = refusal
                if job is None:
                    # a job waiting for memory is not an empty queue
                    if exit_when_idle and refusal is None and not self._others_in_doubt():
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
    def _reap(self) -> None:
        dead = self.workers.reap_dead(self.stale_after_s)
        for job_id in self.queue.reap_stale(self.stale_after_s, workers=tuple(dead)):
            self.log(f"job {job_id}: its worker is gone (or silent for {self.stale_after_s:g} s); "
                     "marked interrupted to resume")

    def _others_in_doubt(self) -> bool:
        """A running local job whose worker may be dead: wait for it to beat or to be reaped."""
        now, limit = time.time(), 2 * min(self.heartbeat_s, HEARTBEAT_S)
        return any(j.backend == "local" and (j.heartbeat_at is None or now - j.heartbeat_at > limit)
                   for j in self.queue.list(state="running"))

    def _fence_check(self) -> str | None:
        """None while this worker still holds its job; otherwise why not (the run folder's fence)."""
        job, folder = self._current, self._folder
        if self._lost is None and job is not None and folder is not None:
            owner = folder.owner_token()
            if owner is not None and owner != job.claim_token:
                self._lose(f"its run folder was claimed again (claim {owner}; this worker holds "
                           f"{job.claim_token})")
        return self._lost

    def _lose(self, why: str) -> None:
        if self._lost is None:
            self._lost = why
            job = self._current
            self.log(f"lost job {job.id if job else '?'}: {why}; stopping it and writing nothing more "
                     "to its run folder")
        self._cancel.set()

    def _should_stop(self) -> bool:
        if self._fence_check() is not None:
            raise JobLost(f"job lost: {self._lost}")
        return self._cancel.is_set() or self._shutdown.is_set()

    def _run_one(self, job: Job) -> None:
        self._cancel.clear()
        self._lost = None
        try:
            folder = RunFolder.of(self.project, job.run_id)
            folder.claim(job.claim_token)
        except (EngineError, OSError) as exc:  # a crafted run id, an unwritable runs/
            self.log(f"job {job.id}: cannot use its run folder: {exc}")
            self._finish(job, "failed", one_line(exc))
            return
        self._current, self._folder = job, folder
        run_dir = folder.path
        state, error = "failed", None
        try:
            with fence(run_dir, self._fence_check):
                try:
                    progress = None if self.progress is None else (lambda event: self.progress(job, event))
                    state = runner_for(job.kind)(job, self.project, run_dir, self._should_stop, self.device,
                                                 progress)
                    if state == "cancelled" and not self._cancel.is_set():
                        state = "interrupted"  # stopped by shutdown, not by the user: resume later
                except (JobLost, RunFenced):
                    pass
                except Exception as exc:
                    if self._fence_check() is None:
                        error = one_line(exc)
                        folder.error_file.write_text(traceback.format_exc(), encoding="utf-8")
                        with EventWriter(folder.events) as events:
                            events.emit("failed", error=error, worker=self.id)
        finally:
            with self._job_lock:
                self._current = self._folder = None
        if self._lost is not None:
            return  # another worker holds the job now: its row is not ours to write
        self._finish(job, state, error)

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        try:
            self.queue.finish(job.id, state, error, token=job.claim_token)
        except JobLost as exc:
            self.log(f"{exc}; left as it is")

    def _heartbeat_loop(self) -> None:
        while not self._beats_done.wait(self.heartbeat_s):
            self._beat()
        self._beat()

    def _beat(self) -> None:
        try:
            with self._job_lock:
                job = self._current
                if job is not None and self._lost is None:
                    try:
                        if self.queue.heartbeat(job.id, self.id, job.claim_token):
                            self._cancel.set()
                    except JobLost as exc:
                        self._lose(str(exc))
            self.workers.beat(self.id, "busy" if job else "idle")
        except Exception:  # a locked or closed database must not kill the worker
            pass

    def _set_worker_state(self, state: str) -> None:
        try:
            self.workers.set_state(self.id, state)
        except Exception:
            pass
