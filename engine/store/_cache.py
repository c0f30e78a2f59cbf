"""The pixel cache: decoded, windowed, resized uint8 copies of every image.

Layout under ``cache/`` (rebuildable from the source files at any time):

``images/<sha[:2]>/<sha>.npy``
    One uint8 array per image content hash, long side :data:`CACHE_SIDE`,
    aspect ratio kept. Written atomically; opened memory-mapped.
``thumbs.u8``
    One flat file of :data:`THUMB_SIDE` x :data:`THUMB_SIDE` uint8 slots,
    slot ``k`` for image id ``k``; each thumbnail sits in the top-left corner
    of its slot and its size is stored in the image row. One file, so the grid
    never opens thousands of them. :meth:`ImageCache.thumb` reads a slot with
    ``pread`` rather than through a memory map: a map keeps every page it ever
    touched resident in the reader's address space, and scrolling a 43,000-image
    grid end to end then held the whole 2.8 GB file in the GUI's RSS. Read pages
    stay in the kernel's page cache, which the kernel reclaims as it needs.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

CACHE_SIDE = 1024
THUMB_SIDE = 256
_SLOT = THUMB_SIDE * THUMB_SIDE


_HEADERS: dict[tuple[int, ...], bytes] = {}


def npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header ``np.save`` writes for a C-ordered uint8 array of ``shape``.

    Kept per shape (an import has few): with it, a cache file is one
    ``writev`` of header and pixels instead of ``np.save``'s header building
    and buffered writes; the bytes are the same.
    """
    header = _HEADERS.get(shape)
    if header is None:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
        header = _HEADERS.setdefault(tuple(shape), buf.getvalue())
    return header


def _write_all(fd: int, parts: list) -> None:
    """``os.writev`` until every byte is written (a short write goes on where it stopped)."""
    views = [memoryview(part).cast("B") for part in parts]
    while views:
        done = os.writev(fd, views)
        while views and done >= len(views[0]):
            done -= len(views.pop(0))
        if views and done:
            views[0] = views[0][done:]


class ImageCache:
    """Reader and writer of one project's ``cache/`` folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._thumbs: np.memmap | None = None
        self._lock = threading.Lock()

    @property
    def thumbs_path(self) -> Path:
        return self.root / "thumbs.u8"

    def full_path(self, sha256: str) -> Path:
        return self.root / "images" / sha256[:2] / f"{sha256}.npy"

    def has_full(self, sha256: str) -> bool:
        return self.full_path(sha256).is_file()

    def write_full(self, sha256: str, pixels: np.ndarray) -> Path:
        """Write the cached copy atomically (a reader never sees half a file)."""
        if pixels.dtype != np.uint8 or pixels.ndim != 2:
            raise ValueError(f"cache images are 2-D uint8, got {pixels.dtype} {pixels.shape}")
        target = self.full_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.ascontiguousarray(pixels)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".npy")
        try:
            try:
                _write_all(fd, [npy_header(pixels.shape), memoryview(pixels).cast("B")])
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load_full(self, sha256: str) -> np.ndarray:
        """The cached copy, memory-mapped read-only."""
        path = self.full_path(sha256)
        try:
            return np.load(path, mmap_mode="r")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: cached pixels missing; run 'affengine cache rebuild' on the project"
            ) from None

    def write_thumb(self, image_id: int, thumb: np.ndarray) -> None:
        """Write ``thumb`` (2-D uint8, each side <= THUMB_SIDE) into slot ``image_id``."""
        h, w = thumb.shape
        if thumb.dtype != np.uint8 or h > THUMB_SIDE or w > THUMB_SIDE:
            raise ValueError(f"thumbnails are uint8 up to {THUMB_SIDE}px, got {thumb.dtype} {thumb.shape}")
        slot = np.zeros((THUMB_SIDE, THUMB_SIDE), np.uint8)
        slot[:h, :w] = thumb
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.thumbs_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, slot.tobytes(), image_id * _SLOT)
        finally:
            os.close(fd)

    def thumbs(self) -> np.ndarray:
        """All thumbnail slots as one read-only memory map of shape ``(n, 256, 256)``.

        For batch work over every slot (the cache rebuild); the GUI reads single
        slots with :meth:`thumb`, which does not keep the file's pages mapped.
        """
        with self._lock:
            size = self.thumbs_path.stat().st_size if self.thumbs_path.exists() else 0
            n = size // _SLOT
            if self._thumbs is None or self._thumbs.shape[0] != n:
                if n == 0:
                    return np.zeros((0, THUMB_SIDE, THUMB_SIDE), np.uint8)
                self._thumbs = np.memmap(self.thumbs_path, np.uint8, "r", shape=(n, THUMB_SIDE, THUMB_SIDE))
            return self._thumbs

    def thumb(self, image_id: int, height: int, width: int) -> np.ndarray | None:
        """The thumbnail of one image as its own ``(height, width)`` array, or ``None`` if not cached.

        Reads only the slot's first ``height`` lines with one ``pread`` (thread-safe,
        no shared file position), so the caller's memory holds just this copy.
        """
        height, width = max(0, min(height, THUMB_SIDE)), max(0, min(width, THUMB_SIDE))
        try:
            fd = os.open(self.thumbs_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if os.fstat(fd).st_size < (image_id + 1) * _SLOT:  # slot not written yet
                return None
            data = os.pread(fd, height * THUMB_SIDE, image_id * _SLOT)
        finally:
            os.close(fd)
        if len(data) < height * THUMB_SIDE:  # truncated while we read
            return None
        lines = np.frombuffer(data, np.uint8).reshape(height, THUMB_SIDE)
        return np.ascontiguousarray(lines[:, :width])

    def refresh(self) -> np.ndarray:
        """Re-map the thumbnail file after another process appended to it."""
        with self._lock:
            self._thumbs = None
        return self.thumbs()
