"""ROI boxes on the model input, and map measures per image, experiment and class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.explain._measures import (
    Summary,
    agreement,
    bootstrap_mean,
    chance_level,
    paired_wilcoxon,
    pointing_game,
    roi_energy,
    upsample,
)

if TYPE_CHECKING:
    from engine.explain._storage import Heatmaps
    from engine.store import Project


def letterbox_box(box, source_wh, cache_wh, size: int) -> tuple[float, float, float, float]:
    """A source-pixel box ``(x0, y0, x1, y1)`` in the ``size``-square letterboxed input.

    The same transform as :func:`engine.train.letterbox`: source -> cached image ->
    scaled to long side ``size`` -> centred on the zero-padded square.
    """
    sw, sh = source_wh
    cw, ch = cache_wh
    side = max(ch, cw)
    nh, nw = max(1, round(ch * size / side)), max(1, round(cw * size / side))
    top, left = (size - nh) // 2, (size - nw) // 2
    fx, fy = nw / sw, nh / sh  # source pixel -> input pixel, through the cache
    x0, y0, x1, y1 = box
    return left + x0 * fx, top + y0 * fy, left + x1 * fx, top + y1 * fy


def box_mask(boxes, size: int) -> np.ndarray:
    """``(size, size)`` bool: pixels whose centre lies in any of the input-pixel ``boxes``."""
    c = np.arange(size) + 0.5
    mask = np.zeros((size, size), bool)
    for x0, y0, x1, y1 in boxes:
        mask |= ((c[:, None] >= y0) & (c[:, None] < y1)) & ((c[None, :] >= x0) & (c[None, :] < x1))
    return mask


def roi_masks(project: Project, image_ids, size: int, source: str | None = None) -> np.ndarray:
    """``(N, size, size)`` ROI masks on the input (all-False where an image has no ROI)."""
    out = np.zeros((len(image_ids), size, size), bool)
    for k, image_id in enumerate(image_ids):
        rois = [r for r in project.rois.for_image(int(image_id)) if source is None or r.source == source]
        if not rois:
            continue
        img = project.images.get(int(image_id))
        cache_wh = (img.cache_width or img.width, img.cache_height or img.height)
        boxes = [letterbox_box((r.x0, r.y0, r.x1, r.y1), (img.width, img.height), cache_wh, size)
                 for r in rois]
        out[k] = box_mask(boxes, size)
    return out


@dataclass(frozen=True)
class RoiScores:
    """Per-image ROI measures of one set of maps (images without an ROI left out)."""

    image_ids: np.ndarray
    label: np.ndarray
    energy: np.ndarray
    hit: np.ndarray
    chance: np.ndarray

    def summary(self, n_boot: int = 2000, seed: int = 0) -> dict[str, dict[str, Summary]]:
        """Mean and bootstrap CI of energy, hit rate and chance: ``all``, ``AFF``, ``NFF``."""
        out = {}
        for name, rows in (("all", slice(None)), ("AFF", self.label == 1), ("NFF", self.label == 0)):
            out[name] = {k: bootstrap_mean(getattr(self, k)[rows], n_boot=n_boot, seed=seed)
                         for k in ("energy", "hit", "chance")}
        return out


def roi_scores(project: Project, heatmaps: Heatmaps, source: str | None = None,
               size: int | None = None) -> RoiScores:
    """ROI energy, pointing game and chance level for each mapped image that has an ROI.

    Maps are upsampled to the model input (``info["input_size"]``) where the boxes are
    mapped through the letterbox transform, so padding counts as outside the ROI.
    """
    size = int(size or heatmaps.info["input_size"])
    masks = roi_masks(project, heatmaps.image_ids, size, source)
    has = masks.reshape(len(masks), -1).any(1)
    if not has.any():
        empty = np.zeros(0)
        return RoiScores(heatmaps.image_ids[has], heatmaps.label[has], empty, empty, empty)
    up = upsample(heatmaps.maps[has].astype(np.float32), size)
    m = masks[has]
    return RoiScores(heatmaps.image_ids[has], heatmaps.label[has], roi_energy(up, m),
                     pointing_game(up, m), chance_level(m))


@dataclass(frozen=True)
class Comparison:
    """Two experiments' maps on the same images: agreement and a paired ROI-energy test."""

    image_ids: np.ndarray
    agreement: dict[str, np.ndarray]
    agreement_summary: dict[str, Summary]
    energy_a: np.ndarray
    energy_b: np.ndarray
    energy_test: object  # PairedTest


def compare_heatmaps(project: Project, a: Heatmaps, b: Heatmaps, source: str | None = None,
                     n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Agreement (Pearson, Spearman, top-10/20% IoU) and Wilcoxon of ROI energy, a vs b."""
    common = np.intersect1d(a.image_ids, b.image_ids)
    a, b = a.subset(common), b.subset(common)
    agree = agreement(a.maps.astype(np.float32), b.maps.astype(np.float32))
    summary = {k: bootstrap_mean(v, n_boot=n_boot, seed=seed) for k, v in agree.items()}
    ra, rb = roi_scores(project, a, source), roi_scores(project, b, source)
    both = np.intersect1d(ra.image_ids, rb.image_ids)
    ea = ra.energy[np.searchsorted(ra.image_ids, both)]
    eb = rb.energy[np.searchsorted(rb.image_ids, both)]
    return Comparison(common, agree, summary, ea, eb, paired_wilcoxon(ea, eb))


# -- experiment summaries (JSON-ready, for the report and the CLI) ----------------------

def roi_summary(project: Project, name: str, method: str = "gradcam", source: str | None = None,
                n_boot: int = 2000, seed: int = 0) -> dict:
    """ROI energy, pointing game and chance per ``all`` / ``AFF`` / ``NFF`` with bootstrap CIs.

    ``images`` counts the mapped images, ``with_roi`` those that have an ROI (of ``source``).
    """
    from engine.explain._storage import load_experiment_heatmaps

    h = load_experiment_heatmaps(project, name, method)
    scores = roi_scores(project, h, source)
    groups = scores.summary(n_boot, seed)
    out = {"experiment": name, "method": method, "roi_source": source, "images": int(len(h)),
           "with_roi": int(len(scores.image_ids)), "grid": list(h.maps.shape[1:]),
           "blank_maps": blank_counts(h),
           "groups": {g: {k: v.to_json() for k, v in d.items()} for g, d in groups.items()}}
    for d in out["groups"].values():
        d["verdict"] = {k: chance_verdict(d[k], d["chance"]["mean"]) for k in ("energy", "hit")}
        d["energy_over_chance"] = (d["energy"]["mean"] / d["chance"]["mean"]
                                   if d["energy"]["n"] and d["chance"]["mean"] else None)
    return out


def blank_counts(heatmaps: Heatmaps) -> int:
    """How many maps are all zero (no positive evidence; never counted as evidence)."""
    m = np.asarray(heatmaps.maps, np.float32).reshape(len(heatmaps), -1)
    return int((~(m > 0).any(1)).sum()) if len(m) else 0


def chance_verdict(summary: dict, chance: float | None) -> str:
    """``above chance`` / ``below chance`` / ``at chance``: the CI of a measure against its chance level."""
    if not summary.get("n") or chance is None or chance != chance:
        return "not measured"
    if summary["low"] > chance:
        return "above chance"
    if summary["high"] < chance:
        return "below chance"
    return "at chance"


def compare_experiments(project: Project, a: str, b: str, method: str = "gradcam",
                        source: str | None = None, n_boot: int = 2000, seed: int = 0) -> dict:
    """Agreement of two experiments' maps (with CIs) and the Wilcoxon test of ROI energy."""
    from engine.explain._storage import load_experiment_heatmaps

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
        verdict = d.get("verdict", {})
        lines.append(f"  {group:>3} n={c['n']}: ROI energy {_ci(e)} ({verdict.get('energy', '?')}), "
                     f"pointing {_ci(h)} ({verdict.get('hit', '?')}), "
                     f"chance {c['mean']:.3f} ({c['n'] - e['n']} maps without mass)")
    return lines


def _ci(s: dict) -> str:
    return "-" if not s["n"] else f"{s['mean']:.3f} ({s['low']:.3f}-{s['high']:.3f})"
