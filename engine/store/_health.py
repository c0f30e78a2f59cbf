"""Telling a damaged project from a new one, and the way back: backup and recover.

A project's ``project.sqlite`` is never empty once created (``create`` writes the
schema at once), so an empty file, a database without our schema, or a missing
database beside a ``cache/`` or ``runs/`` that hold data is a damaged project.
Opening it as new would hide every label and let the next import overwrite cache
slots; it is refused with :class:`DamagedProject`, whose message says how to
recover (docs/recovery.md).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.errors import EngineError
from engine.store._db import ProjectError

RECOVERY_HINT = (
    "restore a backup from {backups} (see `affengine project backup`), or run "
    "`affengine project recover {path}` to keep what can still be read "
    "(docs/recovery.md)"
)
QUICK_CHECK_EVERY = timedelta(days=7)


class DamagedProject(ProjectError):
    """A project folder whose database is empty, schema-less or corrupt."""


def _hint(path: Path) -> str:
    return RECOVERY_HINT.format(backups=path / "backups", path=path)


def damaged(path: Path, what: str) -> DamagedProject:
    return DamagedProject(f"{path}: damaged project: {what}; {_hint(path)}")


def holds_data(path: Path) -> bool:
    """True when ``cache/`` or ``runs/`` of the folder are non-empty."""
    for sub in ("cache", "runs"):
        folder = path / sub
        if folder.is_dir() and any(folder.iterdir()):
            return True
    return False


def check_before_open(path: Path, db_path: Path) -> None:
    """Refuse an empty or schema-less database before anything writes to it."""
    if not db_path.is_file():
        if holds_data(path):
            raise damaged(path, f"{db_path.name} is missing but cache/ or runs/ hold data")
        return
    if db_path.stat().st_size == 0:
        raise damaged(path, f"{db_path.name} is empty (0 bytes)")
    try:
        version, tables = _peek(db_path, "mode=ro")
    except sqlite3.DatabaseError as exc:
        try:  # a WAL database in a read-only folder without its -shm: read the file alone
            version, tables = _peek(db_path, "mode=ro&immutable=1")
        except sqlite3.DatabaseError:
            raise damaged(path, f"cannot open database {db_path.name} ({exc})") from None
    if version == 0 or "meta" not in tables:
        raise damaged(path, f"{db_path.name} has no schema (no AFF Workbench tables)")


def sqlite_uri(db_path, flags: str) -> str:
    """A ``file:`` URI for ``sqlite3.connect(..., uri=True)``; the path is percent-encoded, so a folder
    named with ``#``, ``?`` or ``%`` is not cut short (a raw ``file:{path}`` opens another, empty file)."""
    return f"{Path(db_path).resolve().as_uri()}?{flags}"


def _peek(db_path: Path, flags: str) -> tuple[int, set[str]]:
    conn = sqlite3.connect(sqlite_uri(db_path, flags), uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        return version, {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check`` problems (empty when the database is sound)."""
    rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    return [] if rows == ["ok"] else rows


def quick_check_due(conn: sqlite3.Connection, now: datetime | None = None) -> bool:
    """True when the last recorded quick_check is older than :data:`QUICK_CHECK_EVERY`."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'last_quick_check'").fetchone()
    if row is None:
        return True
    try:
        last = datetime.fromisoformat(row[0])
    except ValueError:
        return True
    return (now or datetime.now(timezone.utc)) - last > QUICK_CHECK_EVERY


def diagnose(path: Path, db_path: Path, error: Exception) -> DamagedProject:
    """Turn a ``sqlite3.DatabaseError`` on open into a message naming what is wrong."""
    detail = str(error)
    try:
        conn = sqlite3.connect(sqlite_uri(db_path, "mode=ro"), uri=True)
        try:
            problems = quick_check(conn)
        finally:
            conn.close()
        if problems:
            detail = f"{detail}; quick_check: " + "; ".join(problems[:3])
    except sqlite3.DatabaseError as exc:
        detail = f"{detail}; quick_check could not run: {exc}"
    return damaged(path, f"cannot open database {db_path.name}: it is corrupt ({detail})")


def backup(conn: sqlite3.Connection, dest: Path) -> Path:
    """Copy the open database to ``dest`` with SQLite's online backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    out = sqlite3.connect(tmp)
    try:
        conn.backup(out)
    finally:
        out.close()
    tmp.replace(dest)
    return dest


def backup_name(reason: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"project-{stamp}-{reason}.sqlite"


def recover(src: Path, dest: Path, use_cli: bool = True) -> tuple[str, dict[str, int]]:
    """Write what can be read of database ``src`` into a new database ``dest``.

    Uses ``sqlite3 SRC .recover`` when the CLI is installed (``use_cli``), else
    copies table by table, row range by row range, skipping what cannot be read.
    Returns the method used and the rows copied per table.
    """
    if dest.exists():
        raise EngineError(f"{dest}: already exists; choose another destination")
    dest.parent.mkdir(parents=True, exist_ok=True)
    cli = shutil.which("sqlite3") if use_cli else None
    note = ""
    if cli:
        dump = subprocess.run([cli, str(src), ".recover"], capture_output=True, timeout=3600)
        if dump.returncode == 0 and dump.stdout:
            load = subprocess.run([cli, str(dest)], input=dump.stdout, capture_output=True,
                                  timeout=3600)
            if load.returncode == 0:
                return "sqlite3 .recover", _counts(dest)
            dump = load
        reason = dump.stderr.decode(errors="replace").strip().splitlines()
        note = f" (sqlite3 .recover failed: {reason[-1] if reason else dump.returncode})"
        dest.unlink(missing_ok=True)
    return "row copy" + note, _copy_readable(src, dest)


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def _copy_readable(src: Path, dest: Path, chunk: int = 512) -> dict[str, int]:
    old = sqlite3.connect(sqlite_uri(src, "mode=ro"), uri=True)
    new = sqlite3.connect(dest, isolation_level=None)
    copied: dict[str, int] = {}
    try:
        try:
            version = old.execute("PRAGMA user_version").fetchone()[0]
            schema = old.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'table' DESC").fetchall()
        except sqlite3.DatabaseError as exc:
            raise EngineError(f"{src}: even the schema cannot be read ({exc}); restore a backup") from None
        new.execute("BEGIN")
        tables = [name for kind, name, sql in schema if kind == "table"]
        for kind, _name, sql in schema:
            if kind == "table":
                new.execute(sql)
        for name in tables:
            copied[name] = _copy_table(old, new, name, chunk)
        for kind, _name, sql in schema:
            if kind != "table":
                try:
                    new.execute(sql)
                except sqlite3.DatabaseError:  # an index over rows that did not survive
                    pass
        new.execute(f"PRAGMA user_version = {int(version)}")
        new.execute("COMMIT")
    finally:
        old.close()
        new.close()
    return copied


def _copy_table(old, new, name: str, chunk: int) -> int:
    try:
        top = old.execute(f'SELECT MAX(rowid) FROM "{name}"').fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = 1 << 20  # the b-tree is damaged: probe a generous range
    n = 0

    def insert(rows):
        for row in rows:
            marks = ",".join("?" * (len(row)))
            new.execute(f'INSERT OR IGNORE INTO "{name}" (rowid, {_cols(old, name)}) '
                        f"VALUES ({marks})", row)

    for lo in range(0, top + 1, chunk):
        sql = f'SELECT rowid, * FROM "{name}" WHERE rowid BETWEEN ? AND ?'
        try:
            rows = old.execute(sql, (lo, lo + chunk - 1)).fetchall()
        except sqlite3.DatabaseError:
            rows = []
            for rid in range(lo, lo + chunk):
                try:
                    rows += old.execute(sql, (rid, rid)).fetchall()
                except sqlite3.DatabaseError:
                    continue
        insert(rows)
        n += len(rows)
    return n


def _cols(conn, name: str) -> str:
    return ",".join(f'"{r[1]}"' for r in conn.execute(f'PRAGMA table_info("{name}")'))





def recover_project(path: Path, use_cli: bool = True) -> tuple[str, dict[str, int], Path]:
    """Replace ``path/project.sqlite`` with what can be read of it.

    The damaged file (and its ``-wal``) is kept in ``backups/``. Returns the
    method, rows copied per table and where the damaged file went.
    """
    db = path / "project.sqlite"
    if not db.is_file() or db.stat().st_size == 0:
        raise DamagedProject(f"{path}: nothing to recover ({db.name} is missing or empty); "
                             f"restore a backup from {path / 'backups'} (docs/recovery.md)")
    fresh = path / "project.sqlite.recovered"
    fresh.unlink(missing_ok=True)
    method, counts = recover(db, fresh, use_cli=use_cli)
    if not counts.get("meta"):
        fresh.unlink(missing_ok=True)
        raise DamagedProject(f"{path}: the project tables cannot be read from {db.name}; "
                             f"restore a backup from {path / 'backups'} (docs/recovery.md)")
    kept = path / "backups" / backup_name("damaged")
    kept.parent.mkdir(parents=True, exist_ok=True)
    db.replace(kept)
    for suffix in ("-wal", "-shm"):
        side = path / f"project.sqlite{suffix}"
        if side.exists():
            side.replace(kept.with_name(kept.name + suffix))
    fresh.replace(db)
    return method, counts, kept
__all__ = ["DamagedProject", "backup", "check_before_open", "diagnose", "quick_check", "recover",
           "recover_project"]
