"""Bad files are skipped one by one with the reason, and leave nothing partial behind."""

import numpy as np
import pydicom
import pytest

import engine.io._worker as worker
from engine.io import import_sources
from engine.store import ImageCache, Project
from tests.engine._dicom_factory import femur_like, write_dicom, write_non_image, write_raster


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        yield p


def _cache_files(project):
    return sorted(p.name for p in (project.cache_dir / "images").rglob("*.npy"))


def _bad_folder(root):
    good = write_dicom(root / "P1" / "good.dcm", femur_like(40, 30, 12), bits_stored=12)
    (root / "P1" / "random.dcm").write_bytes(np.random.default_rng(0).bytes(4000))
    (root / "P1" / "zero.dcm").write_bytes(b"")
    whole = write_dicom(root / "P1" / "cut.dcm", femur_like(40, 30, 12, seed=2), bits_stored=12)
    whole.write_bytes(whole.read_bytes()[:-500])  # cut inside the pixel data
    jls = write_dicom(root / "P1" / "cut_jls.dcm", femur_like(40, 30, 12, seed=3), "jpegls",
                      bits_stored=12)
    jls.write_bytes(jls.read_bytes()[:-300])
    for kind in ("sr", "rtplan", "ecg"):
        write_non_image(root / "P1" / f"{kind}.dcm", kind)
    (root / "P1" / "notes.txt").write_text("not an image")
    (root / "P1" / "meta.json").write_text("{}")
    (root / "P1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return good


def test_each_bad_file_is_listed_with_its_reason(project, tmp_path):
    good = _bad_folder(tmp_path / "src")
    report = import_sources(project, [tmp_path / "src"], workers=1)
    reasons = {path.rsplit("/", 1)[1]: reason for path, reason in report.errors}
    assert report.added == 1 and report.total == 9
    assert set(reasons) == {"random.dcm", "zero.dcm", "cut.dcm", "cut_jls.dcm", "sr.dcm",
                            "rtplan.dcm", "ecg.dcm", "broken.png"}
    assert "not a DICOM file" in reasons["random.dcm"]
    assert reasons["zero.dcm"] == "empty file (0 bytes)"
    assert "truncated inside Pixel Data" in reasons["cut.dcm"]
    assert "truncated" in reasons["cut_jls.dcm"] or "cannot decode" in reasons["cut_jls.dcm"]
    assert "not an image: Basic Text SR Storage" in reasons["sr.dcm"]
    assert "RT Plan" in reasons["rtplan.dcm"] and "ECG" in reasons["ecg.dcm"]
    assert "cannot decode PNG" in reasons["broken.png"]
    # Nothing partial: one row, one cache copy, one thumbnail slot; errors stored.
    rows = project.images.list()
    assert [r.path for r in rows] == [str(good)]
    assert _cache_files(project) == [f"{rows[0].sha256}.npy"]
    assert project.cache.thumbs().shape[0] == rows[0].id + 1
    assert sorted(p for p, _, _ in project.images.errors()) == sorted(p for p, _ in report.errors)


def test_errors_are_cleared_once_the_file_imports(project, tmp_path):
    bad = tmp_path / "src" / "P1" / "scan.dcm"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"")
    import_sources(project, [tmp_path / "src"], workers=1)
    assert [p for p, _, _ in project.images.errors()] == [str(bad)]
    write_dicom(bad, femur_like(20, 20, 12), bits_stored=12)
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert report.added == 1 and project.images.errors() == []


def test_no_cache_copy_for_a_file_that_fails_after_decoding(project, tmp_path):
    # Decodes fine, but has no PatientID and the patient rule does not match it.
    write_dicom(tmp_path / "src" / "x" / "a.dcm", femur_like(20, 20, 12), patient_id=None)
    report = import_sources(project, [tmp_path / "src"], workers=1, patient_rule=r"^(P\d+)/")
    assert report.added == 0
    assert "does not match" in report.errors[0][1]
    assert _cache_files(project) == [] and project.images.count() == 0


def test_a_failed_store_rolls_back_the_whole_image(project, tmp_path, monkeypatch):
    write_dicom(tmp_path / "src" / "P1" / "a.dcm", femur_like(20, 20, 12))
    write_dicom(tmp_path / "src" / "P2" / "b.dcm", femur_like(20, 20, 12, seed=5),
                patient_id="P2")
    real = ImageCache.write_thumb

    def flaky(self, image_id, thumb):
        if image_id == 2:
            raise OSError("disk full")
        return real(self, image_id, thumb)

    monkeypatch.setattr(ImageCache, "write_thumb", flaky)
    report = import_sources(project, [tmp_path / "src"], workers=1, folder_labels=False)
    assert report.added == 1
    assert report.errors == [(str(tmp_path / "src" / "P2" / "b.dcm"),
                              "cannot store in the project: disk full")]
    rows = project.images.list()
    assert [r.patient_key for r in rows] == ["P001"]
    assert _cache_files(project) == [f"{rows[0].sha256}.npy"]  # b's copy was removed


def test_unexpected_exceptions_become_errors(project, tmp_path, monkeypatch):
    write_dicom(tmp_path / "src" / "P1" / "a.dcm", femur_like(20, 20, 12))

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(worker, "cache_pixels", boom)
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert report.errors[0][1] == "unexpected RuntimeError while decoding: bug"
    assert _cache_files(project) == []


def test_a_worker_crash_costs_only_its_own_file(project, tmp_path, monkeypatch):
    from engine.io import _parallel

    if _parallel._context().get_start_method() != "fork":
        pytest.skip("needs fork to carry the patched decoder into the workers")
    for i in range(6):
        write_raster(tmp_path / "src" / f"P{i}" / f"img{i}.png", femur_like(16, 16, 8, seed=i))
    real = worker._decode

    def crash_on_3(job, data, found):
        if job.path.endswith("img3.png"):
            import os

            os._exit(3)
        return real(job, data, found)

    monkeypatch.setattr(worker, "_decode", crash_on_3)
    report = import_sources(project, [tmp_path / "src"], workers=2)
    assert report.added == 5
    assert report.errors == [(str(tmp_path / "src" / "P3" / "img3.png"), _parallel.CRASHED)]


def test_unknown_suffixes_are_ignored_but_dicom_content_is_found(project, tmp_path):
    src = tmp_path / "src" / "P1"
    write_dicom(src / "IM0001", femur_like(10, 10, 12), "implicit", preamble=False)
    path = write_dicom(src / "scan.001", femur_like(10, 10, 12, seed=1))
    (src / "readme").write_text("no suffix, not DICOM")
    (src / "data.bin").write_bytes(b"\0" * 200)
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert report.added == 2 and report.errors == [] and report.total == 2
    assert pydicom.dcmread(path).PatientID == "P001"
