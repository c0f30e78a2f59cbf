"""Model-agnostic attributions through Captum: occlusion sensitivity and integrated gradients.

Both work on the input pixels, so a CNN and a ViT get the *same* method at the *same*
grid (unlike Grad-CAM, whose grid is the target layer's). The target is the log-odds of
the predicted class, as for the CAMs (:class:`~engine.explain._cam.LogOddsTarget`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

OCCLUSION, INTEGRATED_GRADIENTS = "occlusion", "ig"

# Defaults: a 20 mm patch moved in 10 mm steps covers a phantom fracture box (~20-40 mm)
# with a few windows; without a pixel spacing the patch is 1/8 of the input side.
PATCH_MM, STRIDE_MM = 20.0, 10.0
IG_STEPS = 32


@dataclass(frozen=True)
class AttributionOptions:
    """How an attribution is computed; stored in the heatmap meta so a map says how it was made.

    ``mm_per_pixel`` is the size of one *input* pixel (the source spacing times the source's
    long side over the input side, see :func:`input_mm_per_pixel`); ``None`` when the images
    carry no spacing, then the patch is ``input/8`` and the stride half of it.
    """

    patch_mm: float = PATCH_MM
    stride_mm: float = STRIDE_MM
    mm_per_pixel: float | None = None
    ig_steps: int = IG_STEPS
    ig_baseline: str = "zero (the training mean after normalisation)"
    occlusion_fill: str = "zero (the training mean after normalisation)"

    def patch_stride_px(self, size: int) -> tuple[int, int]:
        """Patch side and stride in input pixels (at least 1, the patch at most the input)."""
        if self.mm_per_pixel is None or not self.mm_per_pixel > 0:
            patch = max(1, size // 8)
            return patch, max(1, patch // 2)
        patch = int(round(self.patch_mm / self.mm_per_pixel))
        stride = int(round(self.stride_mm / self.mm_per_pixel))
        return min(size, max(1, patch)), min(size, max(1, stride))

    def grid(self, size: int) -> int:
        """The stored map's side: one cell per stride (both methods, so they compare cell by cell)."""
        _, stride = self.patch_stride_px(size)
        return max(1, min(size, int(math.ceil(size / stride))))

    def to_json(self, size: int) -> dict:
        patch, stride = self.patch_stride_px(size)
        return {**asdict(self), "patch_px": patch, "stride_px": stride, "grid_side": self.grid(size)}


def input_mm_per_pixel(spacings_mm, source_long_sides, size: int) -> float | None:
    """The median input-pixel size in mm of images with a known spacing (``None`` if none has one).

    The letterbox scales the source's long side to ``size``, so one input pixel spans
    ``spacing * long_side / size`` mm. One value per batch keeps the window fixed, so the
    whole batch is one Captum call; the median is robust to an odd image.
    """
    values = [float(s) * float(n) / size for s, n in zip(spacings_mm, source_long_sides)
              if s is not None and s > 0 and n]
    return float(np.median(values)) if values else None


class LogOdds(torch.nn.Module):
    """Wraps a classifier: output ``(B, C)`` where column ``c`` is ``z_c - logsumexp(z_not_c)``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model(x).float()
        c = z.shape[1]
        if c == 1:
            return torch.cat([-z, z], 1)
        eye = torch.eye(c, dtype=torch.bool, device=z.device)
        others = z[:, None, :].expand(-1, c, -1).masked_fill(eye, float("-inf"))
        return z - torch.logsumexp(others, dim=2)


def _to_grid(attr: torch.Tensor, grid: int) -> np.ndarray:
    """``(B, 1, S, S)`` attributions -> ``(B, grid, grid)`` float32 in 0..1 (positive evidence only).

    Cells are mean-pooled, negative evidence is cut (as Grad-CAM's ReLU does) and each map is
    scaled by its maximum; a map without positive evidence stays all zero.
    """
    pooled = F.adaptive_avg_pool2d(attr.float().sum(1, keepdim=True), grid)[:, 0]
    pos = pooled.clamp_min(0)
    top = pos.amax(dim=(1, 2), keepdim=True)
    out = torch.where(top > 0, pos / torch.where(top > 0, top, torch.ones_like(top)), torch.zeros_like(pos))
    return out.detach().cpu().numpy().astype(np.float32)


def attribution_maps(model, images: torch.Tensor, method: str, options: AttributionOptions | None = None,
                     target_class: int | None = None, perturbations_per_eval: int = 32
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(maps (B, g, g) float32 in 0..1, AFF probability)`` for one normalised ``(B, C, S, S)`` batch.

    ``occlusion``: Captum's ``Occlusion`` slides a ``patch_px`` square (all channels) in
    ``stride_px`` steps and sets it to the fill; a pixel's value is the mean drop of the
    target over the windows that cover it. ``perturbations_per_eval`` windows of every image
    of the batch go through one forward pass, so the device sees ``B x perturbations`` images
    at a time. ``ig``: Captum's ``IntegratedGradients`` from the stated baseline with
    ``ig_steps`` Gauss-Legendre steps, the whole batch's steps in one backward.
    """
    from captum.attr import IntegratedGradients, Occlusion

    options = options or AttributionOptions()
    size = int(images.shape[-1])
    wrapped = LogOdds(model).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            logits = model(images).float()
        prob = torch.softmax(logits, 1)[:, 1].cpu().numpy()
        target = (logits.argmax(1) if target_class is None
                  else torch.full((len(images),), int(target_class), device=logits.device))
        target = target.tolist()
        if method == OCCLUSION:
            patch, stride = options.patch_stride_px(size)
            with torch.no_grad():
                attr = Occlusion(wrapped).attribute(
                    images, sliding_window_shapes=(images.shape[1], patch, patch),
                    strides=(images.shape[1], stride, stride), baselines=0.0, target=target,
                    perturbations_per_eval=max(1, int(perturbations_per_eval)))
        elif method == INTEGRATED_GRADIENTS:
            x = images.detach().clone().requires_grad_(True)
            attr = IntegratedGradients(wrapped).attribute(
                x, baselines=torch.zeros_like(x), target=target, n_steps=int(options.ig_steps),
                internal_batch_size=len(x) * int(options.ig_steps))
        else:
            raise ValueError(f"unknown attribution method {method!r} (use {OCCLUSION} or "
                             f"{INTEGRATED_GRADIENTS})")
    finally:
        for p in params:
            p.requires_grad_(True)
    return _to_grid(attr, options.grid(size)), prob
