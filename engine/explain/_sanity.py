"""Randomisation sanity check (Adebayo et al., 2018): trained maps against re-initialised ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.explain._measures import Summary, agreement, bootstrap_mean

if TYPE_CHECKING:
    from engine.explain._storage import Heatmaps
    from engine.store import Project


def randomised_model(model_name: str, image_size: int, seed: int = 0, device: str = "cpu"):
    """The same architecture as a trained run with fresh random weights (all layers), in eval mode."""
    import torch

    from engine.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(model_name, pretrained=False, num_classes=2, in_chans=1,
                             img_size=image_size)
    return model.to(device).eval()


@dataclass(frozen=True)
class SanityResult:
    """Trained vs randomised maps on the same images; high similarity means the map shows
    the image, not what the model learned."""

    image_ids: np.ndarray
    trained: Heatmaps
    randomised: Heatmaps
    similarity: dict[str, np.ndarray]
    summary: dict[str, Summary]

    def to_json(self) -> dict:
        return {"n": int(len(self.image_ids)),
                "similarity": {k: v.to_json() for k, v in self.summary.items()}}


def compare_to_random(trained: Heatmaps, randomised: Heatmaps, n_boot: int = 2000,
                      seed: int = 0) -> SanityResult:
    common = np.intersect1d(trained.image_ids, randomised.image_ids)
    t, r = trained.subset(common), randomised.subset(common)
    sim = agreement(t.maps.astype(np.float32), r.maps.astype(np.float32))
    summary = {k: bootstrap_mean(v, n_boot=n_boot, seed=seed) for k, v in sim.items()}
    return SanityResult(common, t, r, sim, summary)


def sanity_check_experiment(project: Project, name: str, method: str = "gradcam",
                            device: str = "cpu", batch_size: int = 16, max_images: int | None = None,
                            seed: int = 0, should_stop: Callable[[], bool] | None = None
                            ) -> SanityResult | None:
    """Explain each fold's validation images with a randomised copy of the fold model.

    Compares with the stored trained maps (``explain_experiment`` first); ``max_images``
    takes the first images of each fold. ``None`` when stopped.
    """
    from engine.explain._experiment import explain_batches, fold_runs
    from engine.explain._storage import Heatmaps, concat_heatmaps, read_heatmaps
    from engine.train import load_run_model, prepare_images
    from engine.train._orientation import run_mirror, unmirror_maps

    trained_parts, random_parts = [], []
    for fold, run in fold_runs(project, name):
        trained = read_heatmaps(run, method)
        ids = trained.image_ids[:max_images]
        trained = trained.subset(ids)
        _, info = load_run_model(run, "best", "cpu")
        size = int(info["image_size"])
        model = randomised_model(info["spec"].model, size, seed + fold, device)
        mirror = run_mirror(project, info["spec"], ids)  # canonical orientation, as trained
        pixels = prepare_images(project, ids, size, device, mirror=mirror)
        out = explain_batches(model, info["spec"].model, pixels, info["mean"], info["std"], method,
                              batch_size, should_stop)
        if out is None:
            return None
        maps, prob = out
        maps = unmirror_maps(maps, mirror)
        fold_col = np.full(len(ids), fold, np.int64)
        trained_parts.append(Heatmaps(trained.image_ids, trained.maps, trained.probability,
                                      trained.label, fold_col, trained.info))
        random_parts.append(Heatmaps(ids, maps, prob, trained.label, fold_col,
                                     {**trained.info, "randomised_seed": seed + fold}))
    return compare_to_random(concat_heatmaps(trained_parts), concat_heatmaps(random_parts),
                             seed=seed)
