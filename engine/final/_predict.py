"""Screening: a final model's P(AFF) for (unlabelled) images, stored per image in the project.

``predict`` jobs run on local workers or on Slurm like training jobs: progress events,
cancellation between chunks, and a rerun of the same job continues where it stopped (images it
already scored are skipped). On a local worker each chunk's predictions are committed in one
transaction. A Slurm node works on a copy of the database, so it writes each chunk to
``runs/<run-id>/scored/chunk-NNNNN.csv`` instead (atomically: a temporary file, then a rename);
the submitting side's ``engine.slurm.sync`` imports those files with :func:`import_scored`,
idempotently, while the job runs and when it ends. A prediction never changes a label: it goes
to the ``predictions`` table only.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from engine.final._members import FinalModelError
from engine.final._store import get_final_model, latest_final_model
from engine.jobs import register_job_kind
from engine.runs import write_atomic

if TYPE_CHECKING:
    from engine.jobs import Job
    from engine.store import Project

IMAGE_SETS = ("unlabelled", "all")
FILTER_KEYS = ("patient", "view", "laterality", "source_folder", "search", "label")
CHUNK = 256
SCORED_DIR = "scored"  # a Slurm node's chunk files, in the run folder
_SCORED_HEADER = ("image_id", "final_model_id", "probability", "predicted_at")


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
                     filters: dict | None = None, batch_size: int = 64, chunk: int | None = None) -> dict:
    """The JSON spec of a ``predict`` job: the final model and the image ids, fixed when queued.

    ``chunk`` (default :data:`CHUNK`) is how many images are stored at a time: the unit of
    cancellation, of progress and of what a resumed job need not score again.
    """
    if batch_size < 1:
        raise FinalModelError(f"batch size must be at least 1, got {batch_size}")
    if chunk is not None and chunk < 1:
        raise FinalModelError(f"chunk must be at least 1 image, got {chunk}")
    final = latest_final_model(project, experiment)
    ids = select_images(project, images, filters)
    if not ids:
        raise FinalModelError(f"{project.path}: no {images} image matches the filter {filters or {}}")
    spec = {"experiment": experiment, "final_model_id": final.id, "images": images,
            "filter": dict(filters or {}), "image_ids": ids, "batch_size": int(batch_size)}
    if chunk is not None:
        spec["chunk"] = int(chunk)
    return spec


def submit_predict(project: Project, experiment: str, images: str = "unlabelled",
                   filters: dict | None = None, batch_size: int = 64, priority: int = 0,
                   backend: str = "local", chunk: int | None = None) -> int:
    """Queue a ``predict`` job on ``backend`` (``local`` workers or ``slurm``); returns its id."""
    from engine.jobs import BACKENDS, JobQueue

    if backend not in BACKENDS:
        raise FinalModelError(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
    spec = predict_job_spec(project, experiment, images, filters, batch_size, chunk)
    return JobQueue(project).submit("predict", spec, priority=priority, backend=backend)


class _TableSink:
    """Where a local job (or the foreground command) puts a chunk: the ``predictions`` table."""

    def __init__(self, project: Project, final_id: int, job_id: int | None):
        self.project, self.final_id, self.job_id = project, final_id, job_id

    def done(self) -> set[int]:
        if self.job_id is None:
            return set()
        rows = self.project.query("SELECT image_id FROM predictions WHERE final_model_id = ? AND job_id = ?",
                                  (self.final_id, self.job_id))
        return {r[0] for r in rows}

    def store(self, ids: list[int], probs, now: str) -> None:
        with self.project.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO predictions(final_model_id, image_id, probability, job_id, "
                "predicted_at) VALUES (?, ?, ?, ?, ?)",
                [(self.final_id, int(i), float(p), self.job_id, now) for i, p in zip(ids, probs)])


class _RunFolderSink:
    """Where a Slurm node puts a chunk: a new ``scored/chunk-NNNNN.csv`` in the run folder.

    The node's database is a snapshot nobody reads back; the run folder is the job's only
    output, and the submitter imports the files (:func:`import_scored`).
    """

    def __init__(self, run_dir: Path, final_id: int):
        self.folder, self.final_id = Path(run_dir) / SCORED_DIR, final_id

    def done(self) -> set[int]:
        return {int(r[0]) for r in read_scored(self.folder.parent)}

    def store(self, ids: list[int], probs, now: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(_chunk_files(self.folder.parent))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(_SCORED_HEADER)
        for i, p in zip(ids, probs):
            w.writerow((int(i), self.final_id, format(float(p), ".9g"), now))
        write_atomic(self.folder / f"chunk-{number:05d}.csv", buf.getvalue())


def _chunk_files(run_dir: Path) -> list[Path]:
    folder = Path(run_dir) / SCORED_DIR
    return sorted(folder.glob("chunk-*.csv")) if folder.is_dir() else []


def read_scored(run_dir: str | Path) -> list[tuple[int, int, float, str]]:
    """``(image id, final model id, P(AFF), predicted at)`` from a run folder's chunk files, in order.

    Raises ``FinalModelError`` naming the file and line of anything malformed.
    """
    rows = []
    for path in _chunk_files(Path(run_dir)):
        with open(path, newline="", encoding="utf-8") as fh:
            lines = list(csv.reader(fh))
        if not lines or tuple(lines[0]) != _SCORED_HEADER:
            raise FinalModelError(f"{path}: line 1: expected the header {','.join(_SCORED_HEADER)}")
        for k, line in enumerate(lines[1:], start=2):
            try:
                image_id, final_id, prob, at = int(line[0]), int(line[1]), float(line[2]), line[3]
            except (ValueError, IndexError):
                raise FinalModelError(f"{path}: line {k}: not image_id,final_model_id,probability,"
                                      f"predicted_at: {','.join(line)[:80]!r}") from None
            if not (math.isfinite(prob) and 0.0 <= prob <= 1.0) or not at:
                raise FinalModelError(f"{path}: line {k}: probability {line[2]!r} is not in 0..1")
            rows.append((image_id, final_id, prob, at))
    return rows


def import_scored(project: Project, job: Job, run_dir: str | Path | None = None) -> int:
    """Bring a Slurm ``predict`` job's chunk files into the ``predictions`` table; returns the rows added.

    Idempotent: a row already stored for the same image, final model, job and time is left as
    it is, so every sync may call it again while the job runs, after a resubmission and at its
    end. A newer stored prediction of the same image is never replaced by an older one.
    """
    from engine.runs import RunFolder

    run_dir = Path(run_dir) if run_dir is not None else RunFolder.of(project, job.run_id).path
    rows = read_scored(run_dir)
    if not rows:
        return 0
    final_id, wanted = int(job.spec["final_model_id"]), set(job.spec["image_ids"])
    for image_id, fid, _, _ in rows:
        if fid != final_id or image_id not in wanted:
            raise FinalModelError(f"{run_dir / SCORED_DIR}: image {image_id} of final model {fid} is not "
                                  f"part of predict job {job.id} (final model {final_id})")
    with project.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT INTO predictions(final_model_id, image_id, probability, job_id, predicted_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(final_model_id, image_id) DO UPDATE SET "
            "probability = excluded.probability, job_id = excluded.job_id, "
            "predicted_at = excluded.predicted_at WHERE excluded.predicted_at > predictions.predicted_at",
            [(fid, image_id, prob, job.id, at) for image_id, fid, prob, at in rows])
        return conn.total_changes - before


def predict_images(project: Project, spec: dict, *, job_id: int | None = None, device: str = "cpu",
                   should_stop: Callable[[], bool] | None = None,
                   emit: Callable[..., None] | None = None, run_dir: str | Path | None = None) -> str:
    """Score ``spec['image_ids']`` with its final model and store the probabilities, a chunk at a time.

    Chunks go to the ``predictions`` table, or with ``run_dir`` (a Slurm node) to chunk files
    in that run folder. Returns ``finished`` or ``cancelled`` (the chunks done so far stay stored).
    """
    from engine.final._model import load_final_module, score_pixels
    from engine.store import utc_now
    from engine.train import prepare_images

    final = get_final_model(project, spec["final_model_id"])
    module = load_final_module(project, final, device)
    sink = _TableSink(project, final.id, job_id) if run_dir is None else _RunFolderSink(run_dir, final.id)
    done = sink.done()
    todo = [i for i in spec["image_ids"] if i not in done]
    total, scored, t0 = len(spec["image_ids"]), len(spec["image_ids"]) - len(todo), time.perf_counter()
    chunk = int(spec.get("chunk") or CHUNK)
    emit = emit or (lambda *a, **k: None)
    emit("started", kind="predict", final_model_id=final.id, images=total, already=scored)
    for start in range(0, len(todo), chunk):
        if should_stop is not None and should_stop():
            emit("cancelled", done=scored, total=total)
            return "cancelled"
        ids = todo[start:start + chunk]
        pixels = prepare_images(project, ids, final.image_size, "cpu")
        probs = score_pixels(module, pixels, int(spec.get("batch_size", 64)), should_stop)
        if probs is None:
            emit("cancelled", done=scored, total=total)
            return "cancelled"
        sink.store(ids, probs, utc_now())
        scored += len(ids)
        rate = (scored - (total - len(todo))) / max(time.perf_counter() - t0, 1e-9)
        emit("progress", step=scored, total=total, images_per_s=round(rate, 2),
             eta_s=round((total - scored) / max(rate, 1e-9), 1))
    emit("finished", images=total, seconds=round(time.perf_counter() - t0, 3))
    return "finished"


def run_predict_job(job: Job, project: Project, run_dir: Path, should_stop: Callable[[], bool],
                    device: str, progress: Callable[[dict], None] | None = None) -> str:
    """The ``predict`` job kind: events in the job's ``events.jsonl``; a CSV copy of its predictions.

    On Slurm (a job of the ``slurm`` backend: ``project`` is the node's snapshot) the chunks go to
    the run folder. A spec with ``explain`` (a heatmap method) also writes the final model's
    maps of its images to ``heatmaps/<method>.npz`` in the run folder (heatmaps on demand).
    """
    from engine.runs import EventWriter

    device = device if device and device != "auto" else "cpu"
    on_node = getattr(job, "backend", "local") == "slurm"
    with EventWriter(Path(run_dir) / "events.jsonl") as events:
        def emit(type: str, **payload) -> None:
            if type == "finished" and job.spec.get("explain"):
                return  # the job finishes once its heatmaps are written too
            event = events.emit(type, **payload)
            if progress is not None:
                progress(event)

        state = predict_images(project, job.spec, job_id=job.id, device=device, should_stop=should_stop,
                               emit=emit, run_dir=run_dir if on_node else None)
        if state == "finished" and job.spec.get("explain"):
            from engine.final._screen_explain import write_screened_heatmaps

            t0 = time.perf_counter()
            path = write_screened_heatmaps(project, job.spec, run_dir, device, should_stop)
            if path is None:
                emit("cancelled", done=len(job.spec["image_ids"]), total=len(job.spec["image_ids"]))
                return "cancelled"
            event = events.emit("artifact", path=str(Path(path).relative_to(run_dir)), kind="heatmaps",
                                method=job.spec["explain"])
            if progress is not None:
                progress(event)
            event = events.emit("finished", images=len(job.spec["image_ids"]),
                                seconds=round(time.perf_counter() - t0, 3))
            if progress is not None:
                progress(event)
    if state == "finished":
        if on_node:
            latest = {}
            for image_id, fid, prob, at in read_scored(run_dir):
                latest[image_id] = (fid, prob, at)
            rows = {i: Prediction(i, *latest[i][:2], latest[i][2], job.id) for i in latest}
        else:
            rows = stored_predictions(project, job.spec["final_model_id"])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("image_id", "final_model_id", "probability", "predicted_at"))
        for i in job.spec["image_ids"]:
            r = rows[i]
            w.writerow((i, r.final_model_id, format(r.probability, ".9g"), r.predicted_at))
        write_atomic(Path(run_dir) / "predictions.csv", buf.getvalue())
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
