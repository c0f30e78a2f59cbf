"""The image-based fallback of canonical orientation: read the lead L/R side marker.

Used only for images whose laterality the project does not know (no DICOM tag, no manifest
column). Every radiograph carries a lead letter, L or R, for the side that was imaged; it is
the one thing in the image that states the side outright, whichever corner it sits in and
whatever the view. The femoral head is not used: it says the side only in AP views with the
hip in the field (lateral views put it over the shaft, and many shaft views cut it off), and
a previous head-side heuristic decided wrongly on 2-3 of 16 phantom AP images.

How the letter is found (all sizes relative to the image height, so any cache size works):

1. A white top-hat (image minus its grey opening with a window of 2% of the height) keeps
   small bright things: the letter, but also trabecular texture and fragment edges.
2. Connected pieces of the top-hat that are the size of a marker letter (1.5-7% of the
   height, about as wide as high) are candidates.
3. A lead letter lies flat on its plastic holder over air or soft tissue, so it stands far
   above the noise around it; texture does not. A candidate's contrast-to-noise ratio
   (its mean minus the mean of the ring around it, over that ring's standard deviation) must
   reach :data:`MIN_CNR` (markers measure 5-190 on the phantom, texture at most 3).
4. The glyph is read from its shape: both letters have a full upright stem on the left; an
   **R** fills the upper right (its bowl), an **L** leaves it empty.

The side is decided only when every candidate that passes agrees; otherwise (no marker found,
an unreadable glyph, two markers that disagree) the image is "orientation unknown", is left as
it is, and is counted in the run config and the report. tests/engine/test_orientation.py
checks the fallback against the phantom manifest on a set of images with hidden laterality.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

MIN_CNR = 4.0        # contrast-to-noise a lead letter must reach (see the module notes)
_TOP_HAT = 0.02      # grey-opening window, fraction of the image height
_LEVEL = 0.06        # top-hat level of a candidate, fraction of the image's 0.5-99.5% range
_SIZE = (0.015, 0.07)  # letter height, fraction of the image height


def _glyph(piece: np.ndarray) -> str | None:
    """``"L"``, ``"R"`` or None for a boolean glyph mask cropped to its bounding box."""
    h, w = piece.shape
    stem = float(piece[:, : max(1, w // 4)].mean())
    upper_right = float(piece[: h // 2, (w + 1) // 2:].mean()) if w > 1 else 0.0
    if stem < 0.7:
        return None
    if upper_right <= 0.2:
        return "L"
    if upper_right >= 0.4:
        return "R"
    return None


def marker_side(pixels: np.ndarray) -> str | None:
    """The side (``"L"``/``"R"``) the lead marker in ``pixels`` (2-D, bone bright) names, or None.

    None means not decisive: no readable marker, or markers that disagree.
    """
    img = np.asarray(pixels, dtype=np.float32)
    if img.ndim != 2 or min(img.shape) < 32:
        return None
    height, width = img.shape
    lo, hi = np.percentile(img, [0.5, 99.5])
    x = (img - lo) / max(float(hi - lo), 1e-6)
    k = max(3, int(round(_TOP_HAT * height)))
    top_hat = x - ndi.grey_opening(x, size=(k, k))
    labels, _ = ndi.label(top_hat > _LEVEL)
    sides = set()
    for i, sl in enumerate(ndi.find_objects(labels), 1):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if not (_SIZE[0] * height <= h <= _SIZE[1] * height and 0.6 * h <= w <= 1.2 * h):
            continue
        y0, y1 = max(0, sl[0].start - 2), min(height, sl[0].stop + 2)
        x0, x1 = max(0, sl[1].start - 2), min(width, sl[1].stop + 2)
        inside = labels[y0:y1, x0:x1] == i
        patch = x[y0:y1, x0:x1]
        ring = patch[~inside]
        if ring.size < 4:
            continue
        cnr = (float(patch[inside].mean()) - float(ring.mean())) / (float(ring.std()) + 1e-3)
        if cnr < MIN_CNR:
            continue
        side = _glyph(labels[sl] == i)
        if side is None:
            return None  # a marker-like object that cannot be read: not decisive
        sides.add(side)
    return sides.pop() if len(sides) == 1 else None
