"""The Results view: ROC/PR curves, AUC comparison and compute cost of finished experiments.

``install(session, shell)`` adds the Results dock (hidden until View > Results) and returns its
:class:`ResultsController`; connect ``controller.on_experiment_finished`` to an experiment
monitor's ``sigExperimentFinished(str)``. Statistics come from ``engine.evaluate`` on worker
threads; the HTML report is written by an ``affengine report`` subprocess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affgui.parts.results._compute import (
    ExperimentStatus,
    ResultsData,
    compute_results,
    list_status,
)
from affgui.parts.results._controller import ResultsController
from affgui.parts.results._export import ReportExport, report_command
from affgui.parts.results._page import ResultsPageWidget
from affgui.parts.results._plots import PrPlotWidget, RocPlotWidget, auc_legend

if TYPE_CHECKING:
    from affgui.session import ProjectSession
    from affgui.shell import Shell

__all__ = [
    "ExperimentStatus",
    "PrPlotWidget",
    "ReportExport",
    "ResultsController",
    "ResultsData",
    "ResultsPageWidget",
    "RocPlotWidget",
    "auc_legend",
    "compute_results",
    "install",
    "list_status",
    "report_command",
]


def install(session: ProjectSession, shell: Shell) -> ResultsController:
    """Add the Results dock and its View menu toggle to ``shell``; it follows ``session``."""
    return ResultsController(session, shell)
