"""The run folder: file names, atomic JSON writes, predictions CSV, and the run result."""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.runs import RunFolder
from engine.train._spec import RunSpec, SpecError

# the run folder's layout is engine.runs.RunFolder's
CONFIG, EVENTS, METRICS, PREDICTIONS = RunFolder.CONFIG, RunFolder.EVENTS, RunFolder.METRICS, RunFolder.PREDICTIONS  # noqa: E501
CHECKPOINTS, LAST, BEST = RunFolder.CHECKPOINTS, RunFolder.LAST, RunFolder.BEST
# The best epoch's model on its own training images: for thresholds chosen on training data only.
TRAIN_PREDICTIONS = "train_predictions.csv"
PREDICTION_COLUMNS = ("image_id", "patient_id", "fold", "probability", "label")
RUN_STATES = ("finished", "cancelled")


@dataclass(frozen=True)
class RunResult:
    """How a run ended. Paths are ``None`` for outputs a cancelled run has not written."""

    state: str
    run_dir: Path
    best_epoch: int | None
    best_val_auc: float | None
    epochs_run: int
    metrics_path: Path | None
    predictions_path: Path | None


def finite(value):
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def write_json(path: Path, obj) -> Path:
    """Write ``obj`` as indented JSON atomically (temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    _atomic_write(path, text.encode("utf-8"))
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # readable by the GUI and other workers, like any written file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_predictions(path: Path, image_ids, patient_ids, fold: int, probabilities, labels) -> Path:
    """``predictions.csv`` (one row per validation image) or ``train_predictions.csv`` (per training
    image): probability of AFF (label 1 = AFF); ``fold`` is the fold whose model predicted."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PREDICTION_COLUMNS)
    for i, pid, p, y in zip(image_ids, patient_ids, probabilities, labels):
        # 9 significant digits round-trip a float32 exactly.
        w.writerow((int(i), pid, int(fold), format(float(p), ".9g"), int(y)))
    _atomic_write(Path(path), buf.getvalue().encode("utf-8"))
    return Path(path)


def read_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """``predictions.csv`` as column arrays (``patient_id`` as strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "image_id": np.array([int(r["image_id"]) for r in rows], np.int64),
        "patient_id": np.array([r["patient_id"] for r in rows], dtype=object),
        "fold": np.array([int(r["fold"]) for r in rows], np.int64),
        "probability": np.array([float(r["probability"]) for r in rows], np.float64),
        "label": np.array([int(r["label"]) for r in rows], np.int64),
    }


def read_run_config(run_dir: str | Path) -> tuple[RunSpec, dict]:
    """The spec and the whole ``config.json`` of a run folder."""
    path = Path(run_dir) / CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no run config here") from None
    return RunSpec.from_json(config["spec"]), config
