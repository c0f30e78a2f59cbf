"""Write small DICOM, PNG, TIFF and JPEG files for the import tests.

Every compressed transfer syntax is encoded with imagecodecs (JPEG, JPEG-LS,
JPEG 2000) or pydicom's own RLE encoder, then wrapped with
``pydicom.encaps.encapsulate``, so the import decodes what a modality would send.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
ECG_12_LEAD = "1.2.840.10008.5.1.4.1.1.9.1.1"

#: name -> (transfer syntax, lossless?)
SYNTAXES: dict[str, tuple[UID, bool]] = {
    "explicit": (ExplicitVRLittleEndian, True),
    "implicit": (ImplicitVRLittleEndian, True),
    "big_endian": (ExplicitVRBigEndian, True),
    "deflated": (DeflatedExplicitVRLittleEndian, True),
    "rle": (RLELossless, True),
    "jpeg_baseline": (JPEGBaseline8Bit, False),
    "jpeg_extended": (JPEGExtended12Bit, False),
    "jpeg_lossless": (JPEGLosslessSV1, True),
    "jpeg_lossless_p14": (JPEGLossless, True),
    "jpegls": (JPEGLSLossless, True),
    "jpegls_near": (JPEGLSNearLossless, False),
    "j2k_lossless": (JPEG2000Lossless, True),
    "j2k": (JPEG2000, False),
}


def femur_like(height: int = 96, width: int = 80, bits: int = 12, seed: int = 0) -> np.ndarray:
    """A smooth unsigned test picture using the full ``bits`` range (a bright 'bone' band)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    top = 2**bits - 1
    img = 0.15 + 0.1 * y / height + 0.6 * np.exp(-(((x - width / 2) / (width / 7)) ** 2))
    img += rng.normal(0, 0.01, img.shape)
    img = np.clip(img, 0, 1) * top
    img[0, 0], img[-1, -1] = 0, top
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.round(img).astype(dtype)


def _base(sop_class: str, patient_id: str | None, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.Modality = modality
    ds.StudyDate = "20240102"
    return ds


def image_dataset(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    signed: bool = False,
    rescale: tuple[float, float] | None = None,
    window: tuple | None = None,
    voi_function: str | None = None,
    voi_lut: tuple[int, int, np.ndarray] | None = None,
    modality_lut: tuple[int, int, np.ndarray] | None = None,
    patient_id: str | None = "P001",
    view: str | None = "AP",
    laterality: str | None = "L",
    pixel_spacing: tuple[float, float] | None = (0.15, 0.15),
    imager_spacing: tuple[float, float] | None = None,
    modality: str = "DX",
    sop_class: str = DX_STORAGE,
) -> Dataset:
    """An uncompressed single- or multi-frame grayscale (or RGB) image dataset.

    ``pixels`` is (rows, cols), (frames, rows, cols) or (rows, cols, 3) for RGB.
    ``window`` is (center, width) or ([centers], [widths]); ``voi_lut`` and
    ``modality_lut`` are (first mapped value, bits, table).
    """
    ds = _base(sop_class, patient_id, modality)
    rgb = photometric == "RGB"
    frames = pixels.shape[0] if pixels.ndim == 3 and not rgb else 1
    rows, cols = (pixels.shape[:2] if rgb else pixels.shape[-2:])
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3 if rgb else 1
    if rgb:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PhotometricInterpretation = photometric
    allocated = pixels.dtype.itemsize * 8
    ds.BitsAllocated = allocated
    ds.BitsStored = bits_stored or allocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if modality_lut is not None:
        first, bits, table = modality_lut
        item = Dataset()
        item.LUTDescriptor = [len(table), first, bits]
        item.ModalityLUTType = "US"
        item.add_new("LUTData", "US", [int(v) for v in table])
        ds.ModalityLUTSequence = Sequence([item])
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_function is not None:
        ds.VOILUTFunction = voi_function
    if voi_lut is not None:
        first, bits, table = voi_lut
        item = Dataset()
        item.LUTDescriptor = [len(table), first, bits]
        item.add_new("LUTData", "US", [int(v) for v in table])
        ds.VOILUTSequence = Sequence([item])
    if view is not None:
        ds.ViewPosition = view
    if laterality is not None:
        ds.ImageLaterality = laterality
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return ds


def _encode_frame(frame: np.ndarray, name: str, bits: int) -> bytes:
    if name == "jpeg_baseline":
        return imagecodecs.jpeg8_encode(frame, level=95)
    if name == "jpeg_extended":
        return imagecodecs.jpeg8_encode(frame, level=95, bitspersample=12)
    if name == "jpeg_lossless":
        return imagecodecs.jpeg8_encode(frame, lossless=True, predictor=1, bitspersample=bits)
    if name == "jpeg_lossless_p14":  # process 14 with another predictor than SV1's
        return imagecodecs.jpeg8_encode(frame, lossless=True, predictor=6, bitspersample=bits)
    if name == "jpegls":
        return imagecodecs.jpegls_encode(frame, level=0)
    if name == "jpegls_near":
        return imagecodecs.jpegls_encode(frame, level=2)
    if name == "j2k_lossless":
        return imagecodecs.jpeg2k_encode(frame, codecformat="J2K", reversible=True,
                                         bitspersample=bits)
    if name == "j2k":
        return imagecodecs.jpeg2k_encode(frame, level=45, codecformat="J2K", reversible=False,
                                         bitspersample=bits)
    raise ValueError(f"unknown syntax {name!r}")


def write_dicom(path: str | Path, pixels: np.ndarray, syntax: str = "explicit",
                preamble: bool = True, **kw) -> Path:
    """Write ``pixels`` as a DICOM file in transfer syntax ``syntax`` (a key of SYNTAXES)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = image_dataset(pixels, **kw)
    uid, _ = SYNTAXES[syntax]
    if syntax == "rle":
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(RLELossless, encoding_plugin="pydicom")
    elif uid.is_compressed:
        frames = pixels if pixels.ndim == 3 and ds.SamplesPerPixel == 1 else pixels[None]
        ds.PixelData = encapsulate([_encode_frame(f, syntax, ds.BitsStored) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = uid
        if syntax in ("jpeg_baseline", "jpeg_extended", "j2k"):
            ds.LossyImageCompression = "01"
    else:
        ds.file_meta.TransferSyntaxUID = uid
        if uid == ExplicitVRBigEndian and pixels.dtype.itemsize > 1:
            ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder(">")).tobytes()
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # an old-style file: no preamble, no meta group, implicit VR little endian
        assert not uid.is_compressed, "a file without meta group must be uncompressed"
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True)
    return path


def write_non_image(path: str | Path, kind: str = "sr") -> Path:
    """A valid DICOM object without Pixel Data: 'sr', 'rtplan' or 'ecg'."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sop, modality = {"sr": (BASIC_TEXT_SR, "SR"), "rtplan": (RT_PLAN, "RTPLAN"),
                     "ecg": (ECG_12_LEAD, "ECG")}[kind]
    ds = _base(sop, "P001", modality)
    if kind == "sr":
        ds.ValueType = "CONTAINER"
        ds.ContinuityOfContent = "SEPARATE"
    elif kind == "rtplan":
        ds.RTPlanLabel = "femur"
    else:
        wave = Dataset()
        wave.NumberOfWaveformChannels = 1
        wave.NumberOfWaveformSamples = 8
        wave.SamplingFrequency = 500
        wave.WaveformBitsAllocated = 16
        wave.WaveformSampleInterpretation = "SS"
        wave.WaveformData = np.arange(8, dtype=np.int16).tobytes()
        ds.WaveformSequence = Sequence([wave])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def write_raster(path: str | Path, pixels: np.ndarray, **kw) -> Path:
    """Write a PNG/JPEG (Pillow) or TIFF (tifffile) by the suffix of ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, pixels, **kw)
    elif pixels.dtype == np.uint16 and pixels.ndim == 2:
        Image.fromarray(pixels).save(path)  # mode I;16 -> a 16-bit grayscale PNG
    else:
        Image.fromarray(pixels).save(path, **kw)
    return path
