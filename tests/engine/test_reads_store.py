"""Reading sessions and reads: stored apart from the labels, append-only, blind, adjudicated."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from engine.errors import InvalidInput, NotFound
from engine.reads import (
    ImageSet,
    ReadItem,
    adjudicate,
    adjudications,
    auto_adjudicate,
    create_session,
    disagreement_queue,
    export_reads_csv,
    get_session,
    list_sessions,
    next_unread,
    progress,
    reading_items,
    reads_of,
    record_read,
    session_image_ids,
    settled_reads,
)
from engine.store import Project
from tests.engine._store_factory import add_images


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "Reads")
    add_images(p, 24, patients=8)  # 3 images per patient
    yield p
    p.close()


def test_create_list_and_sample_whole_patients(project):
    s = create_session(project, "r1", "ann", ImageSet(sample=3, seed=4), confidence=True)
    assert (s.name, s.reader, s.mode, s.confidence, s.n_images) == ("r1", "ann", "blind", True, 9)
    patients = {project.images.get(i).patient_key for i in session_image_ids(project, s)}
    assert len(patients) == 3  # 3 whole patients, 3 images each
    again = create_session(project, "r1b", "bob", ImageSet(sample=3, seed=4))
    assert set(session_image_ids(project, again)) == set(session_image_ids(project, s))  # same seed
    other = create_session(project, "r1c", "bob", ImageSet(sample=3, seed=5))
    assert set(session_image_ids(project, other)) != set(session_image_ids(project, s))
    assert [x.name for x in list_sessions(project)] == ["r1", "r1b", "r1c"]
    assert get_session(project, "r1").image_set == ImageSet(sample=3, seed=4)
    with pytest.raises(InvalidInput, match="already exists"):
        create_session(project, "r1", "ann")
    with pytest.raises(NotFound, match="no reading session 'nope'.*r1, r1b, r1c"):
        get_session(project, "nope")
    with pytest.raises(InvalidInput, match="reader name"):
        create_session(project, "x", " ")


def test_filter_and_fold_sets(project):
    from engine.splits import create_split

    ids = project.images.ids()
    project.labels.set_many(ids[:12], "AFF", "ann")
    project.labels.set_many(ids[12:], "NFF", "ann")
    s = create_session(project, "ap", "ann", ImageSet(kind="filter", filter={"view": "AP"}), mode="open")
    assert session_image_ids(project, s) == project.images.ids(
        __import__("engine.store", fromlist=["ImageFilter"]).ImageFilter(view="AP"))
    split = create_split(project, "default", k=4, seed=0)
    f = create_session(project, "fold1", "ann", ImageSet(kind="fold", split="default", fold=1))
    _, val = split.train_val(1)
    assert sorted(session_image_ids(project, f)) == sorted(val.tolist())
    with pytest.raises(InvalidInput, match="folds 0..3"):
        create_session(project, "fold9", "ann", ImageSet(kind="fold", split="default", fold=9))
    with pytest.raises(NotFound):
        create_session(project, "foldx", "ann", ImageSet(kind="fold", split="nosuch", fold=0))
    with pytest.raises(InvalidInput, match="unknown image filter"):
        create_session(project, "bad", "ann", ImageSet(kind="filter", filter={"colour": "red"}))


def test_blind_order_is_random_by_patient_and_differs_per_reader(project):
    a = create_session(project, "a", "ann")
    b = create_session(project, "b", "bob")
    o = create_session(project, "o", "cid", mode="open")
    browser = project.images.ids()
    assert session_image_ids(project, o) == browser
    for s in (a, b):
        order = session_image_ids(project, s)
        assert sorted(order) == sorted(browser) and order != browser
        keys = [project.images.get(i).patient_key for i in order]
        runs = [k for n, k in enumerate(keys) if n == 0 or keys[n - 1] != k]
        assert len(runs) == 8  # a patient's images are shown together
    assert session_image_ids(project, a) != session_image_ids(project, b)


def _view(project, name):
    return [dataclasses.astuple(x) for x in reading_items(project, name)]


def test_blind_items_hide_labels_predictions_and_other_readers(tmp_path):
    """The same session on two copies, one with labels, predictions and another reader's reads."""
    views = []
    for with_extras in (False, True):
        p = Project.create(tmp_path / f"P{with_extras}")
        ids = add_images(p, 12, patients=4)
        s = create_session(p, "blind", "ann", order_seed=7)
        if with_extras:
            p.labels.set_many(ids[:6], "AFF", "lead")
            p.labels.set_many(ids[6:], "NFF", "lead")
            with p.transaction() as conn:  # a screening prediction for every image
                conn.execute("INSERT INTO splits(id, name, version, k, seed, test_share, labels_digest, "
                             "created_at) VALUES (1, 's', 1, 2, 0, 0, 'd', 'now')")
                conn.execute("INSERT INTO experiments(id, name, split_id, model, spec, created_at) "
                             "VALUES (1, 'e', 1, 'm', '{}', 'now')")
                conn.execute("INSERT INTO final_models(id, experiment_id, mode, provenance, created_at) "
                             "VALUES (1, 1, 'ensemble', '{}', 'now')")
                conn.executemany("INSERT INTO predictions(final_model_id, image_id, probability, "
                                 "predicted_at) VALUES (1, ?, 0.987654, 'now')", [(i,) for i in ids])
            other = create_session(p, "other", "bob")
            for i in ids:
                record_read(p, other, i, "AFF", confidence=5)
        record_read(p, s, ids[3], "NFF", confidence=2, seconds=1.5)
        views.append([(x.position, x.image_id, x.patient, x.patient_image_ids, x.view, x.laterality,
                       x.own_read.label if x.own_read else None) for x in reading_items(p, s)])
        items = reading_items(p, s)
        p.close()
    assert views[0] == views[1]  # nothing about labels or other reads changes what is shown
    fields = {f.name for f in dataclasses.fields(ReadItem)}
    assert fields == {"position", "image_id", "patient", "patient_image_ids", "view", "laterality",
                      "own_read", "sha256", "thumb_height", "thumb_width"}
    text = repr(items)
    for hidden in ("AFF", "0.98", "lead", "bob", "P00"):  # label, prediction, readers, patient key
        assert hidden not in text
    assert items[0].patient == "patient 1"
    assert items[0].sha256 and len(items[0].sha256) == 64  # the cache key, to show the pixels
    assert len(items[0].patient_image_ids) == 3


def test_reads_are_apart_from_labels_and_append_only(project):
    ids = project.images.ids()
    project.labels.set(ids[0], "NFF", "lead")
    s = create_session(project, "r", "ann", ImageSet(kind="ids", ids=tuple(ids[:6])), confidence=True)
    r1 = record_read(project, s, ids[0], "AFF", confidence=4, seconds=2.25)
    record_read(project, s, ids[1], "uncertain")
    r3 = record_read(project, s, ids[0], "NFF", confidence=3)  # changed mind: a new row
    assert project.labels.get(ids[0]) == "NFF" and project.labels.get(ids[1]) is None
    assert len(project.labels.history()) == 1
    latest = reads_of(project, s)
    assert {r.image_id: r.label for r in latest} == {ids[0]: "NFF", ids[1]: "uncertain"}
    assert [r.id for r in reads_of(project, s, latest=False) if r.image_id == ids[0]] == [r1.id, r3.id]
    assert r1.seconds == 2.25 and r1.reader == "ann" and r1.at
    assert progress(project, s) == (2, 6)
    assert next_unread(project, s) is not None
    for bad in (dict(label="exclude"), dict(label="AFF", confidence=6), dict(label="AFF", seconds=-1)):
        with pytest.raises(InvalidInput):
            record_read(project, s, ids[2], **bad)
    with pytest.raises(InvalidInput, match="not in reading session"):
        record_read(project, s, ids[10], "AFF")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with project.transaction() as conn:
            conn.execute("UPDATE reads SET label = 'AFF'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with project.transaction() as conn:
            conn.execute("DELETE FROM reads")
    with pytest.raises(sqlite3.DatabaseError, match="never changes"):
        with project.transaction() as conn:
            conn.execute("DELETE FROM reading_items")


def test_export_csv(project, tmp_path):
    import csv

    ids = project.images.ids()
    s = create_session(project, "r", "ann", ImageSet(kind="ids", ids=tuple(ids[:3])))
    record_read(project, s, ids[1], "AFF", confidence=5, seconds=3.0)
    record_read(project, s, ids[2], "NFF")
    assert export_reads_csv(project, "r", tmp_path / "r.csv") == 2
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"image_id", "reader", "label", "confidence", "at"} <= set(rows[0])
    assert {(int(r["image_id"]), r["reader"], r["label"], r["confidence"]) for r in rows} == {
        (ids[1], "ann", "AFF", "5"), (ids[2], "ann", "NFF", "")}


def _two_readers(project, calls_a, calls_b, ids):
    a = create_session(project, "a", "ann", ImageSet(kind="ids", ids=tuple(ids)))
    b = create_session(project, "b", "bob", ImageSet(kind="ids", ids=tuple(ids)))
    for i, la, lb in zip(ids, calls_a, calls_b, strict=True):
        record_read(project, a, i, la)
        record_read(project, b, i, lb)
    return a, b


def test_queue_in_browser_order_and_manual_adjudication_history(project):
    ids = project.images.ids()[:6]
    _two_readers(project, ["AFF", "NFF", "AFF", "NFF", "uncertain", "NFF"],
                 ["AFF", "AFF", "NFF", "NFF", "NFF", "NFF"], ids)
    q = disagreement_queue(project, ["a", "b"])
    assert [item.image_ids for item in q] == [(ids[1],), (ids[2],), (ids[4],)]  # browser order
    assert q[0].calls == {"a": "NFF", "b": "AFF"} and q[0].current_labels == {ids[1]: None}
    (adj,) = adjudicate(project, [ids[1]], "AFF", "chief", ["a", "b"])
    assert project.labels.get(ids[1]) == "AFF"
    (change,) = [h for h in project.labels.history(ids[1])]
    assert change.source == "adjudication" and change.reader == "chief" and adj.history_id == change.id
    settled = settled_reads(project, change.id)
    assert {(r.session, r.label) for r in settled} == {("a", "NFF"), ("b", "AFF")}
    assert adjudications(project, ids[1])[0].read_ids == tuple(sorted(r.id for r in settled))
    assert [item.image_ids for item in disagreement_queue(project, ["a", "b"])] == [(ids[2],), (ids[4],)]
    # a new read after the adjudication puts the image back in the queue
    record_read(project, "a", ids[1], "uncertain")
    assert (ids[1],) in [item.image_ids for item in disagreement_queue(project, ["a", "b"])]
    # patient level: ids[0:3] are P000's (a: AFF, uncertain, AFF; b: AFF, AFF, NFF: both AFF),
    # ids[3:6] P001's (a: NFF, uncertain, NFF -> uncertain; b: all NFF)
    pq = disagreement_queue(project, ["a", "b"], level="patient")
    assert [(x.patient_key, x.image_ids, x.calls) for x in pq] == [
        ("P001", tuple(ids[3:6]), {"a": "uncertain", "b": "NFF"})]


def test_rules_and_ties(tmp_path):
    p = Project.create(tmp_path / "Rules")
    ids = add_images(p, 4, patients=4)
    sessions = []
    calls = {"a": ["AFF", "AFF", "NFF", "NFF"], "b": ["AFF", "NFF", "NFF", "uncertain"],
             "c": ["NFF", "uncertain", "NFF", "NFF"]}
    for name, labels in calls.items():
        s = create_session(p, name, name, ImageSet(kind="ids", ids=tuple(ids)))
        sessions.append(name)
        for i, lab in zip(ids, labels, strict=True):
            record_read(p, s, i, lab)
    res = auto_adjudicate(p, sessions, "majority")
    assert {a.image_id: a.label for a in res.settled} == {ids[0]: "AFF", ids[2]: "NFF", ids[3]: "NFF"}
    assert [q.image_ids for q in res.queued] == [(ids[1],)]  # AFF / NFF / uncertain: a tie
    assert all(a.rule == "majority" and a.adjudicator == "rule:majority" for a in res.settled)
    assert p.labels.get(ids[1]) is None
    again = auto_adjudicate(p, sessions, "majority")  # settled images are not decided twice
    assert again.settled == () and len(again.queued) == 1
    anyaff = auto_adjudicate(p, sessions, "any-aff")
    assert {a.image_id: a.label for a in anyaff.settled} == {ids[1]: "AFF"}
    p2 = Project.create(tmp_path / "Rules2")
    ids2 = add_images(p2, 2, patients=2)
    for name, labels in {"a": ["NFF", "AFF"], "b": ["uncertain", "NFF"]}.items():
        s = create_session(p2, name, name, ImageSet(kind="ids", ids=tuple(ids2)))
        for i, lab in zip(ids2, labels, strict=True):
            record_read(p2, s, i, lab)
    res = auto_adjudicate(p2, ["a", "b"], "any-aff")
    assert {a.image_id: a.label for a in res.settled} == {ids2[1]: "AFF"}
    assert [q.image_ids for q in res.queued] == [(ids2[0],)]  # NFF vs uncertain: to a person
    with pytest.raises(InvalidInput, match="unknown adjudication rule"):
        auto_adjudicate(p2, ["a", "b"], "minority")
    with pytest.raises(InvalidInput, match="at least 2"):
        disagreement_queue(p2, ["a"])
    p.close()
    p2.close()


def test_consensus_labels_flow_into_training_splits(tmp_path):
    from engine.splits import create_split

    p = Project.create(tmp_path / "Train")
    ids = add_images(p, 16, patients=8)
    truth = {i: ("AFF" if n % 2 else "NFF") for n, i in enumerate(ids)}
    wrong = {ids[1]: "NFF", ids[2]: "AFF", ids[5]: "uncertain"}  # the labels before the study
    p.labels.set_each({**truth, **wrong}, "import", "import")
    for name in ("a", "b"):
        s = create_session(p, name, name)
        for i in ids:
            record_read(p, s, i, truth[i])
    before = create_split(p, "default", k=2)
    res = auto_adjudicate(p, ["a", "b"], "majority")
    assert len(res.settled) == 16
    after = create_split(p, "default", k=2)
    assert after.version == before.version + 1  # labels changed, so a new split version
    labels = dict(zip(after.plan.image_ids.tolist(), after.plan.labels.tolist(), strict=True))
    assert labels == {i: int(truth[i] == "AFF") for i in ids}
    p.close()


def test_migration_from_the_previous_schema(tmp_path):
    from engine.store._project import connect
    from engine.store._schema import MIGRATIONS, migrate

    db = tmp_path / "Old.affproj"
    db.mkdir()
    for sub in ("cache", "runs", "reports"):
        (db / sub).mkdir()
    conn = connect(db / "project.sqlite")
    migrate(conn, len(MIGRATIONS) - 1)
    conn.execute("INSERT INTO meta(key, value) VALUES ('created_at', 'x')")
    conn.close()
    with Project.open(db) as p:
        assert p.schema_version == len(MIGRATIONS)
        add_images(p, 3, patients=1)
        s = create_session(p, "new", "ann")
        record_read(p, s, p.images.ids()[0], "AFF")
        assert len(reads_of(p, s)) == 1


def test_patient_level_rule_sets_every_image_of_the_patient(tmp_path):
    p = Project.create(tmp_path / "Pat")
    add_images(p, 6, patients=2)
    ids = p.images.ids()  # browser order: P000's 3 images, then P001's
    calls = {"a": ["NFF", "AFF", "NFF", "NFF", "NFF", "NFF"], "b": ["NFF", "NFF", "NFF", "NFF", "NFF", "NFF"]}
    for name, labels in calls.items():
        s = create_session(p, name, name, ImageSet(kind="ids", ids=tuple(ids)))
        for i, lab in zip(ids, labels, strict=True):
            record_read(p, s, i, lab)
    res = auto_adjudicate(p, ["a", "b"], "any-aff", level="patient")
    labels = p.labels.all()
    assert {labels[i] for i in ids[:3]} == {"AFF"}  # a called patient P000 AFF: all its images
    assert {labels[i] for i in ids[3:]} == {"NFF"}
    assert len(res.settled) == 6 and res.queued == ()
    assert disagreement_queue(p, ["a", "b"], level="patient") == []
    p.close()
