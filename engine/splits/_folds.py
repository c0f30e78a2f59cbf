"""Stratified, patient-grouped K-fold assignment (pure numpy + scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInput

TEST_FOLD = -1


class LeakageError(InvalidInput):
    """A patient's images fall on both sides of a split."""


@dataclass(frozen=True)
class FoldPlan:
    """Fold of each image: ``0..k-1`` for cross-validation, :data:`TEST_FOLD` for held-out test."""

    image_ids: np.ndarray
    patients: np.ndarray
    labels: np.ndarray  # 1 = AFF, 0 = NFF
    folds: np.ndarray
    k: int


def assign_folds(image_ids, patients, labels, k: int = 5, seed: int = 0,
                 test_share: float = 0.0) -> FoldPlan:
    """Split images into ``k`` folds with no patient in two folds, stratified by label.

    A patient counts as AFF when any of its images is AFF. With ``test_share``
    > 0 that share of patients (stratified likewise) is held out first.
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    image_ids = np.asarray(image_ids, dtype=np.int64)
    patients = np.asarray(patients).astype(str)
    labels = np.asarray(labels, dtype=np.int64)
    if not (len(image_ids) == len(patients) == len(labels)):
        raise ValueError("image_ids, patients and labels must have the same length")
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    if not 0.0 <= test_share < 1.0:
        raise ValueError(f"test_share must be in [0, 1), got {test_share}")
    uniq, inverse = np.unique(patients, return_inverse=True)
    patient_pos = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(patient_pos, inverse, labels)
    n_pos, n_neg = int(patient_pos.sum()), int(len(uniq) - patient_pos.sum())
    folds = np.full(len(image_ids), TEST_FOLD, dtype=np.int64)

    cv_patients = np.arange(len(uniq))
    if test_share > 0:
        if min(n_pos, n_neg) < 2:
            raise ValueError("a held-out test set needs at least 2 AFF and 2 NFF patients")
        cv_patients, _ = train_test_split(cv_patients, test_size=test_share, random_state=seed,
                                          stratify=patient_pos)
    in_cv = np.isin(inverse, cv_patients)
    cv_pos = int(patient_pos[cv_patients].sum())
    if min(cv_pos, len(cv_patients) - cv_pos) < k:
        raise ValueError(
            f"{k} folds need at least {k} AFF and {k} NFF patients in cross-validation; "
            f"there are {cv_pos} AFF and {len(cv_patients) - cv_pos} NFF"
        )
    idx = np.flatnonzero(in_cv)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, val) in enumerate(splitter.split(idx, labels[idx], groups=inverse[idx])):
        folds[idx[val]] = fold
    plan = FoldPlan(image_ids, patients, labels, folds, k)
    check_leakage(plan)
    return plan


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a split made with ``seed`` (repeat 0 uses ``seed`` itself)."""
    return int(seed) + int(repeat)


def assign_repeats(image_ids, patients, labels, k: int = 5, seed: int = 0, test_share: float = 0.0,
                   repeats: int = 1) -> list[FoldPlan]:
    """``repeats`` independent patient-grouped, stratified K-fold partitions of the same images.

    Repeat 0 is exactly :func:`assign_folds` with ``seed`` (a one-repeat split is unchanged);
    repeat ``r`` re-partitions the same cross-validation patients with seed
    :func:`repeat_seed` ``(seed, r)``. A held-out test set (``test_share`` > 0) is drawn once
    and is the same in every repeat. The leakage check holds within every repeat.
    """
    if not (isinstance(repeats, int) and 1 <= repeats <= 100):
        raise ValueError(f"repeats must be an integer from 1 to 100, got {repeats!r}")
    first = assign_folds(image_ids, patients, labels, k=k, seed=seed, test_share=test_share)
    plans = [first]
    cv = np.flatnonzero(first.folds != TEST_FOLD)
    for r in range(1, repeats):
        sub = assign_folds(first.image_ids[cv], first.patients[cv], first.labels[cv], k=k,
                           seed=repeat_seed(seed, r))
        folds = np.full(len(first.image_ids), TEST_FOLD, dtype=np.int64)
        folds[cv] = sub.folds
        plan = FoldPlan(first.image_ids, first.patients, first.labels, folds, k)
        check_leakage(plan)
        plans.append(plan)
    return plans


def check_leakage(plan: FoldPlan) -> None:
    """Raise :class:`LeakageError` if any patient has images in two folds (test included)."""
    seen: dict[str, int] = {}
    bad = set()
    for patient, fold in zip(plan.patients.tolist(), plan.folds.tolist()):
        if seen.setdefault(patient, fold) != fold:
            bad.add(patient)
    if bad:
        shown = ", ".join(sorted(bad)[:5]) + (" ..." if len(bad) > 5 else "")
        raise LeakageError(f"{len(bad)} patient(s) appear on both sides of the split: {shown}")


@dataclass(frozen=True)
class FoldBalance:
    fold: int
    images: int
    patients: int
    aff_images: int
    aff_share: float
    aff_patients: int = 0  # a patient counts as AFF when any of its images is

    @property
    def nff_images(self) -> int:
        return self.images - self.aff_images

    @property
    def nff_patients(self) -> int:
        return self.patients - self.aff_patients


def fold_balance(plan: FoldPlan) -> list[FoldBalance]:
    """Images, patients, AFF images and patients per fold (test fold last, when present)."""
    out = []
    order = list(range(plan.k)) + ([TEST_FOLD] if (plan.folds == TEST_FOLD).any() else [])
    for fold in order:
        m = plan.folds == fold
        n = int(m.sum())
        patients, labels = plan.patients[m], plan.labels[m]
        aff = int(labels.sum())
        out.append(FoldBalance(fold, n, len(set(patients.tolist())), aff, aff / n if n else 0.0,
                               len(set(patients[labels == 1].tolist()))))
    return out
