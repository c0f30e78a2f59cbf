"""Patients and images: insert, look up, filter and count."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from engine.store._db import utc_now
from engine.store._hash import hash_algo
from engine.store._names import safe_text, stored_path

if TYPE_CHECKING:
    import sqlite3

    from engine.store._db import Database

LABELS = ("AFF", "NFF", "uncertain", "exclude")
UNLABELLED = "unlabelled"
VIEWS = ("AP", "lateral")
LATERALITIES = ("L", "R")


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """Everything import knows about one source image, as stored in ``images``."""

    path: str
    source_folder: str
    sha256: str
    bytes: int
    format: str
    width: int
    height: int
    patient_key: str
    bits_stored: int | None = None
    photometric: str | None = None
    window_center: float | None = None
    window_width: float | None = None
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
    mtime: float | None = None
    cache_height: int | None = None
    cache_width: int | None = None
    thumb_height: int | None = None
    thumb_width: int | None = None


@dataclass(frozen=True, slots=True)
class ImageRow(ImageRecord):
    """A stored image with its id and current label (``None`` when unlabelled).

    Slots, not a ``__dict__``: the browser holds one per image, and at 43,000 images a
    dict per row was about 60 MB of the GUI's anonymous memory.
    """

    id: int = 0
    patient_id: int = 0
    label: str | None = None
    imported_at: str = ""


_RECORD_COLUMNS = tuple(f.name for f in fields(ImageRecord) if f.name != "patient_key")
_ROW_SQL = (
    "SELECT i.*, p.patient_key, l.label FROM images i "
    "JOIN patients p ON p.id = i.patient_id LEFT JOIN labels l ON l.image_id = i.id"
)
_ROW_FIELDS = {f.name for f in fields(ImageRow)}


# Columns with few distinct values: one shared str per value instead of one per row.
_INTERNED = ("source_folder", "format", "photometric", "view", "laterality", "modality",
             "transfer_syntax", "study_date")


def _row(r: sqlite3.Row) -> ImageRow:
    return ImageRow(**{k: r[k] for k in r.keys() if k in _ROW_FIELDS})


@contextlib.contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """No cyclic garbage collection while a listing makes its (acyclic) rows.

    Tens of thousands of new tuples and rows set off the collector again and again,
    and each full pass walks every object of the process: in the GUI, with Qt's and
    pyqtgraph's objects alive, that was a third of a 43,000-image listing's time.
    Nothing the listing makes is cyclic, so nothing is left for the collector.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rows(names: list[str], rows: list[tuple]) -> list[ImageRow]:
    """Many :class:`ImageRow` from tuple rows of ``_ROW_SQL``, built the fast way.

    Listing 43,000 images through ``ImageRow(**...)`` spent most of the browser's open in
    the frozen dataclass's ``__init__`` (one ``object.__setattr__`` call per field, each
    through the frozen check). :func:`_row_builder` sets the slots directly instead: the
    same object (same fields, equality and hash) about four times faster. Repeated
    strings of :data:`_INTERNED` columns are shared, which keeps the rows' memory small.
    """
    first: dict[str, int] = {}
    for k, name in enumerate(names):
        first.setdefault(name, k)
    if not _ROW_FIELDS <= first.keys():  # a query without every field: the checked way
        return [ImageRow(**{n: r[first[n]] for n in first if n in _ROW_FIELDS}) for r in rows]
    build = _row_builder(tuple((f.name, first[f.name]) for f in fields(ImageRow)))
    shared: dict = {}
    return [build(r, shared.setdefault) for r in rows]


@functools.lru_cache(maxsize=8)
def _row_builder(layout: tuple[tuple[str, int], ...]) -> Callable[[tuple, Callable], ImageRow]:
    """A function that makes an :class:`ImageRow` from one tuple row of column ``layout``.

    Generated once per column layout, as :mod:`dataclasses` generates ``__init__``: a
    straight run of slot-descriptor sets, no loop and no per-field lookups. A row has no
    ``__post_init__`` or validation to skip. ``share`` (a dict's ``setdefault``) maps an
    :data:`_INTERNED` column's value to one shared copy.
    """
    setters = {f"set_{name}": getattr(ImageRow, name).__set__ for name, _ in layout}
    lines = [f"    set_{name}(row, share(r[{k}], r[{k}]))" if name in _INTERNED
             else f"    set_{name}(row, r[{k}])" for name, k in layout]
    source = "def build(r, share):\n    row = new(ImageRow)\n" + "\n".join(lines) + "\n    return row\n"
    namespace = {"new": object.__new__, "ImageRow": ImageRow, **setters}
    exec(source, namespace)  # noqa: S102 (the source is made from field names only)
    return namespace["build"]


@dataclass(frozen=True)
class ImageFilter:
    """Which images to list. Empty fields do not filter.

    ``label`` is one of :data:`LABELS`, ``"unlabelled"``, or ``None`` for all.
    ``patient`` matches a patient key exactly; ``search`` is a substring of the
    patient key or path.
    """

    label: str | None = None
    patient: str | None = None
    view: str | None = None
    laterality: str | None = None
    source_folder: str | None = None
    search: str | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.label == UNLABELLED:
            clauses.append("l.label IS NULL")
        elif self.label is not None:
            check_label(self.label)
            clauses.append("l.label = ?")
            params.append(self.label)
        for column, value in (
            ("p.patient_key", self.patient),
            ("i.view", self.view),
            ("i.laterality", self.laterality),
            ("i.source_folder", self.source_folder),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.search:
            clauses.append("(p.patient_key LIKE ? OR i.path LIKE ?)")
            params += [f"%{self.search}%"] * 2
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def check_label(label: str | None) -> None:
    if label is not None and label not in LABELS:
        raise ValueError(f"unknown label {label!r}: use one of {', '.join(LABELS)} or none")


class ImageTable:
    """The ``patients`` and ``images`` tables of a :class:`Project`."""

    def __init__(self, project: Database):
        self._p = project

    def patient_id(self, conn: sqlite3.Connection, patient_key: str) -> int:
        """Id of ``patient_key``, created if new (call inside a transaction)."""
        row = conn.execute("SELECT id FROM patients WHERE patient_key = ?", (patient_key,)).fetchone()
        if row:
            return row[0]
        cur = conn.execute(
            "INSERT INTO patients(patient_key, created_at) VALUES (?, ?)", (patient_key, utc_now())
        )
        return cur.lastrowid

    def insert(self, conn: sqlite3.Connection, record: ImageRecord) -> int:
        """Insert one image row inside the caller's transaction; returns its id."""
        if record.view is not None and record.view not in VIEWS:
            raise ValueError(f"{record.path}: unknown view {record.view!r} (use AP or lateral)")
        if record.laterality is not None and record.laterality not in LATERALITIES:
            raise ValueError(f"{record.path}: unknown laterality {record.laterality!r} (use L or R)")
        values = dataclasses.asdict(record)
        for key in ("path", "source_folder"):
            values[key] = stored_path(values[key])
        cols = ", ".join(_RECORD_COLUMNS)
        marks = ", ".join("?" for _ in _RECORD_COLUMNS)
        cur = conn.execute(
            f"INSERT INTO images(patient_id, imported_at, hash_algo, {cols}) "
            f"VALUES (?, ?, ?, {marks})",
            (self.patient_id(conn, safe_text(record.patient_key)), utc_now(),
             hash_algo(record.sha256),
             *(values[c] for c in _RECORD_COLUMNS)),
        )
        return cur.lastrowid

    def relocate(self, conn: sqlite3.Connection, image_id: int, path: str, source_folder: str,
                 mtime: float | None) -> None:
        """Record a new location for a file found again by its hash."""
        conn.execute(
            "UPDATE images SET path = ?, source_folder = ?, mtime = ? WHERE id = ?",
            (stored_path(path), stored_path(source_folder), mtime, image_id),
        )

    def get(self, image_id: int) -> ImageRow:
        rows = self._p.query(_ROW_SQL + " WHERE i.id = ?", (image_id,))
        if not rows:
            raise KeyError(f"no image with id {image_id}")
        return _row(rows[0])

    def by_sha(self, sha256: str) -> ImageRow | None:
        rows = self._p.query(_ROW_SQL + " WHERE i.sha256 = ?", (sha256,))
        return _row(rows[0]) if rows else None

    def list(self, filt: ImageFilter | None = None, order: str = "patient") -> list[ImageRow]:
        """Images matching ``filt``, ordered by patient then id (or by ``"id"``)."""
        where, params = (filt or ImageFilter()).where()
        order_sql = {"patient": "p.patient_key, i.id", "id": "i.id"}[order]
        with _no_gc_pauses():
            return _rows(*self._p.query_tuples(f"{_ROW_SQL}{where} ORDER BY {order_sql}", params))

    def ids(self, filt: ImageFilter | None = None) -> list[int]:
        where, params = (filt or ImageFilter()).where()
        sql = f"SELECT i.id FROM images i JOIN patients p ON p.id = i.patient_id " \
              f"LEFT JOIN labels l ON l.image_id = i.id{where} ORDER BY p.patient_key, i.id"
        return [r[0] for r in self._p.query(sql, params)]

    def count(self, filt: ImageFilter | None = None) -> int:
        where, params = (filt or ImageFilter()).where()
        sql = "SELECT COUNT(*) FROM images i JOIN patients p ON p.id = i.patient_id " \
              f"LEFT JOIN labels l ON l.image_id = i.id{where}"
        return self._p.query(sql, params)[0][0]

    def counts(self, by: str, filt: ImageFilter | None = None) -> dict[str | None, int]:
        """Image counts grouped by ``label``, ``view``, ``laterality``, ``patient`` or ``source_folder``.

        Unlabelled images count under ``"unlabelled"`` when grouping by label.
        """
        column = {
            "label": f"COALESCE(l.label, '{UNLABELLED}')",
            "view": "i.view",
            "laterality": "i.laterality",
            "patient": "p.patient_key",
            "source_folder": "i.source_folder",
        }[by]
        where, params = (filt or ImageFilter()).where()
        sql = (
            f"SELECT {column} AS k, COUNT(*) AS n FROM images i "
            f"JOIN patients p ON p.id = i.patient_id LEFT JOIN labels l ON l.image_id = i.id"
            f"{where} GROUP BY k ORDER BY k"
        )
        return {r["k"]: r["n"] for r in self._p.query(sql, params)}

    def patient_count(self) -> int:
        return self._p.query("SELECT COUNT(DISTINCT patient_id) FROM images")[0][0]

    def patient_images(self, patient_key: str) -> list[ImageRow]:
        return self.list(ImageFilter(patient=patient_key))

    # -- import errors -----------------------------------------------------------
    def record_errors(self, errors: list[tuple[str, str]]) -> None:
        """Store ``(path, reason)`` pairs from the latest import, replacing older ones for those paths."""
        if not errors:
            return
        with self._p.transaction() as conn:
            now = utc_now()
            for path, reason in errors:
                path, reason = stored_path(path), safe_text(reason)
                conn.execute("DELETE FROM import_errors WHERE path = ?", (path,))
                conn.execute(
                    "INSERT INTO import_errors(path, reason, at) VALUES (?, ?, ?)", (path, reason, now)
                )

    def clear_errors(self, paths: list[str]) -> None:
        with self._p.transaction() as conn:
            conn.executemany("DELETE FROM import_errors WHERE path = ?", [(stored_path(p),) for p in paths])

    def errors(self) -> list[tuple[str, str, str]]:
        """``(path, reason, at)`` of files the imports skipped."""
        return [tuple(r) for r in self._p.query("SELECT path, reason, at FROM import_errors ORDER BY path")]
