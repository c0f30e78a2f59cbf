"""The cached copy (long side 1024) and the thumbnail (256): area downsampling, never upscaling.

For integer data halved or more, the whole reduction runs on *stored
values*: first sums of whole k x k blocks, then the remaining fractional
step (a factor below 2) as sums of the one or two block rows and columns
whose centres fall inside each output pixel (the pixels Pillow's box filter averages), a lone one
counted twice so every output is a sum of the same number of values. One
display table built for that sum (value / count) then maps the reduced
image to grey levels, so the table lookup runs on the 1024-px image only
and rounding happens once. For a linear window this equals windowing every
pixel first, except right at the window's edges (where averaging k x k
blocks before the table already differs). An image reduced by less than 2
is windowed pixel by pixel, then box-filtered on grey levels; float data,
and sizes where the fractional step would need more than two values, take
the block means through float windowing, then the box filter.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image

from engine.io._decoded import DecodedImage
from engine.io._window import Display, Modality, Window
from engine.store import CACHE_SIDE, THUMB_SIDE

# One thread for OpenCV in every process that imports: the import spreads whole
# files over processes, and an OpenCV thread pool does not survive fork (a forked
# decoder that touches the parent's pool blocks for ever on its condition variable;
# seen as a hung 2-worker import). With one thread OpenCV never starts a pool.
cv2.setNumThreads(1)


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


@lru_cache(maxsize=32)
def spans(n_in: int, n_out: int, extent: float | None = None
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """First and last input index of each output pixel under Pillow's box filter.

    The same arithmetic as Pillow's ``precompute_coeffs`` (bounds, then the
    box filter at each input's centre, in float64), so the same inputs are
    averaged. ``extent`` is the picture's length in input pixels when it is
    less than ``n_in`` (the ragged edge). ``None`` when some output pixel
    would average more than two inputs, or none. Cached (read-only arrays):
    the files of one import mostly share a few sizes, and this costs about a
    tenth of a millisecond per axis.
    """
    scale = float(np.float32(n_in if extent is None else extent)) / n_out
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    center = (np.arange(n_out) + 0.5) * scale
    first = np.maximum((center - support + 0.5).astype(np.intp), 0)
    end = np.minimum((center + support + 0.5).astype(np.intp), n_in)
    taps = np.arange(int(np.ceil(support)) * 2 + 1)
    arg = ((first[:, None] + taps).astype(np.float64) - center[:, None] + 0.5) * (1.0 / filterscale)
    inside = (arg > -0.5) & (arg <= 0.5) & (taps < (end - first)[:, None])
    count = inside.sum(axis=1)
    if count.min() < 1 or count.max() > 2:
        return None
    lead = inside.argmax(axis=1)  # the inputs inside are consecutive
    first, last = first + lead, first + lead + count - 1
    first.flags.writeable = last.flags.writeable = False  # cached: shared by every call
    return first, last


def _summed(image: DecodedImage, shape: tuple[int, int], k: int) -> np.ndarray | None:
    """The cached copy through sums of stored values and one table; ``None`` if unsuitable."""
    codes = image.codes
    whole = (codes.shape[0] // k, codes.shape[1] // k)
    picks, factor = [], k * k
    for axis in (0, 1):
        ragged = codes.shape[axis] % k > 0
        if not ragged and whole[axis] == shape[axis]:
            picks.append(None)  # this axis is done by the block sums alone
            continue
        span = spans(whole[axis] + ragged, shape[axis], codes.shape[axis] / k if ragged else None)
        if span is None:
            return None
        # An index past the whole blocks repeats the last block (the ragged edge).
        picks.append(tuple(np.minimum(index, whole[axis] - 1) for index in span))
        factor *= 2
    lo, hi = image.code_range
    dtype = _sum_dtype(lo, hi, factor)
    sums = block_sum(codes, k, dtype)
    if picks[0] is not None:  # rows first: the column gathers then run on fewer rows
        first = sums[picks[0][0]]
        sums = np.add(first, sums[picks[0][1]], out=first)
    if picks[1] is not None:
        first = np.take(sums, picks[1][0], axis=1)
        sums = np.add(first, np.take(sums, picks[1][1], axis=1), out=first)
    s_hi = int(sums.max())
    s_lo = 0 if sums.dtype.kind == "u" else int(sums.min())
    if s_hi - s_lo >= sums.size:  # a table larger than the image: float maths is cheaper
        return np.rint(image.display.fraction(sums / factor) * 255.0).astype(np.uint8)
    if 0 <= s_lo and s_hi < 1 << 16:  # index the table with the sums as they are (no copy)
        s_lo = 0
    table = _table(image.display, s_lo, s_hi, factor)
    return np.take(table, np.subtract(sums, s_lo, dtype=np.int64) if s_lo else sums)


#: Block-sum rows per stripe: the stripe's intermediates (about 0.5 MB) stay in cache.
_STRIPE = 64


def _block_sum_16(codes: np.ndarray, k: int, dtype) -> np.ndarray:
    """:func:`block_sum` for sides that are whole multiples of ``k`` and sums that fit 16 bits.

    The row sums run in OpenCV (which reads the strided rows in place, about
    2.5x faster than numpy's strided add); for ``k == 2`` the column pairs
    are added as one 32-bit word each (``word + (word >> 16)``, whose low 16
    bits are the pair's sum whichever half holds which pixel), instead of a
    strided add, in stripes of :data:`_STRIPE` output rows so that the
    intermediates never leave the CPU cache (a quarter less time than whole
    arrays on a freshly read file).
    """
    if codes.dtype != dtype or codes.strides[1] != codes.itemsize:
        return block_sum(codes, k, dtype)
    if k != 2:
        rows = cv2.add(codes[0::k], codes[1::k])
        for i in range(2, k):
            cv2.add(rows, codes[i::k], dst=rows)
        out = np.add(rows[:, 0::k], rows[:, 1::k])
        for j in range(2, k):
            out += rows[:, j::k]
        return out
    height, width = codes.shape[0] // 2, codes.shape[1]
    out = np.empty((height, width // 2), np.uint16)
    rows = np.empty((_STRIPE, width), codes.dtype)
    words = rows.view(np.uint32)
    pairs = np.empty((_STRIPE, width // 2), np.uint32)
    for y in range(0, height, _STRIPE):
        n = min(_STRIPE, height - y)
        cv2.add(codes[2 * y:2 * (y + n):2], codes[2 * y + 1:2 * (y + n):2], dst=rows[:n])
        np.right_shift(words[:n], 16, out=pairs[:n])
        pairs[:n] += words[:n]
        out[y:y + n] = pairs[:n]  # the low 16 bits
    return out.view(dtype)


def _sums_then_linear(image: DecodedImage, shape: tuple[int, int], k: int) -> np.ndarray | None:
    """The cached copy through k x k block sums, a bilinear step, and one table.

    The fast route for the usual case (12- to 14-bit unsigned or signed
    data whose sides are whole multiples of ``k``): the block sums fit 16
    bits, so OpenCV's bilinear resize (SIMD, single-threaded in import
    workers) makes the remaining step of less than 1.5x on the sums
    themselves, keeping their sub-code precision, and the display table for
    ``k * k`` then maps them to grey levels, rounding once. The gathers of
    :func:`_summed` cost about three times as much. ``None`` when unsuitable
    (a ragged edge, sums wider than 16 bits): the exact routes take over.
    """
    codes = image.codes
    if codes.shape[0] % k or codes.shape[1] % k:
        return None
    lo, hi = image.code_range
    dtype = _sum_dtype(lo, hi, k * k)
    if dtype not in (np.uint16, np.int16):
        return None
    sums = _block_sum_16(codes, k, dtype)
    if sums.shape != shape:  # bilinear stays inside the inputs' range: the table still fits
        sums = cv2.resize(sums, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    affine = _affine(image.display, k * k)
    if affine is not None:  # grey = a * sum + b, rounded and clipped to 0..255 in one pass
        return cv2.addWeighted(sums, affine[0], sums, 0.0, affine[1], dtype=cv2.CV_8U)
    if dtype == np.uint16:
        s_lo, s_hi = 0, hi * k * k
        return np.take(_table(image.display, s_lo, s_hi, k * k), sums)
    s_lo, s_hi = lo * k * k, hi * k * k
    table = _table(image.display, s_lo, s_hi, k * k)
    return np.take(table, np.subtract(sums, s_lo, dtype=np.int32))


def _affine(display: Display, scale: int) -> tuple[float, float] | None:
    """(a, b) with grey level ``a * v + b`` (before rounding and clipping) for the sum ``v``.

    A rescale followed by a LINEAR or LINEAR_EXACT window (inverted or not)
    is affine up to the clipping, so OpenCV's saturating ``addWeighted``
    maps the sums in one pass, three times faster than a table lookup. It
    computes in single precision: a value that falls exactly half-way
    between two grey levels may round the other way (about 1 pixel in
    5000, by one level). ``None`` for LUTs, SIGMOID and width-1 thresholds.
    """
    voi, modality = display.voi, display.modality
    if modality.table is not None or not isinstance(voi, Window):
        return None
    c, w = float(voi.center), float(voi.width)
    if voi.function == "LINEAR_EXACT" and w > 0:
        lo, span = c - w / 2, w
    elif voi.function == "LINEAR" and w > 1.0:
        lo, span = c - 0.5 - (w - 1.0) / 2, w - 1.0
    else:
        return None
    a = 255.0 * modality.slope / scale / span
    b = 255.0 * (modality.intercept - lo) / span
    return (-a, 255.0 - b) if display.invert else (a, b)


def _table(display: Display, lo: int, hi: int, scale: int) -> np.ndarray:
    """``display.table(lo, hi, scale)``, reused across files with the same plain window.

    Files of one scanner share their window, so the float table (about 0.2 ms)
    is built once. Only a rescale plus a VOI window is a key of plain numbers;
    LUT tables are built each time.
    """
    voi, modality = display.voi, display.modality
    if modality.table is not None or not isinstance(voi, Window):
        return display.table(lo, hi, scale=scale)
    return _plain_table(modality.slope, modality.intercept, voi.center, voi.width,
                        voi.function, display.invert, lo, hi, scale)


@lru_cache(maxsize=16)  # lru_cache: safe when GUI threads build cache copies too
def _plain_table(slope: float, intercept: float, center: float, width: float, function: str,
                 invert: bool, lo: int, hi: int, scale: int) -> np.ndarray:
    display = Display(Modality(slope, intercept), Window(center, width, function), invert)
    table = display.table(lo, hi, scale=scale)
    table.flags.writeable = False  # shared by every file with this window
    return table


def blocks_then_box(image: DecodedImage, shape: tuple[int, int], k: int) -> np.ndarray:
    """The older route: window the k x k block means, then Pillow's box filter on grey levels.

    Kept for float data and the sizes :func:`spans` declines; the tests compare
    the summed route against it.
    """
    codes = image.codes
    if image.code_range is None:  # float data: mean of blocks, then float windowing
        means = block_sum(codes.astype(np.float32, copy=False), k, np.float32) / (k * k)
        return _finish(image.display.to_uint8(means), codes.shape, k, shape)
    lo, hi = image.code_range
    sums = block_sum(codes, k, _sum_dtype(lo, hi, k * k))
    s_lo, s_hi = int(sums.min()), int(sums.max())
    if 0 <= s_lo and s_hi < 1 << 16:  # index the table with the sums as they are (no copy)
        s_lo = 0
    table = _table(image.display, s_lo, s_hi, k * k)
    grey = np.take(table, np.subtract(sums, s_lo, dtype=np.int64) if s_lo else sums)
    return _finish(grey, codes.shape, k, shape)


def cache_pixels(image: DecodedImage, side: int = CACHE_SIDE) -> np.ndarray:
    """The windowed uint8 copy of ``image`` with long side ``side`` (or its own size)."""
    codes = image.codes
    shape = target_shape(*codes.shape, side)
    k = max(codes.shape) // side
    if k < 2:  # less than halved: window every pixel, then the box filter
        return box_resize(image.to_uint8(), shape)
    if image.code_range is not None:
        linear = _sums_then_linear(image, shape, k)
        if linear is not None:
            return linear
        summed = _summed(image, shape, k)
        if summed is not None:
            return summed
    return blocks_then_box(image, shape, k)


def _mean_lines(grey: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Means of each ``k`` consecutive rows (axis 0) or columns (axis 1) of uint8 ``grey``.

    Rounded as Pillow's box filter rounds one pass (22-bit fixed point), so
    this is exactly the pass Pillow makes along an axis reduced by a whole factor.
    """
    n = grey.shape[axis] // k * k
    part = (lambda i: grey[i:n:k]) if axis == 0 else (lambda i: grey[:, i:n:k])
    if k & (k - 1) == 0 and k <= 256:  # weight 2**22 / k: the same as (sum + k/2) >> log2(k)
        total = np.add(part(0), part(1), dtype=np.uint16)
        for i in range(2, k):
            total += part(i)
        total += np.uint16(k // 2)
        total >>= np.uint16(k.bit_length() - 1)
        return total.astype(np.uint8)
    total = np.add(part(0), part(1), dtype=np.uint32)  # 255 * k * weight < 2**32
    for i in range(2, k):
        total += part(i)
    total *= np.uint32(int(0.5 + (1.0 / k) * (1 << 22)))
    total += np.uint32(1 << 21)
    total >>= np.uint32(22)
    return total.astype(np.uint8)


def thumbnail(cached: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """The thumbnail (long side ``side``) made from the cached copy.

    Pillow's box filter, except that an axis reduced by a whole factor (the
    long side: 1024 -> 256) is averaged first, in numpy (the same fixed-point
    pass as Pillow's); the slower fractional axis then runs on a quarter of
    the lines. Where Pillow takes the axes in the other order (a portrait
    image), grey levels may differ by one (rounding); else they are equal.
    """
    shape = target_shape(*cached.shape, side)
    for axis in (1, 0):  # along the rows first, as Pillow does for the usual sizes
        k, rest = divmod(cached.shape[axis], shape[axis])
        if k >= 2 and rest == 0:
            return box_resize(_mean_lines(cached, k, axis), shape)
    return box_resize(cached, shape)
