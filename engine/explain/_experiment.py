"""Out-of-fold explanation: every image is explained by the fold model that validated it,
in the foreground or as an ``explain`` job run by a worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.explain._names import CAM_METHODS, ROLLOUT
from engine.explain._storage import Heatmaps, concat_heatmaps, read_heatmaps, write_heatmaps

if TYPE_CHECKING:
    from engine.store import Project



@dataclass(frozen=True)
class ExplainResult:
    state: str  # "finished" or "cancelled"
    method: str
    files: list[Path]
    images: int
    seconds: float


def methods() -> tuple[str, ...]:
    return (*CAM_METHODS, ROLLOUT)


def explain_batches(model, model_name: str, pixels, mean: float, std: float, method: str = "gradcam",
                    batch_size: int = 16, should_stop: Callable[[], bool] | None = None,
                    on_batch: Callable[[int], None] | None = None):
    """``(maps float16, probability)`` for uint8 ``(N, 1, S, S)`` pixels, or ``None`` if stopped.

    Pixels are normalised a batch at a time, so only one float batch lives on the device.
    """
    from engine.explain._cam import CamExplainer
    from engine.explain._rollout import attention_rollout
    from engine.train import normalise

    if method not in methods():
        raise ValueError(f"unknown method {method!r} (use one of {', '.join(methods())})")
    maps, probs = [], []
    cam = None if method == ROLLOUT else CamExplainer(model, model_name, method)
    try:
        for start in range(0, pixels.shape[0], batch_size):
            if should_stop is not None and should_stop():
                return None
            x = normalise(pixels[start:start + batch_size], mean, std)
            if cam is None:
                m, p = attention_rollout(model, x)
            else:
                import torch

                m = cam(x)
                p = torch.softmax(cam.last_logits.float(), 1)[:, 1].cpu().numpy()
            maps.append(m.astype(np.float16))
            probs.append(np.asarray(p, np.float32))
            if on_batch is not None:
                on_batch(len(m))
    finally:
        if cam is not None:
            cam.close()
    return np.concatenate(maps), np.concatenate(probs)


def fold_runs(project: Project, name: str) -> list[tuple[int, Path]]:
    """``(fold, run folder)`` of each training job of experiment ``name``."""
    from engine.experiments import experiment_jobs
    from engine.runs import RunFolder

    return sorted((int(j.fold), RunFolder.of(project, j.run_id).path)
                  for j in experiment_jobs(project, name) if j.kind == "train")


def explain_experiment(project: Project, name: str, method: str = "gradcam", device: str = "cpu",
                       batch_size: int = 16, progress: Callable[[dict], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> ExplainResult:
    """Explain each fold's validation images with that fold's best model.

    The images are those of the run's ``predictions.csv``, so every labelled image gets
    exactly one map, from the model whose prediction the report shows. Maps go to
    ``<run>/heatmaps/<method>.npz`` (see :func:`read_heatmaps`).
    """
    from engine.train import PREDICTIONS, load_run_model, prepare_images, read_predictions
    from engine.train._orientation import run_mirror, unmirror_maps

    t0 = time.perf_counter()
    runs = fold_runs(project, name)
    missing = [str(r) for _, r in runs if not (r / PREDICTIONS).exists()]
    if not runs or missing:
        raise FileNotFoundError(f"experiment {name!r}: folds without finished training "
                                f"({', '.join(missing) or 'no training jobs'})")
    preds = {fold: read_predictions(run / PREDICTIONS) for fold, run in runs}
    total = sum(len(p["image_id"]) for p in preds.values())
    done, files = 0, []

    def emit(message: str) -> None:
        if progress is not None:
            progress({"type": "log", "message": message, "done": done, "total": total})

    for fold, run in runs:
        p = preds[fold]
        model, info = load_run_model(run, "best", device)
        size = int(info["image_size"])
        mirror = run_mirror(project, info["spec"], p["image_id"])  # canonical orientation, as trained
        pixels = prepare_images(project, p["image_id"], size, device, mirror=mirror)

        def on_batch(n: int, fold: int = fold) -> None:
            nonlocal done
            done += n
            emit(f"{method} fold {fold}: {done}/{total} images")

        out = explain_batches(model, info["spec"].model, pixels, info["mean"], info["std"], method,
                              batch_size, should_stop, on_batch)
        del model, pixels
        if out is None:
            return ExplainResult("cancelled", method, files, done, time.perf_counter() - t0)
        maps, prob = out
        maps = unmirror_maps(maps, mirror)
        meta = {"experiment": name, "method": method, "model": info["spec"].model, "fold": fold,
                "run_id": run.name, "grid": list(maps.shape[1:]), "input_size": size,
                "target": "log-odds of the predicted class" if method != ROLLOUT else "class token",
                "count": int(len(maps)), "checkpoint_epoch": info.get("epoch")}
        files.append(write_heatmaps(run, method, p["image_id"], maps, prob, p["label"], meta))
    emit(f"{method}: {done} images in {time.perf_counter() - t0:.1f} s")
    return ExplainResult("finished", method, files, done, time.perf_counter() - t0)


def load_experiment_heatmaps(project: Project, name: str, method: str = "gradcam") -> Heatmaps:
    """All folds' maps of an experiment as one out-of-fold set, sorted by image id."""
    parts = []
    for fold, run in fold_runs(project, name):
        h = read_heatmaps(run, method)
        parts.append(Heatmaps(h.image_ids, h.maps, h.probability, h.label,
                              np.full(len(h), fold, np.int64), h.info))
    return concat_heatmaps(parts)


# -- the 'explain' job kind ------------------------------------------------------------

def explain_job_spec(experiment: str, method: str = "gradcam", batch_size: int = 16) -> dict:
    """The JSON spec of an ``explain`` job (checked here, so a bad one is never queued)."""
    if method not in methods():
        raise ValueError(f"unknown method {method!r} (use one of {', '.join(methods())})")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return {"experiment": experiment, "method": method, "batch_size": int(batch_size)}


def submit_explain(project: Project, experiment: str, method: str = "gradcam",
                   batch_size: int = 16, priority: int = 0) -> int:
    """Queue an ``explain`` job; returns its id.

    The job carries no experiment id, so it never mixes with the experiment's training
    jobs; any worker not filtered to one experiment runs it.
    """
    from engine.experiments import get_experiment
    from engine.jobs import JobQueue

    get_experiment(project, experiment)  # KeyError now rather than in the worker
    spec = explain_job_spec(experiment, method, batch_size)
    return JobQueue(project).submit("explain", spec, priority=priority)


def run_explain_job(spec: dict, project: Project, run_dir: Path, should_stop: Callable[[], bool],
                    device: str, progress: Callable[[dict], None] | None = None) -> str:
    """Run an ``explain`` job spec; its events go to the job's own ``events.jsonl``."""
    from engine.runs import EventWriter, RunFolder

    device = device if device and device != "auto" else "cpu"
    with EventWriter(Path(run_dir) / RunFolder.EVENTS) as events:
        events.emit("started", kind="explain", **spec)

        def relay(event: dict) -> None:
            events.emit("log", message=event["message"])
            if progress is not None:
                progress(event)

        result = explain_experiment(project, spec["experiment"], spec.get("method", "gradcam"),
                                    device, int(spec.get("batch_size", 16)), relay, should_stop)
        for path in result.files:
            events.emit("artifact", path=str(path))
        events.emit(result.state, images=result.images, seconds=round(result.seconds, 3))
    return result.state


def _run_explain(job, project, run_dir, should_stop, device, progress=None) -> str:
    return run_explain_job(job.spec, project, run_dir, should_stop, device, progress)


def _register() -> None:
    from engine.jobs import register_job_kind

    register_job_kind("explain", _run_explain)


_register()  # engine.jobs.runner_for("explain") imports this module
