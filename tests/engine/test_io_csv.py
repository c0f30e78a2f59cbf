"""One CSV reader for manifests and label files: encodings, delimiters, quotes, limits."""

from __future__ import annotations

import codecs
import csv

import pytest

from engine.cli import main
from engine.io import read_manifest
from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom
from tests.engine._store_factory import add_images


def _excel_manifest(tmp_path, rows):
    path = tmp_path / "excel.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # Excel "CSV UTF-8": BOM
        w = csv.writer(fh, dialect="excel")
        w.writerow(["path", "patient_id", "label"])
        w.writerows(rows)
    return path


def test_excel_written_manifest_with_doubled_quotes(tmp_path):
    write_dicom(tmp_path / "a.dcm", femur_like(20, 16, 12), patient_id=None)
    write_dicom(tmp_path / "b.dcm", femur_like(20, 16, 12, seed=1), patient_id=None)
    path = _excel_manifest(tmp_path, [["a.dcm", 'O"Brien, NFF', "AFF"], ["b.dcm", "P2", "NFF"]])
    assert '"O""Brien, NFF"' in path.read_text(encoding="utf-8-sig")
    m = read_manifest(path)
    assert m.errors == []
    assert m.entries[str(tmp_path / "a.dcm")].patient_id == 'O"Brien, NFF'
    assert m.entries[str(tmp_path / "a.dcm")].label == "AFF"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "latin-1"])
def test_manifest_encodings_and_semicolons(tmp_path, encoding):
    write_dicom(tmp_path / "a.dcm", femur_like(20, 16, 12), patient_id=None)
    (tmp_path / "m.csv").write_bytes("path;patient_id;label\na.dcm;Müller;AFF\n".encode(encoding))
    m = read_manifest(tmp_path / "m.csv")
    assert m.errors == []
    assert m.entries[str(tmp_path / "a.dcm")].patient_id == "Müller"
    assert bool(m.warnings) == (encoding == "latin-1")


def test_duplicated_manifest_column_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text("path,label,Label\na.dcm,AFF,NFF\n")
    from engine.io import ManifestError

    with pytest.raises(ManifestError, match="'label' appears twice"):
        read_manifest(tmp_path / "m.csv")


@pytest.fixture
def project_path(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        add_images(p, 3, patients=1)
        return p.path


def _labels(project_path):
    with Project.open(project_path) as p:
        return {r.id: r.label for r in p.images.list(order="id")}


@pytest.mark.parametrize("data, message", [
    (b"image_id,label\n1,AFF\n2,\"NFF\n3,AFF\n", "never closed"),
    (b"image_id,label\n1,AFF\n2,NFF," + b"x" * 200_000 + b"\n", "longer than 131072"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a text file"),
])
def test_bad_label_files_exit_2_and_apply_nothing(project_path, tmp_path, capsys, data, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(data)
    assert main(["labels", "import", str(project_path), str(bad), "--reader", "x"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert set(_labels(project_path).values()) == {None}


@pytest.mark.parametrize("encoding, bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("latin-1", b"")])
def test_label_files_in_other_encodings_and_semicolons(project_path, tmp_path, capsys, encoding, bom):
    good = tmp_path / "good.csv"
    good.write_bytes(bom + "image_id;label;note\n1;AFF;Müller\n2;nff;\n".encode(encoding))
    assert main(["labels", "import", str(project_path), str(good), "--reader", "x"]) == 0
    assert _labels(project_path) == {1: "AFF", 2: "NFF", 3: None}
    assert ("Latin-1" in capsys.readouterr().err) == (encoding == "latin-1")
