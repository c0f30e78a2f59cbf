"""JSON-ready summaries of an experiment's maps, for the report and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.store import Project


def roi_summary(project: Project, name: str, method: str = "gradcam", source: str | None = None,
                n_boot: int = 2000, seed: int = 0) -> dict:
    """ROI energy, pointing game and chance per ``all`` / ``AFF`` / ``NFF`` with bootstrap CIs.

    ``images`` counts the mapped images, ``with_roi`` those that have an ROI (of ``source``).
    """
    from engine.explain._experiment import load_experiment_heatmaps
    from engine.explain._roi import roi_scores

    h = load_experiment_heatmaps(project, name, method)
    scores = roi_scores(project, h, source)
    groups = scores.summary(n_boot, seed)
    return {"experiment": name, "method": method, "roi_source": source, "images": int(len(h)),
            "with_roi": int(len(scores.image_ids)), "grid": list(h.maps.shape[1:]),
            "groups": {g: {k: v.to_json() for k, v in d.items()} for g, d in groups.items()}}


def compare_experiments(project: Project, a: str, b: str, method: str = "gradcam",
                        source: str | None = None, n_boot: int = 2000, seed: int = 0) -> dict:
    """Agreement of two experiments' maps (with CIs) and the Wilcoxon test of ROI energy."""
    from engine.explain._experiment import load_experiment_heatmaps
    from engine.explain._roi import compare_heatmaps

    c = compare_heatmaps(project, load_experiment_heatmaps(project, a, method),
                         load_experiment_heatmaps(project, b, method), source, n_boot, seed)
    return {"a": a, "b": b, "method": method, "roi_source": source,
            "images": int(len(c.image_ids)),
            "agreement": {k: v.to_json() for k, v in c.agreement_summary.items()},
            "roi_energy": {"a_mean": _mean(c.energy_a), "b_mean": _mean(c.energy_b),
                           "wilcoxon": c.energy_test.to_json()}}


def _mean(values: np.ndarray) -> float | None:
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else None


def format_roi_summary(summary: dict) -> list[str]:
    """Lines for a terminal: one per class group."""
    lines = [f"{summary['experiment']} {summary['method']}: {summary['with_roi']} of "
             f"{summary['images']} images have an ROI"]
    for group, d in summary["groups"].items():
        e, h, c = d["energy"], d["hit"], d["chance"]
        if not c["n"]:
            continue
        lines.append(f"  {group:>3} n={c['n']}: ROI energy {_ci(e)}, pointing {_ci(h)}, "
                     f"chance {c['mean']:.3f} ({c['n'] - e['n']} maps without mass)")
    return lines


def _ci(s: dict) -> str:
    return "-" if not s["n"] else f"{s['mean']:.3f} ({s['low']:.3f}-{s['high']:.3f})"
