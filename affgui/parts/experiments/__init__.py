"""Experiments in the GUI: queue them, watch their jobs and curves live, run local workers.

``install(session, shell)`` adds the Experiments dock (job queue over training curves), the
Experiments menu and the workers' status-bar label; the returned controller's
``monitor`` (:class:`JobMonitor`) tells the session (``sigExperimentFinished``,
``sigJobsChanged``) when an experiment finishes and what the jobs are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affgui.parts.experiments.controller import ExperimentsController
from affgui.parts.experiments.curves import TrainingCurvesWidget
from affgui.parts.experiments.job_monitor import JobMonitor, JobRow, JobTailer, WorkerRow
from affgui.parts.experiments.job_queue import JobQueueWidget
from affgui.parts.experiments.new_experiment_dialog import NewExperimentDialog
from affgui.parts.experiments.workers import WorkerManager

if TYPE_CHECKING:
    from affgui.session import ProjectSession
    from affgui.shell import Shell


def install(session: ProjectSession, shell: Shell, **kwargs) -> ExperimentsController:
    """Add the Experiments dock, menu and worker status to ``shell``."""
    return ExperimentsController(session, shell, **kwargs)


__all__ = [
    "ExperimentsController",
    "JobMonitor",
    "JobQueueWidget",
    "JobRow",
    "JobTailer",
    "NewExperimentDialog",
    "TrainingCurvesWidget",
    "WorkerManager",
    "WorkerRow",
    "install",
]
