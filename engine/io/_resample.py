"""The cached copy (long side 1024) and the thumbnail (256): area downsampling, never upscaling.

For integer data the first, integer part of the reduction sums k x k blocks of
*stored values* and the display table is built for block sums (value / k**2),
so the table lookup runs on the reduced image; Pillow's box filter then does
the remaining fractional step on grey levels. For a linear window this equals
windowing every pixel first, except right at the window's edges.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.io._decoded import DecodedImage
from engine.store import CACHE_SIDE, THUMB_SIDE


def target_shape(height: int, width: int, side: int) -> tuple[int, int]:
    """(height, width) with the long side ``side``, aspect kept; never larger than the input."""
    long = max(height, width)
    if long <= side:
        return height, width
    scale = side / long
    return max(1, round(height * scale)), max(1, round(width * scale))


def box_resize(grey: np.ndarray, shape: tuple[int, int],
               extent: tuple[float, float] | None = None) -> np.ndarray:
    """Area-average a uint8 image to ``shape`` (Pillow's box filter).

    ``extent`` is the (height, width) of the picture in ``grey``'s pixels when
    that is less than its shape (a replicated edge row/column pads the rest).
    """
    if grey.shape == shape and extent is None:
        return grey
    box = None if extent is None else (0.0, 0.0, extent[1], extent[0])
    out = Image.fromarray(np.ascontiguousarray(grey)).resize(
        (shape[1], shape[0]), Image.Resampling.BOX, box=box)
    return np.asarray(out)


def _finish(grey: np.ndarray, codes_shape: tuple[int, int], k: int,
            shape: tuple[int, int]) -> np.ndarray:
    """Resize block-reduced grey levels, keeping the ragged edge's share of the picture."""
    h, w = codes_shape
    pad = (int(h % k > 0), int(w % k > 0))
    if any(pad):  # the < k leftover pixels: approximated by the last block, not dropped
        grey = np.pad(grey, ((0, pad[0]), (0, pad[1])), mode="edge")
        return box_resize(grey, shape, (h / k, w / k))
    return box_resize(grey, shape)


def block_sum(codes: np.ndarray, k: int, dtype) -> np.ndarray:
    """Sums of whole k x k blocks (the ragged right and bottom edges are left out)."""
    h, w = codes.shape[0] // k * k, codes.shape[1] // k * k
    rows = np.add(codes[0:h:k, :w], codes[1:h:k, :w], dtype=dtype)
    for i in range(2, k):
        rows += codes[i:h:k, :w]
    out = np.add(rows[:, 0::k], rows[:, 1::k])
    for j in range(2, k):
        out += rows[:, j::k]
    return out


def _sum_dtype(lo: int, hi: int, n: int):
    for dtype in (np.uint16, np.uint32) if lo >= 0 else (np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo * n and hi * n <= info.max:
            return dtype
    return np.int64


def cache_pixels(image: DecodedImage, side: int = CACHE_SIDE) -> np.ndarray:
    """The windowed uint8 copy of ``image`` with long side ``side`` (or its own size)."""
    codes = image.codes
    shape = target_shape(*codes.shape, side)
    k = max(codes.shape) // side
    if k < 2:
        return box_resize(image.to_uint8(), shape)
    if image.code_range is None:  # float data: mean of blocks, then float windowing
        means = block_sum(codes.astype(np.float32, copy=False), k, np.float32) / (k * k)
        return _finish(image.display.to_uint8(means), codes.shape, k, shape)
    lo, hi = image.code_range
    sums = block_sum(codes, k, _sum_dtype(lo, hi, k * k))
    s_lo, s_hi = int(sums.min()), int(sums.max())
    if 0 <= s_lo and s_hi < 1 << 16:  # index the table with the sums as they are (no copy)
        s_lo = 0
    table = image.display.table(s_lo, s_hi, scale=k * k)
    grey = np.take(table, np.subtract(sums, s_lo, dtype=np.int64) if s_lo else sums)
    return _finish(grey, codes.shape, k, shape)


def thumbnail(cached: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """The thumbnail (long side ``side``) made from the cached copy."""
    return box_resize(cached, target_shape(*cached.shape, side))
