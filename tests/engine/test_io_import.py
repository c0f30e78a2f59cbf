"""import_sources: incremental re-import, moves, duplicates, labels, patients, cache."""

import os
import shutil
import threading

import numpy as np
import pytest

import engine.io._parallel as parallel
import engine.io._worker as worker
from engine.io import import_sources
from engine.store import CACHE_SIDE, THUMB_SIDE, Project
from tests.engine._dicom_factory import femur_like, write_dicom, write_raster


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        yield p


@pytest.fixture
def counts(monkeypatch):
    """How many files were hashed (worker calls) and decoded, in-process (workers=1)."""
    seen = {"hashed": 0, "decoded": 0}
    real_process, real_decode = parallel.process, worker.decode_bytes

    def process(job):
        seen["hashed"] += 1
        return real_process(job)

    def decode(*args, **kwargs):
        seen["decoded"] += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(parallel, "process", process)
    monkeypatch.setattr(worker, "decode_bytes", decode)
    return seen


def _study(root, n=4):
    """n DICOMs without PatientID under AFF/<patient>/ and NFF/<patient>/."""
    paths = []
    for i in range(n):
        label = "AFF" if i % 2 == 0 else "nff"  # folder names match in any case
        paths.append(write_dicom(root / label / f"pat{i // 2}" / f"img{i}.dcm",
                                 femur_like(30, 24, 12, seed=i), bits_stored=12, patient_id=None))
    return paths


def test_reimport_skips_unchanged_files_without_hashing(project, tmp_path, counts):
    _study(tmp_path / "src")
    first = import_sources(project, [tmp_path / "src"], workers=1)
    assert (first.added, counts["decoded"]) == (4, 4)
    again = import_sources(project, [tmp_path / "src"], workers=1)
    assert (again.added, again.unchanged, again.total) == (0, 4, 4)
    assert (counts["hashed"], counts["decoded"]) == (4, 4)  # nothing new hashed or decoded
    assert project.images.count() == 4


def test_touched_file_is_hashed_not_decoded(project, tmp_path, counts):
    paths = _study(tmp_path / "src", 2)
    import_sources(project, [tmp_path / "src"], workers=1)
    os.utime(paths[0], (1_000_000, 1_000_000))
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert (report.unchanged, report.added, counts["hashed"], counts["decoded"]) == (2, 0, 3, 2)
    import_sources(project, [tmp_path / "src"], workers=1)
    assert counts["hashed"] == 3  # the new mtime was stored


def test_changed_content_is_a_new_image_and_the_old_row_keeps_its_label(project, tmp_path):
    paths = _study(tmp_path / "src", 2)
    import_sources(project, [tmp_path / "src"], workers=1, folder_labels=False)
    old = project.images.list()[0]
    project.labels.set(old.id, "AFF", "ann")
    write_dicom(paths[0], femur_like(30, 24, 12, seed=99), bits_stored=12, patient_id=None)
    report = import_sources(project, [tmp_path / "src"], workers=1, folder_labels=False)
    assert report.added == 1 and report.changed == [str(paths[0])]
    assert project.labels.get(old.id) == "AFF"
    new = [r for r in project.images.list() if r.path == str(paths[0]) and r.id != old.id]
    assert len(new) == 1 and new[0].label is None
    assert import_sources(project, [tmp_path / "src"], workers=1).added == 0


def test_moved_folder_is_found_by_hash_and_keeps_labels(project, tmp_path, counts):
    _study(tmp_path / "old")
    import_sources(project, [tmp_path / "old"], workers=1, folder_labels=False)
    first_id = project.images.list()[0].id
    project.labels.set(first_id, "exclude", "ann")
    shutil.move(tmp_path / "old", tmp_path / "new")
    report = import_sources(project, [tmp_path / "new"], workers=1)
    assert (report.relocated, report.added, counts["decoded"]) == (4, 0, 4)
    rows = project.images.list()
    assert all(r.path.startswith(str(tmp_path / "new")) for r in rows)
    assert {r.source_folder for r in rows} == {str(tmp_path / "new")}
    assert project.labels.get(first_id) == "exclude"  # the reader's label survives
    # The others were unlabelled: the folder labels of the new location apply now.
    assert project.images.counts("label") == {"AFF": 1, "NFF": 2, "exclude": 1}
    assert import_sources(project, [tmp_path / "new"], workers=1).unchanged == 4


def test_duplicates_are_imported_once(project, tmp_path):
    paths = _study(tmp_path / "src", 2)
    shutil.copy(paths[0], tmp_path / "src" / "AFF" / "pat0" / "copy.dcm")
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert report.added == 2
    # Files are taken in name order: copy.dcm comes first, img0.dcm is its duplicate.
    assert report.duplicates == [(str(paths[0]), str(paths[0].parent / "copy.dcm"))]
    # A copied folder next to the original is all duplicates; nothing moves.
    shutil.copytree(tmp_path / "src", tmp_path / "copy")
    again = import_sources(project, [tmp_path / "copy"], workers=1)
    assert (again.added, again.relocated, len(again.duplicates)) == (0, 0, 3)
    assert project.images.count() == 2


def test_folder_labels_never_overwrite_a_reader(project, tmp_path):
    paths = _study(tmp_path / "src")  # img0, img2 in AFF/; img1, img3 in nff/
    import_sources(project, [tmp_path / "src"], workers=1, folder_labels=False)
    assert project.images.counts("label") == {"unlabelled": 4}
    ids = {r.path: r.id for r in project.images.list()}
    img0, img1, img2, img3 = (ids[str(p)] for p in paths)
    project.labels.set(img0, "NFF", "ann")  # a reader disagrees with the AFF folder
    project.labels.set(img2, "AFF", "ann")
    project.labels.set(img2, None, "ann")  # cleared by a reader: stays unlabelled
    report = import_sources(project, [tmp_path / "src"], workers=1, reader="bot")
    assert report.labelled == 2
    assert project.labels.all() == {img0: "NFF", img1: "NFF", img3: "NFF"}
    change = project.labels.history(img1)[-1]
    assert (change.reader, change.source, change.new_label) == ("bot", "import", "NFF")


def test_patient_keys(project, tmp_path):
    write_dicom(tmp_path / "src" / "AFF" / "s1.dcm", femur_like(8, 8, 12), patient_id=None)
    write_dicom(tmp_path / "src" / "case7" / "s2.dcm", femur_like(8, 8, 12, seed=1),
                patient_id=None)
    write_dicom(tmp_path / "src" / "case7" / "s3.dcm", femur_like(8, 8, 12, seed=2),
                patient_id="PID-3")
    import_sources(project, [tmp_path / "src"], workers=1)
    assert project.images.counts("patient") == {"PID-3": 1, "case7": 1, "s1": 1}


def test_regex_patient_rule(project, tmp_path):
    write_raster(tmp_path / "src" / "site" / "P042_ap.png", femur_like(8, 8, 8))
    write_raster(tmp_path / "src" / "site" / "P042_lat.png", femur_like(8, 8, 8, seed=1))
    report = import_sources(project, [tmp_path / "src"], workers=1,
                            patient_rule=r"(?P<patient>P\d+)_")
    assert report.added == 2
    assert project.images.counts("patient") == {"P042": 2}


def test_cache_and_thumbnail_sizes(project, tmp_path):
    big = write_dicom(tmp_path / "src" / "P1" / "big.dcm", femur_like(2100, 1500, 12),
                      bits_stored=12, window=(2000, 4000))
    write_dicom(tmp_path / "src" / "P2" / "small.dcm", femur_like(300, 200, 12, seed=1),
                bits_stored=12, patient_id="P2")
    import_sources(project, [tmp_path / "src"], workers=1)
    by_name = {os.path.basename(r.path): r for r in project.images.list()}
    b, s = by_name["big.dcm"], by_name["small.dcm"]
    assert (b.cache_height, b.cache_width) == (CACHE_SIDE, 731)
    assert (b.thumb_height, b.thumb_width) == (THUMB_SIDE, 183)
    assert (s.cache_height, s.cache_width) == (300, 200)  # never upscaled
    assert (s.thumb_height, s.thumb_width) == (THUMB_SIDE, 171)
    cached = project.cache.load_full(b.sha256)
    assert cached.shape == (CACHE_SIDE, 731) and cached.dtype == np.uint8
    thumb = project.cache.thumb(b.id, b.thumb_height, b.thumb_width)
    assert abs(float(thumb.mean()) - float(cached.mean())) < 2
    assert (b.window_center, b.window_width, b.bits_stored) == (2000, 4000, 12)
    assert b.transfer_syntax == "1.2.840.10008.1.2.1" and b.format == "dicom"
    assert b.bytes == big.stat().st_size and b.mtime == big.stat().st_mtime


def test_parallel_import_matches_serial_and_reports_progress(tmp_path):
    _study(tmp_path / "src", 6)
    calls = []

    def progress(done, total, path):
        calls.append((done, total, threading.get_ident()))

    with Project.create(tmp_path / "A") as a, Project.create(tmp_path / "B") as b:
        serial = import_sources(a, [tmp_path / "src"], workers=1)
        par = import_sources(b, [tmp_path / "src"], workers=2, progress=progress)
        assert (serial.added, par.added) == (6, 6)
        key = [(r.path, r.sha256, r.patient_key, r.label, r.cache_width) for r in a.images.list()]
        assert key == [(r.path, r.sha256, r.patient_key, r.label, r.cache_width)
                       for r in b.images.list()]
        for r in a.images.list():
            assert np.array_equal(a.cache.load_full(r.sha256), b.cache.load_full(r.sha256))
    assert [c[0] for c in calls] == list(range(1, 7)) and {c[1] for c in calls} == {6}
    assert {c[2] for c in calls} == {threading.get_ident()}


def test_workers_also_start_with_spawn(project, tmp_path, monkeypatch):
    # What a threaded caller (the GUI) or macOS/Windows get instead of fork.
    import multiprocessing

    _study(tmp_path / "src", 3)
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    report = import_sources(project, [tmp_path / "src"], workers=2)
    assert report.added == 3 and report.errors == []
    assert all(project.cache.has_full(r.sha256) for r in project.images.list())


def test_renamed_file_with_a_new_file_in_its_place(project, tmp_path):
    a = write_dicom(tmp_path / "src" / "P1" / "a.dcm", femur_like(20, 16, 12), patient_id="P1")
    import_sources(project, [tmp_path / "src"], workers=1)
    old_id = project.images.list()[0].id
    project.labels.set(old_id, "AFF", "ann")
    a.rename(tmp_path / "src" / "P1" / "b.dcm")
    write_dicom(a, femur_like(20, 16, 12, seed=7), patient_id="P1")
    report = import_sources(project, [tmp_path / "src"], workers=1)
    assert (report.added, report.relocated, report.changed) == (1, 1, [str(a)])
    assert project.images.get(old_id).path == str(tmp_path / "src" / "P1" / "b.dcm")
    assert project.labels.get(old_id) == "AFF"
    again = import_sources(project, [tmp_path / "src"], workers=1)
    assert (again.unchanged, again.added, again.relocated) == (2, 0, 0)


def test_cancel_from_progress_keeps_whole_images_only(project, tmp_path):
    _study(tmp_path / "src", 6)

    class Stop(Exception):
        pass

    def progress(done, total, path):
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        import_sources(project, [tmp_path / "src"], workers=2, progress=progress)
    rows = project.images.list()
    assert 1 <= len(rows) <= 3  # the finished ones, each complete
    assert all(r.thumb_height and project.cache.has_full(r.sha256) for r in rows)
    assert project.labels.all().keys() == {r.id for r in rows}
    assert import_sources(project, [tmp_path / "src"], workers=1).added == 6 - len(rows)
