"""Import: DICOM (uncompressed and compressed), PNG, TIFF and JPEG into a project.

``import_sources`` walks source folders, decodes each new file once on all
cores into the project's pixel cache, and stores its metadata; ``read_image``
decodes one file with the same display chain a DICOM viewer uses.
"""

from engine.io._csv import CsvError, CsvTable, read_csv
from engine.io._decoded import DecodedImage, ImageMeta, ImageReadError
from engine.io._manifest import Manifest, ManifestEntry, ManifestError, read_manifest
from engine.io._pipeline import import_sources
from engine.io._reader import SUFFIXES, read_image
from engine.io._rebuild import RebuildReport, rebuild_cache
from engine.io._report import ImportReport
from engine.io._resample import cache_pixels, target_shape, thumbnail
from engine.io._rules import ImportSetupError, PatientRule
from engine.io._window import Display, Modality, VoiTable, Window
from engine.store import fs_path, safe_text, stored_path

__all__ = [
    "SUFFIXES",
    "CsvError",
    "CsvTable",
    "DecodedImage",
    "Display",
    "ImageMeta",
    "ImageReadError",
    "ImportReport",
    "ImportSetupError",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "Modality",
    "PatientRule",
    "RebuildReport",
    "VoiTable",
    "Window",
    "cache_pixels",
    "fs_path",
    "import_sources",
    "read_csv",
    "read_image",
    "read_manifest",
    "rebuild_cache",
    "safe_text",
    "stored_path",
    "target_shape",
    "thumbnail",
]
