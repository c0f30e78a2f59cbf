"""Experiments in the GUI: queue them, watch their jobs and curves live, run local workers.

``install(window)`` adds the Experiments dock (job queue over training curves), the
Experiments menu and the workers' status-bar label; the returned controller's
``monitor`` (:class:`JobMonitor`) tells other views when an experiment finishes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affgui.experiments.controller import ExperimentsController
from affgui.experiments.curves import TrainingCurvesWidget
from affgui.experiments.job_monitor import JobMonitor, JobRow, JobTailer, WorkerRow
from affgui.experiments.job_queue import JobQueueWidget
from affgui.experiments.new_experiment_dialog import NewExperimentDialog
from affgui.experiments.workers import WorkerManager

if TYPE_CHECKING:
    from affgui.shell import WindowShell


def install(window: WindowShell, **kwargs) -> ExperimentsController:
    """Add the Experiments dock, menu and worker status to ``window``."""
    return ExperimentsController(window, **kwargs)


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
