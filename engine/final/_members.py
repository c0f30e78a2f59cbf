"""The fold models of an experiment: one finished training run per (repeat, fold).

"Every fold model of every repeat" is a loop over the experiment's finished training jobs;
a job spec without ``repeat`` (experiments made before repeated cross-validation) is repeat 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import InvalidInput

if TYPE_CHECKING:
    from engine.store import Project


class FinalModelError(InvalidInput):
    """A final model that cannot be made, loaded or used; the message says what to do."""


@dataclass(frozen=True)
class Member:
    """One fold model: the finished run that validated ``fold`` in ``repeat``."""

    repeat: int
    fold: int
    seed: int
    job_id: int
    run_id: str
    run_dir: Path


def _repeat(spec: dict) -> int:
    return int(spec.get("repeat") or 0)


def experiment_members(project: Project, name: str) -> list[Member]:
    """Every (repeat, fold) model of experiment ``name``; refuses while a fold has not finished."""
    from engine.experiments import experiment_jobs, get_experiment
    from engine.splits import load_split

    try:
        exp = get_experiment(project, name)
    except KeyError as exc:
        raise FinalModelError(str(exc.args[0])) from None
    row = project.query("SELECT name, version FROM splits WHERE id = ?", (exp.split_id,))
    split = load_split(project, row[0]["name"], row[0]["version"])
    jobs = [j for j in experiment_jobs(project, name) if j.kind == "train" and j.fold is not None]
    by_key: dict[tuple[int, int], list] = {}
    for job in jobs:
        by_key.setdefault((_repeat(job.spec), int(job.fold)), []).append(job)
    repeats = sorted({r for r, _ in by_key}) or [0]
    problems, members = [], []
    for repeat in repeats:
        for fold in range(split.k):
            tries = by_key.get((repeat, fold), [])
            done = [j for j in tries if j.state == "finished"]
            where = f"repeat {repeat} fold {fold}"
            if not done:
                states = ", ".join(f"job {j.id} {j.state}" for j in tries) or "no job"
                problems.append(f"{where} has not finished ({states})")
                continue
            job = done[-1]
            run_dir = project.runs_dir / job.run_id
            if not (run_dir / "checkpoints" / "best.pt").is_file():
                problems.append(f"{where}: {run_dir / 'checkpoints' / 'best.pt'} is missing")
                continue
            members.append(Member(repeat, fold, int(job.spec.get("seed") or 0), job.id, job.run_id,
                                  run_dir))
    if problems:
        raise FinalModelError(f"experiment {name!r} has no complete set of fold models: "
                              + "; ".join(problems) + f" (finish it with `affengine run PROJECT {name}`)")
    return members
