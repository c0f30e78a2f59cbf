"""Fracture ROI boxes in source-pixel coordinates, and planted site-marker boxes.

A site marker (``affengine phantom --shortcut marker``) is a box like a ROI but not a
fracture region: it is stored in the same table with ``source = SITE_MARKER_SOURCE``
and kept out of :meth:`RoiTable.for_image` / :meth:`RoiTable.all` unless asked for
with ``markers=True``, so ROI measures, the viewer and the report never mistake it
for the fracture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.store._project import utc_now

if TYPE_CHECKING:
    import sqlite3

    from engine.store._project import Project


SITE_MARKER_SOURCE = "site_marker"


@dataclass(frozen=True)
class Roi:
    """A box ``[x0, x1) x [y0, y1)`` in the source image's pixel coordinates."""

    id: int
    image_id: int
    x0: float
    y0: float
    x1: float
    y1: float
    reader: str
    source: str
    created_at: str


class RoiTable:
    """The ``rois`` table of a :class:`Project`."""

    def __init__(self, project: Project):
        self._p = project

    def add(self, image_id: int, box: tuple[float, float, float, float], reader: str,
            source: str = "gui", conn: sqlite3.Connection | None = None) -> int:
        """Store a box; pass ``conn`` to add it inside an open transaction."""
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"image {image_id}: empty ROI box {box} (need x1 > x0 and y1 > y0)")
        image = (conn or self._p.conn).execute(
            "SELECT width, height FROM images WHERE id = ?", (image_id,)
        ).fetchone()
        if image is None:
            raise KeyError(f"no image with id {image_id}")
        if x0 < 0 or y0 < 0 or x1 > image[0] or y1 > image[1]:
            raise ValueError(
                f"image {image_id}: ROI box {box} lies outside the image ({image[0]}x{image[1]})"
            )
        sql = ("INSERT INTO rois(image_id, x0, y0, x1, y1, reader, source, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        params = (image_id, x0, y0, x1, y1, reader, source, utc_now())
        if conn is not None:
            return conn.execute(sql, params).lastrowid
        with self._p.transaction() as c:
            return c.execute(sql, params).lastrowid

    def update(self, roi_id: int, box: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"ROI {roi_id}: empty box {box}")
        with self._p.transaction() as conn:
            conn.execute("UPDATE rois SET x0 = ?, y0 = ?, x1 = ?, y1 = ? WHERE id = ?",
                         (x0, y0, x1, y1, roi_id))

    def delete(self, roi_id: int) -> None:
        with self._p.transaction() as conn:
            conn.execute("DELETE FROM rois WHERE id = ?", (roi_id,))

    def for_image(self, image_id: int, *, markers: bool = False) -> list[Roi]:
        """The image's fracture ROIs, or with ``markers=True`` its site-marker boxes."""
        op = "=" if markers else "!="
        return [Roi(**dict(r)) for r in self._p.query(
            f"SELECT * FROM rois WHERE image_id = ? AND source {op} ? ORDER BY id",
            (image_id, SITE_MARKER_SOURCE))]

    def all(self, *, markers: bool = False) -> list[Roi]:
        """Every fracture ROI, or with ``markers=True`` every site-marker box."""
        op = "=" if markers else "!="
        return [Roi(**dict(r)) for r in self._p.query(
            f"SELECT * FROM rois WHERE source {op} ? ORDER BY image_id, id",
            (SITE_MARKER_SOURCE,))]
