"""Faithfulness results in a run folder, and their per-experiment summaries (no torch to read).

``<run>/heatmaps/faithfulness/<method>.npz``: deletion/insertion curves of that method's
maps and of a random order. ``<run>/heatmaps/faithfulness/reliance.npz``: the ROI
occlusion test of the fold model (method-independent). A sub-folder, so the heatmap
readers that list ``heatmaps/*.npz`` as methods never see these files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.explain._measures import bootstrap_mean
from engine.explain._storage import HEATMAP_DIR

if TYPE_CHECKING:
    from engine.store import Project

FAITH_DIR = "faithfulness"
RELIANCE = "reliance"
MARKER_SOURCE = "site_marker"  # engine.store: a planted site marker's box, not the fracture
CURVES = ("deletion", "insertion", "deletion_random", "insertion_random")


def faith_path(run_dir: str | Path, name: str) -> Path:
    return Path(run_dir) / HEATMAP_DIR / FAITH_DIR / f"{name}.npz"


def _write(path: Path, arrays: dict, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")


def input_boxes(project: Project, image_ids, size: int, mirror=None, markers: bool = False) -> list:
    """Per image: the integer input-pixel bounding box of its fracture ROIs (or, with
    ``markers``, of its site-marker boxes), or ``None``.

    Several boxes of one image become their bounding box. ``mirror`` flips the boxes of
    images the run saw mirrored.
    """
    from engine.explain._faith import mirror_box, pixel_box
    from engine.explain._roi import letterbox_box

    out = []
    for k, image_id in enumerate(image_ids):
        rois = project.rois.for_image(int(image_id), markers=markers)
        if not rois:
            out.append(None)
            continue
        img = project.images.get(int(image_id))
        cache_wh = (img.cache_width or img.width, img.cache_height or img.height)
        boxes = [letterbox_box((r.x0, r.y0, r.x1, r.y1), (img.width, img.height), cache_wh, size)
                 for r in rois]
        box = pixel_box((min(b[0] for b in boxes), min(b[1] for b in boxes),
                         max(b[2] for b in boxes), max(b[3] for b in boxes)), size)
        if box is not None and mirror is not None and bool(mirror[k]):
            box = mirror_box(box, size)
        out.append(box)
    return out


def faithfulness_for_fold(project: Project, run: Path, method: str, model, pixels, maps, preds: dict,
                          info: dict, mirror, batch_size: int, seed: int,
                          steps: int | None = None) -> None:
    """Deletion/insertion curves of ``maps`` and the ROI occlusion test, for one fold model.

    ``pixels`` are the uint8 ``(N, 1, S, S)`` inputs in the run's orientation and ``maps``
    the method's maps in that orientation (before they are flipped back).
    """
    import torch

    from engine.explain._faith import DELETION_STEPS, faithfulness, reliance
    from engine.train import normalise

    model.eval()
    size = int(pixels.shape[-1])
    black = float(normalise(torch.zeros(1, dtype=torch.uint8), info["mean"], info["std"])[0])
    ids = np.asarray(preds["image_id"], np.int64)
    labels = np.asarray(preds["label"], np.int64)
    parts: dict[str, list] = {}
    roi = input_boxes(project, ids, size, mirror)
    marker = input_boxes(project, ids, size, mirror, markers=True)
    has_marker = any(b is not None for b in marker)
    rel_parts: dict[str, list] = {}
    for start in range(0, len(ids), batch_size):
        sl = slice(start, start + batch_size)
        x = normalise(pixels[sl], info["mean"], info["std"])
        f = faithfulness(model, x, maps[sl], black, steps or DELETION_STEPS, seed=seed + start,
                         batch_size=batch_size * 4)
        for k, v in f.items():
            parts.setdefault(k, []).append(v)
        if any(b is not None for b in roi[sl]) or (has_marker and any(b is not None for b in marker[sl])):
            regions = {"marker": marker[sl]} if has_marker else None
            r = reliance(model, pixels[sl, 0].cpu().numpy(), x, labels[sl], roi[sl], seed + start,
                         regions, batch_size * 4)
            r["image_ids"] = ids[sl]
            r["label"] = labels[sl]
            for k, v in r.items():
                rel_parts.setdefault(k, []).append(v)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    arrays["image_ids"], arrays["label"] = ids, labels
    steps = int(arrays["deletion"].shape[1] - 1) if len(ids) else 0
    meta = {"method": method, "fold": info.get("fold"), "input_size": size, "steps": steps,
            "deletion_fill": "black (raw 0)",
            "insertion_start": f"Gaussian blur, sigma {max(1.0, size / 32):g} px", "seed": seed}
    _write(faith_path(run, method), arrays, meta)
    if rel_parts:
        rel = {k: np.concatenate(v) for k, v in rel_parts.items()}
        _write(faith_path(run, RELIANCE), rel,
               {"input_size": size, "fill": "mean of a ring around the box (half its shorter side wide)",
                "control": "same-size box, >= 50% bone (Otsu), half a box away from the ROI and marker",
                "regions": ["roi", "marker"] if has_marker else ["roi"], "seed": seed})


# -- reading and summaries ------------------------------------------------------------

def _load(project: Project, name: str, what: str) -> dict[str, np.ndarray] | None:
    from engine.explain._storage import fold_runs

    parts = []
    for _, run in fold_runs(project, name):
        path = faith_path(run, what)
        if not path.exists():
            return None
        with np.load(path) as z:
            parts.append({k: z[k] for k in z.files})
    if not parts:
        return None
    keys = set.intersection(*[set(p) for p in parts])
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def load_faithfulness(project: Project, name: str, method: str) -> dict[str, np.ndarray] | None:
    """All folds' deletion/insertion arrays of ``method`` (``None`` if a fold has none)."""
    return _load(project, name, method)


def load_reliance(project: Project, name: str) -> dict[str, np.ndarray] | None:
    """All folds' ROI occlusion test arrays (``None`` if a fold has none)."""
    return _load(project, name, RELIANCE)


def _patients(project: Project, image_ids) -> np.ndarray:
    return np.array([project.images.get(int(i)).patient_id for i in image_ids])


def faithfulness_summary(project: Project, name: str, method: str, n_boot: int = 2000,
                         seed: int = 0) -> dict | None:
    """Mean deletion/insertion AUC of the maps and of the random order, and their paired difference.

    ``faithful``: deletion AUC below the random order's and insertion AUC above it, both
    with a patient-bootstrap CI of the difference that excludes 0.
    """
    f = load_faithfulness(project, name, method)
    if f is None:
        return None
    groups = _patients(project, f["image_ids"])
    out = {"experiment": name, "method": method, "images": int(len(f["image_ids"])),
           "blank_maps": int(np.isnan(f["deletion_auc"]).sum())}
    for curve in ("deletion", "insertion"):
        a, r = f[f"{curve}_auc"], f[f"{curve}_random_auc"]
        out[curve] = {"map": bootstrap_mean(a, groups, n_boot, seed=seed).to_json(),
                      "random": bootstrap_mean(r, groups, n_boot, seed=seed).to_json(),
                      "map_minus_random": bootstrap_mean(a - r, groups, n_boot, seed=seed).to_json()}
    d, i = out["deletion"]["map_minus_random"], out["insertion"]["map_minus_random"]
    out["faithful"] = bool(d["n"] and i["n"] and d["high"] < 0 and i["low"] > 0)
    return out


def reliance_summary(project: Project, name: str, n_boot: int = 2000, seed: int = 0) -> dict | None:
    """Per region (``roi``, ``marker``): mean drop, control drop and reliance with patient CIs.

    The chance level of reliance is 0 (the region matters no more than a random bone box
    of its size); ``verdict`` is ``above chance``, ``below chance`` or ``at chance`` by the CI.
    """
    r = load_reliance(project, name)
    if r is None:
        return None
    groups = _patients(project, r["image_ids"])
    out = {"experiment": name, "images": int(np.sum(~np.isnan(r["area_roi"]))), "regions": {}}
    for region in ("roi", "marker"):
        key = f"reliance_{region}"
        if key not in r:
            continue
        rel = bootstrap_mean(r[key], groups, n_boot, seed=seed)
        if not rel.n:
            continue
        verdict = "above chance" if rel.low > 0 else "below chance" if rel.high < 0 else "at chance"
        out["regions"][region] = {
            "reliance": rel.to_json(), "chance": 0.0, "verdict": verdict,
            "drop": bootstrap_mean(r[f"drop_{region}"], groups, n_boot, seed=seed).to_json(),
            "drop_control": bootstrap_mean(r[f"drop_{region}_control"], groups, n_boot, seed=seed).to_json(),
            "area_share": float(np.nanmean(r[f"area_{region}"])),
            "images": int(np.sum(~np.isnan(r[f"area_{region}"]))),
            "no_control": int(np.sum(~np.isnan(r[f"area_{region}"]) & np.isnan(r[key])))}
    return out
