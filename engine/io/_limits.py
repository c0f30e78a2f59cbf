"""Limits that keep one crafted file from taking the machine: decoded size, image size.

``AFFENGINE_MAX_PIXELS`` (environment) sets how many pixel values (Rows x Columns x
Samples x Frames) one file may declare; the default, 250 million, is 25 times a
large 4000 x 2500 radiograph. A deflated DICOM is inflated at most to what that
allows, so a 0.5 MB file can no longer expand to gigabytes in memory.
"""

from __future__ import annotations

import io
import os
import zlib

from engine.io._decoded import ImageReadError

DEFAULT_MAX_PIXELS = 250_000_000
MIN_SIDE = 8  # pixels; a 1 x 1 "radiograph" is a placeholder or an export error
ENV = "AFFENGINE_MAX_PIXELS"
INFLATE_HEADROOM = 64 << 20  # bytes of non-pixel elements a deflated file may inflate to
_DEFLATED = b"1.2.840.10008.1.2.1.99"


def max_pixels() -> int:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        raise ImageReadError(f"{ENV}={text!r} is not a whole number") from None
    return max(1, value)


def check_pixels(rows: int, cols: int, samples: int = 1, frames: int = 1) -> None:
    """Refuse an image that declares more pixel values than allowed, or a tiny one."""
    total = rows * cols * max(samples, 1) * max(frames, 1)
    limit = max_pixels()
    if total > limit:
        raise ImageReadError(
            f"image declares {rows} x {cols} x {samples} sample(s) x {frames} frame(s) = "
            f"{total:,} pixel values, over the limit of {limit:,} (set {ENV} to allow more)")
    if rows < MIN_SIDE or cols < MIN_SIDE:
        raise ImageReadError(f"image is only {cols} x {rows} pixels (at least {MIN_SIDE} x "
                             f"{MIN_SIDE} needed): not a radiograph")


def check_inflated_size(buf: bytes) -> None:
    """For a deflated DICOM, refuse before pydicom inflates more than the limit allows."""
    if _DEFLATED not in buf[:4096]:
        return
    import pydicom.filereader as fr

    fp = io.BytesIO(buf)
    try:
        fr.read_preamble(fp, force=True)
        meta = fr._read_file_meta_info(fp)
    except Exception:  # the normal parse reports a damaged header
        return
    if str(meta.get("TransferSyntaxUID", "")) != _DEFLATED.decode():
        return
    limit = max_pixels() * 4 + INFLATE_HEADROOM  # 32-bit values plus headers
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    data, total = buf[fp.tell():], 0
    try:
        while data:
            total += len(inflater.decompress(data, 1 << 24))
            data = inflater.unconsumed_tail
            if total > limit:
                raise ImageReadError(
                    f"deflated DICOM inflates to more than {limit:,} bytes, over the limit "
                    f"(set {ENV} to allow more pixels)")
    except zlib.error:
        return  # the normal parse reports the broken stream


def check_patient_id(patient: str) -> None:
    """Refuse a patient ID with control characters (NUL, newline, ...)."""
    bad = sorted({f"U+{ord(c):04X}" for c in patient if ord(c) < 32 or ord(c) == 127})
    if bad:
        raise ImageReadError(f"patient id {patient!r} contains control character(s) "
                             f"{', '.join(bad)}; fix it in the file or the manifest")


__all__ = ["DEFAULT_MAX_PIXELS", "ENV", "MIN_SIDE", "check_inflated_size", "check_patient_id",
           "check_pixels", "max_pixels"]
