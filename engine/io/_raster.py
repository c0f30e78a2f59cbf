"""PNG, JPEG (Pillow) and TIFF (tifffile) files, 8- or 16-bit, grey or colour."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from engine.io._decoded import DecodedImage, ImageMeta, ImageReadError, integer_range, luminance
from engine.io._limits import check_pixels
from engine.io._window import Display, Modality, full_range_window, percentile_window

_PIL_NAMES = {"png": "PNG", "jpeg": "JPEG"}


def decode_raster(buf: bytes, kind: str) -> DecodedImage:
    """Decode a PNG/JPEG/TIFF held in ``buf`` (``kind`` is ``png``, ``jpeg`` or ``tiff``)."""
    if len(buf) == 0:
        raise ImageReadError("empty file (0 bytes)")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "tiff":
            codes, photometric, invert = _read_tiff(buf, notes)
        else:
            codes, photometric = _read_pillow(buf, kind, notes)
            invert = False
    notes += sorted({str(w.message) for w in caught})[:3]
    if codes.ndim != 2 or 0 in codes.shape:
        raise ImageReadError(f"unsupported image shape {codes.shape}")
    check_pixels(*codes.shape)
    if codes.dtype == bool:
        codes = codes.astype(np.uint8) * np.uint8(255)
    code_range = integer_range(codes)
    modality = Modality()
    if codes.dtype == np.uint8:
        window = full_range_window(8)
    else:
        window = percentile_window(codes, modality, code_range[0] if code_range else None)
    bits = codes.dtype.itemsize * 8 if codes.dtype.kind in "ui" else None
    meta = ImageMeta(format=kind, width=codes.shape[1], height=codes.shape[0], bits_stored=bits,
                     photometric=photometric)
    return DecodedImage(codes, Display(modality, window, invert), meta, code_range, tuple(notes))


def _read_pillow(buf: bytes, kind: str, notes: list[str]) -> tuple[np.ndarray, str]:
    try:
        with Image.open(io.BytesIO(buf), formats=[_PIL_NAMES[kind]]) as im:
            if getattr(im, "n_frames", 1) > 1:
                notes.append(f"{im.n_frames} frames: the first frame was imported")
            check_pixels(im.size[1], im.size[0])
            im.load()
            return _pillow_array(im, notes)
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise ImageReadError(f"cannot decode {kind.upper()}: {exc}") from None


def _pillow_array(im: Image.Image, notes: list[str]) -> tuple[np.ndarray, str]:
    mode = im.mode
    if mode == "L":
        return np.asarray(im), "MONOCHROME2"
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), "MONOCHROME2"
    if mode in ("I", "F"):
        arr = np.asarray(im)
        if mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
            arr = arr.astype(np.uint16)  # 16-bit PNGs open as mode I in some Pillow releases
        return arr, "MONOCHROME2"
    if mode in ("1", "LA", "La"):
        return np.asarray(im.getchannel(0).convert("L")), "MONOCHROME2"
    notes.append(f"{mode} colour image converted to grey")
    if mode in ("P", "PA"):
        return luminance(np.asarray(im.convert("RGB"))), "PALETTE COLOR"
    return luminance(np.asarray(im.convert("RGB"))), "RGB"


def _read_tiff(buf: bytes, notes: list[str]) -> tuple[np.ndarray, str, bool]:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(buf)) as tif:
            if not tif.pages:
                raise ImageReadError("TIFF file without images")
            if len(tif.pages) > 1:
                notes.append(f"{len(tif.pages)} pages: the first page was imported")
            page = tif.pages[0]
            arr = page.asarray()
            axes = page.axes
            photometric = page.photometric
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, OSError, ...
        raise ImageReadError(f"cannot decode TIFF: {exc}") from None
    arr = np.asarray(arr)
    if "S" in axes and arr.ndim == 3:
        arr = np.moveaxis(arr, axes.index("S"), -1)
    name = getattr(photometric, "name", str(photometric))
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and name in ("RGB", "YCBCR", "SEPARATED"):
        notes.append(f"{name} colour image converted to grey")
        return luminance(arr), "RGB", False
    if arr.ndim == 3 and arr.shape[-1] in (2, 3, 4):
        arr = arr[..., 0]  # grey plus alpha or extra samples
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if name == "MINISWHITE":
        return arr, "MONOCHROME1", True
    return arr, "MONOCHROME2", False
