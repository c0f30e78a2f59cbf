"""The import manifest: a CSV with one row per image file.

Columns: ``path`` (required; relative to the manifest's folder, or absolute),
``patient_id``, ``label``, ``view``, ``laterality``, ``roi_x0``, ``roi_y0``,
``roi_x1``, ``roi_y1`` (source pixels). Other columns are ignored; header
names are matched without regard to case or surrounding spaces.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.io._rules import ImportSetupError, parse_label, parse_side, parse_view

ROI_COLUMNS = ("roi_x0", "roi_y0", "roi_x1", "roi_y1")


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


def _roi(row: dict[str, str]) -> tuple[float, float, float, float] | None:
    texts = [row.get(c, "").strip() for c in ROI_COLUMNS]
    if not any(texts):
        return None
    values = []
    for column, text in zip(ROI_COLUMNS, texts, strict=True):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"bad ROI: {column}={text!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"bad ROI: {column}={text!r} must be a number >= 0")
        values.append(value)
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"bad ROI: empty box ({x0:g}, {y0:g}, {x1:g}, {y1:g}); "
                         "need roi_x1 > roi_x0 and roi_y1 > roi_y0")
    return x0, y0, x1, y1


def _rows(path: Path):
    """(line number, row dict with lower-case keys) of every data row."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot open manifest: {exc.strerror or exc}") from None
    with fh:
        try:
            head = fh.read(64 * 1024)
            fh.seek(0)
            if not head.strip():
                raise ManifestError(f"{path}: manifest is empty (no header row)")
            try:
                dialect = csv.Sniffer().sniff(head.splitlines()[0], delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(fh, dialect, strict=True)
            header = [h.strip().lower() for h in next(reader)]
            if "path" not in header:
                raise ManifestError(
                    f"{path}: manifest has no 'path' column (columns: {', '.join(header)})")
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                row = {h: v for h, v in zip(header, values, strict=False) if h}
                yield reader.line_num, row
        except UnicodeDecodeError:
            raise ManifestError(f"{path}: manifest is not UTF-8 text") from None
        except csv.Error as exc:
            raise ManifestError(f"{path}: line {reader.line_num}: {exc}") from None


def read_manifest(path: str | Path) -> Manifest:
    """Parse and check a manifest; raises ManifestError when it cannot be used at all.

    Bad rows do not raise: each is listed in ``errors`` with the manifest file
    and line number, and skipped.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    manifest = Manifest(path)
    first_row: dict[str, int] = {}
    for line, row in list(_rows(path)):
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
                laterality=parse_side(row.get("laterality", "")), roi=_roi(row))
        except ValueError as exc:
            manifest.errors.append((where, f"{exc}; {text} not imported"))
            manifest.blocked.add(key)
            continue
        manifest.entries[key] = entry
    return manifest
