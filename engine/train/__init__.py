"""Training: one run = one model on one fold of a stored split (see ``docs/training.md``).

``RunSpec``, ``RunResult`` and the run-folder readers import without torch, so the GUI can
build specs and read results; the names that need torch load on first use.
"""

from __future__ import annotations

import importlib

from engine.train._orientation import ORIENTATIONS, OrientationPlan, orientation_plan
from engine.train._outputs import (
    CONFIG,
    EVENTS,
    METRICS,
    PREDICTION_COLUMNS,
    PREDICTIONS,
    TRAIN_PREDICTIONS,
    RunResult,
    read_predictions,
    read_run_config,
)
from engine.train._recipes import RECIPE_CHOICES, Recipe, apply_recipe, family_recipe
from engine.train._sized_cache import SizedCache, letterbox
from engine.train._spec import (
    BALANCE_MODES,
    COMPILE_BACKENDS,
    EXECUTION_FIELDS,
    LR_SCALING_RULES,
    PRECISIONS,
    SCHEDULES,
    RunSpec,
    SpecError,
)

_LAZY = {
    "throughput_spec": "engine.train._batch",
    "choose_batch": "engine.train._batch",
    "scale_lr": "engine.train._batch",
    "table_batch": "engine.train._batch",
    "THROUGHPUT_BATCH": "engine.train._batch",
    "PhaseClock": "engine.train._overhead",
    "train_run": "engine.train._run",
    "prepare_images": "engine.train._data",
    "load_fold": "engine.train._data",
    "FoldData": "engine.train._data",
    "augment": "engine.train._augment",
    "normalise": "engine.train._augment",
    "AugmentLimits": "engine.train._augment",
    "class_weights": "engine.train._sampling",
    "epoch_order": "engine.train._sampling",
    "WarmupCosine": "engine.train._optim",
    "build_optimizer": "engine.train._optim",
    "load_checkpoint": "engine.train._checkpoint",
    "load_run_model": "engine.train._checkpoint",
    "Resolved": "engine.train._resolve",
    "resolve": "engine.train._resolve",
}

__all__ = [
    "COMPILE_BACKENDS",
    "LR_SCALING_RULES",
    "PhaseClock",
    "THROUGHPUT_BATCH",
    "choose_batch",
    "scale_lr",
    "table_batch",
    "throughput_spec",
    "BALANCE_MODES",
    "ORIENTATIONS",
    "RECIPE_CHOICES",
    "Recipe",
    "apply_recipe",
    "family_recipe",
    "OrientationPlan",
    "orientation_plan",
    "CONFIG",
    "EVENTS",
    "EXECUTION_FIELDS",
    "METRICS",
    "PRECISIONS",
    "PREDICTIONS",
    "TRAIN_PREDICTIONS",
    "PREDICTION_COLUMNS",
    "SCHEDULES",
    "AugmentLimits",
    "FoldData",
    "Resolved",
    "RunResult",
    "RunSpec",
    "SizedCache",
    "SpecError",
    "WarmupCosine",
    "augment",
    "build_optimizer",
    "class_weights",
    "epoch_order",
    "letterbox",
    "load_checkpoint",
    "load_fold",
    "load_run_model",
    "normalise",
    "prepare_images",
    "read_predictions",
    "read_run_config",
    "resolve",
    "train_run",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
