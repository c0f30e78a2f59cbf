"""Writing rendered images as DICOM (CR or DX, several transfer syntaxes) and 16-bit PNG."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.encoders import RLELosslessEncoder
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from engine.phantom._render import MAX_VALUE, PhantomImage

SYNTAX_UIDS = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg2000": JPEG2000Lossless,
}
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"          # Digital X-Ray, For Presentation
_RLE_PLUGIN = "pylibjpeg" if "pylibjpeg" in RLELosslessEncoder.available_plugins else "pydicom"


def _ds(x: float) -> str:
    return f"{x:.6g}"


def phantom_uid(image: PhantomImage, *parts: str) -> str:
    """A UID under pydicom's root, fixed by the seed, patient and ``parts``."""
    s = image.spec
    return generate_uid(entropy_srcs=["aff-workbench-phantom", str(s.seed), s.patient_id, *parts])


def window_tags(image: PhantomImage) -> tuple[float, float]:
    """The display window expressed in the file's modality units."""
    a = image.spec.acquisition
    centre, width = image.window
    if a.photometric == "MONOCHROME1":
        centre = MAX_VALUE - centre
    slope, intercept = a.rescale or (1.0, 0.0)
    return slope * centre + intercept, slope * width


def dataset(image: PhantomImage) -> Dataset:
    """The uncompressed dataset (Explicit VR Little Endian) of one image."""
    spec, a = image.spec, image.spec.acquisition
    dx = a.modality == "DX"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if dx else ["ORIGINAL", "PRIMARY", ""]
    ds.SOPClassUID = DX_STORAGE if dx else CR_STORAGE
    ds.SOPInstanceUID = phantom_uid(image, "instance", str(spec.image_index))
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    time = f"{8 + spec.image_index % 9:02d}{(spec.patient_index * 7) % 60:02d}00"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = spec.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AccessionNumber = f"PA{spec.patient_index + 1:06d}{spec.study_date[2:]}"[:16]
    ds.Modality = a.modality
    ds.Manufacturer = "AFF Workbench"
    ds.ManufacturerModelName = "engine.phantom"
    ds.InstitutionName = "Synthetic phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "FEMUR"
    ds.SeriesDescription = f"Femur {spec.view} {spec.laterality}"
    ds.PatientName = f"PHANTOM^{spec.patient_id}"
    ds.PatientID = spec.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.BodyPartExamined = "FEMUR"
    ds.ViewPosition = "AP" if spec.view == "AP" else "LL"
    if dx:
        ds.ImageLaterality = spec.laterality
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = 1 if a.photometric == "MONOCHROME1" else -1
    else:
        ds.Laterality = spec.laterality
    across = {"AP": "L", "lateral": "A"}[spec.view] if spec.feature_side > 0 else {
        "AP": "L", "lateral": "P"}[spec.view]
    ds.PatientOrientation = [across, "F"]
    ds.StudyInstanceUID = phantom_uid(image, "study", spec.study_date)
    ds.SeriesInstanceUID = phantom_uid(image, "series", str(spec.image_index))
    ds.StudyID = "1"
    ds.SeriesNumber = spec.image_index + 1
    ds.InstanceNumber = 1
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.ImageComments = "Synthetic AFF Workbench phantom, not a patient"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = a.photometric
    ds.Rows, ds.Columns = image.pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    spacing = _ds(spec.spacing)
    ds.PixelSpacing = [spacing, spacing]
    ds.ImagerPixelSpacing = [spacing, spacing]
    if a.rescale is not None:
        ds.RescaleIntercept = _ds(a.rescale[1])
        ds.RescaleSlope = _ds(a.rescale[0])
        ds.RescaleType = "US"
    centre, width = window_tags(image)
    ds.WindowCenter = _ds(centre)
    ds.WindowWidth = _ds(width)
    ds.VOILUTFunction = "LINEAR"
    ds.PixelData = np.ascontiguousarray(image.stored(), dtype="<u2").tobytes()
    return ds


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_dicom(image: PhantomImage, path: str | os.PathLike,
                transfer_syntax: str | None = None) -> Path:
    """Write ``image`` with its own (or the given) transfer syntax; returns the path."""
    path = Path(path)
    name = transfer_syntax or image.spec.acquisition.transfer_syntax
    ds = dataset(image)
    uid = SYNTAX_UIDS[name]
    if name == "implicit":
        ds.file_meta.TransferSyntaxUID = uid
    elif uid.is_compressed:
        plugin = _RLE_PLUGIN if name == "rle" else "pylibjpeg"
        ds.compress(uid, image.stored(), encoding_plugin=plugin, generate_instance_uid=False)
    _atomic(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))
    return path


def png_values(image: PhantomImage) -> np.ndarray:
    """Display values scaled to 16 bits by bit replication (v * 65535 / 4095, exact)."""
    p = image.pixels.astype(np.uint16)
    return (p << 4) | (p >> 8)


def write_png(image: PhantomImage, path: str | os.PathLike) -> Path:
    """A 16-bit greyscale PNG of the display values (bone bright, never inverted)."""
    path = Path(path)
    img = Image.fromarray(png_values(image))
    _atomic(path, lambda tmp: img.save(tmp, format="PNG", compress_level=1))
    return path
