"""Measures on heatmap arrays: ROI energy, pointing game, agreement, paired test, bootstrap CIs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def upsample(maps: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``(N, h, w)`` (or one ``(h, w)``) maps bilinearly resized to ``size`` (pixel-area aligned)."""
    import torch
    import torch.nn.functional as F

    one = maps.ndim == 2
    t = torch.from_numpy(np.asarray(maps, np.float32).reshape(-1, 1, *maps.shape[-2:]))
    out = F.interpolate(t, size=size if isinstance(size, tuple) else (size, size), mode="bilinear",
                        align_corners=False)[:, 0].numpy()
    return out[0] if one else out


def roi_energy(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of each map's mass inside its ROI mask (NaN for a map with no mass)."""
    maps = np.clip(np.asarray(maps, np.float64), 0, None).reshape(len(maps), -1)
    masks = np.asarray(masks, bool).reshape(len(masks), -1)
    total = maps.sum(1)
    inside = (maps * masks).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def pointing_game(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """1.0 where the map's maximum lies inside the ROI, else 0.0; NaN for a flat map.

    Ties count as a hit only if most tied maxima lie inside.
    """
    maps = np.asarray(maps, np.float64).reshape(len(maps), -1)
    masks = np.asarray(masks, bool).reshape(len(masks), -1)
    top = maps == maps.max(1, keepdims=True)
    flat = top.all(1)
    hit = ((top & masks).sum(1) * 2 > top.sum(1)).astype(np.float64)
    return np.where(flat, np.nan, hit)


def chance_level(masks: np.ndarray) -> np.ndarray:
    """The ROI's share of the input area: the energy and hit rate of a uniform or random map."""
    masks = np.asarray(masks, bool).reshape(len(masks), -1)
    return masks.mean(1)


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64).reshape(len(a), -1)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image Pearson correlation of two map stacks of the same shape (NaN if one is flat)."""
    a, b = _flat(a), _flat(b)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(1) / den, np.nan)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import rankdata

    return pearson(rankdata(_flat(a), axis=1), rankdata(_flat(b), axis=1))


def top_mask(maps: np.ndarray, fraction: float) -> np.ndarray:
    """The ``fraction`` of pixels with the highest values (exactly ``round(fraction * n)``)."""
    flat = _flat(maps)
    k = max(1, int(round(fraction * flat.shape[1])))
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    out = np.zeros(flat.shape, bool)
    np.put_along_axis(out, order, True, axis=1)
    return out.reshape(np.shape(maps))


def top_iou(a: np.ndarray, b: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per-image IoU of the two maps' top-``fraction`` regions."""
    ta, tb = _flat(top_mask(a, fraction)).astype(bool), _flat(top_mask(b, fraction)).astype(bool)
    return (ta & tb).sum(1) / (ta | tb).sum(1)


def agreement(a: np.ndarray, b: np.ndarray, size: int | None = None) -> dict[str, np.ndarray]:
    """Per-image Pearson, Spearman and top-10%/20% IoU of two map stacks.

    Maps of different grids (a 7x7 CNN map and a 14x14 ViT map) are first upsampled to a
    common ``size`` (default: the larger grid's side times the smaller's, at most 224).
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} maps against {len(b)}")
    if a.shape[1:] != b.shape[1:] or size is not None:
        side = size or min(224, int(np.lcm(a.shape[-1], b.shape[-1])))
        a, b = upsample(a, side), upsample(b, side)
    return {"pearson": pearson(a, b), "spearman": spearman(a, b),
            "iou_top10": top_iou(a, b, 0.1), "iou_top20": top_iou(a, b, 0.2)}


@dataclass(frozen=True)
class Summary:
    """Mean of per-image values with a percentile bootstrap CI."""

    mean: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def bootstrap_mean(values, groups=None, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> Summary:
    """Mean and bootstrap CI; with ``groups`` (e.g. patient keys) whole groups are resampled."""
    v = np.asarray(values, np.float64)
    keep = ~np.isnan(v)
    v = v[keep]
    if len(v) == 0:
        return Summary(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    if groups is None:
        idx = rng.integers(0, len(v), (n_boot, len(v)))
        means = v[idx].mean(1)
    else:
        g = np.asarray(groups)[keep]
        keys, inverse = np.unique(g, return_inverse=True)
        sums = np.bincount(inverse, weights=v, minlength=len(keys))
        counts = np.bincount(inverse, minlength=len(keys))
        pick = rng.integers(0, len(keys), (n_boot, len(keys)))
        means = sums[pick].sum(1) / counts[pick].sum(1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Summary(float(v.mean()), float(lo), float(hi), int(len(v)))


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of paired per-image values ``a - b``."""

    statistic: float
    p_value: float
    n: int
    median_difference: float

    def to_json(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.p_value, "n": self.n,
                "median_difference": self.median_difference}


def paired_wilcoxon(a, b) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test on the pairs where both values are known."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    d = a[keep] - b[keep]
    if len(d) == 0 or not np.any(d != 0):
        return PairedTest(float("nan"), 1.0 if len(d) else float("nan"), int(len(d)),
                          float(np.median(d)) if len(d) else float("nan"))
    res = wilcoxon(a[keep], b[keep])
    return PairedTest(float(res.statistic), float(res.pvalue), int(len(d)), float(np.median(d)))
