"""What the heatmap panes read, as plain functions run on worker threads (never Qt, never torch).

One experiment's maps of one method are read once (every fold's ``heatmaps/<method>.npz``)
and kept with an image-id index, so stepping through images reads no file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.store import Project

READY, MISSING, PENDING, FAILED = "ready", "missing", "pending", "failed"


@dataclass(frozen=True)
class ExperimentMaps:
    """One experiment's out-of-fold maps of one method, or why there are none.

    ``state`` is ``ready`` (``heatmaps`` set), ``missing`` (no or incomplete files),
    ``pending`` (an explain job is queued or running: ``job_id``) or ``failed``.
    With ``final_model`` it holds one image's map from the experiment's final model
    (an unlabelled or held-out image, which no fold model validated).
    """

    experiment: str
    method: str
    state: str
    message: str = ""
    heatmaps: object | None = None  # engine.explain.Heatmaps
    job_id: int | None = None
    index: dict[int, int] = field(default_factory=dict)
    final_model: bool = False  # one image's map from the final model, not an out-of-fold one

    def row_of(self, image_id: int) -> int | None:
        return self.index.get(int(image_id))

    @property
    def input_size(self) -> int:
        return int(self.heatmaps.info.get("input_size", 0)) if self.heatmaps is not None else 0


def fold_run_dirs(project: Project, experiment: str) -> list[Path]:
    """The run folders of an experiment's training jobs."""
    from engine.experiments import experiment_jobs

    return [project.runs_dir / j.run_id for j in experiment_jobs(project, experiment)
            if j.kind == "train"]


def available_methods(project: Project, experiment: str) -> set[str]:
    """Methods whose maps exist for every fold of ``experiment``."""
    from engine.explain import heatmap_paths

    runs = fold_run_dirs(project, experiment)
    if not runs:
        return set()
    found = None
    for run in runs:
        folder = heatmap_paths(run, "x")[0].parent
        here = {p.stem for p in folder.glob("*.npz") if not p.stem.endswith(".tmp")}
        found = here if found is None else found & here
    return found or set()


def active_explain_job(project: Project, experiment: str, method: str) -> int | None:
    """The id of a queued or running explain job for ``experiment`` and ``method``, if any."""
    from engine.jobs import ACTIVE, JobQueue

    for job in JobQueue(project).list():
        if (job.kind == "explain" and job.state in ACTIVE
                and job.spec.get("experiment") == experiment and job.spec.get("method") == method):
            return job.id
    return None


def load_maps(project: Project, experiment: str, method: str) -> ExperimentMaps:
    """Read an experiment's maps of ``method``; missing files give a ``missing``/``pending`` state."""
    from engine.explain import load_experiment_heatmaps

    if not fold_run_dirs(project, experiment):
        return ExperimentMaps(experiment, method, FAILED, f"experiment {experiment!r} has no folds")
    try:
        h = load_experiment_heatmaps(project, experiment, method)
    except FileNotFoundError:
        job = active_explain_job(project, experiment, method)
        if job is not None:
            return ExperimentMaps(experiment, method, PENDING, f"computing {method} maps (job #{job})",
                                  job_id=job)
        return ExperimentMaps(experiment, method, MISSING, f"no {method} maps for {experiment}")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a damaged .npz
        return ExperimentMaps(experiment, method, FAILED, f"cannot read {method} maps: {exc}")
    if int(h.info.get("input_size") or 0) < 1:
        return ExperimentMaps(experiment, method, FAILED,
                              f"{method} maps of {experiment} do not say their input size (heatmaps/*.json)")
    index = {int(i): k for k, i in enumerate(np.asarray(h.image_ids))}
    return ExperimentMaps(experiment, method, READY, heatmaps=h, index=index)


def queue_explain(project: Project, experiment: str, method: str) -> int:
    """Queue the explain job that computes ``experiment``'s ``method`` maps (unless one is queued)."""
    from engine.explain import submit_explain

    job = active_explain_job(project, experiment, method)
    return job if job is not None else submit_explain(project, experiment, method)


def job_states(project: Project, job_ids: list[int]) -> dict[int, tuple[str, str]]:
    """``job id -> (state, error)`` of the given jobs (a gone job reads as failed)."""
    from engine.jobs import JobQueue

    queue, out = JobQueue(project), {}
    for job_id in job_ids:
        try:
            job = queue.get(job_id)
        except KeyError:
            out[job_id] = ("failed", "the job was deleted")
            continue
        out[job_id] = (job.state, job.error or "")
    return out


def experiment_names(project: Project) -> list[str]:
    from engine.experiments import list_experiments

    return [e.name for e in list_experiments(project)]


def experiment_models(project: Project, names: list[str]) -> dict[str, str]:
    """``experiment -> registered model name`` (empty string where the spec names none)."""
    from engine.experiments import get_experiment

    out = {}
    for name in names:
        spec = get_experiment(project, name).spec
        out[name] = str(spec.get("model", "")) if isinstance(spec, dict) else ""
    return out


def without_class_token(project: Project, names: list[str]) -> set[str]:
    """The experiments whose model has no class token (rollout cannot explain them)."""
    from engine.explain import has_class_token

    out = set()
    for name, model in experiment_models(project, names).items():
        try:
            if not has_class_token(model):
                out.add(name)
        except (KeyError, ValueError):  # an unregistered model: offer nothing model-specific
            out.add(name)
    return out
