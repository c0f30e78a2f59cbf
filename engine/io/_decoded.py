"""What a decoder returns: stored values, the display chain and the metadata."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInput
from engine.io._window import Display, Window


class ImageReadError(InvalidInput):
    """A file that cannot be imported; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True)
class ImageMeta:
    """Metadata of one source image, as stored in its ``ImageRecord``."""

    format: str
    width: int
    height: int
    bits_stored: int | None = None
    photometric: str | None = None
    pixel_spacing_row: float | None = None
    pixel_spacing_col: float | None = None
    view: str | None = None
    laterality: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None
    modality: str | None = None
    study_date: str | None = None
    transfer_syntax: str | None = None
    patient_id: str | None = None
    frames: int = 1


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """One decoded image (the first frame of a multi-frame file).

    ``codes`` are the stored values (high bits beyond Bits Stored cleared,
    colour already turned grey); ``code_range`` is the ``(lo, hi)`` range
    integer codes can take, or ``None`` for float data. ``display`` maps
    stored values to grey levels (Modality LUT, VOI window or LUT, MONOCHROME1
    inversion). ``notes`` are remarks worth showing (e.g. multi-frame).
    """

    codes: np.ndarray
    display: Display
    meta: ImageMeta
    code_range: tuple[int, int] | None
    notes: tuple[str, ...] = ()

    @property
    def pixels(self) -> np.ndarray:
        """Modality values (after rescale slope/intercept or Modality LUT) as float32."""
        if self.display.modality.identity:
            return self.codes.astype(np.float32)
        return self.display.modality.values(self.codes).astype(np.float32)

    @property
    def window(self) -> Window:
        """The window used for display, in modality units (from the file or the fallback)."""
        return self.display.window

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def to_uint8(self) -> np.ndarray:
        """The full-resolution display image: windowed, inverted if MONOCHROME1, uint8."""
        lo = self.code_range[0] if self.code_range else None
        return self.display.to_uint8(self.codes, lo)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey values (ITU-R 601 luma, as Pillow's ``L``) of an RGB(A) array, same dtype."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = rgb[..., :3].astype(np.float32) @ weights
    if rgb.dtype.kind in "ui":
        info = np.iinfo(rgb.dtype)
        return np.clip(np.rint(grey), info.min, info.max).astype(rgb.dtype)
    return grey


def integer_range(codes: np.ndarray, bits: int | None = None) -> tuple[int, int] | None:
    """The range integer ``codes`` can take: by bit depth up to 16 bits, else by the data.

    ``None`` for float data, or integer data spanning more than 2**20 values
    (those are mapped with float maths instead of a table).
    """
    if codes.dtype.kind not in "ui":
        return None
    bits = bits or codes.dtype.itemsize * 8
    if bits <= 16:
        if codes.dtype.kind == "u":
            return 0, 2**bits - 1
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = (int(codes.min()), int(codes.max())) if codes.size else (0, 0)
    return (lo, hi) if hi - lo <= 1 << 20 else None


def fit_bits(codes: np.ndarray, bits_stored: int, signed: bool, clip: bool = False) -> np.ndarray:
    """Clear bits above ``bits_stored`` (unsigned) or sign-extend from them (signed).

    Overlays or garbage in unused high bits of uncompressed data would
    otherwise show as noise. Decoded lossy data (``clip=True``) may overshoot
    the stored range a little instead, so it is clipped, not masked. The check
    is one pass over the data; the fix happens only when needed.
    """
    allocated = codes.dtype.itemsize * 8
    if codes.dtype.kind not in "ui" or bits_stored >= allocated or codes.size == 0:
        return codes
    if clip:
        lo, hi = (-(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1) if signed \
            else (0, 2**bits_stored - 1)
        if int(codes.min()) < lo or int(codes.max()) > hi:
            return np.clip(codes, max(lo, np.iinfo(codes.dtype).min), hi).astype(codes.dtype)
        return codes
    if not signed:
        if int(codes.max()) >> bits_stored:
            return codes & codes.dtype.type(2**bits_stored - 1)
        return codes
    lo, hi = -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    signed_codes = codes.view(codes.dtype.str.replace("u", "i")) if codes.dtype.kind == "u" \
        else codes
    if int(signed_codes.min()) >= lo and int(signed_codes.max()) <= hi:
        return signed_codes
    shift = allocated - bits_stored
    return (signed_codes << shift) >> shift
