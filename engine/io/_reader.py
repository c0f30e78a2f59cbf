"""Which files are images, and decoding one from its bytes or its path."""

from __future__ import annotations

from pathlib import Path

from engine.io._decoded import DecodedImage, ImageReadError
from engine.io._dicom import decode_dicom, is_dicom_head
from engine.io._raster import decode_raster

#: File suffixes imported by name; other files are imported only when they are DICOM.
SUFFIXES = {".dcm": "dicom", ".dicom": "dicom", ".dic": "dicom", ".png": "png",
            ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg"}
#: Suffixes never looked into (documents, tables, archives, code, our own cache files).
SKIPPED = {".txt", ".csv", ".tsv", ".json", ".xml", ".md", ".html", ".htm", ".pdf", ".doc",
           ".docx", ".xls", ".xlsx", ".zip", ".gz", ".tar", ".7z", ".py", ".log", ".ini",
           ".cfg", ".yaml", ".yml", ".npy", ".npz", ".u8", ".sqlite", ".db", ".bmp", ".gif"}
HEAD_BYTES = 132


def kind_by_name(path: Path) -> str | None:
    """``dicom``/``png``/``tiff``/``jpeg`` from the suffix; ``None`` when unknown."""
    return SUFFIXES.get(path.suffix.lower())


def should_sniff(path: Path) -> bool:
    """Whether a file with an unknown suffix is worth reading 132 bytes of (DICOM test)."""
    return path.suffix.lower() not in SKIPPED and path.name.upper() != "DICOMDIR"


def kind_by_content(head: bytes, suffix: str = "") -> str | None:
    """The format from the first bytes of a file, or ``None`` when not recognised."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if is_dicom_head(head, suffix):
        return "dicom"
    return None


def decode_bytes(buf: bytes, kind: str | None, suffix: str = "") -> DecodedImage:
    """Decode a whole file held in memory; the content decides the format, then ``kind``."""
    if len(buf) == 0:
        raise ImageReadError("empty file (0 bytes)")
    actual = kind_by_content(bytes(buf[:HEAD_BYTES]), suffix) or kind
    if actual == "dicom":
        return decode_dicom(buf)
    if actual in ("png", "jpeg", "tiff"):
        return decode_raster(buf, actual)
    raise ImageReadError("not a recognised image file (DICOM, PNG, TIFF or JPEG)")


def read_image(path: str | Path) -> DecodedImage:
    """Decode one image file: float32 ``pixels`` after the Modality LUT, window and metadata.

    Raises :class:`ImageReadError` with the reason for a file that cannot be
    imported (unreadable, truncated, not an image, ...).
    """
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from None
    return decode_bytes(buf, kind_by_name(path), path.suffix)
