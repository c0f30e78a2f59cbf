"""DICOM files: checks, first-frame decoding and the viewer's display chain.

Uncompressed little-endian 8/16-bit grey data (the usual radiograph) are read
straight out of the file buffer without a copy; everything else goes through
pydicom's decoders, which use the pylibjpeg plugins for RLE, JPEG (baseline,
extended, lossless), JPEG-LS and JPEG 2000.
"""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from engine.io._decoded import (
    DecodedImage,
    ImageMeta,
    ImageReadError,
    fit_bits,
    integer_range,
    luminance,
)
from engine.io._limits import check_inflated_size, check_pixels
from engine.io._rules import dicom_side, dicom_view
from engine.io._window import Display, Modality, VoiTable, Window, percentile_window

_DEFER = 4 << 20  # larger elements (Pixel Data) are not copied while parsing
_UNDEFINED = 0xFFFFFFFF
_GREY = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
_BUFFER_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)


def is_dicom_head(head: bytes, suffix: str) -> bool:
    """True for a 'DICM' marker at offset 128, or (no suffix) a raw dataset's first tag."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    # Old files without preamble start with group 0x0002 or 0x0008, little-endian.
    return not suffix and len(head) >= 4 and head[1] == 0 and head[0] in (2, 8) and head[3] == 0


def decode_dicom(buf: bytes, name: str = "") -> DecodedImage:
    """Decode the first frame of a DICOM file held in ``buf``; ImageReadError says why not."""
    if len(buf) == 0:
        raise ImageReadError("empty file (0 bytes)")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_inflated_size(buf)
        ds = _parse(buf)
        image = _decode(ds, buf, notes, caught)
    extra = sorted({str(w.message) for w in caught})[:3]
    if extra:
        image = dataclasses.replace(image, notes=image.notes + tuple(extra))
    return image


def _parse(buf: bytes, defer: int | None = _DEFER) -> pydicom.Dataset:
    has_marker = len(buf) >= 132 and buf[128:132] == b"DICM"
    try:
        ds = pydicom.dcmread(io.BytesIO(buf), defer_size=defer, force=True)
    except Exception as exc:  # pydicom raises many types on damaged headers
        raise ImageReadError(f"unreadable DICOM header: {exc}") from None
    if not has_marker and not any(k in ds for k in ("SOPClassUID", "PixelData", "Rows")):
        raise ImageReadError("not a DICOM file (no 'DICM' marker and no DICOM image elements)")
    return ds


def _transfer_syntax(ds: pydicom.Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is None:  # a raw dataset: use the encoding pydicom found
        implicit, little = ds.original_encoding
        uid = ImplicitVRLittleEndian if implicit else (
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
        ds.file_meta = meta if meta is not None else pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = uid
    uid = UID(str(uid))
    if not uid.is_transfer_syntax:
        raise ImageReadError(f"unknown transfer syntax {uid}")
    return uid


def _int(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        raise ImageReadError(f"missing {keyword}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImageReadError(f"bad {keyword} {value!r}") from None


def _no_pixels_reason(ds: pydicom.Dataset) -> str:
    for keyword in ("FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            return f"{keyword} (floating-point pixels) is not supported"
    sop = ds.get("SOPClassUID")
    kind = sop.name if sop is not None else "unknown SOP class"
    if sop is None and "Modality" not in ds:
        return "truncated or empty DICOM file: no SOP Class and no Pixel Data"
    if "Image" in kind or "Rows" in ds:
        return f"no Pixel Data in an image object ({kind}); the file may be truncated"
    return f"not an image: {kind} (modality {ds.get('Modality') or '?'}) has no Pixel Data"


def _decode(ds, buf, notes, caught) -> DecodedImage:
    if "PixelData" not in ds:
        raise ImageReadError(_no_pixels_reason(ds))
    ts = _transfer_syntax(ds)
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    allocated = _int(ds, "BitsAllocated")
    stored = _int(ds, "BitsStored", allocated)
    samples = _int(ds, "SamplesPerPixel", 1)
    signed = _int(ds, "PixelRepresentation", 0) == 1
    frames = _int(ds, "NumberOfFrames", 1)
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if rows <= 0 or cols <= 0:
        raise ImageReadError(f"invalid image size Rows={rows} Columns={cols}")
    if allocated not in (1, 8, 16, 32) or not 1 <= stored <= allocated:
        raise ImageReadError(f"unsupported Bits Allocated {allocated} / Bits Stored {stored}")
    if frames < 1:
        raise ImageReadError(f"invalid Number of Frames {frames}")
    check_pixels(rows, cols, samples, frames)
    if not photometric:
        photometric = "MONOCHROME2" if samples == 1 else "RGB"
        notes.append(f"no Photometric Interpretation; assumed {photometric}")
    if (samples, photometric in _GREY) not in ((1, True), (3, False)) or \
            (samples == 3 and photometric not in _COLOUR):
        raise ImageReadError(
            f"unsupported Photometric Interpretation {photometric} with {samples} sample(s)")
    if frames > 1:
        notes.append(f"multi-frame image ({frames} frames): the first frame was imported")

    element = ds.get_item("PixelData", keep_deferred=True)
    deferred = element.value is None
    if deferred and (ts.is_encapsulated or ts == DeflatedExplicitVRLittleEndian):
        ds = _parse(buf, defer=None)  # these values live in a parsed stream, not in buf
        element, deferred = ds.get_item("PixelData", keep_deferred=True), False
    if ts.is_encapsulated:
        if any("delimiter" in str(w.message).lower() for w in caught):
            raise ImageReadError("file truncated inside the compressed Pixel Data")
        codes = _decode_with_pydicom(ds, ts, rows, cols, samples)
    else:
        offset, length, present = _native_extent(element, deferred, buf)
        if length == _UNDEFINED:
            raise ImageReadError("uncompressed transfer syntax but encapsulated Pixel Data")
        if present < length:
            raise ImageReadError(
                f"file truncated inside Pixel Data: {present} of {length} bytes present")
        per_pixel = 2 if photometric == "YBR_FULL_422" else samples  # chroma subsampled
        expected = (rows * cols * per_pixel * frames * allocated + 7) // 8
        if length < expected or length > expected + 1:
            raise ImageReadError(
                f"Pixel Data is {length} bytes but Rows x Columns x Samples x Frames x "
                f"Bits Allocated = {rows} x {cols} x {samples} x {frames} x {allocated} bits "
                f"needs {expected}")
        if samples == 1 and allocated in (8, 16) and ts in _BUFFER_SYNTAXES:
            big = ts == ExplicitVRBigEndian
            dtype = np.dtype(f"{'>' if big else '<'}{'i' if signed else 'u'}{allocated // 8}")
            source = buf if deferred else element.value
            codes = np.frombuffer(source, dtype, rows * cols, offset).reshape(rows, cols)
            if big and allocated > 8:
                codes = codes.astype(dtype.newbyteorder("="))
        else:
            if deferred:
                ds.PixelData = bytes(buf[offset:offset + length])
            codes = _decode_with_pydicom(ds, ts, rows, cols, samples)
    if samples == 3:
        codes = luminance(codes)
        notes.append(f"{photometric} colour image converted to grey")
    elif allocated > 1:
        codes = fit_bits(codes, stored, signed, clip=ts.is_encapsulated)
    code_range = integer_range(codes, 1 if allocated == 1 else stored)
    display = _display(ds, codes, code_range, photometric, notes)
    return DecodedImage(codes, display, _meta(ds, ts, rows, cols, stored, photometric, frames),
                        code_range, tuple(notes))


def _native_extent(element, deferred: bool, buf: bytes) -> tuple[int, int, int]:
    """(offset in the source, declared length, bytes actually present) of native Pixel Data."""
    if deferred:
        offset = element.value_tell
        return offset, element.length, max(0, len(buf) - offset)
    value = element.value
    length = getattr(element, "length", len(value))
    return 0, length, len(value)


def _decode_with_pydicom(ds, ts: UID, rows: int, cols: int, samples: int) -> np.ndarray:
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise ImageReadError(f"no decoder for transfer syntax {ts.name} ({ts})") from None
    try:
        arr, _ = decoder.as_array(ds, index=0)
    except Exception as exc:  # plugins raise RuntimeError, ValueError, ...
        raise ImageReadError(f"cannot decode {ts.name} pixel data: {exc}") from None
    want = (rows, cols) if samples == 1 else (rows, cols, samples)
    if arr.shape != want:
        raise ImageReadError(f"decoded pixels have shape {arr.shape}, header says {want}")
    return arr


def _floats(value, count: int) -> list[float] | None:
    if value is None or value == "":
        return None
    items = list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) \
        else [value]
    try:
        out = [float(v) for v in items[:count]]
    except (TypeError, ValueError):
        return None
    return out if len(out) == count and all(np.isfinite(out)) else None


def _modality(ds, code_range) -> Modality:
    sequence = ds.get("ModalityLUTSequence")
    if sequence and code_range is not None:
        descriptor = sequence[0].LUTDescriptor
        n, first = int(descriptor[0]) or 65536, int(descriptor[1])
        table = apply_modality_lut(np.arange(first, first + n, dtype=np.int64), ds)
        return Modality(first=float(first), table=table.astype(np.float64))
    slope = _floats(ds.get("RescaleSlope"), 1)
    intercept = _floats(ds.get("RescaleIntercept"), 1)
    return Modality(slope=slope[0] if slope and slope[0] != 0 else 1.0,
                    intercept=intercept[0] if intercept else 0.0)


def _display(ds, codes, code_range, photometric: str, notes: list[str]) -> Display:
    modality = _modality(ds, code_range)
    center, width = _floats(ds.get("WindowCenter"), 1), _floats(ds.get("WindowWidth"), 1)
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        notes.append(f"unknown VOI LUT Function {function}; LINEAR used")
        function = "LINEAR"
    voi: Window | VoiTable | None = None
    if center and width and width[0] > 0:
        voi = Window(center[0], width[0], function, "file")
    elif ds.get("VOILUTSequence"):
        voi = _voi_table(ds, notes)
    if voi is None:
        voi = percentile_window(codes, modality, code_range[0] if code_range else None)
    return Display(modality, voi, invert=photometric == "MONOCHROME1")


def _voi_table(ds, notes: list[str]) -> VoiTable | None:
    try:
        descriptor = ds.VOILUTSequence[0].LUTDescriptor
        n, first = int(descriptor[0]) or 65536, int(descriptor[1])
        table = apply_voi(np.arange(first, first + n, dtype=np.int64), ds, 0).astype(np.float64)
    except Exception as exc:
        notes.append(f"unusable VOI LUT Sequence ({exc}); window from percentiles")
        return None
    low, high = float(table.min()), float(table.max())
    return VoiTable(float(first), (table - low) / (high - low) if high > low else table * 0)


def _text(ds, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None


def _meta(ds, ts, rows, cols, stored, photometric, frames) -> ImageMeta:
    spacing = _floats(ds.get("PixelSpacing"), 2) or _floats(ds.get("ImagerPixelSpacing"), 2)
    if spacing and min(spacing) <= 0:
        spacing = None
    date = _text(ds, "StudyDate")
    if date and len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return ImageMeta(
        format="dicom", width=cols, height=rows, bits_stored=stored, photometric=photometric,
        pixel_spacing_row=spacing[0] if spacing else None,
        pixel_spacing_col=spacing[1] if spacing else None,
        view=dicom_view(ds.get("ViewPosition")),
        laterality=dicom_side(ds.get("ImageLaterality")) or dicom_side(ds.get("Laterality")),
        study_uid=_text(ds, "StudyInstanceUID"), series_uid=_text(ds, "SeriesInstanceUID"),
        sop_uid=_text(ds, "SOPInstanceUID"), modality=_text(ds, "Modality"), study_date=date,
        transfer_syntax=str(ts), patient_id=_text(ds, "PatientID"), frames=frames,
    )
