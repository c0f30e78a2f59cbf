import csv
import json
import subprocess
import sys

import pytest

from engine.cli import main
from engine.store import Project
from tests.engine._store_factory import add_images


@pytest.fixture
def project_path(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        ids = add_images(p, 6, patients=2)
        p.labels.set_many(ids[:2], "AFF", "ann")
        p.images.record_errors([("/data/bad.dcm", "truncated pixel data")])
        return p.path


def test_init_creates_project_and_refuses_twice(tmp_path, capsys):
    assert main(["init", str(tmp_path / "New")]) == 0
    assert (tmp_path / "New.affproj" / "project.sqlite").is_file()
    assert main(["init", str(tmp_path / "New")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_info_json_counts(project_path, capsys):
    assert main(["info", str(project_path), "--json", "--errors"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 6 and info["patients"] == 2
    assert info["labels"] == {"AFF": 2, "NFF": 0, "uncertain": 0, "exclude": 0, "unlabelled": 4}
    assert info["views"] == {"AP": 3, "lateral": 3}
    assert info["errors"][0]["reason"] == "truncated pixel data"


def test_info_on_missing_project_is_a_usage_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert "not an AFF Workbench project" in capsys.readouterr().err


def test_labels_export_import_round_trip(project_path, tmp_path, capsys):
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", str(project_path), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["label"] for r in rows] == ["AFF", "AFF", "", "", "", ""]

    rows[2]["label"] = "nff"          # case-insensitive
    rows[0]["label"] = "none"         # clears
    rows[1]["label"] = ""             # no change
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert main(["labels", "import", str(project_path), str(out), "--reader", "bob"]) == 0
    with Project.open(project_path) as p:
        assert p.labels.all() == {2: "AFF", 3: "NFF"}
        last = p.labels.history()[-1]
        assert (last.reader, last.source) == ("bob", "csv")

    hist = tmp_path / "history.csv"
    assert main(["labels", "export", str(project_path), "--history", "--out", str(hist)]) == 0
    assert len(list(csv.DictReader(hist.read_text().splitlines()))) == 4


def test_labels_import_with_bad_rows_changes_nothing(project_path, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("image_id,label\n3,AFF\n4,maybe\n999,NFF\n")
    assert main(["labels", "import", str(project_path), str(bad), "--reader", "bob"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: unknown label 'maybe'" in err
    assert f"{bad}:4: no image with image_id '999'" in err
    with Project.open(project_path) as p:
        assert p.labels.get(3) is None
    # --skip-bad applies the good rows and exits 1.
    assert main(["labels", "import", str(project_path), str(bad), "--reader", "bob",
                 "--skip-bad"]) == 1
    with Project.open(project_path) as p:
        assert p.labels.get(3) == "AFF"


def test_labels_import_needs_key_and_label_columns(project_path, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,diagnosis\nx,AFF\n")
    assert main(["labels", "import", str(project_path), str(bad)]) == 2
    assert "needs a 'label' column" in capsys.readouterr().err


def test_python_dash_m_engine_runs():
    out = subprocess.run([sys.executable, "-m", "engine", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("affengine ")


def test_split_create_and_show(tmp_path, capsys):
    with Project.create(tmp_path / "S") as p:
        ids = add_images(p, 40, patients=20)
        p.labels.set_many(ids[:16], "AFF", "ann")
        p.labels.set_many(ids[16:], "NFF", "ann")
        path = p.path
    assert main(["split", "create", str(path), "--k", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "split default v1: k=3" in out and out.count("\n") == 5
    assert main(["split", "show", str(path), "--name", "nope"]) == 2
    assert "no split 'nope'" in capsys.readouterr().err
    assert main(["split", "create", str(path), "--k", "30"]) == 2
    assert "need at least 30 AFF" in capsys.readouterr().err
