"""Experiments: one model and its hyper-parameters over every fold of one split version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.jobs._queue import Job, JobQueue
from engine.store import utc_now

if TYPE_CHECKING:
    from engine.store import Project
    from engine.train import RunSpec


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    split_id: int
    model: str
    spec: dict
    created_at: str


def create_experiment(project: Project, name: str, spec: RunSpec, priority: int = 0,
                      folds: list[int] | None = None, backend: str = "local") -> Experiment:
    """Store an experiment and queue one training job per fold.

    ``backend`` is where its jobs run: ``local`` workers or a ``slurm`` cluster.

    The split version is pinned when the experiment is created, so every fold
    trains on the same split even if labels change later.
    """
    from engine.splits import load_split

    if not name or not name.strip():
        raise ValueError("an experiment needs a name")
    if project.query("SELECT 1 FROM experiments WHERE name = ?", (name,)):
        raise ValueError(f"an experiment named {name!r} already exists in {project.path}")
    split = load_split(project, spec.split, spec.split_version)
    spec = spec.replace(project=str(project.path), split_version=split.version)
    folds = list(range(split.k)) if folds is None else folds
    bad = [f for f in folds if not 0 <= f < split.k]
    if bad:
        raise ValueError(f"split {split.name} v{split.version} has folds 0..{split.k - 1}, not {bad}")
    queue = JobQueue(project)
    with project.transaction() as conn:
        exp_id = conn.execute(
            "INSERT INTO experiments(name, split_id, model, spec, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, split.id, spec.model, json.dumps(spec.to_json(), sort_keys=True), utc_now()),
        ).lastrowid
        for fold in folds:
            queue.submit("train", spec.for_fold(fold).to_json(), experiment_id=exp_id, fold=fold,
                         priority=priority, backend=backend, conn=conn)
    return get_experiment(project, name)


def get_experiment(project: Project, name: str) -> Experiment:
    rows = project.query("SELECT * FROM experiments WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(r[0] for r in project.query("SELECT name FROM experiments ORDER BY id"))
        raise KeyError(f"no experiment {name!r} in {project.path} (known: {known or 'none'})")
    d = dict(rows[0])
    d["spec"] = json.loads(d["spec"])
    return Experiment(**d)


def list_experiments(project: Project) -> list[Experiment]:
    return [get_experiment(project, r[0]) for r in
            project.query("SELECT name FROM experiments ORDER BY id")]


def experiment_jobs(project: Project, name: str) -> list[Job]:
    return JobQueue(project).list(experiment_id=get_experiment(project, name).id)
