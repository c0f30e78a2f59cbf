"""Heatmap geometry, kept out of the widgets: a stored map grid back onto the cached image.

A map is stored at the target layer's grid (``gh x gw``) over the model's letterboxed
``size``-square input: the cached image scaled to long side ``size`` and centred on zero
padding (``engine.train.letterbox``). To show it on the cached image the grid is resampled
to the input square (bilinear, half-pixel aligned like the engine's measures, or nearest
to show the cells as stored), and the part the image covers is cut out: that crop spans
exactly the cached image, so the padding never shows.
"""

from __future__ import annotations

import numpy as np

from engine.explain import letterbox_box, methods

METHODS = methods()  # the engine's method names (torch-free)
COLORMAPS = ("inferno", "turbo", "viridis", "magma", "plasma", "CET-L3")


def image_in_input(cache_wh: tuple[int, int], size: int) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the cached image inside the ``size``-square input."""
    cw, ch = cache_wh
    x0, y0, x1, y1 = letterbox_box((0, 0, cw, ch), (cw, ch), (cw, ch), size)
    left, top = int(round(x0)), int(round(y0))
    return left, top, int(round(x1)) - left, int(round(y1)) - top


def _axis_weights(grid: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear source cells and weights of ``size`` outputs over ``grid`` cells (half-pixel)."""
    src = (np.arange(size) + 0.5) * grid / size - 0.5
    src = np.clip(src, 0, grid - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, grid - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resample(grid_map: np.ndarray, size: int, smooth: bool = True) -> np.ndarray:
    """A ``(gh, gw)`` map as ``(size, size)`` float32: bilinear when ``smooth``, else nearest."""
    m = np.asarray(grid_map, np.float32)
    gh, gw = m.shape
    if not smooth:
        rows = np.minimum(((np.arange(size) + 0.5) * gh / size).astype(np.int64), gh - 1)
        cols = np.minimum(((np.arange(size) + 0.5) * gw / size).astype(np.int64), gw - 1)
        return m[rows][:, cols]
    r0, r1, wr = _axis_weights(gh, size)
    c0, c1, wc = _axis_weights(gw, size)
    rows = m[r0] * (1 - wr)[:, None] + m[r1] * wr[:, None]
    return rows[:, c0] * (1 - wc)[None, :] + rows[:, c1] * wc[None, :]


def overlay_pixels(grid_map: np.ndarray, cache_wh: tuple[int, int], size: int,
                   smooth: bool = True) -> np.ndarray:
    """The map over the cached image: ``(h, w)`` float32 in 0..1 covering the whole cached image.

    ``(h, w)`` is the image's size inside the model input; drawn over the cached image's
    rectangle it lines up with what the model saw.
    """
    if size < 1:
        raise ValueError(f"heatmap input size must be positive, not {size}")
    left, top, w, h = image_in_input(cache_wh, size)
    full = resample(grid_map, size, smooth)
    return np.ascontiguousarray(np.clip(full[top:top + h, left:left + w], 0.0, 1.0))


def cache_box(box: tuple[float, float, float, float], source_wh: tuple[int, int],
              cache_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    """A source-pixel box in cached-pixel coordinates."""
    (sw, sh), (cw, ch) = source_wh, cache_wh
    fx, fy = cw / sw, ch / sh
    x0, y0, x1, y1 = box
    return x0 * fx, y0 * fy, x1 * fx, y1 * fy


def colormap_lut(name: str, points: int = 256) -> np.ndarray:
    """``(points, 4)`` uint8 RGBA lookup table of a pyqtgraph colour map."""
    import pyqtgraph as pg

    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r} (use one of {', '.join(COLORMAPS)})")
    return pg.colormap.get(name).getLookupTable(0.0, 1.0, points, alpha=True)
