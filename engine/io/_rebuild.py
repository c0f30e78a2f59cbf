"""Rebuilding the pixel cache from the source files (the cache is never the only copy)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.io._decoded import ImageReadError
from engine.io._parallel import _context, default_workers
from engine.io._reader import decode_bytes, kind_by_name
from engine.io._resample import cache_pixels, thumbnail
from engine.io._worker import watch_parent
from engine.store import THUMB_SIDE, ImageCache, Project, fs_path, hash_matches


@dataclass
class RebuildReport:
    """What :func:`rebuild_cache` did: images rebuilt, already present, and failures."""

    rebuilt: int = 0
    present: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def _has_thumb(cache: ImageCache, image_id: int) -> bool:
    # One slot at a time (pread): mapping the slot file would keep all of it resident.
    slot = cache.thumb(image_id, THUMB_SIDE, THUMB_SIDE)
    return slot is not None and bool(slot.any())


def _rebuild_one(path: str, sha256: str, cache_root: str) -> tuple[np.ndarray | None, str | None]:
    """Decode ``path`` again into the cache; returns its thumbnail or the reason it failed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, f"cannot read the source file: {exc.strerror or exc} (moved? import its new folder)"
    if not hash_matches(data, sha256):
        return None, "the source file changed since it was imported; import it again"
    try:
        full = cache_pixels(decode_bytes(data, kind_by_name(Path(path)), Path(path).suffix))
    except ImageReadError as exc:
        return None, str(exc)
    ImageCache(Path(cache_root)).write_full(sha256, full)
    return thumbnail(full), None


def rebuild_cache(project: Project, *, everything: bool = False, workers: int | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> RebuildReport:
    """Decode again the images whose cached copy or thumbnail is missing (or all of them).

    Each source must still have the content hash it was imported with; one that
    moved, vanished or changed is listed in ``errors`` and left as it is.
    """
    report = RebuildReport()
    todo = []
    for row in project.images.list(order="id"):
        if everything or not project.cache.has_full(row.sha256) or not _has_thumb(project.cache, row.id):
            todo.append(row)
        else:
            report.present += 1
    workers = max(1, min(workers or default_workers(), len(todo) or 1))
    root = str(project.cache.root)
    if workers == 1:
        results = (_rebuild_one(fs_path(r.path), r.sha256, root) for r in todo)
        pool = None
    else:
        pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=watch_parent,
                                   initargs=(os.getpid(),))
        results = pool.map(_rebuild_one, [fs_path(r.path) for r in todo], [r.sha256 for r in todo],
                           [root] * len(todo))
    try:
        for done, (row, (thumb, error)) in enumerate(zip(todo, results), start=1):
            if error is not None:
                report.errors.append((row.path, error))
            else:
                assert thumb is not None and max(thumb.shape) <= THUMB_SIDE
                project.cache.write_thumb(row.id, thumb)
                report.rebuilt += 1
            if progress is not None:
                progress(done, len(todo), row.path)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    project.cache.refresh()
    return report
