"""The cluster side: ``affengine slurm exec RUN_DIR`` runs one job inside its Slurm allocation.

It reads ``slurm/job.json``, opens the project *snapshot* next to it (never the live
database), runs the job kind's runner in the run folder and leaves its outcome in
``slurm/status.json``. SIGTERM (``scancel``, the time limit, pre-emption) stops the run at
its next step; a training run writes ``checkpoints/last.pt`` first, so the next
submission resumes from it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import traceback
from pathlib import Path

from engine.slurm._inputs import JOB_FILE, SNAPSHOT, read_status, slurm_dir, write_status


class _Job:
    """The job as the runners see it (the fields of :class:`engine.jobs.Job` they read)."""

    def __init__(self, data: dict):
        self.id = data["job_id"]
        self.kind = data["kind"]
        self.fold = data.get("fold")
        self.experiment_id = data.get("experiment_id")
        self.run_id = data["run_id"]
        self.spec = data["spec"]
        self.backend = "slurm"


def run_on_node(run_dir: str | Path) -> int:
    """Run the job prepared in ``run_dir``; exit code 0 unless it failed."""
    from engine.errors import InvalidInput
    from engine.jobs import one_line, runner_for
    from engine.runs import EventWriter, RunFolder
    from engine.store import Project

    run_dir = RunFolder.at(Path(run_dir).resolve()).path  # InvalidInput for a name that is no run id
    folder = slurm_dir(run_dir)
    if not folder.is_dir():
        raise InvalidInput(f"{run_dir}: no {folder.name}/ folder here; not a run folder prepared for Slurm "
                           "(the submitting side writes it: affengine slurm submit)")
    try:
        data = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"affwb: cannot read the job in {folder / JOB_FILE}: {exc}", flush=True)
        write_status(run_dir, state="failed", error=f"cannot read {JOB_FILE}: {exc}",
                     slurm_id=os.environ.get("SLURM_JOB_ID"))
        return 1
    job = _Job(data)
    slurm_id = os.environ.get("SLURM_JOB_ID")
    stop = threading.Event()
    signals: list[str] = []

    def on_signal(signum, _frame):
        signals.append(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, on_signal)
    previous = read_status(run_dir)
    write_status(run_dir, state="running", slurm_id=slurm_id, host=socket.gethostname(), pid=os.getpid(),
                 resumed=previous.get("state") in ("running", "interrupted"))
    print(f"affwb: {job.kind} job {job.id} in {run_dir} on {data['device']}", flush=True)
    state, error = "failed", None
    try:
        with Project.open(folder / SNAPSHOT) as snapshot:
            state = runner_for(job.kind)(job, snapshot, run_dir, stop.is_set, data["device"],
                                         _printer())
        if state == "cancelled":
            state = "interrupted"  # stopped by a signal: cancel, time limit or pre-emption
    except Exception as exc:
        error = one_line(exc)  # the job's error: one line; the traceback goes to error.txt
        (run_dir / RunFolder.ERROR).write_text(traceback.format_exc(), encoding="utf-8")
        with EventWriter(run_dir / RunFolder.EVENTS) as events:
            events.emit("failed", error=error, worker=f"slurm:{slurm_id}")
        print(f"affwb: failed: {error}", flush=True)
    write_status(run_dir, state=state, error=error, slurm_id=slurm_id, signals=signals)
    print(f"affwb: {state}" + (f" after {', '.join(signals)}" if signals else ""), flush=True)
    if state in ("finished", "failed"):
        _drop_snapshot(folder / SNAPSHOT)
    return 1 if state == "failed" else 0


def _printer():
    """Progress to the Slurm log: every metric, log line and the start (not every step)."""

    def show(event: dict) -> None:
        if event.get("type") in ("started", "metric", "log", "finished", "cancelled"):
            brief = {k: v for k, v in event.items() if k not in ("spec", "traceback", "seq", "type")}
            print(f"affwb: {event['type']}: {json.dumps(brief, default=str)[:400]}", flush=True)

    return show


def _drop_snapshot(path: Path) -> None:
    """The snapshot (and the sized cache it grew) is not needed once the job has ended for good."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
