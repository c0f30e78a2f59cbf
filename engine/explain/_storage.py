"""Heatmap files in a run folder: ``heatmaps/<method>.npz`` plus ``heatmaps/<method>.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.runs import RunFolder

HEATMAP_DIR = RunFolder.HEATMAPS


@dataclass(frozen=True)
class Heatmaps:
    """Maps of one or more runs, one row per image.

    ``maps`` is ``(N, gh, gw)`` float16 in 0..1 at the model's native grid;
    ``probability`` is the AFF probability of the model that made the map and
    ``label`` the true label (1 = AFF). ``info`` holds grid, input size and method.
    """

    image_ids: np.ndarray
    maps: np.ndarray
    probability: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    info: dict

    def __len__(self) -> int:
        return len(self.image_ids)

    def subset(self, image_ids) -> Heatmaps:
        """The rows of ``image_ids``, in that order (``KeyError`` for a missing id)."""
        index = {int(i): k for k, i in enumerate(self.image_ids)}
        rows = np.array([index[int(i)] for i in image_ids], np.int64)
        return Heatmaps(self.image_ids[rows], self.maps[rows], self.probability[rows],
                        self.label[rows], self.fold[rows], self.info)


def heatmap_paths(run_dir: str | Path, method: str) -> tuple[Path, Path]:
    folder = Path(run_dir) / HEATMAP_DIR
    return folder / f"{method}.npz", folder / f"{method}.json"


def write_heatmaps(run_dir: str | Path, method: str, image_ids, maps, probability, label,
                   info: dict) -> Path:
    """Write one run's maps atomically (a reader never sees half a file)."""
    npz, meta = heatmap_paths(run_dir, method)
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(npz.stem + ".tmp.npz")
    np.savez_compressed(tmp, image_ids=np.asarray(image_ids, np.int64),
                        maps=np.asarray(maps, np.float16),
                        probability=np.asarray(probability, np.float32),
                        label=np.asarray(label, np.int8))
    os.replace(tmp, npz)
    meta.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
    return npz


def read_heatmaps(run_dir: str | Path, method: str) -> Heatmaps:
    npz, meta = heatmap_paths(run_dir, method)
    if not npz.exists():
        raise FileNotFoundError(f"{npz}: no {method} heatmaps (run affengine explain first)")
    info = json.loads(meta.read_text(encoding="utf-8"))
    with np.load(npz) as z:
        n = len(z["image_ids"])
        return Heatmaps(z["image_ids"], z["maps"], z["probability"], z["label"],
                        np.full(n, int(info.get("fold", -1)), np.int64), info)


def concat_heatmaps(parts: list[Heatmaps]) -> Heatmaps:
    """Several runs' maps as one set (e.g. all folds of an experiment), sorted by image id."""
    if not parts:
        raise ValueError("no heatmaps to join")
    grids = {tuple(p.maps.shape[1:]) for p in parts}
    if len(grids) != 1:
        raise ValueError(f"runs have different map grids {sorted(grids)}")
    ids = np.concatenate([p.image_ids for p in parts])
    order = np.argsort(ids, kind="stable")
    info = {k: v for k, v in parts[0].info.items() if k not in ("fold", "run_id", "count")}
    return Heatmaps(ids[order], np.concatenate([p.maps for p in parts])[order],
                    np.concatenate([p.probability for p in parts])[order],
                    np.concatenate([p.label for p in parts])[order],
                    np.concatenate([p.fold for p in parts])[order], info)


def fold_runs(project, name: str) -> list[tuple[int, Path]]:
    """``(fold, run folder)`` of each training job of experiment ``name``."""
    from engine.experiments import experiment_jobs
    from engine.runs import RunFolder

    return sorted((int(j.fold), RunFolder.of(project, j.run_id).path)
                  for j in experiment_jobs(project, name) if j.kind == "train")


def load_experiment_heatmaps(project, name: str, method: str = "gradcam") -> Heatmaps:
    """All folds' maps of an experiment as one out-of-fold set, sorted by image id."""
    parts = []
    for fold, run in fold_runs(project, name):
        h = read_heatmaps(run, method)
        parts.append(Heatmaps(h.image_ids, h.maps, h.probability, h.label,
                              np.full(len(h), fold, np.int64), h.info))
    return concat_heatmaps(parts)
