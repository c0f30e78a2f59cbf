"""Repeated cross-validation: out-of-fold predictions pooled per (repeat, seed), per-repeat AUCs,
and the comparison of two experiments across the R x K folds (issue 13).

A repeat of a split partitions the same images into K folds, so pooling its K runs gives one
prediction per image: one AUC per repeat (and per training seed). Those AUCs, their mean and
their spread are the primary numbers. Two experiments on the same split are compared by the
Nadeau-Bengio corrected resampled t-test over the paired per-fold AUC differences (the folds'
training sets overlap, so a plain t-test is too liberal) and by a paired DeLong test per repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.evaluate._corrected_ttest import CorrectedTTest, corrected_resampled_ttest
from engine.evaluate._delong import delong_test
from engine.evaluate._predictions import Predictions, align_predictions
from engine.evaluate._roc import roc_auc
from engine.evaluate._runs import ExperimentNotReady, _split_of
from engine.runs import run_label

if TYPE_CHECKING:
    from engine.store import Project

LEVELS = ("image", "patient")


@dataclass(frozen=True)
class RepeatedPredictions:
    """Every (repeat, seed)'s pooled out-of-fold predictions of one experiment."""

    name: str
    split_label: str
    k: int
    pooled: dict  # (repeat, seed) -> Predictions (folds set), one row per cross-validation image

    @property
    def repeats(self) -> tuple[int, ...]:
        return tuple(sorted({r for r, _ in self.pooled}))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(sorted({s for _, s in self.pooled}))


def load_repeated_predictions(project: Project, name: str) -> RepeatedPredictions:
    """Pooled out-of-fold predictions of every (repeat, seed) an experiment trained.

    Refuses (:class:`ExperimentNotReady`) a (repeat, fold, seed) with no finished run, a run
    whose predictions name another fold, and a repeat whose runs do not cover exactly the
    cross-validation images of that repeat's partition. An experiment from before repeats
    existed reads as repeat 0, one seed.
    """
    from engine.experiments import experiment_jobs, get_experiment, job_repeat_seed
    from engine.train import PREDICTIONS, read_predictions

    exp = get_experiment(project, name)
    split = _split_of(project, exp.split_id)
    label = f"{split.name} v{split.version}"
    runs: dict[tuple[int, int, int], list] = {}
    for job in experiment_jobs(project, name):
        if job.kind == "train" and job.fold is not None:
            r, s = job_repeat_seed(job)
            runs.setdefault((r, job.fold, s), []).append(job)
    if not runs:
        raise ExperimentNotReady(f"experiment {name!r} has no training jobs")
    problems, parts = [], {}
    repeat_seeds = sorted({(r, s) for r, _, s in runs})
    for r, s in repeat_seeds:
        for fold in range(split.k):
            tag = run_label(r, fold, s)
            finished = [j for j in runs.get((r, fold, s), []) if j.state == "finished"]
            if not finished:
                states = ", ".join(f"job {j.id} {j.state}" for j in runs.get((r, fold, s), [])) or "no job"
                problems.append(f"{tag} has not finished ({states})")
                continue
            path = project.runs_dir / finished[-1].run_id / PREDICTIONS
            if not path.is_file():
                problems.append(f"{tag}: {path} is missing")
                continue
            cols = read_predictions(path)
            if np.any(cols["fold"] != fold):
                problems.append(f"{tag}: {path} has rows of another fold")
                continue
            parts.setdefault((r, s), []).append(cols)
    if problems:
        raise ExperimentNotReady(f"experiment {name!r} is not complete: " + "; ".join(problems)
                                 + f" (run `affengine run PROJECT {name}` to finish it)")
    pooled = {}
    for (r, s), cols_list in parts.items():
        cols = {key: np.concatenate([c[key] for c in cols_list]) for key in cols_list[0]}
        plan = split.plan_for(r)
        expected = np.sort(plan.image_ids[plan.folds >= 0])
        got = np.sort(cols["image_id"])
        if len(got) != len(expected) or not np.array_equal(got, expected):
            raise ExperimentNotReady(
                f"experiment {name!r}: the runs of repeat {r} seed {s} do not cover split {label} "
                f"repeat {r} exactly ({len(got)} predictions for {len(expected)} images)")
        fold_of = dict(zip(plan.image_ids.tolist(), plan.folds.tolist()))
        if any(fold_of[int(i)] != int(f) for i, f in zip(cols["image_id"], cols["fold"])):
            raise ExperimentNotReady(f"experiment {name!r}: repeat {r} predictions disagree with the "
                                     f"folds of split {label} repeat {r}")
        pooled[(r, s)] = Predictions(
            name=name, split_id=f"{label} (id {split.id}) repeat {r}", image_ids=cols["image_id"],
            patients=cols["patient_id"].astype(str), labels=cols["label"], scores=cols["probability"],
            folds=cols["fold"])
    return RepeatedPredictions(name=name, split_label=label, k=split.k, pooled=pooled)


def _at(pred: Predictions, level: str, how: str) -> Predictions:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    return pred.to_patients(how) if level == "patient" else pred


@dataclass(frozen=True)
class RepeatAuc:
    repeat: int
    seed: int
    image_auc: float
    patient_auc: float
    images: int
    patients: int


@dataclass(frozen=True)
class RepeatedSummary:
    """Per-(repeat, seed) pooled AUCs and their mean and sample SD (``None`` with one run)."""

    name: str
    split: str
    k: int
    repeats: tuple[int, ...]
    seeds: tuple[int, ...]
    rows: tuple[RepeatAuc, ...]
    image_mean: float
    image_sd: float | None
    patient_mean: float
    patient_sd: float | None


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    a = np.asarray(values, np.float64)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def repeated_summary(rp: RepeatedPredictions, how: str = "mean") -> RepeatedSummary:
    """One image- and one patient-level AUC per (repeat, seed), with their mean and SD."""
    rows = []
    for (r, s), pred in sorted(rp.pooled.items()):
        pat = pred.to_patients(how)
        rows.append(RepeatAuc(r, s, roc_auc(pred.labels, pred.scores), roc_auc(pat.labels, pat.scores),
                              len(pred), len(pat)))
    im, isd = _mean_sd([x.image_auc for x in rows])
    pm, psd = _mean_sd([x.patient_auc for x in rows])
    return RepeatedSummary(rp.name, rp.split_label, rp.k, rp.repeats, rp.seeds, tuple(rows), im, isd, pm, psd)


@dataclass(frozen=True)
class RepeatDeLong:
    repeat: int
    seed: int
    auc_a: float
    auc_b: float
    p_value: float


@dataclass(frozen=True)
class RepeatedComparison:
    """A vs B over the R x K (x S) folds both trained: corrected t-test and per-repeat DeLong."""

    first: str
    second: str
    level: str
    fold_differences: tuple[float, ...]  # AUC(A) - AUC(B) per (repeat, fold, seed)
    n_test: float
    n_train: float
    ttest: CorrectedTTest
    per_repeat: tuple[RepeatDeLong, ...]


def compare_repeated(a: RepeatedPredictions, b: RepeatedPredictions, level: str = "patient",
                     how: str = "mean", confidence: float = 0.95) -> RepeatedComparison:
    """Corrected resampled t-test on the per-fold AUC differences, plus paired DeLong per repeat.

    Only the (repeat, seed) pairs both experiments trained are compared; the folds are paired
    because both use the same split. ``n_test`` and ``n_train`` are the mean validation and
    training sizes of the folds, at ``level`` (images or patients).
    """
    if a.split_label != b.split_label:
        raise ValueError(f"{a.name!r} uses split {a.split_label} and {b.name!r} {b.split_label}; "
                         "repeated folds are only paired on the same split")
    common = sorted(set(a.pooled) & set(b.pooled))
    if not common:
        raise ValueError(f"{a.name!r} and {b.name!r} share no (repeat, seed)")
    diffs, n_test, n_train, per_repeat = [], [], [], []
    for key in common:
        pa, pb = align_predictions(_at(a.pooled[key], level, how), _at(b.pooled[key], level, how))
        for fold in range(a.k):
            m = pa.folds == fold
            if len(np.unique(pa.labels[m])) < 2:
                raise ValueError(f"repeat {key[0]} fold {fold} has only one class at {level} level; "
                                 "its AUC is undefined (use fewer folds)")
            diffs.append(roc_auc(pa.labels[m], pa.scores[m]) - roc_auc(pb.labels[m], pb.scores[m]))
            n_test.append(int(m.sum()))
            n_train.append(int((~m).sum()))
        t = delong_test(pa.labels, pa.scores, pb.scores)
        per_repeat.append(RepeatDeLong(key[0], key[1], t.auc_a, t.auc_b, t.p_value))
    test = corrected_resampled_ttest(diffs, n_test, n_train, confidence=confidence)
    return RepeatedComparison(a.name, b.name, level, tuple(float(d) for d in diffs),
                              float(np.mean(n_test)), float(np.mean(n_train)), test, tuple(per_repeat))
