"""The Results view: ROC/PR curves, AUC comparison and compute cost of finished experiments.

``ResultsController(session, shell)`` adds the Results dock (hidden until View > Results);
it follows the session, whose ``sigExperimentFinished(name)`` (the experiments part's
news) refreshes it. Statistics come from ``engine.evaluate`` on worker
threads; the HTML report is written by an ``affengine report`` subprocess.
"""

from __future__ import annotations

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
    "list_status",
    "report_command",
]

