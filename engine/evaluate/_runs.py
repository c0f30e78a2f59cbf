"""An experiment's pooled out-of-fold predictions, read from its finished runs' folders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InvalidInput
from engine.evaluate._predictions import Predictions
from engine.runs import RunFolder

if TYPE_CHECKING:
    from engine.store import Project


class ExperimentNotReady(InvalidInput):
    """An experiment whose folds have not all finished, or whose outputs are missing or inconsistent."""


@dataclass(frozen=True)
class ExperimentRuns:
    """What the report needs to know about one experiment besides its predictions."""

    name: str
    model: str
    family: str
    pretrained: bool
    image_size: int
    epochs: int
    split_name: str
    split_version: int
    split_id: int
    k: int
    run_dirs: tuple[Path, ...]
    folds: tuple[int, ...]

    @property
    def split_label(self) -> str:
        return f"{self.split_name} v{self.split_version}"


def _split_of(project: Project, split_id: int):
    from engine.splits import load_split

    rows = project.query("SELECT name, version FROM splits WHERE id = ?", (split_id,))
    if not rows:
        raise ExperimentNotReady(f"split id {split_id} is not in {project.path}")
    return load_split(project, rows[0]["name"], rows[0]["version"])


def experiment_runs(project: Project, name: str) -> ExperimentRuns:
    """The experiment's finished run folders, one per fold, or a message naming each fold that is not."""
    from engine.experiments import experiment_jobs, get_experiment, job_repeat_seed
    from engine.train import METRICS, PREDICTIONS

    exp = get_experiment(project, name)
    split = _split_of(project, exp.split_id)
    jobs = experiment_jobs(project, name)
    # One prediction per image: the first repeat and first seed of a repeated experiment
    # (every repeat and seed: engine.evaluate.load_repeated_predictions).
    first = min((job_repeat_seed(j) for j in jobs), default=(0, 0))
    jobs = [j for j in jobs if job_repeat_seed(j) == first]
    by_fold: dict[int, list] = {}
    for job in jobs:
        by_fold.setdefault(job.fold, []).append(job)
    problems = []
    missing = sorted(set(range(split.k)) - set(by_fold))
    if missing:
        problems.append(f"no job for fold(s) {missing}")
    chosen = {}
    for fold in sorted(f for f in by_fold if f is not None):
        finished = [j for j in by_fold[fold] if j.state == "finished"]
        if not finished:
            states = ", ".join(f"job {j.id} {j.state}" for j in by_fold[fold])
            problems.append(f"fold {fold} has not finished ({states})")
            continue
        job = finished[-1]
        run_dir = RunFolder.of(project, job.run_id).path  # run id checked: no path out of runs/
        for needed in (PREDICTIONS, METRICS):
            if not (run_dir / needed).is_file():
                problems.append(f"fold {fold}: {run_dir / needed} is missing")
        chosen[fold] = run_dir
    if problems:
        raise ExperimentNotReady(f"experiment {name!r} is not complete: " + "; ".join(problems)
                                 + " (run `affengine run PROJECT " + name + "` to finish it)")
    spec = exp.spec
    family = _family(chosen[min(chosen)], spec["model"])
    folds = tuple(sorted(chosen))
    return ExperimentRuns(name=name, model=spec["model"], family=family,
                          pretrained=bool(spec.get("pretrained")),
                          image_size=int(spec.get("image_size") or 0), epochs=int(spec.get("epochs") or 0),
                          split_name=split.name, split_version=split.version, split_id=split.id, k=split.k,
                          run_dirs=tuple(chosen[f] for f in folds), folds=folds)


def _family(run_dir: Path, model: str) -> str:
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        return str(config.get("resolved", {}).get("family") or "unknown")
    except (OSError, ValueError):
        return "unknown"


def load_experiment_predictions(project: Project, name: str) -> Predictions:
    """Pooled out-of-fold predictions of every fold of an experiment, one row per image.

    Refuses unfinished folds, a fold whose predictions name another fold, an image predicted
    twice, and images of the split's cross-validation folds that no fold predicted.
    """
    from engine.train import PREDICTIONS, read_predictions

    runs = experiment_runs(project, name)
    split = _split_of(project, runs.split_id)
    parts = []
    for fold, run_dir in zip(runs.folds, runs.run_dirs):
        cols = read_predictions(run_dir / PREDICTIONS)
        wrong = np.flatnonzero(cols["fold"] != fold)
        if len(wrong):
            raise ExperimentNotReady(f"experiment {name!r}: {run_dir / PREDICTIONS} belongs to fold {fold} "
                                     f"but {len(wrong)} rows name fold {int(cols['fold'][wrong[0]])}")
        parts.append(cols)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ids, counts = np.unique(cols["image_id"], return_counts=True)
    if np.any(counts > 1):
        dup = ids[counts > 1]
        raise ExperimentNotReady(f"experiment {name!r}: {len(dup)} images are predicted by more than one "
                                 f"fold (e.g. {dup[:5].tolist()}); the split's folds overlap")
    cv = split.plan.folds >= 0
    expected = split.plan.image_ids[cv]
    absent = np.setdiff1d(expected, ids)
    extra = np.setdiff1d(ids, expected)
    if len(absent) or len(extra):
        raise ExperimentNotReady(
            f"experiment {name!r}: predictions do not cover split {runs.split_label}: {len(absent)} of its "
            f"images have no prediction (e.g. {absent[:5].tolist()}), {len(extra)} predicted images are "
            f"not in its cross-validation folds (e.g. {extra[:5].tolist()})")
    return Predictions(name=name, split_id=f"{runs.split_label} (id {runs.split_id})",
                       image_ids=cols["image_id"], patients=cols["patient_id"].astype(str),
                       labels=cols["label"], scores=cols["probability"], folds=cols["fold"])
