"""Export an experiment to MLflow (local file store) or TensorBoard event files (optional packages)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError
from engine.runs import safe_name

if TYPE_CHECKING:
    from engine.store import Project

# Per-epoch numbers of a run's metrics.json history that are exported as metrics.
EPOCH_KEYS = ("train_loss", "val_loss", "val_auc", "val_bal_acc", "lr", "epoch_seconds", "train_images_per_s")


class TrackingUnavailable(EngineError, ImportError):
    """The optional tracking package is not installed; the message says how to install it."""


@dataclass(frozen=True)
class FoldRecord:
    fold: int
    run_id: str
    params: dict[str, str]
    history: list[dict]
    final: dict[str, float]


@dataclass(frozen=True)
class ExperimentRecord:
    """What an export writes: the spec, each fold's epochs, and the pooled final figures."""

    name: str
    params: dict[str, str]
    folds: list[FoldRecord]
    summary: dict[str, float]


def _flat_params(spec: dict) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in sorted(spec.items())
            if k != "project"}


def _number(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def experiment_record(project: Project, name: str) -> ExperimentRecord:
    """Read a finished experiment's parameters, per-epoch history and pooled results."""
    from engine.evaluate import compute_cost, experiment_results, experiment_runs
    from engine.experiments import get_experiment
    from engine.train import METRICS

    runs = experiment_runs(project, name)
    folds = []
    for fold, run_dir in zip(runs.folds, runs.run_dirs):
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
        final = {f"final_{k}": x for k, v in (metrics.get("final") or {}).items()
                 if k != "epoch" and (x := _number(v)) is not None}
        final.update({f"compute_{k}": x for k, v in (metrics.get("compute") or {}).items()
                      if not isinstance(v, (bool, list)) and (x := _number(v)) is not None})
        folds.append(FoldRecord(fold=fold, run_id=run_dir.name,
                                params=_flat_params(metrics.get("spec") or {}),
                                history=list(metrics.get("history") or []), final=final))
    res = experiment_results(project, name)
    cost = compute_cost(project, name)
    summary = {}
    for level in ("patient", "image"):
        lv = res.level(level)
        summary.update({f"{level}_auc": lv.auc.auc, f"{level}_auc_ci_low": lv.auc.ci_low,
                        f"{level}_auc_ci_high": lv.auc.ci_high, f"{level}_average_precision":
                        lv.pr.average_precision, f"{level}_brier": lv.brier})
        if lv.fold_aucs is not None:
            summary[f"{level}_fold_auc_mean"] = lv.fold_aucs.mean
    for key in ("parameters", "forward_gflops", "train_images_per_s", "epoch_seconds_mean",
                "wall_seconds_total", "peak_memory_bytes", "latency_ms_batch1",
                "latency_ms_per_image_batched"):
        if (x := _number(getattr(cost, key))) is not None:
            summary[f"compute_{key}"] = x
    summary = {k: v for k, v in summary.items() if _number(v) is not None}
    params = _flat_params(get_experiment(project, name).spec)
    params.update({"family": res.family, "split": res.split})
    return ExperimentRecord(name=name, params=params, folds=folds, summary=summary)


def _require(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TrackingUnavailable(
            f"{module.split('.')[0]} is not installed; install it with "
            f"`pip install {extra}` or `pip install 'aff-workbench[tracking]'`") from None


def _tracking_uri(target: str | Path) -> str:
    text = str(target)
    if "://" in text:  # sqlite:///x.db, http://server: passed through as a tracking URI
        return text
    folder = Path(target).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder.as_uri()


def export_mlflow(record: ExperimentRecord, target: str | Path) -> str:
    """Write ``record`` to MLflow: one parent run with the pooled figures, one nested run per fold.

    ``target`` is a folder (MLflow's local file store, which MLflow 3 keeps in maintenance
    mode and allows only with ``MLFLOW_ALLOW_FILE_STORE``; set here for this call) or a
    tracking URI such as ``sqlite:///mlflow.db``. Returns the MLflow experiment id; the MLflow
    experiment is named after the experiment.
    """
    import os

    safe_name(record.name, "experiment name")
    _require("mlflow", "mlflow")
    uri = _tracking_uri(target)
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        return _export_mlflow(record, uri)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


def _export_mlflow(record: ExperimentRecord, uri: str) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    existing = client.get_experiment_by_name(record.name)
    exp_id = existing.experiment_id if existing else client.create_experiment(record.name)
    now = int(time.time() * 1000)
    parent = client.create_run(exp_id, run_name=record.name, tags={"affengine.experiment": record.name})
    pid = parent.info.run_id
    client.log_batch(pid, metrics=[Metric(k, float(v), now, 0) for k, v in record.summary.items()],
                     params=[Param(k, v[:500]) for k, v in record.params.items()])
    client.set_terminated(pid)
    for f in record.folds:
        run = client.create_run(exp_id, run_name=f"{record.name} fold {f.fold}",
                                tags={"mlflow.parentRunId": pid, "affengine.run_id": f.run_id,
                                      "affengine.fold": str(f.fold)})
        metrics = [Metric(k, x, now, int(h.get("epoch", i + 1))) for i, h in enumerate(f.history)
                   for k in EPOCH_KEYS if (x := _number(h.get(k))) is not None]
        metrics += [Metric(k, v, now, 0) for k, v in f.final.items()]
        for start in range(0, len(metrics), 900):  # MLflow caps a batch at 1000 metrics
            client.log_batch(run.info.run_id, metrics=metrics[start:start + 900])
        client.log_batch(run.info.run_id, params=[Param(k, v[:500]) for k, v in f.params.items()])
        client.set_terminated(run.info.run_id)
    return exp_id


def export_tensorboard(record: ExperimentRecord, log_dir: str | Path) -> list[Path]:
    """Write TensorBoard event files: ``<log_dir>/<experiment>/fold<k>`` per fold and ``.../summary``."""
    name = safe_name(record.name, "experiment name")  # a crafted name never leads out of log_dir
    _require("tensorboard", "tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    root = Path(log_dir) / name
    written = []
    for f in record.folds:
        with SummaryWriter(log_dir=str(root / f"fold{f.fold}")) as w:
            for i, h in enumerate(f.history):
                step = int(h.get("epoch", i + 1))
                for k in EPOCH_KEYS:
                    if (x := _number(h.get(k))) is not None:
                        w.add_scalar(f"epoch/{k}", x, step)
            for k, v in f.final.items():
                w.add_scalar(f"final/{k}", v, 0)
            w.add_text("params", "\n".join(f"    {k}: {v}" for k, v in f.params.items()), 0)
        written.append(root / f"fold{f.fold}")
    with SummaryWriter(log_dir=str(root / "summary")) as w:
        for k, v in record.summary.items():
            w.add_scalar(f"summary/{k}", v, 0)
        w.add_text("params", "\n".join(f"    {k}: {v}" for k, v in record.params.items()), 0)
    written.append(root / "summary")
    return written
