"""Explainability: heatmaps for every registered model, attention rollout, out-of-fold
explanation of experiments, and measures against ROIs (see ``docs/explain.md``)."""

from engine.explain._cam import (
    AFF_CLASS,
    CAM_METHODS,
    CamExplainer,
    LogOddsTarget,
    cam_maps,
    iter_cam_batches,
    reshape_transform,
    target_layer_of,
)
from engine.explain._experiment import (
    ROLLOUT,
    ExplainResult,
    explain_batches,
    explain_experiment,
    fold_runs,
    load_experiment_heatmaps,
    methods,
)
from engine.explain._job import explain_job_spec, run_explain_job, submit_explain
from engine.explain._rollout import (
    HEAD_FUSIONS,
    AttentionRecorder,
    attention_rollout,
    fuse_heads,
    rollout_map,
    rollout_matrix,
)
from engine.explain._storage import (
    HEATMAP_DIR,
    Heatmaps,
    concat_heatmaps,
    heatmap_paths,
    read_heatmaps,
    write_heatmaps,
)

__all__ = [
    "AFF_CLASS",
    "CAM_METHODS",
    "HEAD_FUSIONS",
    "HEATMAP_DIR",
    "ROLLOUT",
    "ExplainResult",
    "Heatmaps",
    "AttentionRecorder",
    "CamExplainer",
    "LogOddsTarget",
    "attention_rollout",
    "cam_maps",
    "concat_heatmaps",
    "explain_batches",
    "explain_experiment",
    "explain_job_spec",
    "fold_runs",
    "heatmap_paths",
    "load_experiment_heatmaps",
    "methods",
    "read_heatmaps",
    "run_explain_job",
    "submit_explain",
    "write_heatmaps",
    "fuse_heads",
    "iter_cam_batches",
    "reshape_transform",
    "rollout_map",
    "rollout_matrix",
    "target_layer_of",
]
