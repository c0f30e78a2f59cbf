"""Screening: a final model's P(AFF) for (unlabelled) images, stored per image in the project.

``predict`` jobs run on local workers like training jobs: progress events, cancellation between
chunks, and a rerun of the same job continues where it stopped (images it already scored are
skipped). Each chunk's predictions are committed in one transaction. A prediction never changes
a label: it goes to the ``predictions`` table only.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from engine.final._members import FinalModelError
from engine.final._store import get_final_model, latest_final_model
from engine.jobs import register_job_kind

if TYPE_CHECKING:
    from engine.jobs import Job
    from engine.store import Project

IMAGE_SETS = ("unlabelled", "all")
FILTER_KEYS = ("patient", "view", "laterality", "source_folder", "search", "label")
CHUNK = 256


@dataclass(frozen=True)
class Prediction:
    image_id: int
    final_model_id: int
    probability: float
    predicted_at: str
    job_id: int | None


def select_images(project: Project, images: str = "unlabelled", filters: dict | None = None) -> list[int]:
    """Image ids to screen: ``unlabelled`` or ``all``, narrowed by ImageFilter fields."""
    from engine.store import UNLABELLED, ImageFilter

    if images not in IMAGE_SETS:
        raise FinalModelError(f"--images must be one of {', '.join(IMAGE_SETS)}, not {images!r}")
    filters = dict(filters or {})
    bad = sorted(set(filters) - set(FILTER_KEYS))
    if bad:
        raise FinalModelError(f"unknown filter(s) {bad} (use {', '.join(FILTER_KEYS)})")
    if images == "unlabelled":
        if filters.get("label") not in (None, UNLABELLED):
            raise FinalModelError("--images unlabelled cannot be combined with a label filter")
        filters["label"] = UNLABELLED
    try:
        return sorted(project.images.ids(ImageFilter(**filters)))
    except ValueError as exc:
        raise FinalModelError(str(exc)) from None


def predict_job_spec(project: Project, experiment: str, images: str = "unlabelled",
                     filters: dict | None = None, batch_size: int = 64) -> dict:
    """The JSON spec of a ``predict`` job: the final model and the image ids, fixed when queued."""
    if batch_size < 1:
        raise FinalModelError(f"batch size must be at least 1, got {batch_size}")
    final = latest_final_model(project, experiment)
    ids = select_images(project, images, filters)
    if not ids:
        raise FinalModelError(f"{project.path}: no {images} image matches the filter {filters or {}}")
    return {"experiment": experiment, "final_model_id": final.id, "images": images,
            "filter": dict(filters or {}), "image_ids": ids, "batch_size": int(batch_size)}


def submit_predict(project: Project, experiment: str, images: str = "unlabelled",
                   filters: dict | None = None, batch_size: int = 64, priority: int = 0,
                   backend: str = "local") -> int:
    from engine.jobs import JobQueue

    if backend != "local":
        raise FinalModelError("predict jobs run on local workers only for now: a Slurm node works on a "
                              "copy of the project database, and its predictions would not come back")
    spec = predict_job_spec(project, experiment, images, filters, batch_size)
    return JobQueue(project).submit("predict", spec, priority=priority, backend=backend)


def _done_ids(project: Project, final_id: int, job_id: int | None) -> set[int]:
    if job_id is None:
        return set()
    rows = project.query("SELECT image_id FROM predictions WHERE final_model_id = ? AND job_id = ?",
                         (final_id, job_id))
    return {r[0] for r in rows}


def predict_images(project: Project, spec: dict, *, job_id: int | None = None, device: str = "cpu",
                   should_stop: Callable[[], bool] | None = None,
                   emit: Callable[..., None] | None = None) -> str:
    """Score ``spec['image_ids']`` with its final model and store the probabilities, a chunk at a time.

    Returns ``finished`` or ``cancelled`` (the chunks done so far stay stored).
    """
    from engine.final._model import load_final_module, score_pixels
    from engine.store import utc_now
    from engine.train import prepare_images

    final = get_final_model(project, spec["final_model_id"])
    module = load_final_module(project, final, device)
    done = _done_ids(project, final.id, job_id)
    todo = [i for i in spec["image_ids"] if i not in done]
    total, scored, t0 = len(spec["image_ids"]), len(spec["image_ids"]) - len(todo), time.perf_counter()
    emit = emit or (lambda *a, **k: None)
    emit("started", kind="predict", final_model_id=final.id, images=total, already=scored)
    for start in range(0, len(todo), CHUNK):
        if should_stop is not None and should_stop():
            emit("cancelled", done=scored, total=total)
            return "cancelled"
        ids = todo[start:start + CHUNK]
        pixels = prepare_images(project, ids, final.image_size, "cpu")
        probs = score_pixels(module, pixels, int(spec.get("batch_size", 64)), should_stop)
        if probs is None:
            emit("cancelled", done=scored, total=total)
            return "cancelled"
        now = utc_now()
        with project.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO predictions(final_model_id, image_id, probability, job_id, "
                "predicted_at) VALUES (?, ?, ?, ?, ?)",
                [(final.id, int(i), float(p), job_id, now) for i, p in zip(ids, probs)])
        scored += len(ids)
        rate = (scored - (total - len(todo))) / max(time.perf_counter() - t0, 1e-9)
        emit("progress", step=scored, total=total, images_per_s=round(rate, 2),
             eta_s=round((total - scored) / max(rate, 1e-9), 1))
    emit("finished", images=total, seconds=round(time.perf_counter() - t0, 3))
    return "finished"


def run_predict_job(job: Job, project: Project, run_dir: Path, should_stop: Callable[[], bool],
                    device: str, progress: Callable[[dict], None] | None = None) -> str:
    """The ``predict`` job kind: events in the job's ``events.jsonl``; a CSV copy of its predictions."""
    from engine.runs import EventWriter

    device = device if device and device != "auto" else "cpu"
    with EventWriter(Path(run_dir) / "events.jsonl") as events:
        def emit(type: str, **payload) -> None:
            event = events.emit(type, **payload)
            if progress is not None:
                progress(event)

        state = predict_images(project, job.spec, job_id=job.id, device=device, should_stop=should_stop,
                               emit=emit)
    if state == "finished":
        rows = stored_predictions(project, job.spec["final_model_id"])
        with open(Path(run_dir) / "predictions.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(("image_id", "final_model_id", "probability", "predicted_at"))
            for i in job.spec["image_ids"]:
                r = rows[i]
                w.writerow((i, r.final_model_id, format(r.probability, ".9g"), r.predicted_at))
    return state


def stored_predictions(project: Project, final_model_id: int | None = None,
                       experiment: str | None = None) -> dict[int, Prediction]:
    """Stored P(AFF) per image id of one final model (default: the experiment's newest that has any)."""
    cols = ", ".join(f.name for f in fields(Prediction))
    if final_model_id is None:
        if experiment is None:
            raise FinalModelError("name a final model id or an experiment")
        row = project.query(
            "SELECT MAX(p.final_model_id) FROM predictions p JOIN final_models f ON f.id = p.final_model_id "
            "JOIN experiments e ON e.id = f.experiment_id WHERE e.name = ?", (experiment,))
        final_model_id = row[0][0]
        if final_model_id is None:
            return {}
    rows = project.query(f"SELECT {cols} FROM predictions WHERE final_model_id = ?", (int(final_model_id),))
    return {r[0]: Prediction(*r) for r in rows}


def likely_aff_unlabelled(project: Project, experiment: str,
                          threshold: float | None = None) -> list[Prediction]:
    """Unlabelled images whose stored P(AFF) reaches ``threshold`` (default: the final model's
    image-level Youden threshold fixed on cross-validation), most likely first."""
    preds = stored_predictions(project, experiment=experiment)
    if not preds:
        return []
    final = get_final_model(project, next(iter(preds.values())).final_model_id)
    t = final.thresholds("image")["youden"] if threshold is None else float(threshold)
    labelled = set(project.labels.all())
    keep = [p for p in preds.values() if p.image_id not in labelled and p.probability >= t]
    return sorted(keep, key=lambda p: (-p.probability, p.image_id))


register_job_kind("predict", run_predict_job)  # found through engine.jobs._kinds._PROVIDERS
