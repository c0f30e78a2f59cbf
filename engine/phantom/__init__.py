"""A synthetic femur radiograph study (AFF vs NFF) with ground truth, for tests and demos.

``generate(out_dir, PhantomConfig(...))`` writes DICOM files and a manifest; ``plan_study``
samples every patient and image without pixels; ``render_image`` renders one image in
memory with its ground-truth geometry. See ``docs/phantom.md``.
"""

from engine.phantom._acquire import MAX_VALUE
from engine.phantom._config import (
    CONFOUNDS,
    FULL_HEIGHT,
    FULL_WIDTH,
    SHORTCUTS,
    TRANSFER_SYNTAXES,
    PhantomConfig,
    PhantomError,
)
from engine.phantom._dicom import png_values, write_dicom, write_png
from engine.phantom._generate import CONFIG_NAME, PhantomStudy, generate, relative_paths
from engine.phantom._layout import ImageGeometry, layout
from engine.phantom._manifest import (
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    REQUIRED_COLUMNS,
    ManifestRow,
    read_manifest,
)
from engine.phantom._masking import band_half_mm, roi_band
from engine.phantom._montage import contact_sheet
from engine.phantom._render import PhantomImage, render_image
from engine.phantom._sampling import plan_study
from engine.phantom._specs import Acquisition, Femur, Fracture, ImageSpec, PatientPlan

__all__ = [
    "CONFIG_NAME",
    "CONFOUNDS",
    "FULL_HEIGHT",
    "FULL_WIDTH",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "MAX_VALUE",
    "REQUIRED_COLUMNS",
    "SHORTCUTS",
    "TRANSFER_SYNTAXES",
    "Acquisition",
    "Femur",
    "Fracture",
    "ImageGeometry",
    "ImageSpec",
    "ManifestRow",
    "PatientPlan",
    "PhantomConfig",
    "PhantomError",
    "PhantomImage",
    "PhantomStudy",
    "band_half_mm",
    "contact_sheet",
    "generate",
    "layout",
    "plan_study",
    "png_values",
    "read_manifest",
    "relative_paths",
    "render_image",
    "roi_band",
    "write_dicom",
    "write_png",
]
