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
from engine.explain._rollout import (
    HEAD_FUSIONS,
    AttentionRecorder,
    attention_rollout,
    fuse_heads,
    rollout_map,
    rollout_matrix,
)

__all__ = [
    "AFF_CLASS",
    "CAM_METHODS",
    "HEAD_FUSIONS",
    "AttentionRecorder",
    "CamExplainer",
    "LogOddsTarget",
    "attention_rollout",
    "cam_maps",
    "fuse_heads",
    "iter_cam_batches",
    "reshape_transform",
    "rollout_map",
    "rollout_matrix",
    "target_layer_of",
]
