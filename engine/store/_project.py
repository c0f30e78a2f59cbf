"""The project folder: ``project.sqlite`` plus ``cache/``, ``runs/`` and ``reports/``."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.store import _health
from engine.store._cache import ImageCache
from engine.store._db import DB_NAME, SUFFIX, ProjectError, connect, utc_now, writable
from engine.store._images import ImageTable
from engine.store._labels import LabelBook
from engine.store._rois import RoiTable
from engine.store._schema import SCHEMA_VERSION, migrate, schema_version


class Project:
    """An open project folder.

    One ``Project`` owns one SQLite connection; several processes may open the
    same folder at once. Use :meth:`create` or :meth:`open`, and :meth:`close`
    (or a ``with`` block) when done. Methods are safe to call from several
    threads: statements are serialised on an internal lock.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn
        self.read_only: str | None = None  # the note saying why, when opened read-only
        self._lock = threading.RLock()
        self.images = ImageTable(self)
        self.labels = LabelBook(self)
        self.rois = RoiTable(self)
        self.cache = ImageCache(self.cache_dir)

    # -- folders ----------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def reports_dir(self) -> Path:
        return self.path / "reports"

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(SUFFIX)

    # -- life cycle ---------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, exist_ok: bool = False) -> Project:
        """Create a new project folder (``.affproj`` is appended when missing)."""
        path = Path(path).expanduser().resolve()
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        _health.check_before_open(path, path / DB_NAME)
        if (path / DB_NAME).exists():
            if exist_ok:
                return cls.open(path)
            raise ProjectError(f"{path}: a project already exists here")
        if path.exists() and any(path.iterdir()):
            raise ProjectError(f"{path}: folder exists and is not empty")
        for sub in ("", "cache", "runs", "reports"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        conn = connect(path / DB_NAME)
        migrate(conn)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)", (utc_now(),)
        )
        return cls(path, conn)

    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Open an existing project, migrating an older schema in place.

        A damaged folder (empty or schema-less database, or a missing one beside a
        non-empty ``cache/``/``runs/``, or a corrupt page) raises
        :class:`~engine.store.DamagedProject` saying how to recover. Before a schema
        migration the database is backed up into ``backups/``.
        """
        path = Path(path).expanduser().resolve()
        if path.is_file() and path.name == DB_NAME:
            path = path.parent
        if not (path / DB_NAME).is_file():
            alt = path.with_name(path.name + SUFFIX)
            if (alt / DB_NAME).is_file():
                path = alt
            else:
                _health.check_before_open(path, path / DB_NAME)
                raise ProjectError(f"{path}: not an AFF Workbench project (no {DB_NAME})")
        db = path / DB_NAME
        _health.check_before_open(path, db)
        if not writable(path):
            return cls._open_read_only(path, db)
        try:
            conn = connect(db)
            try:
                cls._check_and_migrate(path, conn)
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise _health.diagnose(path, db, exc) from None
        except RuntimeError as exc:
            raise ProjectError(f"{path}: {exc}") from exc
        for sub in ("cache", "runs", "reports"):
            (path / sub).mkdir(exist_ok=True)
        return cls(path, conn)

    @classmethod
    def _open_read_only(cls, path: Path, db: Path) -> Project:
        """Open a project whose folder cannot be written, for inspection only."""
        note = f"{path}: opened read-only (the folder or {DB_NAME} is not writable)"
        try:
            conn = sqlite3.connect(_health.sqlite_uri(db, "mode=ro"), uri=True, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("SELECT COUNT(*) FROM meta").fetchone()
            except sqlite3.OperationalError:  # WAL without a readable -shm: read the file alone
                conn.close()
                conn = sqlite3.connect(_health.sqlite_uri(db, "mode=ro&immutable=1"), uri=True,
                                       isolation_level=None, check_same_thread=False)
                note += "; changes not yet checkpointed from the -wal file are not shown"
            conn.row_factory = sqlite3.Row
            version = schema_version(conn)
        except sqlite3.DatabaseError as exc:
            raise _health.diagnose(path, db, exc) from None
        if version != SCHEMA_VERSION:
            conn.close()
            raise ProjectError(f"{path}: read-only project has schema v{version}, this release "
                               f"needs v{SCHEMA_VERSION}; copy it to a writable folder to open it")
        project = cls(path, conn)
        project.read_only = note
        return project

    @staticmethod
    def _check_and_migrate(path: Path, conn: sqlite3.Connection) -> None:
        if _health.quick_check_due(conn):
            problems = _health.quick_check(conn)
            if problems:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('last_quick_check', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (utc_now(),))
        version = schema_version(conn)
        if 0 < version < SCHEMA_VERSION:
            _health.backup(conn, path / "backups" / _health.backup_name(f"v{version}"))
        migrate(conn)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"

    def backup(self, dest: str | Path | None = None) -> Path:
        """Copy the database (online backup API) to ``dest`` or ``backups/project-<time>.sqlite``."""
        target = Path(dest) if dest else self.path / "backups" / _health.backup_name("manual")
        with self._lock:
            return _health.backup(self.conn, target)

    @property
    def schema_version(self) -> int:
        return schema_version(self.conn)

    # -- SQL helpers --------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on exit, rolled back on error."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return all rows."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def query_tuples(self, sql: str, params: tuple | list | dict = ()) -> tuple[list[str], list[tuple]]:
        """Run a read-only query; its column names and its rows as plain tuples.

        For listings of every image: a tuple row costs less to make and to read than
        a :class:`sqlite3.Row`, which counts at tens of thousands of rows.
        """
        with self._lock:
            cursor = self.conn.cursor()
            cursor.row_factory = None
            try:
                rows = cursor.execute(sql, params).fetchall()
                return [d[0] for d in cursor.description or ()], rows
            finally:
                cursor.close()

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


__all__ = ["DB_NAME", "SCHEMA_VERSION", "SUFFIX", "Project", "ProjectError", "connect", "utc_now",
           "writable"]
