"""The bottom of the store: the database file's name, its connection settings, the error type.

Everything else in ``engine.store`` builds on this module and it imports none
of them, so the table classes, the health checks and ``Project`` need no
import of each other to share these (no import circle inside the package).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from engine.errors import EngineError

DB_NAME = "project.sqlite"
SUFFIX = ".affproj"
BUSY_TIMEOUT_MS = 30_000


class ProjectError(EngineError):
    """A project folder that cannot be created or opened, with the reason."""


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds, as stored in every table."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def connect(db_path: Path) -> sqlite3.Connection:
    """Open ``db_path`` in autocommit mode with WAL, foreign keys and a busy timeout."""
    conn = sqlite3.connect(
        db_path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        conn.close()
        raise ProjectError(f"{db_path}: the file system does not support SQLite WAL mode")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def writable(path: Path) -> bool:
    """True when the project folder and its database can be written by this process."""
    db = path / DB_NAME
    return os.access(path, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


class Database(Protocol):
    """What the table classes need of a :class:`~engine.store.Project`: its connection,
    queries and write transactions (a protocol, so they need not import ``Project``)."""

    conn: sqlite3.Connection

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]: ...

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...
