"""Batched augmentation on the training device: geometry by one affine warp, then intensity.

Every random number comes from the caller's ``torch.Generator`` on the batch's device, so a
batch is reproducible from the generator's state and a checkpoint of that state resumes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentLimits:
    """The ranges at strength 1; a strength ``s`` in [0, 1] scales each towards "no change"."""

    min_area: float = 0.65        # random resized crop: share of the image area kept, down to
    log_aspect: float = 0.2       # crop aspect ratio within exp(+-x)
    rotate_deg: float = 10.0      # small rotation
    flip: float = 0.5             # horizontal flip probability (reached at s >= 0.5)
    contrast: float = 0.3         # factor within 1 +- x, around each image's mean
    brightness: float = 0.15      # offset within +- x (image range is 0..1)
    log_gamma: float = 0.3        # gamma within exp(+-x)
    noise: float = 0.04           # gaussian noise sigma up to x


LIMITS = AugmentLimits()
NO_FLIP = AugmentLimits(flip=0.0)  # canonical orientation: a flip would move the lateral cortex


def normalise(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 pixels -> float32 ``(x / 255 - mean) / std``."""
    return images.to(torch.float32).mul_(1.0 / (255.0 * std)).sub_(mean / std)


def augment(images: torch.Tensor, generator: torch.Generator, strength: float, mean: float, std: float,
            limits: AugmentLimits = LIMITS) -> torch.Tensor:
    """Augment a uint8 ``(B, 1, H, W)`` batch and return it normalised as float32.

    Random resized crop, small rotation and horizontal flip are one ``affine_grid`` +
    ``grid_sample``; then contrast, brightness, gamma and gaussian noise; the result is
    clipped to the 0..1 image range before normalisation. ``strength`` 0 returns exactly
    :func:`normalise` and draws no random numbers.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"augment takes a uint8 (B, C, H, W) batch, got {images.dtype} "
                         f"{tuple(images.shape)}")
    if strength <= 0:
        return normalise(images, mean, std)
    s = min(float(strength), 1.0)
    b, dev = images.shape[0], images.device
    u = torch.rand((b, 10), generator=generator, device=dev)
    sym = u.mul(2).sub_(1)  # uniform in [-1, 1)
    x = images.to(torch.float32).mul_(1.0 / 255.0)

    area = 1 - (1 - limits.min_area) * s * u[:, 0]
    aspect = torch.exp(sym[:, 1] * limits.log_aspect * s)
    sx = torch.sqrt(area * aspect).clamp_(max=1.0)
    sy = torch.sqrt(area / aspect).clamp_(max=1.0)
    angle = sym[:, 2] * math.radians(limits.rotate_deg) * s
    flip = torch.where(u[:, 3] < min(limits.flip, s), -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos * sx * flip, -sin * sy, sym[:, 4] * (1 - sx)], 1),
        torch.stack([sin * sx * flip, cos * sy, sym[:, 5] * (1 - sy)], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    view = (b, 1, 1, 1)
    contrast = (1 + sym[:, 6] * limits.contrast * s).view(view)
    brightness = (sym[:, 7] * limits.brightness * s).view(view)
    centre = x.mean(dim=(1, 2, 3), keepdim=True)
    # (x - c) * k + c + b  ==  x * k + (c * (1 - k) + b)
    x = x.mul_(contrast).add_(centre * (1 - contrast) + brightness).clamp_(0, 1)
    x = x.pow_(torch.exp(sym[:, 8] * limits.log_gamma * s).view(view))
    noise = torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype)
    x = x.add_(noise.mul_((u[:, 9] * limits.noise * s).view(view))).clamp_(0, 1)
    return x.sub_(mean).div_(std)
