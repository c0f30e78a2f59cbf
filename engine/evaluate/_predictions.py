"""One experiment's out-of-fold predictions; patient aggregation; aligning experiments by image id."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.evaluate._checks import as_labels, as_scores, same_length


@dataclass(frozen=True)
class PatientScores:
    """One row per patient: label AFF (1) if any of its images is AFF, score aggregated."""

    patients: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    n_images: np.ndarray


def aggregate_patients(patients, labels, scores, how: str = "mean") -> PatientScores:
    """Patient score = mean (default) or max of its image scores; patient label = any image AFF.

    A patient with one AFF femur is an AFF patient: that is the clinical question
    (is there an atypical fracture?). Mean follows Schilcher et al. 2024; max asks
    "does any image look atypical" and is more sensitive to a single confident image.
    """
    y, s = as_labels(labels), as_scores(scores)
    p = np.asarray(patients)
    same_length(patients=p, labels=y, scores=s)
    if len(p) == 0:
        raise ValueError("no images to aggregate")
    uniq, idx = np.unique(p, return_inverse=True)
    idx = idx.ravel()
    n_images = np.bincount(idx, minlength=len(uniq))
    label = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(label, idx, y)
    if how == "mean":
        score = np.bincount(idx, weights=s, minlength=len(uniq)) / n_images
    elif how == "max":
        score = np.full(len(uniq), -np.inf)
        np.maximum.at(score, idx, s)
    else:
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    return PatientScores(patients=uniq, labels=label, scores=score, n_images=n_images)


def _ids(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr.astype(np.int64) if np.issubdtype(arr.dtype, np.integer) else arr.astype(str)


@dataclass(frozen=True)
class Predictions:
    """Out-of-fold predictions of one experiment: one row per image.

    ``scores`` are the AFF probability (higher = more likely AFF); ``split_id``
    names the stored split version the experiment was trained on; ``folds`` (optional)
    is each image's validation fold.
    """

    name: str
    split_id: str
    image_ids: np.ndarray
    patients: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    folds: np.ndarray | None = None

    def __post_init__(self):
        ids = _ids(self.image_ids, "image_ids")
        fields = {"image_ids": ids, "patients": np.asarray(self.patients),
                  "labels": as_labels(self.labels), "scores": as_scores(self.scores, f"{self.name} scores")}
        if self.folds is not None:
            fields["folds"] = np.asarray(self.folds)
        same_length(**fields)
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"{self.name}: {int(np.sum(counts > 1))} image ids occur more than once "
                             f"(e.g. {uniq[counts > 1][:3].tolist()})")
        for key, value in fields.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "split_id", str(self.split_id))

    def __len__(self) -> int:
        return len(self.image_ids)

    def to_patients(self, how: str = "mean") -> Predictions:
        """Patient-level predictions (``image_ids`` become patient ids); see :func:`aggregate_patients`."""
        agg = aggregate_patients(self.patients, self.labels, self.scores, how)
        folds = None
        if self.folds is not None:
            _, idx = np.unique(self.patients, return_inverse=True)
            idx = idx.ravel()
            folds = np.empty(len(agg.patients), dtype=self.folds.dtype)
            folds[idx] = self.folds
            if np.any(folds[idx] != self.folds):
                raise ValueError(f"{self.name}: some patients have images in two folds (patient leakage)")
        return Predictions(name=self.name, split_id=self.split_id, image_ids=agg.patients,
                           patients=agg.patients, labels=agg.labels, scores=agg.scores, folds=folds)


def _preview(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:5])
    return shown + (", ..." if len(values) > 5 else "")


def align_predictions(*experiments: Predictions) -> tuple[Predictions, ...]:
    """The experiments reordered to the same image order, after checking they can be compared.

    Refuses experiments from different splits, experiments that do not cover exactly the
    same image ids (the message counts the ids on each side), and images whose label or
    patient differs between experiments (labels edited between runs).
    """
    if len(experiments) < 2:
        raise ValueError("align_predictions needs at least two experiments")
    first = experiments[0]
    splits = {e.split_id for e in experiments}
    if len(splits) > 1:
        listed = ", ".join(f"{e.name!r} uses split {e.split_id!r}" for e in experiments)
        raise ValueError(f"experiments come from different splits and cannot be compared: {listed}")
    order0 = np.argsort(first.image_ids, kind="mergesort")
    ids0 = first.image_ids[order0]
    out = [_take(first, order0)]
    for e in experiments[1:]:
        if e.image_ids.dtype.kind != ids0.dtype.kind:
            raise ValueError(f"{e.name!r} and {first.name!r} use different kinds of image ids "
                             f"({e.image_ids.dtype} vs {ids0.dtype})")
        only_first = np.setdiff1d(ids0, e.image_ids)
        only_e = np.setdiff1d(e.image_ids, ids0)
        if len(only_first) or len(only_e):
            raise ValueError(
                f"{e.name!r} and {first.name!r} do not cover the same images: {len(only_first)} ids "
                f"only in {first.name!r} ({_preview(only_first)}), {len(only_e)} only in {e.name!r} "
                f"({_preview(only_e)})")
        aligned = _take(e, np.argsort(e.image_ids, kind="mergesort"))
        bad = np.flatnonzero(aligned.labels != out[0].labels)
        if len(bad):
            raise ValueError(f"{e.name!r} and {first.name!r} disagree on the label of {len(bad)} images "
                             f"({_preview(ids0[bad])}); rerun on the current labels")
        if not np.array_equal(aligned.patients.astype(str), out[0].patients.astype(str)):
            raise ValueError(f"{e.name!r} and {first.name!r} assign some images to different patients")
        out.append(aligned)
    return tuple(out)


def _take(e: Predictions, order: np.ndarray) -> Predictions:
    return replace(e, image_ids=e.image_ids[order], patients=e.patients[order], labels=e.labels[order],
                   scores=e.scores[order], folds=None if e.folds is None else e.folds[order])
