"""Import refuses tiny images, control characters in patient IDs and oversized pixel data."""

from __future__ import annotations

import numpy as np
import pytest

from engine.io import import_sources
from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom, write_raster


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "S") as p:
        yield p


def _errors(report):
    return {path.rsplit("/", 1)[-1]: reason for path, reason in report.errors}


def test_tiny_images_and_bad_patient_ids_are_refused(project, tmp_path):
    src = tmp_path / "src"
    write_raster(src / "p1" / "one.png", np.full((1, 1), 7, np.uint8))
    write_dicom(src / "p2" / "tiny.dcm", femur_like(4, 4, 12), patient_id="P2")
    write_dicom(src / "p3" / "nul.dcm", femur_like(20, 16, 12), patient_id="P\x003")
    write_dicom(src / "p4" / "nl.dcm", femur_like(20, 16, 12, seed=2), patient_id="P\n4")
    write_dicom(src / "p5" / "ok.dcm", femur_like(20, 16, 12, seed=3), patient_id="P5")
    report = import_sources(project, [src], workers=1)
    errors = _errors(report)
    assert report.added == 1
    assert "1 x 1 pixels" in errors["one.png"] and "4 x 4 pixels" in errors["tiny.dcm"]
    assert "U+0000" in errors["nul.dcm"] and "U+000A" in errors["nl.dcm"]
    assert len(project.images.errors()) == 4


def test_decoded_pixel_limit_is_configurable(project, tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_dicom(src / "p1" / "a.dcm", femur_like(40, 30, 12), patient_id="P1")
    monkeypatch.setenv("AFFENGINE_MAX_PIXELS", "1000")
    report = import_sources(project, [src], workers=1)
    (reason,) = _errors(report).values()
    assert "40 x 30" in reason and "1,200 pixel values, over the limit of 1,000" in reason
    assert "AFFENGINE_MAX_PIXELS" in reason
    monkeypatch.setenv("AFFENGINE_MAX_PIXELS", "5000")
    assert import_sources(project, [src], workers=1).added == 1


def test_deflated_bomb_is_refused_before_inflating(project, tmp_path, monkeypatch):
    from engine.io import _limits

    src = tmp_path / "src"
    path = write_dicom(src / "p1" / "bomb.dcm", np.zeros((600, 500), np.uint16),
                       syntax="deflated", patient_id="P1")
    assert path.stat().st_size < 20_000  # 600 kB of pixels deflate to a few kB
    monkeypatch.setattr(_limits, "INFLATE_HEADROOM", 0)
    monkeypatch.setenv("AFFENGINE_MAX_PIXELS", "1000")
    report = import_sources(project, [src], workers=1)
    (reason,) = _errors(report).values()
    assert "deflated DICOM inflates to more than 4,000 bytes" in reason


def test_manifest_patient_id_with_newline_is_refused(project, tmp_path):
    write_dicom(tmp_path / "a.dcm", femur_like(20, 16, 12), patient_id=None)
    (tmp_path / "m.csv").write_text('path,patient_id\na.dcm,"P1\nP2"\n')
    report = import_sources(project, [], tmp_path / "m.csv", workers=1)
    (reason,) = _errors(report).values()
    assert "U+000A" in reason and project.images.count() == 0
