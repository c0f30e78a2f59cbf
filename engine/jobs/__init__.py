"""Durable jobs: the queue in the project database and the worker that runs them."""

from engine.jobs._backends import Backend, backend, register_backend
from engine.jobs._control import (
    cancel_job,
    engine_command,
    kill_process_tree,
    start_worker,
    start_workers,
    worker_command,
    worker_devices,
    worker_env,
)
from engine.jobs._gpus import gpu_names, visible_gpus
from engine.jobs._kinds import register_job_kind, runner_for
from engine.jobs._prune import PruneReport, prune_checkpoints
from engine.jobs._queue import (
    ACTIVE,
    BACKENDS,
    HEARTBEAT_S,
    STATES,
    TERMINAL_STATES,
    Job,
    JobLost,
    JobNotFound,
    JobQueue,
    check_priority,
    check_stale_after,
)
from engine.jobs._tailer import JobRow, JobTailer, Snapshot, WorkerStatus, format_eta, pid_alive
from engine.jobs._worker import Worker, one_line
from engine.jobs._workers_table import WorkerRow, WorkerTable

__all__ = [
    "PruneReport",
    "prune_checkpoints",
    "Backend",
    "JobRow",
    "JobTailer",
    "Snapshot",
    "WorkerStatus",
    "pid_alive",
    "ACTIVE",
    "BACKENDS",
    "HEARTBEAT_S",
    "STATES",
    "TERMINAL_STATES",
    "Job",
    "JobLost",
    "JobNotFound",
    "JobQueue",
    "Worker",
    "WorkerRow",
    "WorkerTable",
    "backend",
    "cancel_job",
    "check_priority",
    "check_stale_after",
    "engine_command",
    "format_eta",
    "gpu_names",
    "kill_process_tree",
    "one_line",
    "register_backend",
    "register_job_kind",
    "runner_for",
    "start_worker",
    "start_workers",
    "visible_gpus",
    "worker_command",
    "worker_devices",
    "worker_env",
]
