"""Splits stored in the project: named, versioned, never changed once written."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from engine.splits._folds import TEST_FOLD, FoldPlan, assign_folds, check_leakage
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
    plan: FoldPlan

    def train_val(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Image ids to train on and to validate on for cross-validation fold ``fold``."""
        if not 0 <= fold < self.k:
            raise ValueError(f"split {self.name} v{self.version} has folds 0..{self.k - 1}, not {fold}")
        folds = self.plan.folds
        return (self.plan.image_ids[(folds != fold) & (folds != TEST_FOLD)],
                self.plan.image_ids[folds == fold])

    def test_ids(self) -> np.ndarray:
        return self.plan.image_ids[self.plan.folds == TEST_FOLD]


def _study_images(project: Project) -> tuple[list[int], list[str], list[int]]:
    """Ids, patient keys and 0/1 labels of images labelled AFF or NFF."""
    rows = project.query(
        "SELECT i.id, p.patient_key, l.label FROM images i JOIN patients p ON p.id = i.patient_id "
        "JOIN labels l ON l.image_id = i.id WHERE l.label IN ('AFF', 'NFF') ORDER BY i.id"
    )
    return ([r[0] for r in rows], [r[1] for r in rows], [_STUDY_LABELS[r[2]] for r in rows])


def _digest(ids, labels, k, seed, test_share) -> str:
    h = hashlib.sha256(f"{k}|{seed}|{test_share:.6f}|".encode())
    h.update(np.asarray(ids, np.int64).tobytes())
    h.update(np.asarray(labels, np.int8).tobytes())
    return h.hexdigest()


def create_split(project: Project, name: str = "default", k: int = 5, seed: int = 0,
                 test_share: float = 0.0) -> Split:
    """Store a split of the AFF/NFF-labelled images (uncertain and excluded left out).

    If the latest version of ``name`` was made from the same labels and settings
    it is returned as is; otherwise a new version is written.
    """
    ids, patients, labels = _study_images(project)
    if not ids:
        raise ValueError(f"{project.path}: no image is labelled AFF or NFF; label images first")
    digest = _digest(ids, labels, k, seed, test_share)
    latest = project.query("SELECT id, version, labels_digest FROM splits WHERE name = ? "
                           "ORDER BY version DESC LIMIT 1", (name,))
    if latest and latest[0]["labels_digest"] == digest:
        return load_split(project, name, latest[0]["version"])
    plan = assign_folds(ids, patients, labels, k=k, seed=seed, test_share=test_share)
    check_leakage(plan)
    with project.transaction() as conn:
        version = 1 + (conn.execute("SELECT COALESCE(MAX(version), 0) FROM splits WHERE name = ?",
                                    (name,)).fetchone()[0])
        split_id = conn.execute(
            "INSERT INTO splits(name, version, k, seed, test_share, labels_digest, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (name, version, k, seed, test_share, digest, utc_now()),
        ).lastrowid
        patient_ids = dict(conn.execute("SELECT patient_key, id FROM patients").fetchall())
        conn.executemany(
            "INSERT INTO split_members(split_id, image_id, patient_id, label, fold) VALUES (?, ?, ?, ?, ?)",
            [(split_id, int(i), patient_ids[p], "AFF" if y else "NFF", int(f))
             for i, p, y, f in zip(plan.image_ids, plan.patients, plan.labels, plan.folds)],
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
    return Split(s["id"], s["name"], s["version"], s["k"], s["seed"], s["test_share"],
                 s["labels_digest"], s["created_at"], plan)


def list_splits(project: Project) -> list[dict]:
    """Every stored split version with its size."""
    rows = project.query(
        "SELECT s.name, s.version, s.k, s.seed, s.test_share, s.created_at, COUNT(m.image_id) AS images "
        "FROM splits s LEFT JOIN split_members m ON m.split_id = s.id GROUP BY s.id "
        "ORDER BY s.name, s.version")
    return [dict(r) for r in rows]
