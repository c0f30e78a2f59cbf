"""The CSV manifest: patients, labels, views and ROIs; bad rows reported and skipped."""

import pytest

from engine.io import ManifestError, import_sources, read_manifest
from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom, write_raster

HEADER = "path,patient_id,label,view,laterality,roi_x0,roi_y0,roi_x1,roi_y1,phantom_seed\n"


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        yield p


def _files(root, n=4):
    for i in range(n):
        write_dicom(root / "dicom" / f"f{i}.dcm", femur_like(40, 30, 12, seed=i),
                    bits_stored=12, patient_id=f"DICOM{i}", view="AP", laterality="L")


def test_manifest_sets_patients_labels_views_and_rois(project, tmp_path):
    _files(tmp_path)
    (tmp_path / "manifest.csv").write_text(
        HEADER
        + "dicom/f0.dcm,P1,AFF,lateral,R,2,3,20,30,7\n"
        + "dicom/f1.dcm,P1,nff,,,,,,,7\n"
        + f"{tmp_path / 'dicom' / 'f2.dcm'},P2,,,,,,,,\n")
    report = import_sources(project, [tmp_path / "dicom"], tmp_path / "manifest.csv",
                            workers=1, reader="anna")
    assert report.errors == [] and report.added == 4
    rows = {r.path.rsplit("/", 1)[1]: r for r in project.images.list()}
    f0, f1, f2, f3 = (rows[f"f{i}.dcm"] for i in range(4))
    assert (f0.patient_key, f0.label, f0.view, f0.laterality) == ("P1", "AFF", "lateral", "R")
    assert (f1.patient_key, f1.label, f1.view, f1.laterality) == ("P1", "NFF", "AP", "L")
    assert (f2.patient_key, f2.label) == ("P2", None)
    assert f3.patient_key == "DICOM3"  # not in the manifest: the file's own PatientID
    roi = project.rois.for_image(f0.id)
    assert [(r.x0, r.y0, r.x1, r.y1, r.reader, r.source) for r in roi] == [
        (2, 3, 20, 30, "anna", "import")]
    assert (report.labelled, report.rois) == (2, 1)
    assert any("manifest patient 'P1' used" in note for _, note in report.notes)
    # Again: nothing new, no second ROI.
    again = import_sources(project, [tmp_path / "dicom"], tmp_path / "manifest.csv", workers=1)
    assert (again.unchanged, again.rois, again.labelled) == (4, 0, 0)
    assert len(project.rois.all()) == 1


def test_manifest_alone_imports_its_files(project, tmp_path):
    write_raster(tmp_path / "png" / "a.png", femur_like(20, 20, 8))
    (tmp_path / "m.csv").write_text("Path;Patient_ID;Label\npng/a.png;P9;exclude\n")
    report = import_sources(project, [], tmp_path / "m.csv", workers=1)
    assert report.added == 1
    row = project.images.list()[0]
    assert (row.patient_key, row.label, row.format) == ("P9", "exclude", "png")


def test_bad_rows_are_reported_with_file_and_line_and_skipped(project, tmp_path):
    _files(tmp_path, 6)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        HEADER
        + "dicom/f0.dcm,P1,AFX,,,,,,,\n"  # line 2: unknown label
        + "dicom/f1.dcm,P1,AFF,,,1,2,x,9,\n"  # line 3: bad ROI number
        + "dicom/missing.dcm,P1,AFF,,,,,,,\n"  # line 4: no such file
        + "dicom/f2.dcm,P2,NFF,,,,,,,\n"  # line 5: fine
        + "dicom/f2.dcm,P3,AFF,,,,,,,\n"  # line 6: duplicate path
        + "dicom/f3.dcm,P4,AFF,sideways,,,,,,\n"  # line 7: unknown view
        + "dicom/f4.dcm,P5,AFF,,,0,0,500,10,\n")  # line 8: ROI outside the image
    report = import_sources(project, [tmp_path / "dicom"], manifest, workers=1)
    errors = dict(report.errors)
    assert sorted(errors) == [f"{manifest}:{n}" for n in (2, 3, 4, 6, 7, 8)]
    assert "unknown label 'AFX'" in errors[f"{manifest}:2"]
    assert "roi_x1='x' is not a number" in errors[f"{manifest}:3"]
    assert "file not found: dicom/missing.dcm" in errors[f"{manifest}:4"]
    assert "duplicate path" in errors[f"{manifest}:6"] and "line 5" in errors[f"{manifest}:6"]
    assert "unknown view 'sideways'" in errors[f"{manifest}:7"]
    assert "outside the image (30x40)" in errors[f"{manifest}:8"]
    # Files of invalid rows are not imported; the rest is.
    names = sorted(r.path.rsplit("/", 1)[1] for r in project.images.list())
    assert names == ["f2.dcm", "f4.dcm", "f5.dcm"]
    f2 = next(r for r in project.images.list() if r.path.endswith("f2.dcm"))
    assert (f2.patient_key, f2.label) == ("P2", "NFF")
    assert len(project.images.errors()) == 6
    # Fix the manifest: the skipped files come in, the stale row errors go away.
    manifest.write_text(HEADER + "dicom/f0.dcm,P1,AFF,,,,,,,\ndicom/f1.dcm,P1,AFF,,,1,2,8,9,\n")
    fixed = import_sources(project, [tmp_path / "dicom"], manifest, workers=1)
    assert fixed.errors == [] and fixed.added == 3 and fixed.rois == 1
    assert project.images.errors() == []


@pytest.mark.parametrize(("text", "message"), [
    ("patient_id,label\nP1,AFF\n", "no 'path' column"),
    ("", "empty"),
    ('path,label\n"unclosed,AFF\n', "line"),
])
def test_unusable_manifest_raises_before_anything_is_written(project, tmp_path, text, message):
    _files(tmp_path, 1)
    manifest = tmp_path / "bad.csv"
    manifest.write_text(text)
    with pytest.raises(ManifestError, match=message) as info:
        import_sources(project, [tmp_path / "dicom"], manifest, workers=1)
    assert str(manifest) in str(info.value)
    assert project.images.count() == 0 and project.images.errors() == []


def test_missing_or_binary_manifest(tmp_path):
    with pytest.raises(ManifestError, match="cannot open"):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(b"path\n\xff\xfe\x00bad")
    with pytest.raises(ManifestError, match="not a text file"):
        read_manifest(tmp_path / "bin.csv")
