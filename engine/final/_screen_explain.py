"""Heatmaps on demand for screened images: a final model's maps of images nobody has labelled.

Cross-validation maps exist only for the images the fold models validated; a screened image
(unlabelled, or from an archive imported later) has none. Here the final model explains the
images asked for: each member's map, and the ensemble's map is their mean (as for the
external images, :mod:`engine.final._explain_external`).

Two ways in, both storing ``heatmaps/<method>.npz`` + ``.json`` in the format
``engine.explain.read_heatmaps`` reads (``label`` is -1 for an unlabelled image):

- a ``predict`` job whose spec names ``explain`` (:func:`submit_screen_heatmaps`): it scores
  the images like any predict job and writes the maps to its run folder; it runs on a local
  worker or on Slurm (the run folder is the node's output), so the GUI can ask for one image
  and get told when it is ready;
- ``affengine explain P --experiment A --image ID`` in the foreground
  (:func:`explain_screened`): ``P/evaluations/explain-<stamp>-screening/<A>/heatmaps/``.

:func:`screened_heatmaps` reads every stored map of an experiment's final model back (newest
per image), without torch, for the heatmap window.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._members import FinalModelError
from engine.final._store import FinalModel, get_final_model, latest_final_model

if TYPE_CHECKING:
    from engine.store import Project

SCREENING = "screening"


def final_model_maps(project: Project, final: FinalModel, pixels, method: str, device: str = "cpu",
                     batch_size: int = 16, should_stop: Callable[[], bool] | None = None,
                     progress: Callable[[str], None] | None = None):
    """``(mean map of the members, mean P(AFF))`` for uint8 ``(N, 1, S, S)`` pixels; None if stopped."""
    from engine.explain import explain_batches
    from engine.train import load_run_model

    maps_sum, probs = None, []
    for k, m in enumerate(final.members):
        if should_stop is not None and should_stop():
            return None
        model, info = load_run_model(project.runs_dir / m["run_id"], "best", device)
        out = explain_batches(model, info["spec"].model, pixels.to(device), info["mean"], info["std"],
                              method, batch_size, should_stop=should_stop)
        if out is None:
            return None
        maps, prob = out
        maps_sum = maps.astype(np.float32) if maps_sum is None else maps_sum + maps
        probs.append(prob)
        if progress is not None:
            progress(f"{method} member {k + 1}/{len(final.members)}: {len(maps)} images")
    return maps_sum / len(final.members), np.mean(probs, 0)


def _check_request(project: Project, experiment: str, image_ids: Sequence[int], method: str) -> FinalModel:
    from engine.explain import check_method_for_model

    final = latest_final_model(project, experiment)
    try:
        check_method_for_model(method, final.provenance["model"])
    except ValueError as exc:
        raise FinalModelError(str(exc)) from None
    ids = [int(i) for i in image_ids]
    if not ids:
        raise FinalModelError("name at least one image id")
    known = set(project.images.ids())
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise FinalModelError(f"{project.path}: no image with id {', '.join(map(str, unknown[:5]))}")
    return final


def _labels(project: Project, ids: Sequence[int]) -> np.ndarray:
    labels = project.labels.all()
    return np.array([{"AFF": 1, "NFF": 0}.get(labels.get(int(i)), -1) for i in ids], np.int8)


def _write(project: Project, final: FinalModel, folder: Path, experiment: str, ids: list[int],
           method: str, device: str, batch_size: int, should_stop=None, progress=None) -> Path | None:
    from engine.explain import write_heatmaps
    from engine.store import utc_now
    from engine.train import prepare_images

    t0 = time.perf_counter()
    pixels = prepare_images(project, ids, final.image_size, "cpu")
    out = final_model_maps(project, final, pixels, method, device, batch_size, should_stop, progress)
    if out is None:
        return None
    maps, probs = out
    meta = {"experiment": experiment, "final_model_id": final.id, "method": method,
            "model": final.provenance["model"], "members": len(final.members), "target": SCREENING,
            "grid": list(maps.shape[1:]), "input_size": final.image_size,
            "map": "mean of the members' maps", "written_at": utc_now(),
            "seconds": round(time.perf_counter() - t0, 3)}
    return write_heatmaps(folder, method, ids, maps, probs, _labels(project, ids), meta)


def write_screened_heatmaps(project: Project, spec: dict, run_dir: str | Path, device: str = "cpu",
                            should_stop: Callable[[], bool] | None = None) -> Path | None:
    """The ``explain`` part of a predict job: its images' maps into ``run_dir/heatmaps/``."""
    final = get_final_model(project, spec["final_model_id"])
    return _write(project, final, Path(run_dir), spec["experiment"], [int(i) for i in spec["image_ids"]],
                  spec["explain"], device, int(spec.get("explain_batch_size", 16)), should_stop)


def explain_screened(project: Project, experiment: str, image_ids: Sequence[int], method: str = "gradcam",
                     device: str = "cpu", batch_size: int = 16,
                     progress: Callable[[str], None] | None = None) -> Path:
    """Explain ``image_ids`` of this project with the final model here; returns the ``.npz``."""
    final = _check_request(project, experiment, image_ids, method)
    folder = (project.path / "evaluations" / f"explain-{time.strftime('%Y%m%d-%H%M%S')}-{SCREENING}"
              / experiment)
    return _write(project, final, folder, experiment, [int(i) for i in image_ids], method, device,
                  batch_size, progress=progress)


def screen_heatmap_spec(project: Project, experiment: str, image_ids: Sequence[int],
                        method: str = "gradcam") -> dict:
    """The spec of a predict job that also writes ``method`` maps of ``image_ids``."""
    final = _check_request(project, experiment, image_ids, method)
    return {"experiment": experiment, "final_model_id": final.id, "images": "given", "filter": {},
            "image_ids": sorted({int(i) for i in image_ids}), "batch_size": 16, "explain": method}


def screened_heatmap_job(project: Project, experiment: str, image_id: int,
                         method: str = "gradcam") -> int | None:
    """A queued or running predict job that will write ``method`` maps of ``image_id``, if any."""
    from engine.jobs import ACTIVE, JobQueue

    for job in JobQueue(project).list():
        if (job.kind == "predict" and job.state in ACTIVE and job.spec.get("explain") == method
                and job.spec.get("experiment") == experiment and int(image_id) in job.spec["image_ids"]):
            return job.id
    return None


def submit_screen_heatmaps(project: Project, experiment: str, image_ids: Sequence[int],
                           method: str = "gradcam", priority: int = 10, backend: str = "local") -> int:
    """Queue (or find) the job that computes ``method`` maps of ``image_ids``; returns its id.

    One image asked for again while its job is queued or running gets that job, not a second.
    A high default priority: a reader waits for it, a long screening job does not.
    """
    from engine.jobs import BACKENDS, JobQueue

    if backend not in BACKENDS:
        raise FinalModelError(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
    ids = [int(i) for i in image_ids]
    if len(ids) == 1:
        job = screened_heatmap_job(project, experiment, ids[0], method)
        if job is not None:
            return job
    spec = screen_heatmap_spec(project, experiment, ids, method)
    return JobQueue(project).submit("predict", spec, priority=priority, backend=backend)


def _stored_folders(project: Project, experiment: str, method: str) -> list[Path]:
    """Folders whose ``heatmaps/<method>.npz`` may hold screened maps of ``experiment``."""
    from engine.jobs import JobQueue
    from engine.runs import RunFolder

    out = []
    for job in JobQueue(project).list():
        if (job.kind == "predict" and job.state == "finished" and job.spec.get("explain") == method
                and job.spec.get("experiment") == experiment):
            out.append(RunFolder.of(project, job.run_id).path)
    out += sorted((project.path / "evaluations").glob(f"explain-*-{SCREENING}/{experiment}"))
    return out


def screened_heatmaps(project: Project, experiment: str, method: str = "gradcam",
                      final_model_id: int | None = None):
    """Every stored screened map of ``experiment``'s final model (default its newest) as one
    :class:`engine.explain.Heatmaps`, newest map per image, sorted by image id; None when none.

    Reads files only (no torch): the GUI calls it. A damaged file is skipped.
    """
    from engine.explain import Heatmaps, heatmap_paths, read_heatmaps

    if final_model_id is None:
        final_model_id = latest_final_model(project, experiment).id
    found = []
    for folder in _stored_folders(project, experiment, method):
        npz, meta = heatmap_paths(folder, method)
        if not npz.exists():
            continue
        try:
            h = read_heatmaps(folder, method)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
            continue
        if int(h.info.get("final_model_id", -1)) == int(final_model_id):
            found.append(h)
    if not found:
        return None
    found.sort(key=lambda h: str(h.info.get("written_at", "")))
    rows: dict[int, tuple[int, int]] = {}
    for k, h in enumerate(found):
        for r, i in enumerate(h.image_ids):
            rows[int(i)] = (k, r)
    ids = sorted(rows)
    pick = [rows[i] for i in ids]
    return Heatmaps(np.array(ids, np.int64), np.stack([found[k].maps[r] for k, r in pick]),
                    np.array([found[k].probability[r] for k, r in pick], np.float32),
                    np.array([found[k].label[r] for k, r in pick], np.int8),
                    np.full(len(ids), -1, np.int64),
                    {k: v for k, v in found[-1].info.items() if k not in ("written_at", "seconds")})
