"""Refit: one job that retrains an experiment's recipe on all of its cross-validation patients.

The recipe is the experiment's spec; a hyper-parameter whose value differs between the fold
models (tuned per fold) takes the median over folds. With no validation data left, the number of
epochs is the median of the fold models' best epochs, and the model after the last epoch is the
final one (``checkpoints/best.pt`` holds it, so every reader loads it like a fold model). The
held-out test patients stay out. Thresholds come from the fold models' out-of-fold predictions,
the only predictions on patients the model did not train on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._members import FinalModelError, experiment_members
from engine.final._store import (
    REFIT_MEMBER,
    FinalModel,
    _insert,
    ensemble_provenance,
    file_sha256,
    get_final_model,
)
from engine.jobs import register_job_kind

if TYPE_CHECKING:
    from engine.jobs import Job
    from engine.store import Project

# never "tuned": they say which run it is, not how it was trained
_PER_RUN = {"fold", "seed", "repeat", "project", "split_version", "device", "num_threads", "progress_every",
            "checkpoint_every_s", "compile", "compile_backend", "cuda_graphs", "precision", "channels_last"}


def refit_recipe(project: Project, name: str) -> tuple[dict, dict]:
    """``(run spec JSON, what was derived)`` for the refit of experiment ``name``."""
    from engine.experiments import get_experiment
    from engine.jobs import JobQueue

    members = experiment_members(project, name)
    queue = JobQueue(project)
    specs = [queue.get(m.job_id).spec for m in members]
    spec = dict(get_experiment(project, name).spec)
    tuned = {}
    for key in sorted(set().union(*specs) - _PER_RUN):
        values = [s.get(key) for s in specs]
        if all(v == values[0] for v in values):
            spec[key] = values[0]
            continue
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise FinalModelError(f"experiment {name!r}: its fold models differ in {key} ({values}); "
                                  "only numeric values have a median")
        median = float(np.median(values))
        spec[key] = int(round(median)) if all(isinstance(v, int) for v in values) else median
        tuned[key] = {"per_fold": values, "median": spec[key]}
    best = []
    for m in members:
        metrics = json.loads((m.run_dir / "metrics.json").read_text(encoding="utf-8"))
        best.append(int(metrics["best_epoch"]))
    spec.update(epochs=max(1, int(round(float(np.median(best))))), patience=0, fold=0,
                seed=specs[0].get("seed", 0))
    return spec, {"best_epochs": best, "epochs": spec["epochs"], "tuned": tuned}


def submit_refit(project: Project, name: str, how: str = "mean", priority: int = 0,
                 backend: str = "local") -> FinalModel:
    """Queue the ``refit`` job and store its final model (usable once the job finished)."""
    from engine.jobs import JobQueue
    from engine.train import RunSpec

    spec, derived = refit_recipe(project, name)
    RunSpec.from_json(spec)  # refuse a bad spec now, not in the worker
    provenance = ensemble_provenance(project, name, how)
    provenance.update(mode="refit", members=[], refit=derived,
                      thresholds_fixed_on={**provenance["thresholds_fixed_on"],
                                           "note": "out-of-fold predictions of the fold models"})
    with project.transaction() as conn:
        job_id = JobQueue(project).submit("refit", {"experiment": name, "run_spec": spec}, priority=priority,
                                          backend=backend, conn=conn)
        final_id = _insert(project, provenance["experiment_id"], "refit", provenance, job_id, conn=conn)
    return get_final_model(project, final_id)


def run_refit_job(job: Job, project: Project, run_dir: Path, should_stop: Callable[[], bool], device: str,
                  progress: Callable[[dict], None] | None = None) -> str:
    """The ``refit`` job kind: train on every cross-validation image; resumable like a training run."""
    from engine.runs import EventWriter
    from engine.splits import load_split
    from engine.store import utc_now
    from engine.train import RunSpec, load_checkpoint, prepare_images, resolve
    from engine.train._checkpoint import save_checkpoint
    from engine.train._outputs import write_json
    from engine.train._resolve import run_environment, versions
    from engine.train._trainer import Trainer

    spec = RunSpec.from_json(job.spec["run_spec"])
    if device and spec.device == "auto":
        spec = spec.replace(device=device)
    rows = project.query("SELECT id FROM final_models WHERE job_id = ?", (job.id,))
    if not rows:
        raise FinalModelError(f"refit job {job.id} has no final model row")
    final_id = rows[0][0]
    run_dir = Path(run_dir)
    last, best = run_dir / "checkpoints" / "last.pt", run_dir / "checkpoints" / "best.pt"
    with EventWriter(run_dir / "events.jsonl") as events:
        def emit(type: str, **payload) -> None:
            event = events.emit(type, **payload)
            if progress is not None:
                progress(event)

        resolved = resolve(spec)
        with run_environment(resolved):
            split = load_split(project, spec.split, spec.split_version)
            cv = split.plan.folds >= 0
            ids, labels = split.plan.image_ids[cv], split.plan.labels[cv]
            images = prepare_images(project, ids, resolved.image_size, resolved.device)
            # no validation data is left: the per-epoch figures are on the training images (in-sample)
            trainer = Trainer(spec, resolved, images, labels, images, labels,
                              lambda m: emit("log", message=m))
            if last.exists():
                trainer.load_state_dict(load_checkpoint(last))
                emit("log", message=f"resumed from {last.name} at epoch {trainer.epoch + 1}")
            cfg = resolved.to_json()
            cfg.update(split_version=split.version, mean=trainer.mean, std=trainer.std)
            write_json(run_dir / "config.json", {
                "spec": spec.to_json(), "resolved": cfg, "versions": versions(), "written_at": utc_now(),
                "data": {"train_images": int(len(ids)), "train_aff": int(labels.sum()), "val_images": 0},
                "refit": {"experiment": job.spec["experiment"], "final_model_id": final_id,
                          "train_ids": ids.tolist(), "validation": "none (per-epoch figures in-sample)"}})
            emit("started", kind="refit", images=int(len(ids)), epochs=spec.epochs)
            total = trainer.steps_per_epoch * spec.epochs
            t0 = time.perf_counter()

            def on_progress(t, rate):
                done = t.epoch * t.steps_per_epoch + t.step
                emit("progress", epoch=t.epoch + 1, epochs=spec.epochs, step=done, total=total,
                     loss=t.running_loss(), images_per_s=round(rate, 2))

            extra = {"split_version": split.version, "wall_seconds": 0.0}
            while trainer.epoch < spec.epochs:
                if not trainer.train_epoch(should_stop, on_progress):
                    save_checkpoint(last, trainer.state_dict(extra))
                    emit("cancelled", epoch=trainer.epoch + 1, step=trainer.step)
                    return "cancelled"
                record = trainer.end_epoch()
                emit("metric", epoch=record["epoch"], train_loss=record["train_loss"],
                     train_auc_in_sample=record["val_auc"], lr=record["lr"])
                save_checkpoint(last, trainer.state_dict(extra))
            save_checkpoint(best, trainer.model_state())
    member = {"members": [{"repeat": 0, "fold": None, "seed": spec.seed, "job_id": job.id,
                           "run_id": job.run_id, "weights": f"runs/{job.run_id}/checkpoints/best.pt",
                           "sha256": file_sha256(best)}], "mean": trainer.mean, "std": trainer.std}
    write_json(run_dir / REFIT_MEMBER, member)  # the shared run folder: also seen from a Slurm node
    provenance = {**get_final_model(project, final_id).provenance, **member}
    with project.transaction() as conn:
        conn.execute("UPDATE final_models SET provenance = ? WHERE id = ?",
                     (json.dumps(provenance, sort_keys=True), final_id))
    with EventWriter(run_dir / "events.jsonl") as events:
        events.emit("finished", epochs=spec.epochs, seconds=round(time.perf_counter() - t0, 3))
    return "finished"


register_job_kind("refit", run_refit_job)  # found through engine.jobs._kinds._PROVIDERS
