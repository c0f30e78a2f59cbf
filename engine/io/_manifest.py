"""The import manifest: a CSV with one row per image file.

Columns: ``path`` (required; relative to the manifest's folder, or absolute),
``patient_id``, ``label``, ``view``, ``laterality``, ``roi_x0``, ``roi_y0``,
``roi_x1``, ``roi_y1`` (source pixels), and optionally ``site_marker_x0`` ..
``site_marker_y1`` (a planted site marker's box, written by ``affengine phantom
--shortcut marker``; stored as a ROI row with source ``site_marker``, apart from the
fracture ROIs). Other columns are ignored; header
names are matched without regard to case or surrounding spaces. The file is
read by :func:`engine.io.read_csv` (encodings, delimiters, quoting: docs/import.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.io._csv import CsvError, read_csv
from engine.io._rules import ImportSetupError, parse_label, parse_side, parse_view

ROI_COLUMNS = ("roi_x0", "roi_y0", "roi_x1", "roi_y1")
SITE_MARKER_COLUMNS = ("site_marker_x0", "site_marker_y0", "site_marker_x1", "site_marker_y1")


class ManifestError(ImportSetupError):
    """A manifest that cannot be used at all (missing, unreadable, no ``path`` column)."""


@dataclass(frozen=True)
class ManifestEntry:
    """One valid manifest row; ``where`` is ``"<manifest>:<line>"`` for messages."""

    path: str
    where: str
    patient_id: str | None = None
    label: str | None = None
    view: str | None = None
    laterality: str | None = None
    roi: tuple[float, float, float, float] | None = None
    site_marker: tuple[float, float, float, float] | None = None


@dataclass
class Manifest:
    """A parsed manifest: valid rows by absolute file path, and the problems found.

    ``errors`` are ``("<manifest>:<line>", reason)``; ``blocked`` holds the
    files whose row is invalid: they are not imported until the row is fixed.
    """

    path: Path
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def _roi(row: dict[str, str], columns: tuple[str, ...] = ROI_COLUMNS,
         what: str = "ROI") -> tuple[float, float, float, float] | None:
    texts = [row.get(c, "").strip() for c in columns]
    if not any(texts):
        return None
    values = []
    for column, text in zip(columns, texts, strict=True):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"bad {what}: {column}={text!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"bad {what}: {column}={text!r} must be a number >= 0")
        values.append(value)
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"bad {what}: empty box ({x0:g}, {y0:g}, {x1:g}, {y1:g}); "
                         f"need {columns[2]} > {columns[0]} and {columns[3]} > {columns[1]}")
    return x0, y0, x1, y1


def _rows(path: Path, manifest: Manifest):
    """(line number, row dict with lower-case keys) of every data row."""
    try:
        table = read_csv(path, "manifest")
    except CsvError as exc:
        raise ManifestError(str(exc)) from None
    if "path" not in table.header:
        raise ManifestError(
            f"{path}: manifest has no 'path' column (columns: {', '.join(table.header)})")
    manifest.warnings += table.warnings
    return list(table.dicts())


def read_manifest(path: str | Path) -> Manifest:
    """Parse and check a manifest; raises ManifestError when it cannot be used at all.

    Bad rows do not raise: each is listed in ``errors`` with the manifest file
    and line number, and skipped.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    manifest = Manifest(path)
    first_row: dict[str, int] = {}
    for line, row in _rows(path, manifest):
        where = f"{path}:{line}"
        text = row.get("path", "").strip()
        if not text:
            manifest.errors.append((where, "empty path"))
            continue
        file = Path(text).expanduser()
        file = Path(os.path.abspath(file if file.is_absolute() else path.parent / file))
        key = str(file)
        if key in first_row:
            manifest.errors.append(
                (where, f"duplicate path {text!r} (first in line {first_row[key]}); row ignored"))
            continue
        first_row[key] = line
        if not file.is_file():
            manifest.errors.append((where, f"file not found: {text}"))
            continue
        try:
            entry = ManifestEntry(
                path=key, where=where, patient_id=row.get("patient_id", "").strip() or None,
                label=parse_label(row.get("label", "")), view=parse_view(row.get("view", "")),
                laterality=parse_side(row.get("laterality", "")), roi=_roi(row),
                site_marker=_roi(row, SITE_MARKER_COLUMNS, "site marker"))
        except ValueError as exc:
            manifest.errors.append((where, f"{exc}; {text} not imported"))
            manifest.blocked.add(key)
            continue
        manifest.entries[key] = entry
    return manifest
