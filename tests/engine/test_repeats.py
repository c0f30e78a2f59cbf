"""Repeated, seeded cross-validation: R partitions in one split version, R x K x S jobs (issue 13)."""

import json
import sqlite3

import numpy as np
import pytest

from engine.cli import main
from engine.experiments import create_experiment, experiment_design, experiment_jobs
from engine.splits import TEST_FOLD, assign_folds, assign_repeats, check_leakage, create_split, load_split
from engine.store import Project
from engine.store._schema import _V_REPEATS, MIGRATIONS, migrate
from tests.engine._store_factory import add_images
from tests.engine._train_factory import tiny_spec
from tests.engine.test_splits import _cohort


def test_repeats_are_independent_leak_free_partitions_of_the_same_images():
    ids, patients, labels = _cohort(150)
    plans = assign_repeats(ids, patients, labels, k=5, seed=0, test_share=0.2, repeats=3)
    assert len(plans) == 3
    assert np.array_equal(plans[0].folds, assign_folds(ids, patients, labels, k=5, seed=0,
                                                       test_share=0.2).folds)  # repeat 0 unchanged
    test = plans[0].folds == TEST_FOLD
    for plan in plans:
        check_leakage(plan)
        assert np.array_equal(plan.folds == TEST_FOLD, test)  # one held-out test set
        assert set(plan.folds[~test].tolist()) == set(range(5))
    assert not np.array_equal(plans[0].folds, plans[1].folds)
    assert not np.array_equal(plans[1].folds, plans[2].folds)
    with pytest.raises(ValueError, match="repeats must be"):
        assign_repeats(ids, patients, labels, repeats=0)


def _labelled(p, n=60, patients=30):
    ids = add_images(p, n, patients=patients)
    p.labels.set_many(ids[:24], "AFF", "ann")
    p.labels.set_many(ids[24:], "NFF", "ann")
    return ids


def test_stored_repeats_round_trip_and_are_frozen(tmp_path):
    with Project.create(tmp_path / "R") as p:
        _labelled(p)
        s = create_split(p, "cv", k=3, seed=0, repeats=3)
        assert s.repeats == 3 and len(s.repeat_plans) == 3
        back = load_split(p, "cv")
        for r in range(3):
            assert np.array_equal(back.plan_for(r).folds, s.plan_for(r).folds)
            train, val = back.train_val(1, repeat=r)
            assert not set(train) & set(val) and len(train) + len(val) == 60
        assert not np.array_equal(back.plan_for(1).folds, back.plan_for(2).folds)
        assert create_split(p, "cv", k=3, seed=0, repeats=3).id == s.id  # same settings: same version
        assert create_split(p, "cv", k=3, seed=0, repeats=2).version == 2  # other repeats: new version
        one = create_split(p, "one", k=3, seed=0)
        assert one.repeats == 1 and np.array_equal(one.plan.folds, s.plan.folds)
        with pytest.raises(ValueError, match="repeats 0..2, not 3"):
            back.train_val(0, repeat=3)
        with pytest.raises(Exception, match="never changes"):
            p.conn.execute("UPDATE split_repeat_folds SET fold = 0")


def test_cli_split_create_repeats_and_show_per_repeat_balance(tmp_path, capsys):
    with Project.create(tmp_path / "C") as p:
        _labelled(p)
    path = str(tmp_path / "C")
    assert main(["split", "create", path, "--name", "cv", "--k", "3", "--repeats", "2", "--seed", "0"]) == 0
    capsys.readouterr()
    assert main(["split", "show", path, "--name", "cv"]) == 0
    out = capsys.readouterr().out
    assert "k=3 repeats=2 seed=0" in out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [("0", "0"), ("0", "1"), ("0", "2"),
                                            ("1", "0"), ("1", "1"), ("1", "2")]
    for r in (0, 1):
        assert sum(int(row[2]) for row in rows if row[0] == str(r)) == 60
        assert sum(int(row[4]) for row in rows if row[0] == str(r)) == 24
    assert main(["split", "create", path, "--name", "bad", "--repeats", "0"]) == 2
    assert "repeats must be" in capsys.readouterr().err


def test_experiment_queues_every_repeat_fold_seed(tmp_path):
    with Project.create(tmp_path / "E") as p:
        _labelled(p)
        create_split(p, "cv", k=3, seed=0, repeats=2)
        spec = tiny_spec(p.path, split="cv", seed=5)
        create_experiment(p, "all", spec, seeds=2)
        jobs = experiment_jobs(p, "all")
        labels = [j.label for j in jobs]
        assert labels == [f"r{r}f{f}s{s}" for r in (0, 1) for f in (0, 1, 2) for s in (5, 6)]
        for j in jobs:
            assert (j.spec["repeat"], j.spec["fold"], j.spec["seed"]) == (j.repeat, j.fold, j.seed)
            assert f"-{j.label}-" in j.run_id
        d = experiment_design(p, "all")
        assert (d.repeats, d.folds, d.seeds, d.runs) == ((0, 1), (0, 1, 2), (5, 6), 12)
        create_experiment(p, "first", spec, repeats=1)
        assert [j.label for j in experiment_jobs(p, "first")] == ["r0f0s5", "r0f1s5", "r0f2s5"]
        with pytest.raises(ValueError, match="has 2 repeat"):
            create_experiment(p, "bad", spec, repeats=3)
        with pytest.raises(ValueError, match="seeds must be"):
            create_experiment(p, "bad", spec, seeds=0)


def test_project_written_before_repeats_reads_as_one_repeat_one_seed(tmp_path):
    folder = tmp_path / "Old.affproj"
    folder.mkdir()
    conn = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    migrate(conn, target=MIGRATIONS.index(_V_REPEATS))  # the schema before repeats
    conn.execute("INSERT INTO patients(id, patient_key, created_at) VALUES (1, 'P1', 'x'), (2, 'P2', 'x')")
    for i in (1, 2, 3, 4):
        conn.execute("INSERT INTO images(id, patient_id, path, source_folder, sha256, bytes, format, width, "
                     "height, imported_at) VALUES (?, ?, ?, '/', ?, 1, 'png', 10, 20, 'x')",
                     (i, 1 + (i > 2), f"/{i}.png", f"{i:02x}"))
    conn.execute("INSERT INTO splits(id, name, version, k, seed, test_share, labels_digest, created_at) "
                 "VALUES (1, 'default', 1, 2, 0, 0.0, 'd', 'x')")
    conn.executemany("INSERT INTO split_members VALUES (1, ?, ?, ?, ?)",
                     [(1, 1, "AFF", 0), (2, 1, "AFF", 0), (3, 2, "NFF", 1), (4, 2, "NFF", 1)])
    old_spec = {k: v for k, v in tiny_spec(folder).to_json().items() if k != "repeat"}
    conn.execute("INSERT INTO experiments VALUES (1, 'old', 1, 'resnet10t', ?, 'x')", (json.dumps(old_spec),))
    for fold in (0, 1):
        conn.execute("INSERT INTO jobs(experiment_id, kind, fold, spec, run_id, created_at) "
                     "VALUES (1, 'train', ?, ?, ?, 'x')", (fold, json.dumps(old_spec | {"fold": fold}),
                                                           f"old-{fold}"))
    conn.close()
    with Project.open(folder) as p:
        s = load_split(p, "default")
        assert s.repeats == 1 and s.plan_for(0).folds.tolist() == [0, 0, 1, 1]
        assert s.train_val(0)[1].tolist() == [1, 2]
        jobs = experiment_jobs(p, "old")
        assert [j.label for j in jobs] == ["r0f0s0", "r0f1s0"]
        d = experiment_design(p, "old")
        assert (d.repeats, d.seeds, d.runs) == ((0,), (0,), 2)
