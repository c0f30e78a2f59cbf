"""Cheap numpy filters: separable Gaussian blur, large-scale low-pass, smooth noise."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

_DIRECT_MAX_SIGMA = 2.5


def _kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _convolve_axis(a: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    r = len(k) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(a, pad, mode="edge")
    n = a.shape[axis]
    out = np.zeros_like(a)
    for i, weight in enumerate(k):
        sl = [slice(None), slice(None)]
        sl[axis] = slice(i, i + n)
        out += weight * p[tuple(sl)]
    return out


def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D float32 array, ``sigma`` in pixels (edges replicated)."""
    a = np.asarray(a, dtype=np.float32)
    if sigma < 0.2:
        return a.copy()
    if sigma > _DIRECT_MAX_SIGMA:
        return lowpass(a, sigma)
    k = _kernel(sigma)
    return _convolve_axis(_convolve_axis(a, k, 0), k, 1)


def _resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))
    return np.array(img.resize((shape[1], shape[0]), Image.Resampling.BILINEAR),
                    dtype=np.float32)


def enlarge(a: np.ndarray, shape: tuple[int, int], f: int) -> np.ndarray:
    """Bilinear enlargement of a grid ``f`` times coarser than ``shape`` (same extent)."""
    if f == 1:
        return a[: shape[0], : shape[1]]
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))
    box = (0.0, 0.0, shape[1] / f, shape[0] / f)
    return np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.BILINEAR, box=box),
                      dtype=np.float32)


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over ``f`` x ``f`` blocks (the ragged border is folded into the last block)."""
    h, w = a.shape
    hh, ww = max(1, h // f), max(1, w // f)
    trimmed = a[: hh * f, : ww * f] if h >= f and w >= f else a
    if trimmed.shape != (hh * f, ww * f):
        return np.full((1, 1), float(a.mean()), dtype=np.float32)
    return trimmed.reshape(hh, f, ww, f).mean(axis=(1, 3), dtype=np.float32)


def lowpass(a: np.ndarray, sigma: float) -> np.ndarray:
    """Approximate Gaussian blur for ``sigma`` >= ~2 pixels: shrink, blur, enlarge."""
    f = max(2, int(sigma / 1.5))
    small = block_mean(np.asarray(a, dtype=np.float32), f)
    small = gaussian(small, min(sigma / f, _DIRECT_MAX_SIGMA)) if small.size > 1 else small
    return _resize(small, a.shape)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float,
                 stretch: float = 1.0) -> np.ndarray:
    """Unit-variance noise, smooth over ``cell`` pixels across and ``stretch * cell`` down
    (drawn coarse, enlarged)."""
    cell = max(1.0, cell)
    ch = max(2, int(math.ceil(shape[0] / (cell * stretch))) + 1)
    cw = max(2, int(math.ceil(shape[1] / cell)) + 1)
    coarse = rng.standard_normal((ch, cw), dtype=np.float32)
    img = Image.fromarray(coarse)
    out = np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.BICUBIC),
                     dtype=np.float32)
    std = float(out[::4, ::4].std()) or 1.0
    return out * np.float32(1.0 / std)
