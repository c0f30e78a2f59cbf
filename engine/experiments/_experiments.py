"""Experiments: one model and its hyper-parameters over every (repeat, fold, seed) of one split."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Design:
    """The runs an experiment queued: every (repeat, fold, seed) it trains."""

    repeats: tuple[int, ...]
    folds: tuple[int, ...]
    seeds: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.repeats) * len(self.folds) * len(self.seeds)


def _chosen_repeats(repeats: int | Sequence[int] | None, available: int, where: str) -> list[int]:
    if repeats is None:
        return list(range(available))
    if isinstance(repeats, int) and not isinstance(repeats, bool):
        if not 1 <= repeats <= available:
            raise ValueError(f"{where} has {available} repeat(s); --repeats must be 1 to {available}, "
                             f"not {repeats}")
        return list(range(repeats))
    chosen = sorted({int(r) for r in repeats})
    bad = [r for r in chosen if not 0 <= r < available]
    if bad or not chosen:
        raise ValueError(f"{where} has repeats 0..{available - 1}, not {bad or 'none'}")
    return chosen


def create_experiment(project: Project, name: str, spec: RunSpec, priority: int = 0,
                      folds: list[int] | None = None, backend: str = "local",
                      repeats: int | Sequence[int] | None = None, seeds: int = 1) -> Experiment:
    """Store an experiment and queue one training job per (repeat, fold, seed).

    ``backend`` is where its jobs run: ``local`` workers or a ``slurm`` cluster.
    ``repeats`` is every repeat of the split (``None``), the first ``n`` (an int: ``1`` is the
    first repeat only) or a list of repeat numbers. ``seeds`` training seeds are run per fold:
    ``spec.seed``, ``spec.seed + 1``, ... Each job is named ``r<repeat>f<fold>s<seed>``.

    The split version is pinned when the experiment is created, so every fold
    trains on the same split even if labels change later.
    """
    from engine.splits import load_split

    if not name or not name.strip():
        raise ValueError("an experiment needs a name")
    from engine.runs import safe_name

    safe_name(name, "experiment name")  # it becomes part of paths (exports, Slurm scripts, reports)
    if project.query("SELECT 1 FROM experiments WHERE name = ?", (name,)):
        raise ValueError(f"an experiment named {name!r} already exists in {project.path}")
    if not (isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= 100):
        raise ValueError(f"seeds must be an integer from 1 to 100, not {seeds!r}")
    split = load_split(project, spec.split, spec.split_version)
    where = f"split {split.name} v{split.version}"
    spec = spec.replace(project=str(project.path), split_version=split.version, repeat=0)
    folds = list(range(split.k)) if folds is None else folds
    bad = [f for f in folds if not 0 <= f < split.k]
    if bad:
        raise ValueError(f"{where} has folds 0..{split.k - 1}, not {bad}")
    chosen = _chosen_repeats(repeats, split.repeats, where)
    queue = JobQueue(project)
    with project.transaction() as conn:
        exp_id = conn.execute(
            "INSERT INTO experiments(name, split_id, model, spec, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, split.id, spec.model, json.dumps(spec.to_json(), sort_keys=True), utc_now()),
        ).lastrowid
        for repeat in chosen:
            for fold in folds:
                for s in range(seeds):
                    run = spec.for_fold(fold, repeat=repeat, seed=spec.seed + s)
                    queue.submit("train", run.to_json(), experiment_id=exp_id, fold=fold,
                                 priority=priority, backend=backend, conn=conn,
                                 repeat=repeat, seed=run.seed)
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


def job_repeat_seed(job: Job) -> tuple[int, int]:
    """A job's repeat and training seed; a job from before repeats existed reads as repeat 0 and
    the seed in its spec (so an older experiment is R = 1, S = 1)."""
    repeat = job.repeat if job.repeat is not None else int(job.spec.get("repeat", 0) or 0)
    seed = job.seed if job.seed is not None else int(job.spec.get("seed", 0) or 0)
    return int(repeat), int(seed)


def experiment_design(project: Project, name: str) -> Design:
    """The repeats, folds and seeds an experiment's training jobs cover."""
    jobs = [j for j in experiment_jobs(project, name) if j.fold is not None and j.kind == "train"]
    pairs = [job_repeat_seed(j) for j in jobs]
    return Design(tuple(sorted({r for r, _ in pairs})), tuple(sorted({j.fold for j in jobs})),
                  tuple(sorted({s for _, s in pairs})))
