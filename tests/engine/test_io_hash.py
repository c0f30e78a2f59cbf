"""xxh3-128 identifies new images; SHA-256 rows of older projects keep working."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import xxhash

from engine.io import import_sources, rebuild_cache
from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom


def test_new_images_are_identified_by_xxh3_128(tmp_path):
    path = write_dicom(tmp_path / "src" / "p1" / "a.dcm", femur_like(20, 16, 12), patient_id="P1")
    with Project.create(tmp_path / "S") as p:
        assert import_sources(p, [tmp_path / "src"], workers=1).added == 1
        (row,) = p.query("SELECT sha256, hash_algo FROM images")
        assert row["sha256"] == xxhash.xxh3_128_hexdigest(path.read_bytes())
        assert row["hash_algo"] == "xxh3-128"


def _as_legacy(p: Project) -> None:
    """Turn the project into one imported before xxh3: SHA-256 identities, cache renamed."""
    for r in p.query("SELECT id, path, sha256 FROM images"):
        legacy = hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest()
        old, new = p.cache.full_path(r["sha256"]), p.cache.full_path(legacy)
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)
        with p.transaction() as conn:
            conn.execute("UPDATE images SET sha256 = ?, hash_algo = 'sha256' WHERE id = ?",
                         (legacy, r["id"]))


def test_sha256_rows_keep_relocation_duplicates_and_reimport(tmp_path):
    src = tmp_path / "src"
    write_dicom(src / "p1" / "a.dcm", femur_like(20, 16, 12), patient_id="P1")
    write_dicom(src / "p2" / "b.dcm", femur_like(20, 16, 12, seed=1), patient_id="P2")
    with Project.create(tmp_path / "S") as p:
        import_sources(p, [src], workers=1)
        _as_legacy(p)
        # incremental re-import: nothing new, even after touching a file (content check)
        os.utime(src / "p1" / "a.dcm", (1, 1))
        again = import_sources(p, [src], workers=1)
        assert (again.added, again.unchanged, again.duplicates) == (0, 2, [])
        # a copy elsewhere is a duplicate of the SHA-256 row
        shutil.copy(src / "p2" / "b.dcm", tmp_path / "copy.dcm")
        dup = import_sources(p, [tmp_path / "copy.dcm"], workers=1)
        assert dup.added == 0 and len(dup.duplicates) == 1
        # a moved file is found again by its SHA-256 identity
        (src / "moved").mkdir()
        os.replace(src / "p2" / "b.dcm", src / "moved" / "b.dcm")
        moved = import_sources(p, [src], workers=1)
        assert (moved.added, moved.relocated) == (0, 1)
        assert p.images.count() == 2
        # the cache rebuild verifies a SHA-256 row with SHA-256
        report = rebuild_cache(p, everything=True, workers=1)
        assert report.errors == [] and report.rebuilt == 2
