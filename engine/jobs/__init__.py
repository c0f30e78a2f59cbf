"""Durable jobs: the queue in the project database and the worker that runs them."""

from engine.jobs._control import cancel_job, kill_process_tree, start_worker, worker_command
from engine.jobs._kinds import register_job_kind, runner_for
from engine.jobs._queue import ACTIVE, STATES, Job, JobQueue
from engine.jobs._worker import Worker

__all__ = [
    "ACTIVE",
    "STATES",
    "Job",
    "JobQueue",
    "Worker",
    "cancel_job",
    "kill_process_tree",
    "register_job_kind",
    "runner_for",
    "start_worker",
    "worker_command",
]
