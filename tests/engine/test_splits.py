import numpy as np
import pytest

from engine.splits import (
    TEST_FOLD,
    FoldPlan,
    LeakageError,
    assign_folds,
    check_leakage,
    create_split,
    fold_balance,
    list_splits,
    load_split,
)
from engine.store import Project
from tests.engine._store_factory import add_images


def _cohort(n_patients=120, seed=0):
    rng = np.random.default_rng(seed)
    ids, patients, labels = [], [], []
    for p in range(n_patients):
        aff = rng.random() < 0.2
        for _ in range(rng.integers(1, 7)):
            ids.append(len(ids) + 1)
            patients.append(f"P{p:04d}")
            labels.append(int(aff))
    return ids, patients, labels


def test_folds_are_patient_grouped_and_stratified():
    ids, patients, labels = _cohort()
    plan = assign_folds(ids, patients, labels, k=5, seed=1)
    assert set(plan.folds.tolist()) == set(range(5))
    for p in set(patients):
        assert len(set(plan.folds[plan.patients == p].tolist())) == 1
    overall = np.mean(labels)
    shares = [b.aff_share for b in fold_balance(plan)]
    assert max(abs(s - overall) for s in shares) < 0.08
    assert sum(b.images for b in fold_balance(plan)) == len(ids)


def test_same_seed_same_folds_other_seed_differs():
    ids, patients, labels = _cohort()
    a = assign_folds(ids, patients, labels, seed=3).folds
    assert np.array_equal(a, assign_folds(ids, patients, labels, seed=3).folds)
    assert not np.array_equal(a, assign_folds(ids, patients, labels, seed=4).folds)


def test_held_out_test_patients():
    ids, patients, labels = _cohort(200)
    plan = assign_folds(ids, patients, labels, k=5, seed=0, test_share=0.2)
    test_patients = set(plan.patients[plan.folds == TEST_FOLD].tolist())
    assert 0.12 < len(test_patients) / len(set(patients)) < 0.28
    assert not test_patients & set(plan.patients[plan.folds != TEST_FOLD].tolist())
    assert fold_balance(plan)[-1].fold == TEST_FOLD


def test_leakage_check_refuses_a_patient_on_both_sides():
    plan = FoldPlan(np.array([1, 2, 3]), np.array(["A", "A", "B"]), np.array([1, 1, 0]),
                    np.array([0, 1, 1]), 2)
    with pytest.raises(LeakageError, match="1 patient.*: A"):
        check_leakage(plan)


def test_too_few_patients_is_a_clear_error():
    with pytest.raises(ValueError, match="need at least 5 AFF"):
        assign_folds([1, 2, 3, 4], ["a", "b", "c", "d"], [1, 0, 1, 0], k=5)


def test_stored_split_versions(tmp_path):
    with Project.create(tmp_path / "S") as p:
        ids = add_images(p, 60, patients=30)
        p.labels.set_many(ids[:20], "AFF", "ann")
        p.labels.set_many(ids[20:55], "NFF", "ann")
        p.labels.set_many(ids[55:], "uncertain", "ann")
        s1 = create_split(p, "main", k=3, seed=0)
        assert (s1.version, len(s1.plan.image_ids)) == (1, 55)  # uncertain left out
        assert create_split(p, "main", k=3, seed=0).id == s1.id  # same labels: same version
        train, val = s1.train_val(0)
        assert not set(train) & set(val) and len(train) + len(val) == 55

        p.labels.set(ids[0], "NFF", "ann")  # a new labelling state makes a new version
        s2 = create_split(p, "main", k=3, seed=0)
        assert s2.version == 2
        assert load_split(p, "main", 1).plan.labels.sum() == 20
        assert load_split(p, "main").version == 2
        assert [r["version"] for r in list_splits(p)] == [1, 2]
        with pytest.raises(Exception, match="never changes"):
            p.conn.execute("UPDATE split_members SET fold = 0")
        with pytest.raises(KeyError, match="no split 'other'"):
            load_split(p, "other")
