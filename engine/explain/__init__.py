"""Explainability: heatmaps for every registered model, attention rollout, out-of-fold
explanation of experiments, and measures against ROIs (see ``docs/explain.md``).

Names load on first use (PEP 562), so reading stored heatmaps (``read_heatmaps``,
``load_experiment_heatmaps``, ``roi_scores``, ...) never imports torch: the GUI uses them.
Computing maps (``cam_maps``, ``explain_experiment``, ...) imports torch when called.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "AFF_CLASS": "_cam",
    "AttentionRecorder": "_rollout",
    "CAM_METHODS": "_names",
    "CamExplainer": "_cam",
    "Comparison": "_roi",
    "ExplainResult": "_experiment",
    "HEAD_FUSIONS": "_rollout",
    "HEATMAP_DIR": "_storage",
    "Heatmaps": "_storage",
    "LogOddsTarget": "_cam",
    "PairedTest": "_measures",
    "ROLLOUT": "_names",
    "RoiScores": "_roi",
    "SanityResult": "_sanity",
    "Summary": "_measures",
    "agreement": "_measures",
    "attention_rollout": "_rollout",
    "bootstrap_mean": "_measures",
    "box_mask": "_roi",
    "cam_maps": "_cam",
    "chance_level": "_measures",
    "compare_experiments": "_roi",
    "compare_heatmaps": "_roi",
    "compare_to_random": "_sanity",
    "concat_heatmaps": "_storage",
    "explain_batches": "_experiment",
    "explain_experiment": "_experiment",
    "explain_job_spec": "_experiment",
    "fold_runs": "_experiment",
    "format_roi_summary": "_roi",
    "fuse_heads": "_rollout",
    "heatmap_paths": "_storage",
    "iter_cam_batches": "_cam",
    "letterbox_box": "_roi",
    "load_experiment_heatmaps": "_experiment",
    "methods": "_experiment",
    "paired_wilcoxon": "_measures",
    "pearson": "_measures",
    "pointing_game": "_measures",
    "randomised_model": "_sanity",
    "read_heatmaps": "_storage",
    "reshape_transform": "_cam",
    "roi_energy": "_measures",
    "roi_masks": "_roi",
    "roi_scores": "_roi",
    "roi_summary": "_roi",
    "rollout_map": "_rollout",
    "rollout_matrix": "_rollout",
    "run_explain_job": "_experiment",
    "sanity_check_experiment": "_sanity",
    "spearman": "_measures",
    "submit_explain": "_experiment",
    "target_layer_of": "_cam",
    "top_iou": "_measures",
    "top_mask": "_measures",
    "upsample": "_measures",
    "write_heatmaps": "_storage",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.explain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"engine.explain.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_WHERE))


__all__ = [
    "AFF_CLASS",
    "CAM_METHODS",
    "HEAD_FUSIONS",
    "HEATMAP_DIR",
    "ROLLOUT",
    "AttentionRecorder",
    "CamExplainer",
    "Comparison",
    "ExplainResult",
    "Heatmaps",
    "LogOddsTarget",
    "PairedTest",
    "RoiScores",
    "SanityResult",
    "Summary",
    "agreement",
    "attention_rollout",
    "bootstrap_mean",
    "box_mask",
    "cam_maps",
    "chance_level",
    "compare_experiments",
    "compare_heatmaps",
    "compare_to_random",
    "concat_heatmaps",
    "explain_batches",
    "explain_experiment",
    "explain_job_spec",
    "fold_runs",
    "format_roi_summary",
    "fuse_heads",
    "heatmap_paths",
    "iter_cam_batches",
    "letterbox_box",
    "load_experiment_heatmaps",
    "methods",
    "paired_wilcoxon",
    "pearson",
    "pointing_game",
    "randomised_model",
    "read_heatmaps",
    "reshape_transform",
    "roi_energy",
    "roi_masks",
    "roi_scores",
    "roi_summary",
    "rollout_map",
    "rollout_matrix",
    "run_explain_job",
    "sanity_check_experiment",
    "spearman",
    "submit_explain",
    "target_layer_of",
    "top_iou",
    "top_mask",
    "upsample",
    "write_heatmaps",
]
