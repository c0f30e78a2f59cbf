"""Experiments: a model over every (repeat, fold, seed) of a stored split, queued as jobs."""

from engine.experiments._experiments import (
    Design,
    Experiment,
    create_experiment,
    experiment_design,
    experiment_jobs,
    get_experiment,
    job_repeat_seed,
    list_experiments,
)
from engine.experiments._study import (
    PRESETS,
    Arm,
    MissingWeightsError,
    create_study,
    preset_arms,
    preset_epochs,
)

__all__ = [
    "PRESETS",
    "Arm",
    "MissingWeightsError",
    "create_study",
    "preset_arms",
    "preset_epochs",
    "Design",
    "Experiment",
    "create_experiment",
    "experiment_design",
    "experiment_jobs",
    "get_experiment",
    "job_repeat_seed",
    "list_experiments",
]
