"""Starting and stopping worker processes, and cancelling with a hard-kill fallback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from engine.jobs._queue import JobQueue
from engine.store import Project


def worker_command(project_path: str | Path, device: str = "cpu",
                   extra: list[str] | None = None) -> list[str]:
    """The command line that starts a worker for ``project_path`` on ``device``.

    In a frozen desktop bundle (PyInstaller sets ``sys.frozen``) there is no Python
    interpreter to run ``-m engine``: the bundle's own executable is started with
    ``--engine`` followed by the ``affengine`` arguments (see ``affgui.app``).
    """
    args = ["worker", str(project_path), "--device", device, *(extra or [])]
    return engine_command(args)


def engine_command(args: list[str]) -> list[str]:
    """The command line that runs ``affengine ARGS`` from this installation (or bundle)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--engine", *args]
    return [sys.executable, "-m", "engine", *args]


def start_worker(project_path: str | Path, device: str = "cpu", log_path: str | Path | None = None,
                 extra: list[str] | None = None) -> subprocess.Popen:
    """Start a worker in its own process group (so a hard kill takes its children too)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env = dict(os.environ)
    if device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        device = "cuda:0"
    try:
        return subprocess.Popen(worker_command(project_path, device, extra), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    finally:
        if log_path:
            log.close()


def kill_process_tree(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Kill ``pid`` and its process group (when it leads one); False if it was already gone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def cancel_job(project: Project, job_id: int, grace_s: float = 10.0, poll_s: float = 0.2) -> str:
    """Cancel a job; a running one gets ``grace_s`` to stop, then its worker is killed.

    Returns the job's final state. The hard kill only reaches workers on this host.
    """
    queue = JobQueue(project)
    state = queue.request_cancel(job_id)
    if state != "running":
        return queue.get(job_id).state
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        state = queue.get(job_id).state
        if state != "running":
            return state
        time.sleep(poll_s)
    job = queue.get(job_id)
    if job.state != "running":
        return job.state
    rows = project.query("SELECT host, pid FROM workers WHERE id = ?", (job.worker,))
    if rows and rows[0]["host"] == socket.gethostname():
        kill_process_tree(rows[0]["pid"])
        with project.transaction() as conn:
            conn.execute("UPDATE workers SET state = 'killed' WHERE id = ?", (job.worker,))
    queue.finish(job_id, "cancelled", f"killed after not stopping within {grace_s:.0f} s")
    return "cancelled"
