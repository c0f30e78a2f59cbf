"""Out-of-fold explanation: every image is explained by the fold model that validated it,
in the foreground or as an ``explain`` job run by a worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.explain._names import (
    ATTRIBUTION_METHODS,
    CAM_METHODS,
    GRAD_ROLLOUT,
    ROLLOUT,
    all_methods,
    check_method_for_model,
)
from engine.explain._storage import (
    fold_runs,
    write_heatmaps,
)

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
    """Every method: the model-agnostic ones first, then Grad-CAM's family and the class-token ones."""
    return all_methods()


def explain_batches(model, model_name: str, pixels, mean: float, std: float, method: str = "gradcam",
                    batch_size: int = 16, should_stop: Callable[[], bool] | None = None,
                    on_batch: Callable[[int], None] | None = None, options=None):
    """``(maps float16, probability)`` for uint8 ``(N, 1, S, S)`` pixels, or ``None`` if stopped.

    Pixels are normalised a batch at a time, so only one float batch lives on the device.
    ``options`` (:class:`~engine.explain._attrib.AttributionOptions`) sets the occlusion
    patch/stride and the IG steps.
    """
    from engine.explain._cam import CamExplainer
    from engine.explain._rollout import attention_rollout, gradient_rollout
    from engine.train import normalise

    check_method_for_model(method, model_name)
    maps, probs = [], []
    cam = CamExplainer(model, model_name, method) if method in CAM_METHODS else None
    try:
        for start in range(0, pixels.shape[0], batch_size):
            if should_stop is not None and should_stop():
                return None
            x = normalise(pixels[start:start + batch_size], mean, std)
            if method in ATTRIBUTION_METHODS:
                from engine.explain._attrib import attribution_maps

                m, p = attribution_maps(model, x, method, options)
            elif method == ROLLOUT:
                m, p = attention_rollout(model, x)
            elif method == GRAD_ROLLOUT:
                m, p = gradient_rollout(model, x)
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


def experiment_model(project: Project, name: str) -> str | None:
    """The registered model name of experiment ``name`` (``None`` if its spec has none)."""
    from engine.experiments import get_experiment

    spec = get_experiment(project, name).spec
    return spec.get("model") if isinstance(spec, dict) else None


def attribution_options(project: Project, image_ids, size: int, patch_mm: float | None = None,
                        stride_mm: float | None = None, ig_steps: int | None = None):
    """:class:`AttributionOptions` for these images at input ``size`` (mm from their pixel spacing)."""
    from engine.explain._attrib import AttributionOptions, input_mm_per_pixel

    rows = [project.images.get(int(i)) for i in image_ids]
    mm = input_mm_per_pixel([r.pixel_spacing_col or r.pixel_spacing_row for r in rows],
                            [max(r.width, r.height) for r in rows], size)
    base = AttributionOptions()
    return AttributionOptions(patch_mm if patch_mm is not None else base.patch_mm,
                              stride_mm if stride_mm is not None else base.stride_mm, mm,
                              int(ig_steps) if ig_steps is not None else base.ig_steps)


def explain_experiment(project: Project, name: str, method: str = "gradcam", device: str = "cpu",
                       batch_size: int = 16, progress: Callable[[dict], None] | None = None,
                       should_stop: Callable[[], bool] | None = None, faithfulness: bool | None = None,
                       patch_mm: float | None = None, stride_mm: float | None = None,
                       ig_steps: int | None = None, seed: int = 0,
                       deletion_steps: int | None = None) -> ExplainResult:
    """Explain each fold's validation images with that fold's best model.

    The images are those of the run's ``predictions.csv``, so every labelled image gets
    exactly one map, from the model whose prediction the report shows. Maps go to
    ``<run>/heatmaps/<method>.npz`` (see :func:`read_heatmaps`). With ``faithfulness``
    (default: on for the model-agnostic methods, off for the family-specific extras) the
    same fold model also gets deletion/insertion curves of these maps and, once per fold,
    the ROI occlusion test (``<run>/heatmaps/faithfulness/``, see
    :mod:`engine.explain._faith`).
    """
    from engine.train import PREDICTIONS, load_run_model, prepare_images, read_predictions
    from engine.train._orientation import run_mirror, unmirror_maps

    t0 = time.perf_counter()
    if faithfulness is None:
        faithfulness = method in ATTRIBUTION_METHODS
    model_name = experiment_model(project, name)
    if model_name:
        check_method_for_model(method, model_name)  # before any fold is loaded
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
        options = attribution_options(project, p["image_id"], size, patch_mm, stride_mm, ig_steps)

        def on_batch(n: int, fold: int = fold) -> None:
            nonlocal done
            done += n
            emit(f"{method} fold {fold}: {done}/{total} images")

        out = explain_batches(model, info["spec"].model, pixels, info["mean"], info["std"], method,
                              batch_size, should_stop, on_batch, options)
        if out is None:
            return ExplainResult("cancelled", method, files, done, time.perf_counter() - t0)
        maps, prob = out
        if faithfulness:
            from engine.explain._faith_store import faithfulness_for_fold

            emit(f"{method} fold {fold}: deletion/insertion curves and ROI occlusion")
            faithfulness_for_fold(project, run, method, model, pixels, maps, p, info, mirror,
                                  batch_size, seed + fold, deletion_steps)
        del model, pixels
        maps = unmirror_maps(maps, mirror)
        meta = {"experiment": name, "method": method, "model": info["spec"].model, "fold": fold,
                "run_id": run.name, "grid": list(maps.shape[1:]), "input_size": size,
                "target": _target_of(method), "count": int(len(maps)),
                "checkpoint_epoch": info.get("epoch"),
                "all_zero": int((maps.reshape(len(maps), -1).max(1) <= 0).sum()) if len(maps) else 0}
        if method in ATTRIBUTION_METHODS:
            meta["attribution"] = options.to_json(size)
        files.append(write_heatmaps(run, method, p["image_id"], maps, prob, p["label"], meta))
    emit(f"{method}: {done} images in {time.perf_counter() - t0:.1f} s")
    return ExplainResult("finished", method, files, done, time.perf_counter() - t0)


def _target_of(method: str) -> str:
    if method == ROLLOUT:
        return "class token"
    if method in ATTRIBUTION_METHODS:
        return "log-odds of the predicted class (input pixels)"
    return "log-odds of the predicted class"


# -- the 'explain' job kind ------------------------------------------------------------

def explain_job_spec(experiment: str, method: str = "gradcam", batch_size: int = 16,
                     model: str | None = None, *, patch_mm: float | None = None,
                     stride_mm: float | None = None, ig_steps: int | None = None,
                     faithfulness: bool | None = None) -> dict:
    """The JSON spec of an ``explain`` job (checked here, so a bad one is never queued).

    With ``model`` (the experiment's registered model) a method that cannot explain it,
    e.g. rollout for a model without a class token, is refused here. The attribution
    options (occlusion ``patch_mm`` / ``stride_mm``, ``ig_steps``) and ``faithfulness``
    travel in the spec when given, so a queued job computes what ``affengine explain``
    would have computed in the foreground; left out, the worker uses the same defaults.
    """
    if method not in methods():
        raise ValueError(f"unknown method {method!r} (use one of {', '.join(methods())})")
    if model:
        check_method_for_model(method, model)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    spec: dict = {"experiment": experiment, "method": method, "batch_size": int(batch_size)}
    for key, value in (("patch_mm", patch_mm), ("stride_mm", stride_mm), ("ig_steps", ig_steps)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{key} must be a positive number, got {value!r}")
        spec[key] = int(value) if key == "ig_steps" else float(value)
    if faithfulness is not None:
        spec["faithfulness"] = bool(faithfulness)
    return spec


def submit_explain(project: Project, experiment: str, method: str = "gradcam",
                   batch_size: int = 16, priority: int = 0, *, patch_mm: float | None = None,
                   stride_mm: float | None = None, ig_steps: int | None = None,
                   faithfulness: bool | None = None) -> int:
    """Queue an ``explain`` job; returns its id.

    The job carries no experiment id, so it never mixes with the experiment's training
    jobs; any worker not filtered to one experiment runs it. The options are those of
    :func:`explain_job_spec`.
    """
    from engine.experiments import get_experiment
    from engine.jobs import JobQueue

    get_experiment(project, experiment)  # KeyError now rather than in the worker
    spec = explain_job_spec(experiment, method, batch_size, experiment_model(project, experiment),
                            patch_mm=patch_mm, stride_mm=stride_mm, ig_steps=ig_steps,
                            faithfulness=faithfulness)
    return JobQueue(project).submit("explain", spec, priority=priority)


def run_explain_job(spec: dict, project: Project, run_dir: Path, should_stop: Callable[[], bool],
                    device: str, progress: Callable[[dict], None] | None = None) -> str:
    """Run an ``explain`` job spec; its events go to the job's own ``events.jsonl``.

    A spec from before the attribution options travelled lacks them and gets the defaults.
    """
    from engine.runs import EventWriter, RunFolder

    device = device if device and device != "auto" else "cpu"
    with EventWriter(Path(run_dir) / RunFolder.EVENTS) as events:
        events.emit("started", kind="explain", **spec)

        def relay(event: dict) -> None:
            events.emit("log", message=event["message"])
            if progress is not None:
                progress(event)

        result = explain_experiment(project, spec["experiment"], spec.get("method", "gradcam"),
                                    device, int(spec.get("batch_size", 16)), relay, should_stop,
                                    faithfulness=spec.get("faithfulness"), patch_mm=spec.get("patch_mm"),
                                    stride_mm=spec.get("stride_mm"), ig_steps=spec.get("ig_steps"))
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
