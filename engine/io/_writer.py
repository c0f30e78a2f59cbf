"""The single database writer of an import: whole images per transaction, in batches.

Each image's row, thumbnail, label and ROI are written inside one
transaction, so an interrupted import leaves no half-written image. Several
images share a transaction (a batch) for speed; if a batch fails, its images
are retried one by one so only the culprit is reported.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from engine.io._report import ImportReport
from engine.store import Project


@dataclass
class Unit:
    """The writes for one file; ``fn`` returns counts (added, labelled, rois, ...)."""

    path: str
    fn: Callable[[sqlite3.Connection], Counter]
    sha: str | None = None  # a cache copy written for this file, removed if it cannot be stored


class Writer:
    """Collects units and commits them in batches."""

    def __init__(self, project: Project, report: ImportReport, batch: int = 64,
                 interval: float = 0.5):
        self.project, self.report = project, report
        self.batch, self.interval = batch, interval
        self.units: list[Unit] = []
        self.stored: list[str] = []  # paths written successfully (their old errors are cleared)
        self._last = time.monotonic()

    def add(self, unit: Unit) -> None:
        self.units.append(unit)
        if len(self.units) >= self.batch or time.monotonic() - self._last > self.interval:
            self.flush()

    def flush(self) -> None:
        units, self.units = self.units, []
        self._last = time.monotonic()
        if not units:
            return
        try:
            with self.project.transaction() as conn:
                counts = [u.fn(conn) for u in units]
        except Exception:
            for unit in units:
                self._one(unit)
            return
        for unit, count in zip(units, counts, strict=True):
            self._count(unit, count)

    def _one(self, unit: Unit) -> None:
        try:
            with self.project.transaction() as conn:
                count = unit.fn(conn)
        except Exception as exc:
            self.report.errors.append((unit.path, _reason(exc, self.project.path)))
            if unit.sha and self.project.images.by_sha(unit.sha) is None:
                self.project.cache.full_path(unit.sha).unlink(missing_ok=True)
            return
        self._count(unit, count)

    def _count(self, unit: Unit, count: Counter) -> None:
        self.stored.append(unit.path)
        for key, value in count.items():
            setattr(self.report, key, getattr(self.report, key) + value)


def _reason(exc: Exception, where) -> str:
    """Why a unit could not be stored; a full disk (OS or SQLite) is named as such."""
    import errno
    import sqlite3

    from engine.io._worker import disk_full

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(exc, where)
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
        return disk_full(OSError(errno.ENOSPC, str(exc)), where)
    return f"cannot store in the project: {exc}"
