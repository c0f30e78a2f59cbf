"""Stored values to display grey levels: Modality LUT, VOI window or LUT, inversion.

The whole chain is a function of the stored value alone, so for integer data
it is evaluated once per possible value (a table of at most 65,536 entries)
and the image is mapped by indexing: much faster than float maths per pixel.
Formulas follow DICOM PS3.3 C.11.1 (Modality LUT) and C.11.2 (VOI LUT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Robust percentiles used when a file carries no window of its own.
PERCENTILES = (0.5, 99.5)
_SAMPLE_PIXELS = 1 << 20  # pixels looked at for the percentiles (a regular subsample)


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units.

    ``source`` says where it came from: ``file`` (Window Center/Width),
    ``voi_lut`` (the input range of a VOI LUT Sequence), ``percentile``
    (robust 0.5-99.5 % of the pixels) or ``full_range`` (8-bit images).
    """

    center: float
    width: float
    function: str = "LINEAR"
    source: str = "file"

    def fraction(self, x: np.ndarray) -> np.ndarray:
        """Display brightness in [0, 1] for modality values ``x``."""
        c, w = float(self.center), float(self.width)
        x = np.asarray(x, dtype=np.float64)
        if self.function == "SIGMOID":
            return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
        if self.function == "LINEAR_EXACT":
            y = (x - c) / w + 0.5
        elif w <= 1.0:  # LINEAR with width 1 is a threshold (C.11.2.1.2.1)
            return (x > c - 0.5).astype(np.float64)
        else:
            y = (x - (c - 0.5)) / (w - 1.0) + 0.5
        return np.clip(y, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class VoiTable:
    """A VOI LUT Sequence item: ``table[i]`` (normalised to [0, 1]) for input ``first + i``."""

    first: float
    table: np.ndarray

    def fraction(self, x: np.ndarray) -> np.ndarray:
        grid = self.first + np.arange(len(self.table), dtype=np.float64)
        return np.interp(np.asarray(x, dtype=np.float64), grid, self.table)

    @property
    def window(self) -> Window:
        """The input range the table covers, stored as the image's window."""
        n = len(self.table)
        return Window(self.first + (n - 1) / 2, float(n), "LINEAR", "voi_lut")


@dataclass(frozen=True, eq=False)
class Modality:
    """Stored value -> modality value: rescale slope/intercept or a Modality LUT table."""

    slope: float = 1.0
    intercept: float = 0.0
    first: float | None = None
    table: np.ndarray | None = None

    @property
    def identity(self) -> bool:
        return self.table is None and self.slope == 1.0 and self.intercept == 0.0

    def values(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.table is not None:
            grid = self.first + np.arange(len(self.table), dtype=np.float64)
            return np.interp(x, grid, self.table)
        return x * self.slope + self.intercept


@dataclass(frozen=True, eq=False)
class Display:
    """The whole chain from stored value to display brightness."""

    modality: Modality
    voi: Window | VoiTable
    invert: bool = False

    @property
    def window(self) -> Window:
        return self.voi.window if isinstance(self.voi, VoiTable) else self.voi

    def fraction(self, codes: np.ndarray) -> np.ndarray:
        """Brightness in [0, 1] of stored values (float, so averaged values work too)."""
        y = self.voi.fraction(self.modality.values(codes))
        return 1.0 - y if self.invert else y

    def table(self, lo: int, hi: int, scale: int = 1) -> np.ndarray:
        """uint8 grey level of every stored value ``v / scale`` for ``v`` in ``lo..hi``."""
        v = np.arange(lo, hi + 1, dtype=np.float64)
        if scale != 1:
            v /= scale
        return np.rint(self.fraction(v) * 255.0).astype(np.uint8)

    def to_uint8(self, codes: np.ndarray, lo: int | None = None) -> np.ndarray:
        """Map a whole array of stored values to uint8 grey levels.

        ``lo`` is the smallest value integer ``codes`` can take (a table is
        used); ``None`` means float maths per pixel.
        """
        if lo is None or not np.issubdtype(codes.dtype, np.integer):
            return np.rint(self.fraction(codes) * 255.0).astype(np.uint8)
        hi = int(codes.max()) if codes.size else lo
        lut = self.table(lo, max(hi, lo))
        return np.take(lut, np.subtract(codes, lo, dtype=np.int32) if lo else codes)


def sample(codes: np.ndarray) -> np.ndarray:
    """A regular subsample of about a million pixels (all of them for small images)."""
    step = max(1, int(np.sqrt(codes.size / _SAMPLE_PIXELS)))
    return codes[::step, ::step] if step > 1 else codes


def percentile_window(codes: np.ndarray, modality: Modality, lo: int | None = None) -> Window:
    """A window from the robust percentiles of the modality values of ``codes``.

    Integer data use a histogram of the stored values (fast); the percentile
    values are mapped through the modality map, which is monotonic in practice.
    """
    part = sample(codes)
    if lo is not None and np.issubdtype(part.dtype, np.integer) and part.size:
        flat = part.ravel()
        counts = np.bincount(np.subtract(flat, lo, dtype=np.int32) if lo else flat)
        cum = np.cumsum(counts)
        ranks = np.array(PERCENTILES) / 100.0 * (cum[-1] - 1)
        picks = np.searchsorted(cum, ranks, side="right") + lo
        values = modality.values(picks.astype(np.float64))
    else:
        finite = part[np.isfinite(part)] if part.dtype.kind == "f" else part
        if finite.size == 0:
            return Window(0.5, 1.0, "LINEAR_EXACT", "percentile")
        values = modality.values(np.percentile(finite, PERCENTILES))
    low, high = float(np.min(values)), float(np.max(values))
    width = high - low if high > low else 1.0
    return Window((low + high) / 2.0, width, "LINEAR_EXACT", "percentile")


def full_range_window(bits: int) -> Window:
    """The identity window of unsigned ``bits``-bit data (0 -> black, max -> white)."""
    top = float(2**bits - 1)
    return Window(top / 2.0, top, "LINEAR_EXACT", "full_range")
