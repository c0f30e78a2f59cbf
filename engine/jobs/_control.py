"""Starting and stopping worker processes, and cancelling with a hard-kill fallback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from engine.jobs._backends import backend, register_backend
from engine.jobs._queue import JobLost, JobQueue
from engine.jobs._workers_table import WorkerTable, started_after
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


PHYSICAL_DEVICE_ENV = "AFFWB_PHYSICAL_DEVICE"


def worker_env(device: str) -> tuple[dict[str, str], str]:
    """The environment and device a worker for ``device`` starts with.

    ``cuda:N`` becomes ``CUDA_VISIBLE_DEVICES=N`` and device ``cuda:0`` inside the worker,
    so each worker sees only its own GPU; ``AFFWB_PHYSICAL_DEVICE`` keeps the real name,
    which the worker records (the ``workers`` table, the GUI's device column).
    """
    env = dict(os.environ)
    env.pop(PHYSICAL_DEVICE_ENV, None)
    if device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        env[PHYSICAL_DEVICE_ENV] = device
        device = "cuda:0"
    return env, device


def start_worker(project_path: str | Path, device: str = "cpu", log_path: str | Path | None = None,
                 extra: list[str] | None = None) -> subprocess.Popen:
    """Start a worker in its own process group (so a hard kill takes its children too)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env, device = worker_env(device)
    try:
        return subprocess.Popen(worker_command(project_path, device, extra), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                **_detached())
    finally:
        if log_path:
            log.close()


def worker_devices(gpus: str | None = None, cpu: int = 0, per_gpu: int = 1) -> list[str]:
    """The devices to start one worker each on: ``gpus`` is ``all`` or ``0,2``; ``cpu`` adds N CPU workers.

    ``per_gpu`` workers share each GPU (small models); each checks the device's free memory
    before it claims a job (``engine.jobs._memory``).

    Raises ValueError with the reason for a GPU list that is malformed, names a GPU this
    machine does not show, or asks for ``all`` where there are none.
    """
    from engine.jobs._gpus import visible_gpus

    devices: list[str] = []
    if gpus:
        visible = visible_gpus()
        if gpus.strip().lower() == "all":
            if not visible:
                raise ValueError("--gpus all: no GPU visible (CUDA_VISIBLE_DEVICES / nvidia-smi)")
            devices += visible
        else:
            parts = [p.strip() for p in gpus.split(",") if p.strip()]
            bad = [p for p in parts if not p.isdigit()]
            if bad or not parts:
                raise ValueError(f"--gpus {gpus!r}: 'all' or GPU indices such as 0,2")
            wanted = [f"cuda:{p}" for p in parts]
            unknown = [d for d in wanted if d not in visible]
            if unknown:
                raise ValueError(f"--gpus {gpus}: {', '.join(unknown)} not visible here "
                                 f"(visible: {', '.join(visible) or 'none'})")
            if len(set(wanted)) != len(wanted):
                raise ValueError(f"--gpus {gpus}: a GPU is named twice")
            devices += wanted
    if isinstance(per_gpu, bool) or not isinstance(per_gpu, int) or per_gpu < 1:
        raise ValueError(f"--per-gpu {per_gpu}: a number of workers per GPU >= 1")
    if per_gpu > 1 and not devices:
        raise ValueError(f"--per-gpu {per_gpu}: give the GPUs to share with --gpus")
    devices = [d for d in devices for _ in range(per_gpu)]
    if cpu < 0:
        raise ValueError(f"--cpu {cpu}: a number of CPU workers >= 0")
    devices += ["cpu"] * cpu
    if not devices:
        raise ValueError("no workers asked for: give --gpus all, --gpus 0,2 or --cpu N")
    return devices


def start_workers(project_path: str | Path, devices: list[str], log_dir: str | Path | None = None,
                  extra: list[str] | None = None) -> list[subprocess.Popen]:
    """Start one worker per device (see :func:`worker_devices`); they share the project's queue.

    With ``log_dir`` each worker's output goes to ``worker-<i>-<device>.log`` there.
    """
    procs = []
    try:
        for i, device in enumerate(devices):
            log = None
            if log_dir is not None:
                Path(log_dir).mkdir(parents=True, exist_ok=True)
                log = Path(log_dir) / f"worker-{i}-{device.replace(':', '')}.log"
            procs.append(start_worker(project_path, device, log, extra))
    except BaseException:  # all or none: a worker started in its own session would outlive us
        for proc in procs:
            proc.terminate()
        raise
    return procs


def _detached() -> dict:
    """Popen options that start a worker in its own process group, outliving the GUI."""
    if os.name == "nt":  # no sessions on Windows: a new process group, killed with taskkill /T
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def kill_process_tree(pid: int, sig: int = getattr(signal, "SIGKILL", 9)) -> bool:
    """Kill ``pid`` and its process group (when it leads one); False if it was already gone.

    On Windows the tree is ended with ``taskkill /T /F`` (not tried on Windows yet).
    """
    if os.name == "nt":
        done = subprocess.run(["taskkill", "/T", "/F", "/PID", str(pid)], capture_output=True)
        return done.returncode == 0
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def cancel_job(project: Project, job_id: int, grace_s: float = 10.0, poll_s: float = 0.2) -> str:
    """Cancel a job on whatever backend runs it; returns the job's state afterwards.

    A ``local`` job that is running gets ``grace_s`` to stop, then its worker is killed (only
    workers on this host). Other backends cancel their own way: a ``slurm`` job with
    ``scancel`` (see :mod:`engine.slurm`); its state becomes ``cancelled`` once
    ``engine.slurm.sync`` sees Slurm end it.
    """
    job = JobQueue(project).get(job_id)
    return backend(job.backend).cancel(project, job_id, grace_s=grace_s, poll_s=poll_s)


def _cancel_local(project: Project, job_id: int, grace_s: float = 10.0, poll_s: float = 0.2) -> str:
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
    workers = WorkerTable(project)
    row = workers.get(job.worker)
    here = row is not None and row.host == socket.gethostname()
    try:
        if here and started_after(row.pid, datetime.fromisoformat(row.started_at).timestamp()):
            # its worker died (OOM killer, SIGKILL) and the pid now belongs to another process
            queue.finish(job_id, "cancelled", f"cancelled; its worker (pid {row.pid}) is gone",
                         token=job.claim_token)
            workers.set_state(row.id, "dead")
            return "cancelled"
        if here:
            kill_process_tree(row.pid)
            workers.set_state(row.id, "killed")
        queue.finish(job_id, "cancelled", f"killed after not stopping within {grace_s:.0f} s",
                     token=job.claim_token)
    except JobLost:  # it ended, or was reclaimed, while we waited: leave the new owner alone
        return queue.get(job_id).state
    return "cancelled"


register_backend("local", cancel=_cancel_local)
