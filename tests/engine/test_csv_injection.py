"""CSV exports neutralise spreadsheet formulas (OWASP CSV injection)."""

from __future__ import annotations

import csv

from engine.cli import main
from engine.store import ImageRecord, Project

EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_label_exports_neutralise_formula_prefixes(tmp_path, capsys):
    with Project.create(tmp_path / "S") as p:
        with p.transaction() as conn:
            ids = [p.images.insert(conn, ImageRecord(
                path=f"/d/{k}.dcm", source_folder="/d", sha256=f"{k:064x}", bytes=1,
                format="dicom", width=10, height=10, patient_key=key))
                for k, key in enumerate(EVIL)]
        p.labels.set_many(ids, "AFF", "ann")
        project = p.path
    out, hist = tmp_path / "labels.csv", tmp_path / "hist.csv"
    assert main(["labels", "export", str(project), "--out", str(out)]) == 0
    assert main(["labels", "export", str(project), "--history", "--out", str(hist)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        patients = [r["patient_id"] for r in csv.DictReader(fh)]
    assert patients == ["'" + v for v in EVIL]
    with open(hist, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["patient_id"] for r in rows] == ["'" + v for v in EVIL]
    assert all(r["image_id"].isdigit() for r in rows)  # numbers stay numbers
