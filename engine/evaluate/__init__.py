"""Statistics for comparing experiments: ROC/PR, DeLong, patient bootstrap, McNemar, Holm.

Pure numpy/scipy; results are frozen dataclasses of numpy arrays and floats. Scores
are always "higher = more likely AFF" (label 1); nothing is flipped automatically.
The methods, their references and the agreement with R's pROC are in
``docs/statistics.md``.
"""

from engine.evaluate._agreement import (
    FleissKappa,
    Kappa,
    agreement_weights,
    cluster_bootstrap_kappa_ci,
    cohen_kappa,
    confusion_table,
    fleiss_kappa,
    kappa_from_table,
    specific_agreement,
)
from engine.evaluate._bootstrap import (
    NEAR_ONE,
    BootstrapAuc,
    BootstrapContrast,
    DiffInDiff,
    NearPerfectAucWarning,
    bootstrap_auc,
    bootstrap_auc_difference,
    bootstrap_diff_in_diff,
)
from engine.evaluate._calibration import CalibrationCurve, brier_score, calibration_curve
from engine.evaluate._calibration_fit import CalibrationFit, calibration_fit, expected_calibration_error
from engine.evaluate._clustered import clustered_auc_ci, clustered_auc_test, obuchowski_covariance
from engine.evaluate._corrected_ttest import CorrectedTTest, corrected_resampled_ttest
from engine.evaluate._decision_curve import DecisionCurve, decision_curve
from engine.evaluate._delong import (
    AucCI,
    DeLongTest,
    RepeatedPatientsWarning,
    delong_ci,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
)
from engine.evaluate._experiments import ComparisonTable, compare_experiments, pretraining_effect
from engine.evaluate._format import format_p, is_p_column
from engine.evaluate._heldout_points import (
    HeldOutMetric,
    HeldOutOperatingPoint,
    held_out_mcnemar,
    held_out_operating_point,
    load_training_predictions,
    training_threshold,
    wilson_ci,
)
from engine.evaluate._mcnemar import McNemarTest, mcnemar_at_thresholds, mcnemar_test
from engine.evaluate._mrmc import MrmcResult, mrmc_readers_vs_model
from engine.evaluate._multiple import comparison_pairs, holm_adjust
from engine.evaluate._noninferiority import (
    MarginTest,
    check_margin,
    margin_test_bootstrap,
    margin_test_delong,
)
from engine.evaluate._operating_points import (
    OperatingPoint,
    operating_point,
    operating_points,
    threshold_for_sensitivity,
    threshold_for_specificity,
    youden_threshold,
)
from engine.evaluate._partial_auc import (
    BootstrapPartialAuc,
    PartialAuc,
    bootstrap_partial_auc,
    bootstrap_partial_auc_difference,
    partial_auc,
)
from engine.evaluate._pr import PrCurve, average_precision, pr_curve
from engine.evaluate._predictions import PatientScores, Predictions, aggregate_patients, align_predictions
from engine.evaluate._readers import (
    LabelAgreement,
    PairAgreement,
    ReaderAgreement,
    label_calls,
    read_score,
    reader_agreement,
    subject_calls,
)
from engine.evaluate._readers_model import (
    DecisionPoint,
    ReadersVsModel,
    ReaderVsModel,
    compare_readers_with_predictions,
    readers_vs_model,
)
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
    "DecisionPoint",
    "LabelAgreement",
    "PairAgreement",
    "ReaderAgreement",
    "ReaderVsModel",
    "ReadersVsModel",
    "compare_readers_with_predictions",
    "label_calls",
    "read_score",
    "reader_agreement",
    "readers_vs_model",
    "subject_calls",
    "MrmcResult",
    "mrmc_readers_vs_model",
    "FleissKappa",
    "Kappa",
    "agreement_weights",
    "cluster_bootstrap_kappa_ci",
    "cohen_kappa",
    "confusion_table",
    "fleiss_kappa",
    "kappa_from_table",
    "specific_agreement",
    "decision_curve",
    "DecisionCurve",
    "obuchowski_covariance",
    "clustered_auc_test",
    "clustered_auc_ci",
    "RepeatedPatientsWarning",
    "margin_test_delong",
    "margin_test_bootstrap",
    "check_margin",
    "MarginTest",
    "expected_calibration_error",
    "calibration_fit",
    "CalibrationFit",
    "wilson_ci",
    "training_threshold",
    "load_training_predictions",
    "held_out_operating_point",
    "held_out_mcnemar",
    "HeldOutOperatingPoint",
    "HeldOutMetric",
    "partial_auc",
    "bootstrap_partial_auc_difference",
    "bootstrap_partial_auc",
    "PartialAuc",
    "BootstrapPartialAuc",
    "NEAR_ONE",
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
    "NearPerfectAucWarning",
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
    "format_p",
    "holm_adjust",
    "is_p_column",
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
