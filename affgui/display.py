"""Display arithmetic of the viewer, kept out of the widgets: presets, scales, lengths.

The cached copy is uint8 and was already windowed with the file's own window at
import (``engine.io``), so in cached values:

- *file window* is the cache as stored: 0..255 (centre 127.5, width 255);
- *full range* stretches the cached copy's own min..max (what the file window
  kept; values it clipped are not in the cache);
- *bone* stretches the bright part of the cached copy (its 50th to 99.5th
  percentile), where cortex and fracture lines are. Radiographs have no
  Hounsfield scale, so this is a contrast preset, not a calibrated window.

Coordinates: boxes and lengths are stored and reported in SOURCE pixels; the
viewer works in cached pixels, ``cache_width / width`` times smaller.
"""

from __future__ import annotations

import html
import math

import numpy as np

from engine.store import ImageRow

FILE_WINDOW = (127.5, 255.0)
PRESETS = ("File window", "Full range", "Bone")


def preset_window(name: str, pixels: np.ndarray | None) -> tuple[float, float]:
    """(centre, width) in cached values for the preset ``name`` on ``pixels``."""
    if name == "File window" or pixels is None or pixels.size == 0:
        return FILE_WINDOW
    step = max(1, int(math.sqrt(pixels.size / 65536)))  # a subsample is plenty for percentiles
    sample = pixels[::step, ::step]
    if name == "Full range":
        lo, hi = float(sample.min()), float(sample.max())
    elif name == "Bone":
        lo, hi = (float(v) for v in np.percentile(sample, (50.0, 99.5)))
    else:
        raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    return (lo + hi) / 2, max(hi - lo, 1.0)


def cache_scale(row: ImageRow) -> tuple[float, float]:
    """(x, y) source pixels per cached pixel."""
    sx = row.width / row.cache_width if row.cache_width else 1.0
    sy = row.height / row.cache_height if row.cache_height else 1.0
    return sx, sy


def box_to_source(row: ImageRow, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    """A cached-pixel box (x0, y0, x1, y1) in source pixels, clipped to the image."""
    sx, sy = cache_scale(row)
    x0, y0, x1, y1 = box
    return (min(max(x0 * sx, 0.0), row.width), min(max(y0 * sy, 0.0), row.height),
            min(max(x1 * sx, 0.0), row.width), min(max(y1 * sy, 0.0), row.height))


def box_to_cache(row: ImageRow, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    sx, sy = cache_scale(row)
    x0, y0, x1, y1 = box
    return x0 / sx, y0 / sy, x1 / sx, y1 / sy


def length_text(row: ImageRow, dx: float, dy: float) -> str:
    """A cached-pixel distance as millimetres (pixel spacing known) or source pixels."""
    sx, sy = cache_scale(row)
    dx_src, dy_src = dx * sx, dy * sy
    if row.pixel_spacing_col and row.pixel_spacing_row:
        return f"{math.hypot(dx_src * row.pixel_spacing_col, dy_src * row.pixel_spacing_row):.1f} mm"
    return f"{math.hypot(dx_src, dy_src):.0f} px (no pixel spacing)"


def metadata_lines(row: ImageRow) -> list[str]:
    """The overlay's text: patient, study date, view, side, pixel spacing, size."""
    side = {"L": "left", "R": "right"}.get(row.laterality or "", "side ?")
    date = row.study_date or "date ?"
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    if row.pixel_spacing_row and row.pixel_spacing_col:
        spacing = f"{row.pixel_spacing_row:.3g} × {row.pixel_spacing_col:.3g} mm/px"
    else:
        spacing = "pixel spacing ?"
    return [f"<b>{esc(row.patient_key)}</b>", f"{esc(date)} · {esc(row.view or 'view ?')} · {side}",
            spacing, f"#{row.id} · source {row.width}×{row.height}"]


def esc(value) -> str:
    """``value`` as text safe inside a rich-text label: a patient ID ``<img src=x>`` reads as typed."""
    return html.escape(str(value), quote=False)


def plain_tooltip(text: str) -> str:
    """A tooltip that shows ``text`` literally (Qt renders a tooltip that looks like HTML as HTML)."""
    return "<qt><p style='white-space:pre'>" + esc(text).replace("\n", "<br>") + "</p></qt>"
