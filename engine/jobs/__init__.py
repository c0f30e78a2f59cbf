"""Durable jobs: the queue in the project database and the worker that runs them."""

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
from engine.jobs._queue import ACTIVE, BACKENDS, STATES, TERMINAL_STATES, Job, JobQueue
from engine.jobs._worker import Worker

# Experiments moved to ``engine.experiments`` (which imports this package); the old names are
# still served from here, loaded on first use so that the two packages do not import each other.
_MOVED = ("Experiment", "create_experiment", "experiment_jobs", "get_experiment", "list_experiments")


def __getattr__(name: str):
    if name in _MOVED:
        import engine.experiments

        return getattr(engine.experiments, name)
    raise AttributeError(f"module 'engine.jobs' has no attribute {name!r}")


__all__ = [
    "ACTIVE",
    "BACKENDS",
    "STATES",
    "TERMINAL_STATES",
    "Experiment",
    "Job",
    "JobQueue",
    "Worker",
    "cancel_job",
    "create_experiment",
    "engine_command",
    "experiment_jobs",
    "get_experiment",
    "gpu_names",
    "kill_process_tree",
    "list_experiments",
    "register_job_kind",
    "runner_for",
    "start_worker",
    "start_workers",
    "visible_gpus",
    "worker_command",
    "worker_devices",
    "worker_env",
]
