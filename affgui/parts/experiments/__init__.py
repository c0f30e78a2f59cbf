"""Experiments in the GUI: queue them, watch their jobs and curves live, run local workers.

``ExperimentsController(session, shell)`` adds the Experiments dock (job queue over training curves), the
Experiments menu and the workers' status-bar label; its
``monitor`` (:class:`JobMonitor`) tells the session (``sigExperimentFinished``,
``sigJobsChanged``) when an experiment finishes and what the jobs are.
"""

from __future__ import annotations

from affgui.parts.experiments.controller import ExperimentsController
from affgui.parts.experiments.curves import TrainingCurvesWidget
from affgui.parts.experiments.job_monitor import JobMonitor, JobRow, JobTailer, WorkerRow
from affgui.parts.experiments.job_queue import JobQueueWidget
from affgui.parts.experiments.new_experiment_dialog import NewExperimentDialog
from affgui.parts.experiments.workers import WorkerManager

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
]
