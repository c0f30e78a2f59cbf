"""Hiding the fracture region in a label-independent way, to test what lies outside it.

Blanking each image's own ROI box would leave its shape as a label cue (an AFF line is
near-transverse, an NFF line oblique, so NFF boxes are taller). The band hides the
same height in mm around the fracture's lateral entry for every image of a study, over
the full width, so only what lies outside the fracture region is left to learn from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def band_half_mm(rows: Iterable, margin_mm: float = 10.0) -> float:
    """Half height (mm) of a band about ``entry_y`` that holds every row's ROI plus
    ``margin_mm``; ``rows`` have ``entry_y``, ``roi_y0``, ``roi_y1`` and
    ``pixel_spacing_mm`` (phantom manifest rows)."""
    reach = [max(r.entry_y - r.roi_y0, r.roi_y1 - r.entry_y) * r.pixel_spacing_mm for r in rows]
    if not reach:
        raise ValueError("band_half_mm needs at least one row")
    return max(reach) + margin_mm


def roi_band(row, half_mm: float, height: int | None = None) -> tuple[int, int]:
    """Rows ``[y0, y1)`` (source pixels) of ``row``'s band of half height ``half_mm``;
    ``height`` (default: ``roi_y1``'s image, unclipped) clips it to the image."""
    s = row.pixel_spacing_mm
    y0 = max(0, math.floor(row.entry_y - half_mm / s))
    y1 = math.ceil(row.entry_y + half_mm / s)
    return y0, (min(height, y1) if height is not None else y1)
