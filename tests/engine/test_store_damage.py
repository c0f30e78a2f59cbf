"""Damaged projects are refused with a way out, never opened as new empty ones (issue 16)."""

from __future__ import annotations

import sqlite3

import pytest

from engine.cli import main
from engine.store import DamagedProject, Project


def _project(tmp_path):
    p = Project.create(tmp_path / "p")
    p.set_meta("probe", "kept")
    p.close()
    return tmp_path / "p.affproj"


def test_zero_byte_database_is_refused(tmp_path, capsys):
    path = _project(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        (path / f"project.sqlite{suffix}").unlink(missing_ok=True)
    (path / "project.sqlite").write_bytes(b"")
    with pytest.raises(DamagedProject, match="damaged project.*empty"):
        Project.open(path)
    assert (path / "project.sqlite").stat().st_size == 0  # nothing written into it
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "damaged project" in err and "recovery.md" in err


def test_database_without_schema_is_refused(tmp_path):
    path = _project(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        (path / f"project.sqlite{suffix}").unlink(missing_ok=True)
    sqlite3.connect(path / "project.sqlite").execute("CREATE TABLE x(a)").connection.close()
    with pytest.raises(DamagedProject, match="no schema"):
        Project.open(path)


def test_missing_database_with_cache_is_damaged_not_foreign(tmp_path):
    path = _project(tmp_path)
    (path / "cache" / "000001.npy").write_bytes(b"x")
    for suffix in ("", "-wal", "-shm"):
        (path / f"project.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(DamagedProject, match="cache/ or runs/ hold data"):
        Project.open(path)
    with pytest.raises(DamagedProject):
        Project.create(path, exist_ok=True)


def test_healthy_project_still_opens(tmp_path):
    path = _project(tmp_path)
    with Project.open(path) as p:
        assert p.meta("probe") == "kept"
