"""Final models of experiments: ensembles of the fold models (or a refit), their provenance, evaluation
on held-out and external data, screening predictions (on local workers or Slurm), heatmaps of screened
images and ONNX export (see ``docs/evaluation.md``).

The store, provenance and evaluation readers import without torch; names that need torch load on
first use.
"""

from __future__ import annotations

import importlib

from engine.final._calibration import Recalibration, recalibration
from engine.final._evaluate import EVALUATION, evaluate_final_models, list_evaluations, write_evaluation
from engine.final._finalize import finalize
from engine.final._members import FinalModelError, Member, experiment_members
from engine.final._predict import (
    FILTER_KEYS,
    IMAGE_SETS,
    SCORED_DIR,
    Prediction,
    import_scored,
    likely_aff_unlabelled,
    predict_images,
    predict_job_spec,
    read_scored,
    run_predict_job,
    select_images,
    stored_predictions,
    submit_predict,
)
from engine.final._refit import refit_recipe, run_refit_job, submit_refit
from engine.final._screen_explain import (
    SCREENING,
    explain_screened,
    screen_heatmap_spec,
    screened_heatmap_job,
    screened_heatmaps,
    submit_screen_heatmaps,
)
from engine.final._store import (
    MODES,
    PREPROCESSING,
    FinalModel,
    code_version,
    ensemble_provenance,
    file_sha256,
    final_model_ready,
    get_final_model,
    latest_final_model,
    list_final_models,
    recipe,
)
from engine.final._targets import TEST, Target, check_never_seen, member_image_ids

_LAZY = {
    "export_onnx": "engine.final._onnx",
    "run_onnx": "engine.final._onnx",
    "build_card": "engine.final._card",
    "card_markdown": "engine.final._card",
    "write_card": "engine.final._card",
    "explain_external": "engine.final._explain_external",
    "EnsembleModule": "engine.final._model",
    "load_final_module": "engine.final._model",
    "member_modules": "engine.final._model",
    "score_images": "engine.final._model",
    "score_pixels": "engine.final._model",
}

__all__ = [
    "EVALUATION",
    "FILTER_KEYS",
    "IMAGE_SETS",
    "SCORED_DIR",
    "SCREENING",
    "Prediction",
    "explain_screened",
    "import_scored",
    "likely_aff_unlabelled",
    "predict_images",
    "predict_job_spec",
    "read_scored",
    "run_predict_job",
    "screen_heatmap_spec",
    "screened_heatmap_job",
    "screened_heatmaps",
    "submit_screen_heatmaps",
    "select_images",
    "stored_predictions",
    "submit_predict",
    "MODES",
    "PREPROCESSING",
    "TEST",
    "Recalibration",
    "Target",
    "check_never_seen",
    "build_card",
    "card_markdown",
    "evaluate_final_models",
    "export_onnx",
    "run_onnx",
    "write_card",
    "explain_external",
    "list_evaluations",
    "member_image_ids",
    "recalibration",
    "write_evaluation",
    "EnsembleModule",
    "FinalModel",
    "FinalModelError",
    "Member",
    "code_version",
    "ensemble_provenance",
    "experiment_members",
    "file_sha256",
    "final_model_ready",
    "finalize",
    "get_final_model",
    "latest_final_model",
    "list_final_models",
    "load_final_module",
    "member_modules",
    "recipe",
    "refit_recipe",
    "run_refit_job",
    "submit_refit",
    "score_images",
    "score_pixels",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.final' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
