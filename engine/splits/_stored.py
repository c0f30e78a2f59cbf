"""Splits stored in the project: named, versioned, never changed once written."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from engine.splits._folds import TEST_FOLD, FoldPlan, assign_repeats, check_leakage
from engine.store import Project, utc_now

_STUDY_LABELS = {"AFF": 1, "NFF": 0}


@dataclass(frozen=True)
class Split:
    """A stored split version with its fold plan."""

    id: int
    name: str
    version: int
    k: int
    seed: int
    test_share: float
    labels_digest: str
    created_at: str
    plan: FoldPlan  # repeat 0
    repeats: int = 1
    repeat_plans: tuple[FoldPlan, ...] = ()  # every repeat, repeat 0 first; () reads as (plan,)

    def plan_for(self, repeat: int = 0) -> FoldPlan:
        """The fold plan of repeat ``repeat`` (0 for a split made before repeats existed)."""
        plans = self.repeat_plans or (self.plan,)
        if not (isinstance(repeat, int) and 0 <= repeat < len(plans)):
            raise ValueError(f"split {self.name} v{self.version} has repeats 0..{len(plans) - 1}, "
                             f"not {repeat}")
        return plans[repeat]

    def train_val(self, fold: int, repeat: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Image ids to train on and to validate on for fold ``fold`` of repeat ``repeat``."""
        plan = self.plan_for(repeat)
        if not 0 <= fold < self.k:
            raise ValueError(f"split {self.name} v{self.version} has folds 0..{self.k - 1}, not {fold}")
        folds = plan.folds
        return (plan.image_ids[(folds != fold) & (folds != TEST_FOLD)], plan.image_ids[folds == fold])

    def test_ids(self) -> np.ndarray:
        return self.plan.image_ids[self.plan.folds == TEST_FOLD]


def _study_images(project: Project) -> tuple[list[int], list[str], list[int]]:
    """Ids, patient keys and 0/1 labels of images labelled AFF or NFF."""
    rows = project.query(
        "SELECT i.id, p.patient_key, l.label FROM images i JOIN patients p ON p.id = i.patient_id "
        "JOIN labels l ON l.image_id = i.id WHERE l.label IN ('AFF', 'NFF') ORDER BY i.id"
    )
    return ([r[0] for r in rows], [r[1] for r in rows], [_STUDY_LABELS[r[2]] for r in rows])


def _digest(ids, labels, k, seed, test_share, repeats=1) -> str:
    # one repeat hashes as before repeats existed, so an older split is still "the same settings"
    h = hashlib.sha256(f"{k}|{seed}|{test_share:.6f}|".encode()
                       + (f"repeats={repeats}|".encode() if repeats != 1 else b""))
    h.update(np.asarray(ids, np.int64).tobytes())
    h.update(np.asarray(labels, np.int8).tobytes())
    return h.hexdigest()


def create_split(project: Project, name: str = "default", k: int = 5, seed: int = 0,
                 test_share: float = 0.0, repeats: int = 1) -> Split:
    """Store a split of the AFF/NFF-labelled images (uncertain and excluded left out).

    ``repeats`` > 1 stores that many independent K-fold partitions in the one version
    (:func:`~engine.splits.assign_repeats`), so every experiment on it sees the same R x K folds.

    If the latest version of ``name`` was made from the same labels and settings
    it is returned as is; otherwise a new version is written.
    """
    from engine.runs import safe_name

    safe_name(name, "split name")  # it becomes part of paths (reports, Slurm scripts, exports)
    ids, patients, labels = _study_images(project)
    if not ids:
        raise ValueError(f"{project.path}: no image is labelled AFF or NFF; label images first")
    digest = _digest(ids, labels, k, seed, test_share, repeats)
    latest = project.query("SELECT id, version, labels_digest FROM splits WHERE name = ? "
                           "ORDER BY version DESC LIMIT 1", (name,))
    if latest and latest[0]["labels_digest"] == digest:
        return load_split(project, name, latest[0]["version"])
    plans = assign_repeats(ids, patients, labels, k=k, seed=seed, test_share=test_share, repeats=repeats)
    for p in plans:
        check_leakage(p)
    plan = plans[0]
    with project.transaction() as conn:
        version = 1 + (conn.execute("SELECT COALESCE(MAX(version), 0) FROM splits WHERE name = ?",
                                    (name,)).fetchone()[0])
        split_id = conn.execute(
            "INSERT INTO splits(name, version, k, seed, test_share, labels_digest, created_at, repeats) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, version, k, seed, test_share, digest, utc_now(), repeats),
        ).lastrowid
        patient_ids = dict(conn.execute("SELECT patient_key, id FROM patients").fetchall())
        conn.executemany(
            "INSERT INTO split_members(split_id, image_id, patient_id, label, fold) VALUES (?, ?, ?, ?, ?)",
            [(split_id, int(i), patient_ids[p], "AFF" if y else "NFF", int(f))
             for i, p, y, f in zip(plan.image_ids, plan.patients, plan.labels, plan.folds)],
        )
        conn.executemany(
            "INSERT INTO split_repeat_folds(split_id, repeat, image_id, fold) VALUES (?, ?, ?, ?)",
            [(split_id, r, int(i), int(f)) for r, p in enumerate(plans) if r
             for i, f in zip(p.image_ids, p.folds)],
        )
    return load_split(project, name, version)


def load_split(project: Project, name: str = "default", version: int | None = None) -> Split:
    """A stored split (the latest version unless ``version`` is given)."""
    sql = "SELECT * FROM splits WHERE name = ?" + (" AND version = ?" if version else "")
    rows = project.query(sql + " ORDER BY version DESC LIMIT 1",
                         (name, version) if version else (name,))
    if not rows:
        known = ", ".join(sorted({r[0] for r in project.query("SELECT name FROM splits")})) or "none"
        raise KeyError(f"no split {name!r}" + (f" version {version}" if version else "")
                       + f" in {project.path} (known: {known})")
    s = rows[0]
    members = project.query(
        "SELECT m.image_id, p.patient_key, m.label, m.fold FROM split_members m "
        "JOIN patients p ON p.id = m.patient_id WHERE m.split_id = ? ORDER BY m.image_id", (s["id"],))
    plan = FoldPlan(
        np.array([m[0] for m in members], np.int64), np.array([m[1] for m in members]),
        np.array([_STUDY_LABELS[m[2]] for m in members], np.int64),
        np.array([m[3] for m in members], np.int64), s["k"],
    )
    repeats = int(s["repeats"]) if "repeats" in s.keys() else 1
    plans = [plan]
    if repeats > 1:
        rows = project.query("SELECT repeat, image_id, fold FROM split_repeat_folds WHERE split_id = ? "
                             "ORDER BY repeat, image_id", (s["id"],))
        by_repeat: dict[int, dict[int, int]] = {}
        for r in rows:
            by_repeat.setdefault(r[0], {})[r[1]] = r[2]
        for r in range(1, repeats):
            fold_of = by_repeat.get(r, {})
            if len(fold_of) != len(plan.image_ids):
                raise ValueError(f"split {s['name']} v{s['version']} in {project.path}: repeat {r} "
                                 f"stores {len(fold_of)} of its {len(plan.image_ids)} images; "
                                 "the project is damaged")
            plans.append(FoldPlan(plan.image_ids, plan.patients, plan.labels,
                                  np.array([fold_of[int(i)] for i in plan.image_ids], np.int64), s["k"]))
    return Split(s["id"], s["name"], s["version"], s["k"], s["seed"], s["test_share"],
                 s["labels_digest"], s["created_at"], plan, repeats, tuple(plans))


def list_splits(project: Project) -> list[dict]:
    """Every stored split version with its size."""
    rows = project.query(
        "SELECT s.name, s.version, s.k, s.seed, s.test_share, s.repeats, s.created_at, "
        "COUNT(m.image_id) AS images "
        "FROM splits s LEFT JOIN split_members m ON m.split_id = s.id GROUP BY s.id "
        "ORDER BY s.name, s.version")
    return [dict(r) for r in rows]
