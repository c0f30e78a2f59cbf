import sqlite3

import numpy as np
import pytest

from engine.store import (
    SCHEMA_VERSION,
    ImageFilter,
    ImageRecord,
    NothingToUndo,
    Project,
    ProjectError,
    UndoConflict,
)
from engine.store._schema import MIGRATIONS, migrate
from tests.engine._store_factory import add_images


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        yield p


def test_create_makes_folder_layout_and_wal(tmp_path):
    p = Project.create(tmp_path / "Study")
    assert p.path.name == "Study.affproj"
    for sub in ("cache", "runs", "reports"):
        assert (p.path / sub).is_dir()
    assert p.query("PRAGMA journal_mode")[0][0] == "wal"
    assert p.schema_version == SCHEMA_VERSION
    p.close()
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(tmp_path / "Study")
    # Open accepts the folder with or without the suffix.
    assert Project.open(tmp_path / "Study").path == p.path


def test_open_rejects_non_project(tmp_path):
    with pytest.raises(ProjectError, match="not an AFF Workbench project"):
        Project.open(tmp_path)
    bad = tmp_path / "Bad.affproj"
    bad.mkdir()
    (bad / "project.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="cannot open database"):
        Project.open(bad)


def test_opens_schema_v1_project_and_keeps_its_data(tmp_path):
    folder = tmp_path / "Old.affproj"
    folder.mkdir()
    conn = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    migrate(conn, target=1)  # exactly what release v1 wrote
    conn.execute("INSERT INTO patients(id, patient_key, created_at) VALUES (1, 'P1', 'x')")
    conn.execute(
        "INSERT INTO images(id, patient_id, path, source_folder, sha256, bytes, format, width, "
        "height, imported_at) VALUES (7, 1, '/a.dcm', '/', 'ff', 1, 'dicom', 10, 20, 'x')"
    )
    conn.execute("INSERT INTO labels VALUES (7, 'AFF', 'ann', 'gui', 'x')")
    conn.execute(
        "INSERT INTO label_history(image_id, old_label, new_label, reader, source, at) "
        "VALUES (7, NULL, 'AFF', 'ann', 'gui', 'x')"
    )
    conn.close()

    with Project.open(folder) as p:
        assert p.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        row = p.images.get(7)
        assert (row.patient_key, row.label, row.cache_width) == ("P1", "AFF", None)
        p.rois.add(7, (1, 1, 5, 5), reader="ann")  # v2 table works
        assert len(p.labels.history(7)) == 1


def test_newer_schema_is_refused(tmp_path, project):
    project.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ProjectError, match="newer than this release"):
        Project.open(project.path)


def test_label_change_history_and_undo(project):
    (i, j) = add_images(project, 2)
    assert project.labels.set(i, "AFF", "ann").old_label is None
    assert project.labels.set(i, "AFF", "ann") is None  # no-op is not logged
    project.labels.set(i, "NFF", "bob")
    project.labels.set(j, "uncertain", "ann")
    assert project.labels.all() == {i: "NFF", j: "uncertain"}

    # ann's undo never overwrites bob's later label (issue 16): refused with a reason
    with pytest.raises(UndoConflict, match="bob changed its label since"):
        project.labels.undo("ann", image_id=i)
    assert project.labels.get(i) == "NFF"
    undo = project.labels.undo("bob", image_id=i)  # bob undoes his own change
    assert (undo.old_label, undo.new_label, undo.source) == ("NFF", "AFF", "undo")
    assert project.labels.get(i) == "AFF"
    with pytest.raises(NothingToUndo):
        project.labels.undo("bob", image_id=i)
    with pytest.raises(UndoConflict):  # bob's undo is a change after ann's, too
        project.labels.undo("ann", image_id=i)

    # Reader-wide undo takes that reader's latest change.
    assert project.labels.undo("ann").image_id == j
    assert project.labels.get(j) is None

    hist = project.labels.history(i)
    assert [(h.old_label, h.new_label, h.reader, h.source) for h in hist] == [
        (None, "AFF", "ann", "gui"), ("AFF", "NFF", "bob", "gui"), ("NFF", "AFF", "bob", "undo"),
    ]
    assert hist[2].undoes == hist[1].id


def test_history_is_append_only(project):
    (i,) = add_images(project, 1)
    project.labels.set(i, "AFF", "ann")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.conn.execute("DELETE FROM label_history")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.conn.execute("UPDATE label_history SET new_label = 'NFF'")


def test_bad_label_reader_and_image_are_refused(project):
    (i,) = add_images(project, 1)
    with pytest.raises(ValueError, match="unknown label 'aff'"):
        project.labels.set(i, "aff", "ann")
    with pytest.raises(ValueError, match="reader name"):
        project.labels.set(i, "AFF", "  ")
    with pytest.raises(KeyError, match="no image with id 999"):
        project.labels.set_many([i, 999], "AFF", "ann")
    # The failed batch rolled back whole: image i is still unlabelled.
    assert project.labels.get(i) is None and project.labels.history() == []


def test_filters_and_counts(project):
    ids = add_images(project, 9, patients=3, folder="/a")
    add_images(project, 2, patients=1, folder="/b")
    project.labels.set_many(ids[:3], "AFF", "ann")
    project.labels.set(ids[3], "exclude", "ann")
    assert project.images.count() == 11
    assert project.images.counts("label") == {"AFF": 3, "exclude": 1, "unlabelled": 7}
    assert project.images.count(ImageFilter(label="unlabelled")) == 7
    assert project.images.count(ImageFilter(label="AFF", view="AP")) == 2
    assert project.images.counts("source_folder") == {"/a": 9, "/b": 2}
    assert project.images.ids(ImageFilter(patient="P001", source_folder="/a")) == ids[1::3]
    assert project.images.count(ImageFilter(search="img0004")) == 1
    assert project.images.patient_count() == 3
    assert sum(project.images.counts("view").values()) == 11


def test_rois_are_checked_against_image(project):
    (i,) = add_images(project, 1)
    rid = project.rois.add(i, (10, 20, 50, 60), reader="ann", source="import")
    assert [(r.x0, r.y1, r.source) for r in project.rois.for_image(i)] == [(10, 60, "import")]
    with pytest.raises(ValueError, match="outside the image"):
        project.rois.add(i, (10, 20, 500, 60), reader="ann")
    with pytest.raises(ValueError, match="empty ROI"):
        project.rois.add(i, (10, 20, 10, 60), reader="ann")
    project.rois.update(rid, (0, 0, 5, 5))
    project.rois.delete(rid)
    assert project.rois.for_image(i) == []


def test_unknown_view_is_refused(project):
    rec = ImageRecord(path="/x", source_folder="/", sha256="0" * 64, bytes=1, format="png",
                      width=1, height=1, patient_key="P", view="oblique")
    with pytest.raises(ValueError, match="unknown view"), project.transaction() as conn:
        project.images.insert(conn, rec)
    assert project.images.count() == 0


def test_cache_round_trip(project):
    (i, j) = add_images(project, 2)
    full = np.arange(300 * 200, dtype=np.uint32).reshape(300, 200).astype(np.uint8)
    project.cache.write_full("ab" * 32, full)
    assert np.array_equal(project.cache.load_full("ab" * 32), full)
    project.cache.write_thumb(j, full[:256, :171])
    assert project.cache.thumb(i, 10, 10) is not None  # slot exists (zeros) below j
    assert np.array_equal(project.cache.thumb(j, 256, 171), full[:256, :171])
    with pytest.raises(FileNotFoundError, match="cache rebuild"):
        project.cache.load_full("cd" * 32)
    assert not list(project.cache.root.rglob(".tmp-*"))
