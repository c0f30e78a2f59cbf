"""From attenuation to stored values: blur, quantum noise, CR/DX-style processing, LUT,
collimator shutter."""

from __future__ import annotations

import math

import numpy as np

from engine.phantom._filters import gaussian, lowpass
from engine.phantom._frame import Frame
from engine.phantom._specs import ImageSpec

MAX_VALUE = 4095            # 12 bits stored
_LUT_SIZE = 8192


def collimation_mask(spec: ImageSpec, frame: Frame) -> np.ndarray | None:
    """1 inside the collimated field, 0 outside, with a ~1 mm penumbra, on ``frame``'s grid."""
    a = spec.acquisition
    if not any(a.collimation) and a.collimation_deg == 0:
        return None
    s = frame.spacing
    h, w = spec.height * spec.spacing, spec.width * spec.spacing
    x = ((np.arange(frame.width) + 0.5) * s - w / 2).astype(np.float32)
    y = ((np.arange(frame.height) + 0.5) * s - h / 2).astype(np.float32)
    c, sn = math.cos(math.radians(a.collimation_deg)), math.sin(math.radians(a.collimation_deg))
    xr = x[None, :] * c + y[:, None] * sn
    yr = y[:, None] * c - x[None, :] * sn
    left, top, right, bottom = a.collimation
    d = np.minimum(np.minimum(xr + (w / 2 - left), (w / 2 - right) - xr),
                   np.minimum(yr + (h / 2 - top), (h / 2 - bottom) - yr))
    return np.clip(d / max(1.0, spec.spacing) + 0.5, 0.0, 1.0).astype(np.float32)


def expose(att: np.ndarray, spec: ImageSpec, mask: np.ndarray | None,
           rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float]]:
    """12-bit display values (bone bright) and a (centre, width) window for them."""
    a, s = spec.acquisition, spec.spacing
    # a left femur is processed as its right twin seen mirrored, so the grid-anchored filters,
    # samples and noise mirror too and L/R twins are true mirrors (engine.phantom._mirror)
    flip = spec.feature_side > 0
    if flip:
        att, mask = att[:, ::-1], (mask[:, ::-1] if mask is not None else None)
    att = gaussian(att, a.blur / s)
    noise = rng.standard_normal(att.shape, dtype=np.float32)
    att += np.float32(a.noise * 0.17 / s) * np.exp(np.float32(0.5) * att) * noise
    step = max(1, min(spec.height, spec.width) // 256)
    inside = (mask[::step, ::step] > 0.5) if mask is not None else None

    def sample(img, where=None):
        sub = img[::step, ::step]
        keep = inside if where is None else (where if inside is None else where & inside)
        return sub[keep] if keep is not None else sub.ravel()

    # like a CR's exposure recognition: the range of the anatomy (not the air) sets the LUT
    anatomy = att[::step, ::step] > 0.3
    low = lowpass(att, a.drc_scale / s)
    att -= np.float32(a.drc) * (low - np.float32(np.mean(sample(low, anatomy))))
    if a.edge > 0:                      # unsharp mask at ~1 mm
        sigma = 0.8 / s
        att += np.float32(a.edge) * (att - (lowpass(att, sigma) if sigma > 1.5
                                            else gaussian(att, sigma)))
    lo, hi = np.percentile(sample(att, anatomy), [2.0, 99.8])
    scale = (_LUT_SIZE - 1) / max(float(hi - lo), 1e-6)
    index = np.clip((att - np.float32(lo)) * np.float32(scale), 0, _LUT_SIZE - 1)
    ramp = np.linspace(0.0, 1.0, _LUT_SIZE) ** a.gamma
    lut = (MAX_VALUE * (a.offset + a.gain * ramp)).astype(np.float32)
    disp = lut[index.astype(np.int32)]
    if mask is not None:
        level = 0.01 if a.shutter == "black" else 0.9
        outside = np.float32(MAX_VALUE * level) + np.float32(10.0) * noise
        disp = outside + mask * (disp - outside)
    pixels = np.clip(np.rint(disp), 0, MAX_VALUE).astype(np.uint16)
    p1, p99 = np.percentile(sample(pixels), [1.0, 99.5])
    if flip:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    return pixels, (float(0.5 * (p1 + p99)), float(max(1.0, 1.1 * (p99 - p1))))
