"""Letterboxed squares of the cached images at one training size, kept on disk for every run.

Layout under the project's ``cache/`` folder, one pair of files per size ``S``:

``sized_<S>.u8``
    Flat slots of ``S * S`` uint8 bytes; slot ``k`` holds image id ``k``, letterboxed
    (scaled so the long side is ``S``, centred on a zero square, as the 2024 AFF study
    zero-pads to a square before resizing).
``sized_<S>.idx``
    One little-endian uint64 per slot: a key made from the image's SHA-256 when the slot
    is filled, 0 otherwise.

Slots are filled on demand and only ever written with ``pwrite`` (files only grow, never
truncated): pixels first, ``fdatasync``, then the key. A reader trusts a slot only when its key
matches the image's hash, so a run killed mid-fill, two workers filling the same slots (they
write the same bytes) or an image id whose content changed all end with correct pixels. Like
everything in ``cache/`` the files can be deleted at any time and are rebuilt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

_KEY = np.dtype("<u8")


def letterbox(pixels: np.ndarray, size: int) -> np.ndarray:
    """``pixels`` (2-D uint8) scaled to long side ``size`` and centred on a zero ``size``-square."""
    h, w = pixels.shape
    side = max(h, w)
    nh, nw = max(1, round(h * size / side)), max(1, round(w * size / side))
    scaled = np.ascontiguousarray(pixels)
    if (nh, nw) != (h, w):
        # Pillow's resampling widens the filter when shrinking, so it antialiases.
        scaled = np.asarray(Image.fromarray(scaled).resize((nw, nh), Image.Resampling.BILINEAR))
    out = np.zeros((size, size), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = scaled
    return out


def image_key(sha256: str) -> int:
    """The slot key of an image: 64 bits of its hash, never 0 (0 marks an empty slot)."""
    return int(sha256[:16], 16) | 1


class SizedCache:
    """The ``sized_<S>`` slot files of one project cache folder."""

    def __init__(self, cache_dir: str | Path, size: int):
        self.root = Path(cache_dir)
        self.size = int(size)
        self.slot = self.size * self.size

    @property
    def data_path(self) -> Path:
        return self.root / f"sized_{self.size}.u8"

    @property
    def index_path(self) -> Path:
        return self.root / f"sized_{self.size}.idx"

    def _keys(self) -> np.ndarray:
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return np.zeros(0, _KEY)
        return np.frombuffer(raw[: len(raw) // 8 * 8], _KEY)

    def missing(self, ids: Sequence[int], shas: Sequence[str]) -> np.ndarray:
        """Boolean mask of the ``ids`` whose slot is not filled with that image."""
        keys = self._keys()
        ids = np.asarray(ids, np.int64)
        want = np.array([image_key(s) for s in shas], _KEY)
        have = np.zeros(len(ids), _KEY)
        inside = ids < len(keys)
        have[inside] = keys[ids[inside]]
        return have != want

    def fill(self, ids: Sequence[int], shas: Sequence[str], load: Callable[[str], np.ndarray],
             workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
        """Letterbox and store the given images (``load(sha)`` gives the cached pixels)."""
        if not len(ids):
            return 0
        self.root.mkdir(parents=True, exist_ok=True)
        size = self.size

        def one(item):
            image_id, sha = item
            return image_id, letterbox(np.asarray(load(sha)), size)

        data = os.open(self.data_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            workers = workers or min(8, os.cpu_count() or 1)
            with ThreadPoolExecutor(workers) as pool:  # Pillow resizes without the GIL
                for done, (image_id, square) in enumerate(pool.map(one, zip(ids, shas)), 1):
                    os.pwrite(data, square.tobytes(), int(image_id) * self.slot)
                    if progress:
                        progress(done, len(ids))
            os.fdatasync(data)
        finally:
            os.close(data)
        index = os.open(self.index_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            for image_id, sha in zip(ids, shas):
                os.pwrite(index, np.array([image_key(sha)], _KEY).tobytes(), int(image_id) * 8)
        finally:
            os.close(index)
        return len(ids)

    def read(self, ids: Sequence[int]) -> np.ndarray:
        """The squares of ``ids`` (all filled) as one ``(N, S, S)`` uint8 array."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.zeros((0, self.size, self.size), np.uint8)
        slots = self.data_path.stat().st_size // self.slot
        if ids.max() >= slots:
            raise RuntimeError(f"{self.data_path}: slot {ids.max()} not written; fill it first")
        mm = np.memmap(self.data_path, np.uint8, "r", shape=(slots, self.size, self.size))
        try:
            return np.asarray(mm[ids])
        finally:
            del mm

    def ensure(self, ids: Sequence[int], shas: Sequence[str], load: Callable[[str], np.ndarray],
               progress: Callable[[int, int], None] | None = None) -> int:
        """Fill whichever of ``ids`` are missing; returns how many were filled."""
        miss = self.missing(ids, shas)
        todo = np.flatnonzero(miss)
        return self.fill([int(ids[i]) for i in todo], [shas[i] for i in todo], load, progress=progress)
