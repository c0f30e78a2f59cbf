"""Reads: one reader's call on one image in one session, append-only, committed at once.

A read is committed in its own transaction the moment it is recorded (SQLite WAL, like a label
change), so a reader whose program is killed loses nothing already read. A reader who changes
their mind records a new read; the latest read of an image in a session is the session's read.

:func:`reading_items` is what a reading view shows. It carries no current label, no
prediction and no other reader's read (the type has no field for them), so a blind session
cannot leak them however the view is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidInput
from engine.reads._sessions import READ_LABELS, ReadingSession, get_session
from engine.store import Project, csv_cell, utc_now

EXPORT_COLUMNS = ("image_id", "patient_id", "reader", "session", "label", "confidence", "seconds", "at",
                  "read_id")


@dataclass(frozen=True)
class Read:
    """One stored read. ``seconds``: time on the image; ``confidence`` 1 (a guess) .. 5 (certain)."""

    id: int
    session: str
    image_id: int
    reader: str
    label: str
    confidence: int | None
    seconds: float | None
    at: str


@dataclass(frozen=True)
class ReadItem:
    """One image as a reading view may show it: no label, prediction or other reader's read.

    ``patient`` is the patient key in an open session and ``"patient N"`` (the order the
    session shows patients in) in a blind one; ``patient_image_ids`` are the patient's images
    in this session (its other views); ``own_read`` is this session's latest read, if any.
    """

    position: int
    image_id: int
    patient: str
    patient_image_ids: tuple[int, ...]
    view: str | None
    laterality: str | None
    own_read: Read | None


def _s(project: Project, session: ReadingSession | str) -> ReadingSession:
    return get_session(project, session) if isinstance(session, str) else session


def _read(row) -> Read:
    return Read(row["id"], row["session"], row["image_id"], row["reader"], row["label"],
                row["confidence"], row["seconds"], row["at"])


_READ_SQL = "SELECT r.*, s.name AS session FROM reads r JOIN reading_sessions s ON s.id = r.session_id"


def record_read(project: Project, session: ReadingSession | str, image_id: int, label: str,
                confidence: int | None = None, seconds: float | None = None) -> Read:
    """Store the session reader's read of ``image_id`` (committed before this returns).

    ``label`` is AFF, NFF or uncertain; ``confidence`` 1-5 or None (a session made with
    ``confidence=True`` asks the reader for one; the reads table accepts None either way);
    ``seconds`` is the time the image was on screen.
    """
    s = _s(project, session)
    if label not in READ_LABELS:
        raise InvalidInput(f"unknown read label {label!r}: use one of {', '.join(READ_LABELS)}")
    if confidence is not None and (isinstance(confidence, bool) or int(confidence) != confidence
                                   or not 1 <= confidence <= 5):
        raise InvalidInput(f"confidence must be 1-5, not {confidence!r}")
    if seconds is not None and not seconds >= 0:
        raise InvalidInput(f"time on image must be 0 s or more, not {seconds!r}")
    with project.transaction() as conn:
        if conn.execute("SELECT 1 FROM reading_items WHERE session_id = ? AND image_id = ?",
                        (s.id, image_id)).fetchone() is None:
            raise InvalidInput(f"image {image_id} is not in reading session {s.name}")
        now = utc_now()
        cur = conn.execute(
            "INSERT INTO reads(session_id, image_id, reader, label, confidence, seconds, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (s.id, image_id, s.reader, label, None if confidence is None else int(confidence),
             None if seconds is None else float(seconds), now))
    return Read(cur.lastrowid, s.name, image_id, s.reader, label,
                None if confidence is None else int(confidence), seconds, now)


def reads_of(project: Project, session: ReadingSession | str, latest: bool = True) -> list[Read]:
    """The session's reads in reading order: the latest per image, or every row (``latest=False``)."""
    s = _s(project, session)
    rows = project.query(
        _READ_SQL + " JOIN reading_items t ON t.session_id = r.session_id AND t.image_id = r.image_id "
        "WHERE r.session_id = ? ORDER BY t.position, r.id", (s.id,))
    reads = [_read(r) for r in rows]
    if not latest:
        return reads
    last: dict[int, Read] = {}
    for r in reads:
        last[r.image_id] = r
    return list(last.values())


def latest_reads(project: Project, sessions: list[str]) -> dict[str, dict[int, Read]]:
    """``session -> image_id -> latest read`` for several sessions."""
    return {name: {r.image_id: r for r in reads_of(project, name)} for name in sessions}


def progress(project: Project, session: ReadingSession | str) -> tuple[int, int]:
    """``(images read, images in the session)``."""
    s = _s(project, session)
    done = project.query("SELECT COUNT(DISTINCT image_id) FROM reads WHERE session_id = ?", (s.id,))[0][0]
    return done, s.n_images


def reading_items(project: Project, session: ReadingSession | str) -> list[ReadItem]:
    """The session's images in reading order, as a (blind) reading view may show them."""
    s = _s(project, session)
    rows = project.query(
        "SELECT t.position, t.image_id, p.patient_key, i.view, i.laterality FROM reading_items t "
        "JOIN images i ON i.id = t.image_id JOIN patients p ON p.id = i.patient_id "
        "WHERE t.session_id = ? ORDER BY t.position", (s.id,))
    own = {r.image_id: r for r in reads_of(project, s)}
    alias: dict[str, str] = {}
    by_patient: dict[str, list[int]] = {}
    for r in rows:
        alias.setdefault(r["patient_key"], f"patient {len(alias) + 1}")
        by_patient.setdefault(r["patient_key"], []).append(r["image_id"])
    return [ReadItem(r["position"], r["image_id"],
                     alias[r["patient_key"]] if s.blind else r["patient_key"],
                     tuple(by_patient[r["patient_key"]]), r["view"], r["laterality"],
                     own.get(r["image_id"]))
            for r in rows]


def next_unread(project: Project, session: ReadingSession | str) -> int | None:
    """Position of the first image the session has not read yet (None when all are read)."""
    for item in reading_items(project, session):
        if item.own_read is None:
            return item.position
    return None


def export_reads_csv(project: Project, session: ReadingSession | str, path: str | Path,
                     all_rows: bool = False) -> int:
    """Write the session's reads (latest per image, or every row) as CSV; returns the row count."""
    s = _s(project, session)
    patients = {r[0]: r[1] for r in project.query(
        "SELECT i.id, p.patient_key FROM images i JOIN patients p ON p.id = i.patient_id")}
    reads = reads_of(project, s, latest=not all_rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(EXPORT_COLUMNS)
        for r in reads:
            out.writerow([csv_cell(v) for v in (
                r.image_id, patients[r.image_id], r.reader, r.session, r.label,
                "" if r.confidence is None else r.confidence, "" if r.seconds is None else r.seconds,
                r.at, r.id)])
    return len(reads)
