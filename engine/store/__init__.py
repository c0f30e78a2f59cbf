"""Project folders: the SQLite store (images, patients, labels, ROIs) and the pixel cache."""

from engine.store._cache import CACHE_SIDE, THUMB_SIDE, ImageCache
from engine.store._hash import HASH_ALGO, content_hash, hash_matches, legacy_hash
from engine.store._health import DamagedProject
from engine.store._images import (
    LABELS,
    LATERALITIES,
    UNLABELLED,
    VIEWS,
    ImageFilter,
    ImageRecord,
    ImageRow,
    ImageTable,
    check_label,
)
from engine.store._labels import SOURCES, LabelBook, LabelChange, NothingToUndo, UndoConflict
from engine.store._names import csv_cell, fs_path, safe_text, stored_path
from engine.store._project import SCHEMA_VERSION, Project, ProjectError, utc_now
from engine.store._rois import SITE_MARKER_SOURCE, Roi, RoiTable

__all__ = [
    "CACHE_SIDE",
    "HASH_ALGO",
    "LABELS",
    "LATERALITIES",
    "SCHEMA_VERSION",
    "SOURCES",
    "THUMB_SIDE",
    "UNLABELLED",
    "VIEWS",
    "UndoConflict",
    "DamagedProject",
    "ImageCache",
    "ImageFilter",
    "ImageRecord",
    "ImageRow",
    "ImageTable",
    "LabelBook",
    "LabelChange",
    "NothingToUndo",
    "Project",
    "ProjectError",
    "Roi",
    "SITE_MARKER_SOURCE",
    "RoiTable",
    "check_label",
    "content_hash",
    "csv_cell",
    "fs_path",
    "hash_matches",
    "legacy_hash",
    "safe_text",
    "stored_path",
    "utc_now",
]
