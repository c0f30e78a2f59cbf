"""Phantom-like inputs and small models for the explainability tests."""

from __future__ import annotations

import functools

import numpy as np
import torch

# Input sizes that keep each registered model fast on a CPU yet give a grid of at least 3x3.
TEST_SIZES = {"inception_v3": 160, "swin_tiny_patch4_window7_224": 224, "vit_small_r26_s32_224": 96}


def input_size_for(name: str) -> int:
    from engine.models import get_entry

    entry = get_entry(name)
    return TEST_SIZES.get(name, 96 if entry.family == "cnn" else 64)


def phantom_image(size: int, seed: int = 0) -> np.ndarray:
    """A float32 femur stand-in in 0..1: a bright oblique shaft with a dark transverse gap."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = rng.normal(0.15, 0.04, (size, size))
    shaft = np.abs((xx - 0.5) - (yy - 0.5) * 0.3) < 0.12
    img[shaft] += 0.6
    img[shaft & (np.abs(yy - 0.55) < 0.03)] = 0.1
    return np.clip(img, 0, 1).astype(np.float32)


def phantom_batch(size: int, n: int = 1) -> torch.Tensor:
    """``(n, 1, size, size)`` normalised phantom images (mean 0.3, std 0.3)."""
    imgs = np.stack([phantom_image(size, seed) for seed in range(n)])
    return torch.from_numpy((imgs - 0.3) / 0.3)[:, None]


@functools.lru_cache(maxsize=4)
def random_model(name: str, seed: int = 0):
    """A registered model with seeded random weights at its test size (cached; do not train it)."""
    from engine.models import create_model, get_entry

    torch.manual_seed(seed)
    size = input_size_for(name)
    kwargs = {} if get_entry(name).family == "cnn" else {"img_size": size}
    return create_model(name, pretrained=False, **kwargs).eval()
