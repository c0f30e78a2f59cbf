"""A planted shortcut: a burned-in site marker that goes with the label but not the fracture.

Pooled multi-hospital cohorts carry such cues: one site stamps its name into the
corner of every image and sends mostly AFF cases. ``shortcut="marker"`` stamps a
small text-like glyph (``RAD2`` in a 5x7 block font, white on a black plate, as
burned-in annotations are) in the top-left corner of an exact share of AFF and of NFF
images. Everything else is the study without the shortcut, pixel for pixel, so a
clean and a shortcut study of the same seed differ only inside the recorded boxes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.phantom._acquire import MAX_VALUE
from engine.phantom._config import PhantomConfig
from engine.phantom._layout import layout
from engine.phantom._specs import ImageSpec, PatientPlan

SHORTCUT_KEY = 3                 # SeedSequence spawn key of the shortcut's own draws
TEXT = "RAD2"
_FONT = {                        # 5x7, '#' = ink
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
}
ROI_CLEARANCE_MM = 3.0


def glyph() -> np.ndarray:
    """The marker's cells: ``TEXT`` with one-cell spacing and a one-cell plate border
    (bool, True = ink); 9 rows by ``6 * len(TEXT) + 1`` columns."""
    rows = ["." + ".".join(_FONT[c][r] for c in TEXT) + "." for r in range(7)]
    blank = "." * len(rows[0])
    return np.array([[ch == "#" for ch in row] for row in [blank, *rows, blank]], bool)


def cell_px(width: int) -> int:
    """Pixels per glyph cell: the marker is about 15% of the image width."""
    return max(1, int(0.15 * width / glyph().shape[1]))


def marker_region(height: int, width: int) -> tuple[int, int, int, int]:
    """The corner region ``(x0, y0, x1, y1)`` (exclusive) that holds every marker box of
    a ``height`` x ``width`` image, whatever its jitter."""
    g, c = glyph(), cell_px(width)
    x0, y0 = round(0.025 * width), round(0.02 * height)
    return x0, y0, x0 + (g.shape[1] + 2) * c, y0 + (g.shape[0] + 2) * c


def _box(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
    g, c = glyph(), cell_px(width)
    rx0, ry0, _, _ = marker_region(height, width)
    x0, y0 = rx0 + int(rng.integers(0, 2 * c + 1)), ry0 + int(rng.integers(0, 2 * c + 1))
    return x0, y0, x0 + g.shape[1] * c, y0 + g.shape[0] * c


def _clear_of_roi(spec: ImageSpec, box) -> bool:
    x0, y0, x1, y1 = layout(spec).roi
    m = ROI_CLEARANCE_MM / spec.spacing
    return box[2] <= x0 - m or box[0] >= x1 + m or box[3] <= y0 - m or box[1] >= y1 + m


def plant(config: PhantomConfig, plans: tuple[PatientPlan, ...]) -> tuple[PatientPlan, ...]:
    """Give ``round(share * n)`` of each label's images a ``site_marker`` box, chosen at
    random among those whose ROI stays clear of it (all of them, in practice); the
    other draws of the study are untouched (the shortcut has its own seed stream)."""
    if config.shortcut != "marker":
        return plans
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(SHORTCUT_KEY,)))
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for label, share in (("AFF", config.shortcut_aff_share), ("NFF", config.shortcut_nff_share)):
        specs = [s for p in plans if p.label == label for s in p.images]
        want, got = int(round(share * len(specs))), 0
        for k in rng.permutation(len(specs)):
            if got >= want:
                break
            spec = specs[int(k)]
            box = _box(rng, spec.height, spec.width)
            if _clear_of_roi(spec, box):
                boxes[(spec.patient_index, spec.image_index)] = box
                got += 1

    def mark(spec: ImageSpec) -> ImageSpec:
        box = boxes.get((spec.patient_index, spec.image_index))
        if box is None:
            return spec
        return dataclasses.replace(
            spec, acquisition=dataclasses.replace(spec.acquisition, site_marker=box))

    return tuple(dataclasses.replace(p, images=tuple(mark(s) for s in p.images)) for p in plans)


def stamp(pixels: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Burn the glyph into display ``pixels`` (bone bright) at ``box``, in place."""
    x0, y0, x1, y1 = box
    cells = glyph()
    c = (x1 - x0) // cells.shape[1]
    ink = np.kron(cells, np.ones((c, c), bool))
    pixels[y0:y1, x0:x1] = np.where(ink, MAX_VALUE, 0).astype(pixels.dtype)
