"""A full disk is reported as a full disk, not as a decoding error."""

from __future__ import annotations

import errno

from engine.io import import_sources
from engine.store import ImageCache, Project
from tests.engine._dicom_factory import femur_like, write_dicom


def _full(*_args, **_kw):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_cache_write_on_full_disk_names_the_cause(tmp_path, monkeypatch):
    write_dicom(tmp_path / "src" / "p1" / "a.dcm", femur_like(20, 16, 12), patient_id="P1")
    monkeypatch.setattr(ImageCache, "write_full", _full)
    with Project.create(tmp_path / "S") as p:
        report = import_sources(p, [tmp_path / "src"], workers=1)
        ((_, reason),) = report.errors
        assert "decoding" not in reason
        assert reason.startswith("disk full") and str(p.cache_dir) in reason


def test_thumbnail_write_on_full_disk_names_the_cause(tmp_path, monkeypatch):
    write_dicom(tmp_path / "src" / "p1" / "a.dcm", femur_like(20, 16, 12), patient_id="P1")
    monkeypatch.setattr(ImageCache, "write_thumb", _full)
    with Project.create(tmp_path / "S") as p:
        report = import_sources(p, [tmp_path / "src"], workers=1)
        ((_, reason),) = report.errors
        assert reason.startswith("disk full") and "No space left" in reason
        assert p.images.count() == 0
