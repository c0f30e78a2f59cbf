"""A project folder that cannot be written can still be inspected."""

from __future__ import annotations

import os
import sqlite3

import pytest

from engine.cli import main
from engine.store import Project, _db
from tests.engine._store_factory import add_images


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    with Project.create(tmp_path / "S") as p:
        ids = add_images(p, 3, patients=1)
        p.labels.set(ids[0], "AFF", "ann")
        path = p.path
    real = os.access
    # tests run as root, which chmod cannot stop; os.access is what the store asks
    monkeypatch.setattr(_db.os, "access", lambda f, mode, *a, **k:
                        False if mode == os.W_OK and str(f).startswith(str(path)) else real(f, mode))
    return path


def test_read_only_project_opens_for_inspection(read_only, tmp_path, capsys):
    with Project.open(read_only) as p:
        assert p.read_only and "read-only" in p.read_only
        assert p.labels.all() == {1: "AFF"}
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            p.labels.set(2, "NFF", "bob")
    assert main(["info", str(read_only)]) == 0
    captured = capsys.readouterr()
    assert "opened read-only" in captured.err and "images    3" in captured.out
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", str(read_only), "--out", str(out)]) == 0
    assert out.read_text().count("AFF") == 1
    assert main(["jobs", "list", str(read_only)]) == 0


@pytest.mark.parametrize("folder", ["Study #2", "what? 100%"])
def test_folder_names_with_uri_characters_open_the_right_database(tmp_path, monkeypatch, folder):
    # the read-only and health checks open the database through a file: URI; '#', '?' and '%'
    # in a raw URI cut the path short and opened another, empty database ("no schema")
    with Project.create(tmp_path / folder / "S") as p:
        ids = add_images(p, 2, patients=1)
        p.labels.set(ids[0], "AFF", "ann")
        path = p.path
    with Project.open(path) as p:
        assert p.labels.all() == {ids[0]: "AFF"}
    real = os.access
    monkeypatch.setattr(_db.os, "access", lambda f, mode, *a, **k:
                        False if mode == os.W_OK and str(f).startswith(str(path)) else real(f, mode))
    with Project.open(path) as p:
        assert p.read_only and p.labels.all() == {ids[0]: "AFF"}
    assert sorted(x.name for x in (tmp_path / folder).iterdir()) == ["S.affproj"]
