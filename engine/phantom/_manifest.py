"""The manifest CSV: one row per image, the columns ``engine.io`` imports first."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from engine.phantom._render import PhantomImage

MANIFEST_NAME = "manifest.csv"
REQUIRED_COLUMNS = ("path", "patient_id", "label", "view", "laterality",
                    "roi_x0", "roi_y0", "roi_x1", "roi_y1")


@dataclass(frozen=True)
class ManifestRow:
    """One image of a phantom study; the first nine fields are the import contract."""

    path: str                  # relative to the manifest's folder, '/'-separated
    patient_id: str
    label: str                 # AFF | NFF
    view: str                  # AP | lateral
    laterality: str            # L | R
    roi_x0: int
    roi_y0: int
    roi_x1: int                # exclusive
    roi_y1: int                # exclusive
    complete: bool
    fracture_type: str         # transverse | oblique | spiral | comminuted
    fracture_angle_deg: float  # main line vs the perpendicular to the shaft axis
    fracture_level_mm: float   # from the top of the femoral head, along the shaft
    entry_x: float             # where the line leaves the lateral cortex, pixels
    entry_y: float
    lateral_side: str          # image side (left | right) of the lateral/anterior cortex
    beak_mm: float
    fragments: int             # comminution: fragments besides the two main ones
    displacement_mm: float
    angulation_deg: float
    pixel_spacing_mm: float
    modality: str
    photometric: str
    transfer_syntax: str
    implant: str
    ruler: bool
    study_date: str
    difficulty: float
    png_path: str              # '' unless PNG copies were written
    site_marker_x0: int | None = None   # the planted site marker's box ([x0, x1) x [y0, y1),
    site_marker_y0: int | None = None   # pixels); all four empty when the image has none
    site_marker_x1: int | None = None
    site_marker_y1: int | None = None


MANIFEST_COLUMNS = tuple(f.name for f in dataclasses.fields(ManifestRow))
SITE_MARKER_COLUMNS = ("site_marker_x0", "site_marker_y0", "site_marker_x1", "site_marker_y1")
_TYPES = {f.name: f.type for f in dataclasses.fields(ManifestRow)}


def manifest_row(image: PhantomImage, path: str, png_path: str = "") -> ManifestRow:
    s, fx, a, g = image.spec, image.spec.fracture, image.spec.acquisition, image.geometry
    x0, y0, x1, y1 = g.roi
    return ManifestRow(
        path=path, patient_id=s.patient_id, label=s.label, view=s.view,
        laterality=s.laterality, roi_x0=x0, roi_y0=y0, roi_x1=x1, roi_y1=y1,
        complete=fx.complete, fracture_type=fx.kind,
        fracture_angle_deg=round(fx.angle_deg, 3), fracture_level_mm=round(fx.level, 2),
        entry_x=round(g.entry[0], 2), entry_y=round(g.entry[1], 2),
        lateral_side=g.lateral_side, beak_mm=round(fx.beak, 3), fragments=fx.fragments,
        displacement_mm=round(math.hypot(fx.shift, fx.shortening), 2),
        angulation_deg=round(abs(fx.angulation_deg), 2),
        pixel_spacing_mm=round(s.spacing, 6), modality=a.modality, photometric=a.photometric,
        transfer_syntax=a.transfer_syntax, implant=a.implant, ruler=a.ruler >= 0,
        study_date=s.study_date, difficulty=s.difficulty, png_path=png_path,
        **site_marker_columns(a.site_marker),
    )


def site_marker_columns(box: tuple[int, int, int, int] | None) -> dict[str, int | None]:
    """The manifest's ``site_marker_*`` values of ``box`` (all None for no marker)."""
    values = box if box is not None else (None,) * 4
    return dict(zip(SITE_MARKER_COLUMNS, values, strict=True))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _parse(name: str, text: str):
    kind = _TYPES[name]
    if kind == "bool":
        return text == "1"
    if kind == "int":
        return int(text)
    if kind == "int | None":
        return int(text) if text else None
    if kind == "float":
        return float(text)
    return text


def write_manifest(path: Path, rows) -> None:
    """Write the CSV atomically, so a manifest on disk always describes a finished study."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([_text(getattr(row, c)) for c in MANIFEST_COLUMNS])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(path: str | os.PathLike) -> tuple[ManifestRow, ...]:
    """Rows of a manifest written by :func:`generate`."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        optional = set(SITE_MARKER_COLUMNS)    # manifests from before the shortcut lack them
        missing = [c for c in MANIFEST_COLUMNS
                   if c not in (reader.fieldnames or ()) and c not in optional]
        if missing:
            raise ValueError(f"{path}: not a phantom manifest (missing {', '.join(missing)})")
        return tuple(ManifestRow(**{c: _parse(c, r.get(c) or "") for c in MANIFEST_COLUMNS})
                     for r in reader)
