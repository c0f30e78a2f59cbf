"""The study report: HTML with embedded figures, CSV tables and JSON, answering the study's questions.

See ``docs/report.md``. Figures use matplotlib's Agg canvas only; nothing here imports Qt.
"""

from engine.report._answers import QUESTIONS, study_answers
from engine.report._beyond_section import evaluation_sections, evaluation_tables
from engine.report._build import assemble_report, build_report_data
from engine.report._data import (
    ComparisonRow,
    DataSummary,
    DiffInDiffRow,
    PretrainingPair,
    ReportData,
    comparison_rows,
    data_summary,
    pretraining_pairs,
)
from engine.report._repeats_section import REPEAT_TABLES, repeats_section
from engine.report._stats_section import STATS_NOTES, STATS_TITLES, statistics_section, stats_tables
from engine.report._tables import TABLES
from engine.report._tracking import (
    ExperimentRecord,
    FoldRecord,
    TrackingUnavailable,
    experiment_record,
    export_mlflow,
    export_tensorboard,
)
from engine.report._write import WrittenReport, build_report, write_evaluation_report, write_report

__all__ = [
    "REPEAT_TABLES",
    "repeats_section",
    "stats_tables",
    "statistics_section",
    "STATS_TITLES",
    "STATS_NOTES",
    "QUESTIONS",
    "TABLES",
    "ComparisonRow",
    "DataSummary",
    "DiffInDiffRow",
    "ExperimentRecord",
    "FoldRecord",
    "PretrainingPair",
    "ReportData",
    "TrackingUnavailable",
    "WrittenReport",
    "assemble_report",
    "build_report",
    "build_report_data",
    "comparison_rows",
    "data_summary",
    "evaluation_sections",
    "evaluation_tables",
    "experiment_record",
    "export_mlflow",
    "export_tensorboard",
    "pretraining_pairs",
    "study_answers",
    "write_evaluation_report",
    "write_report",
]
