"""Canonical orientation: every femur shown with its lateral cortex on the image left.

An AFF starts in the lateral cortex, so a model should always find it on the same side; random
horizontal flips then throw that away and are off. The side comes from, in this order:

1. the image's laterality in the project (``images.laterality``: DICOM ImageLaterality, else
   Laterality, else the manifest's ``laterality`` column; see docs/import.md). Radiographs are
   displayed with the patient's right on the image left (AP) and the same hanging convention for
   the lateral view, so a **right** femur already has its lateral (AP) / anterior (lateral view)
   cortex on the image left and is kept; a **left** femur is mirrored.
2. otherwise the image itself: the lead L/R side marker, read from the cached pixels
   (:func:`~engine.train._orientation_image.marker_side`, which says how, and why the femoral
   head is not used). It decides only when the glyph is unambiguous;
3. otherwise the image is left as it is and counted as "orientation unknown" (run config,
   report): a wrong mirror is worse than none. docs/training.md says how to supply the side
   (manifest ``laterality`` column).

``orientation="as-is"`` (RunSpec) keeps every image as stored and the random flips on: the
behaviour before canonical orientation existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.train._orientation_image import marker_side

if TYPE_CHECKING:
    from engine.store import Project

ORIENTATIONS = ("canonical", "as-is")


@dataclass(frozen=True)
class OrientationPlan:
    """Per image: mirror it or not, and how its side was decided.

    ``source`` is ``laterality`` (project), ``marker`` (read from the image) or ``unknown``.
    """

    image_ids: np.ndarray
    mirror: np.ndarray
    source: np.ndarray

    def counts(self) -> dict:
        return {"images": int(len(self.image_ids)), "mirrored": int(self.mirror.sum()),
                "from_laterality": int((self.source == "laterality").sum()),
                "from_marker": int((self.source == "marker").sum()),
                "unknown": int((self.source == "unknown").sum())}


def orientation_plan(project: Project, image_ids) -> OrientationPlan:
    """Which of ``image_ids`` to mirror for canonical orientation, and why (see the module notes)."""
    ids = np.asarray(image_ids, dtype=np.int64)
    rows = {r.id: r for r in project.images.list(order="id")}
    mirror = np.zeros(len(ids), dtype=bool)
    source = np.full(len(ids), "unknown", dtype=object)
    unsided = [rows[i].sha256 for i in ids.tolist() if rows[i].laterality not in ("L", "R")]
    marker = _marker_sides(project, unsided) if unsided else {}
    for k, i in enumerate(ids.tolist()):
        row = rows[i]
        side, how = row.laterality, "laterality"
        if side not in ("L", "R"):
            side, how = marker.get(row.sha256), "marker"
        if side in ("L", "R"):
            mirror[k], source[k] = side == "L", how
    return OrientationPlan(ids, mirror, source.astype(str))


MARKER_CACHE = "marker_sides.json"  # in the project's cache/: sha256 -> "L" | "R" | "" (undecided)
_READ_HEIGHT = 512  # the marker is read at about this height (verified from 256 to 1024 px)


def _read_side(pixels: np.ndarray) -> str | None:
    f = int(pixels.shape[0] // _READ_HEIGHT)
    if f >= 2:  # block mean: a quarter of the work per halving, the letter still ~20 px high
        h, w = (pixels.shape[0] // f) * f, (pixels.shape[1] // f) * f
        pixels = np.asarray(pixels[:h, :w], np.float32).reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    return marker_side(pixels)


def _marker_sides(project: Project, shas: list[str]) -> dict[str, str | None]:
    """The marker's side for each image content hash (None: not decisive or no cached pixels).

    Results are kept in ``cache/marker_sides.json`` (rebuildable like the rest of the cache), so
    a study's R x K x S runs read each image once, not once per run.
    """
    import json
    import os

    path = Path(project.cache_dir) / MARKER_CACHE
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    new = {}
    for sha in shas:
        if sha in known or sha in new:
            continue
        try:
            pixels = project.cache.load_full(sha)
        except (OSError, ValueError):
            continue  # no pixels now: try again next time
        new[sha] = _read_side(np.asarray(pixels)) or ""
    if new:
        known.update(new)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(known), encoding="utf-8")
            os.replace(tmp, path)  # atomic; a concurrent writer's entries are only recomputed
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only project still gets its answer
    return {sha: (known.get(sha) or None) for sha in shas}


def run_mirror(project: Project, spec, image_ids) -> np.ndarray | None:
    """The mirror flags a run with ``spec`` (a RunSpec) used for ``image_ids``; None for ``as-is`` runs.

    Explanations feed the model its canonical images and flip the maps of mirrored images back,
    so heatmaps stay in the stored image's coordinates (ROIs and overlays need no change).
    """
    if getattr(spec, "orientation", "as-is") != "canonical":
        return None
    return orientation_plan(project, image_ids).mirror


def unmirror_maps(maps: np.ndarray, mirror: np.ndarray | None) -> np.ndarray:
    """``maps`` (N, h, w) with the mirrored images' maps flipped back left-right."""
    if mirror is None or not np.any(mirror):
        return maps
    out = np.array(maps, copy=True)
    out[mirror] = out[mirror][..., ::-1]
    return out
