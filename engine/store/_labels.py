"""Current labels and their append-only history, with undo."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError, NotFound
from engine.store._db import utc_now
from engine.store._images import check_label
from engine.store._names import csv_cell

if TYPE_CHECKING:
    import sqlite3

    from engine.store._db import Database

SOURCES = ("gui", "csv", "import", "undo", "cli", "adjudication")


@dataclass(frozen=True)
class LabelChange:
    """One row of the label history."""

    id: int
    image_id: int
    old_label: str | None
    new_label: str | None
    reader: str
    source: str
    at: str
    undoes: int | None = None


class NothingToUndo(NotFound):
    """Raised by :meth:`LabelBook.undo` when there is no change left to undo."""


class UndoConflict(NothingToUndo, EngineError):
    """An undo refused because another reader changed the label after this reader did."""


class LabelBook:
    """Labels of a :class:`Project`. Every change is committed at once and logged."""

    def __init__(self, project: Database):
        self._p = project

    def get(self, image_id: int) -> str | None:
        rows = self._p.query("SELECT label FROM labels WHERE image_id = ?", (image_id,))
        return rows[0]["label"] if rows else None

    def all(self) -> dict[int, str]:
        """``image_id -> label`` for every labelled image."""
        return {r[0]: r[1] for r in self._p.query("SELECT image_id, label FROM labels")}

    def set(self, image_id: int, label: str | None, reader: str, source: str = "gui") -> LabelChange | None:
        """Set one image's label (``None`` clears it); ``None`` is returned when nothing changed."""
        changes = self.set_many([image_id], label, reader, source)
        return changes[0] if changes else None

    def set_many(
        self, image_ids: Iterable[int], label: str | None, reader: str, source: str = "gui"
    ) -> list[LabelChange]:
        """Set the same label on several images (a patient, a selection) in one transaction."""
        check_label(label)
        self._check(reader, source)
        with self._p.transaction() as conn:
            return [
                c for i in image_ids
                if (c := self._apply(conn, i, label, reader, source)) is not None
            ]

    def set_each(self, labels: dict[int, str | None], reader: str, source: str) -> list[LabelChange]:
        """Set a different label per image (CSV import) in one transaction."""
        for label in labels.values():
            check_label(label)
        self._check(reader, source)
        with self._p.transaction() as conn:
            return [
                c for i, lab in labels.items()
                if (c := self._apply(conn, i, lab, reader, source)) is not None
            ]

    def set_in(self, conn: sqlite3.Connection, image_id: int, label: str | None, reader: str,
               source: str, force: bool = False) -> LabelChange | None:
        """Set a label inside the caller's open transaction (e.g. an import writing a row,
        its thumbnail and its label together); ``None`` when nothing changed.

        ``force`` writes a history row even when the label stays the same (an adjudication
        that agrees with the current label is still a decision on record)."""
        check_label(label)
        self._check(reader, source)
        return self._apply(conn, image_id, label, reader, source, force=force)

    def undo(self, reader: str, image_id: int | None = None) -> LabelChange:
        """Revert ``reader``'s own latest change not yet undone (of one image, or any).

        The revert is a new history row (source ``undo``) pointing at the row it undoes.
        Raises :class:`UndoConflict` when another reader changed that image's label
        since: their later label is never overwritten by someone else's undo.
        """
        self._check(reader, "undo")
        with self._p.transaction() as conn:
            where, params = "reader = ?", [reader]
            if image_id is not None:
                where, params = where + " AND image_id = ?", [reader, image_id]
            row = conn.execute(
                f"SELECT * FROM label_history h WHERE {where} AND source != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM label_history u WHERE u.undoes = h.id) "
                "ORDER BY id DESC LIMIT 1",
                params,
            ).fetchone()
            if row is None:
                raise NothingToUndo(f"nothing of {reader}'s to undo"
                                    + (f" for image {image_id}" if image_id else ""))
            later = conn.execute(
                "SELECT reader, at FROM label_history WHERE image_id = ? AND id > ? "
                "AND reader != ? ORDER BY id DESC LIMIT 1",
                (row["image_id"], row["id"], reader)).fetchone()
            if later is not None:
                raise UndoConflict(
                    f"cannot undo {reader}'s change of image {row['image_id']}: "
                    f"{later['reader']} changed its label since (at {later['at']}); "
                    "set the label you want instead")
            change = self._apply(conn, row["image_id"], row["old_label"], reader, "undo",
                                 undoes=row["id"], force=True)
            assert change is not None
            return change

    def confirm(self, image_ids: Iterable[int], reader: str, source: str = "gui") -> list[LabelChange]:
        """Record that ``reader`` looked at each labelled image and agrees with its label.

        A ``confirm`` is a history row whose old and new label are the same (the label itself
        does not change); unlabelled images are skipped. Returns the rows written.
        """
        self._check(reader, source)
        changes = []
        with self._p.transaction() as conn:
            for image_id in image_ids:
                row = conn.execute("SELECT label FROM labels WHERE image_id = ?", (image_id,)).fetchone()
                if row is not None:
                    changes.append(self._apply(conn, image_id, row[0], reader, source, force=True))
        return changes

    def reviewed(self) -> set[int]:
        """Images a person has labelled or confirmed in the GUI (any history row of source ``gui``)."""
        return {r[0] for r in self._p.query(
            "SELECT DISTINCT image_id FROM label_history WHERE source = 'gui'")}

    def history(self, image_id: int | None = None) -> list[LabelChange]:
        """The label history, oldest first, of one image or of the whole project."""
        sql, params = "SELECT * FROM label_history", ()
        if image_id is not None:
            sql, params = sql + " WHERE image_id = ?", (image_id,)
        return [LabelChange(**dict(r)) for r in self._p.query(sql + " ORDER BY id", params)]

    def export_history_csv(self, path: str | Path) -> int:
        """Write the whole history (with image path and patient) as CSV; returns the row count."""
        rows = self._p.query(
            "SELECT h.id, h.at, p.patient_key, i.path, h.image_id, h.old_label, h.new_label, "
            "h.reader, h.source, h.undoes FROM label_history h JOIN images i ON i.id = h.image_id "
            "JOIN patients p ON p.id = i.patient_id ORDER BY h.id"
        )
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["change_id", "at", "patient_id", "path", "image_id", "old_label",
                          "new_label", "reader", "source", "undoes"])
            out.writerows(tuple(csv_cell(v) for v in r) for r in rows)
        return len(rows)

    # -- internals ---------------------------------------------------------------
    @staticmethod
    def _check(reader: str, source: str) -> None:
        if not reader or not reader.strip():
            raise ValueError("a reader name is required for every label change")
        if source not in SOURCES:
            raise ValueError(f"unknown label source {source!r}: use one of {', '.join(SOURCES)}")

    @staticmethod
    def _apply(conn: sqlite3.Connection, image_id: int, label: str | None, reader: str,
               source: str, undoes: int | None = None, force: bool = False) -> LabelChange | None:
        if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:
            raise KeyError(f"no image with id {image_id}")
        row = conn.execute("SELECT label FROM labels WHERE image_id = ?", (image_id,)).fetchone()
        old = row[0] if row else None
        if old == label and not force:
            return None
        now = utc_now()
        if label is None:
            conn.execute("DELETE FROM labels WHERE image_id = ?", (image_id,))
        else:
            conn.execute(
                "INSERT INTO labels(image_id, label, reader, source, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(image_id) DO UPDATE SET label = excluded.label, reader = excluded.reader, "
                "source = excluded.source, updated_at = excluded.updated_at",
                (image_id, label, reader, source, now),
            )
        cur = conn.execute(
            "INSERT INTO label_history(image_id, old_label, new_label, reader, source, at, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (image_id, old, label, reader, source, now, undoes),
        )
        return LabelChange(cur.lastrowid, image_id, old, label, reader, source, now, undoes)
