"""Class balance: loss weights per class, or a class-balanced draw of each epoch's images."""

from __future__ import annotations

import numpy as np
import torch


def class_weights(labels) -> np.ndarray:
    """``[w_NFF, w_AFF]`` = ``n / (2 * n_class)`` (scikit-learn's "balanced"); 0 for an absent class.

    With these weights each class contributes half of the loss, whatever its share.
    """
    labels = np.asarray(labels, np.int64)
    counts = np.bincount(labels, minlength=2)[:2].astype(np.float64)
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, len(labels) / (2 * counts), 0.0)
    return weights


def sample_weights(labels: torch.Tensor, mode: str) -> torch.Tensor:
    """Per-image loss weight: the class weight for ``class_weights``, else 1."""
    if mode == "class_weights":
        w = torch.as_tensor(class_weights(labels.cpu().numpy()), dtype=torch.float32)
        return w.to(labels.device)[labels]
    return torch.ones(labels.shape, dtype=torch.float32, device=labels.device)


def epoch_order(labels: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Positions of the training images for one epoch, drawn with ``generator`` (a CPU generator).

    ``sampler`` draws ``n`` images with replacement, each class equally likely; the other
    modes shuffle every image once.
    """
    n = int(labels.shape[0])
    if mode == "sampler":
        per_image = torch.as_tensor(class_weights(labels.cpu().numpy()), dtype=torch.float64)[labels.cpu()]
        return torch.multinomial(per_image, n, replacement=True, generator=generator)
    return torch.randperm(n, generator=generator)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Full batches only (a last partial batch is dropped, as timm does), at least one."""
    return max(1, n_train // batch_size)
