"""Statistics for comparing experiments: ROC/PR, DeLong, patient bootstrap, McNemar, Holm.

Pure numpy/scipy; results are frozen dataclasses of numpy arrays and floats. Scores
are always "higher = more likely AFF" (label 1); nothing is flipped automatically.
The methods, their references and the agreement with R's pROC are in
``docs/statistics.md``.
"""

from engine.evaluate._bootstrap import (
    BootstrapAuc,
    BootstrapContrast,
    DiffInDiff,
    bootstrap_auc,
    bootstrap_auc_difference,
    bootstrap_diff_in_diff,
)
from engine.evaluate._calibration import CalibrationCurve, brier_score, calibration_curve
from engine.evaluate._corrected_ttest import CorrectedTTest, corrected_resampled_ttest
from engine.evaluate._delong import (
    AucCI,
    DeLongTest,
    delong_ci,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
)
from engine.evaluate._experiments import ComparisonTable, compare_experiments, pretraining_effect
from engine.evaluate._mcnemar import McNemarTest, mcnemar_at_thresholds, mcnemar_test
from engine.evaluate._multiple import comparison_pairs, holm_adjust
from engine.evaluate._operating_points import (
    OperatingPoint,
    operating_point,
    operating_points,
    threshold_for_sensitivity,
    threshold_for_specificity,
    youden_threshold,
)
from engine.evaluate._pr import PrCurve, average_precision, pr_curve
from engine.evaluate._predictions import PatientScores, Predictions, aggregate_patients, align_predictions
from engine.evaluate._repeats import (
    RepeatAuc,
    RepeatDeLong,
    RepeatedComparison,
    RepeatedPredictions,
    RepeatedSummary,
    compare_repeated,
    load_repeated_predictions,
    repeated_summary,
)
from engine.evaluate._results import (
    ComputeCost,
    ExperimentResults,
    LevelResults,
    compute_cost,
    experiment_results,
    level_results,
    results_from_predictions,
    to_jsonable,
)
from engine.evaluate._review import (
    REVIEW_COLUMNS,
    ReviewItem,
    ReviewQueue,
    review_experiments,
    review_labels,
)
from engine.evaluate._roc import FoldAucs, RocCurve, fold_aucs, midranks, roc_auc, roc_curve
from engine.evaluate._runs import (
    ExperimentNotReady,
    ExperimentRuns,
    experiment_runs,
    load_experiment_predictions,
)

__all__ = [
    "AucCI",
    "BootstrapAuc",
    "BootstrapContrast",
    "CalibrationCurve",
    "ComparisonTable",
    "ComputeCost",
    "CorrectedTTest",
    "DeLongTest",
    "DiffInDiff",
    "ExperimentNotReady",
    "ExperimentResults",
    "ExperimentRuns",
    "FoldAucs",
    "LevelResults",
    "McNemarTest",
    "OperatingPoint",
    "PatientScores",
    "PrCurve",
    "Predictions",
    "REVIEW_COLUMNS",
    "RepeatAuc",
    "RepeatDeLong",
    "RepeatedComparison",
    "RepeatedPredictions",
    "RepeatedSummary",
    "ReviewItem",
    "ReviewQueue",
    "RocCurve",
    "aggregate_patients",
    "align_predictions",
    "average_precision",
    "bootstrap_auc",
    "bootstrap_auc_difference",
    "bootstrap_diff_in_diff",
    "brier_score",
    "calibration_curve",
    "compare_experiments",
    "compare_repeated",
    "comparison_pairs",
    "compute_cost",
    "corrected_resampled_ttest",
    "delong_ci",
    "delong_covariance",
    "delong_test",
    "delong_test_unpaired",
    "experiment_results",
    "experiment_runs",
    "fold_aucs",
    "holm_adjust",
    "level_results",
    "load_experiment_predictions",
    "load_repeated_predictions",
    "mcnemar_at_thresholds",
    "mcnemar_test",
    "midranks",
    "operating_point",
    "operating_points",
    "pr_curve",
    "pretraining_effect",
    "repeated_summary",
    "results_from_predictions",
    "review_experiments",
    "review_labels",
    "roc_auc",
    "roc_curve",
    "threshold_for_sensitivity",
    "threshold_for_specificity",
    "to_jsonable",
    "youden_threshold",
]
