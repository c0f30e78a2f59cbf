"""Per-experiment results (image and patient level) and compute cost, as JSON-ready dataclasses."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.evaluate._calibration import CalibrationCurve, calibration_curve
from engine.evaluate._clustered import clustered_auc_ci
from engine.evaluate._delong import AucCI, delong_ci
from engine.evaluate._operating_points import OperatingPoint, operating_points
from engine.evaluate._pr import PrCurve, pr_curve
from engine.evaluate._predictions import Predictions
from engine.evaluate._roc import FoldAucs, RocCurve, fold_aucs, roc_curve
from engine.evaluate._runs import ExperimentRuns, experiment_runs, load_experiment_predictions

if TYPE_CHECKING:
    from engine.store import Project


def to_jsonable(obj):
    """Dataclasses, numpy arrays and scalars as plain JSON values; NaN and infinity become ``None``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return out
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@dataclass(frozen=True)
class LevelResults:
    """Every per-experiment figure at one level (``"image"`` or ``"patient"``)."""

    level: str
    n_cases: int
    n_pos: int
    n_neg: int
    auc: AucCI
    roc: RocCurve
    pr: PrCurve
    operating_points: dict[str, OperatingPoint]
    brier: float
    calibration: CalibrationCurve
    fold_aucs: FoldAucs | None


@dataclass(frozen=True)
class ExperimentResults:
    """One experiment's results at image and patient level; ``to_json()`` for the GUI."""

    name: str
    model: str
    family: str
    pretrained: bool
    split: str
    patient_rule: str
    image: LevelResults
    patient: LevelResults

    def level(self, level: str) -> LevelResults:
        if level not in ("image", "patient"):
            raise ValueError(f"level must be 'image' or 'patient', got {level!r}")
        return self.image if level == "image" else self.patient

    def to_json(self) -> dict:
        return to_jsonable(self)


def level_results(pred: Predictions, level: str, conf_level: float = 0.95) -> LevelResults:
    """ROC, AUC with its CI, PR, operating points, Brier and calibration of ``pred`` as given.

    The CI is DeLong's at patient level and Obuchowski's clustered one (patients as clusters)
    at image level, where a patient's images are not independent cases.
    """
    y, s = pred.labels, pred.scores
    auc = (clustered_auc_ci(y, s, pred.patients, conf_level) if level == "image"
           else delong_ci(y, s, conf_level))
    n_pos = int(y.sum())
    folds = None
    if pred.folds is not None and len(np.unique(pred.folds)) > 1:
        folds = fold_aucs(y, s, pred.folds)
    return LevelResults(level=level, n_cases=len(y), n_pos=n_pos, n_neg=len(y) - n_pos,
                        auc=auc, roc=roc_curve(y, s), pr=pr_curve(y, s),
                        operating_points=operating_points(y, s), brier=float(np.mean((s - y) ** 2)),
                        calibration=calibration_curve(y, s), fold_aucs=folds)


def results_from_predictions(pred: Predictions, runs: ExperimentRuns | None = None, how: str = "mean",
                             conf_level: float = 0.95) -> ExperimentResults:
    """Image- and patient-level results of pooled out-of-fold predictions.

    The image-level CI is Obuchowski's clustered one (patients as clusters); the patient level
    is the one to report.
    """
    return ExperimentResults(
        name=pred.name, model=runs.model if runs else "", family=runs.family if runs else "",
        pretrained=runs.pretrained if runs else False, split=pred.split_id, patient_rule=how,
        image=level_results(pred, "image", conf_level),
        patient=level_results(pred.to_patients(how), "patient", conf_level))


def experiment_results(project: Project, name: str, how: str = "mean",
                       conf_level: float = 0.95) -> ExperimentResults:
    """Results of a finished experiment, read from its run folders."""
    return results_from_predictions(load_experiment_predictions(project, name),
                                    experiment_runs(project, name), how, conf_level)


@dataclass(frozen=True)
class ComputeCost:
    """Compute figures of one experiment, over its fold runs (from each run's ``metrics.json``).

    Per-fold figures are averaged (``train_images_per_s``, latencies, ``epoch_seconds_mean``);
    ``wall_seconds_total`` is the sum over folds and ``peak_memory_bytes`` the largest fold's.
    ``peak_memory_kind`` says what was measured (GPU allocator peak or CPU peak RSS).
    """

    name: str
    model: str
    family: str
    pretrained: bool
    parameters: int | None
    forward_gflops: float | None
    image_size: int | None
    train_images_per_s: float | None
    epoch_seconds_mean: float | None
    wall_seconds_total: float | None
    wall_seconds_per_fold: float | None
    peak_memory_bytes: int | None
    peak_memory_kind: str | None
    latency_ms_batch1: float | None
    latency_ms_per_image_batched: float | None
    latency_batch: int | None
    device: str | None
    device_name: str | None
    precision: str | None
    n_runs: int
    epochs_run: int

    def to_json(self) -> dict:
        return to_jsonable(self)


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _first(values):
    return next((v for v in values if v is not None), None)


def compute_cost(project: Project, name: str) -> ComputeCost:
    """The compute-cost row of a finished experiment."""
    from engine.train import METRICS

    runs = experiment_runs(project, name)
    computes, epochs = [], 0
    for run_dir in runs.run_dirs:
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
        computes.append(metrics.get("compute") or {})
        epochs += int(metrics.get("epochs_run") or 0)
    return cost_from_metrics(runs, computes, epochs)


def cost_from_metrics(runs: ExperimentRuns, computes: list[dict], epochs_run: int) -> ComputeCost:
    """Combine the ``compute`` blocks of the fold runs into one row."""
    def col(key):
        return [c.get(key) for c in computes]

    epoch_s = [s for c in computes for s in (c.get("epoch_seconds") or [])]
    peaks = [v for v in col("peak_memory_bytes") if v is not None]
    walls = [v for v in col("wall_seconds_total") if v is not None]
    devices = sorted({str(v) for v in col("device") if v})
    return ComputeCost(
        name=runs.name, model=runs.model, family=runs.family, pretrained=runs.pretrained,
        parameters=_first(col("parameters")), forward_gflops=_first(col("forward_gflops")),
        image_size=_first(col("image_size")), train_images_per_s=_mean(col("train_images_per_s")),
        epoch_seconds_mean=_mean(epoch_s), wall_seconds_total=float(sum(walls)) if walls else None,
        wall_seconds_per_fold=_mean(walls), peak_memory_bytes=int(max(peaks)) if peaks else None,
        peak_memory_kind=_first(col("peak_memory_kind")), latency_ms_batch1=_mean(col("latency_ms_batch1")),
        latency_ms_per_image_batched=_mean(col("latency_ms_per_image_batched")),
        latency_batch=_first(col("latency_batch")), device=", ".join(devices) or None,
        device_name=_first(col("device_name")), precision=_first(col("precision")),
        n_runs=len(computes), epochs_run=epochs_run)
