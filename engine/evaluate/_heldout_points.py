"""Operating points at thresholds chosen on training data, with Wilson and patient-bootstrap CIs.

Each outer fold's threshold comes from that fold's model's predictions on its own
training images (``train_predictions.csv``), never from the data it is applied to. The
held-out decisions of all folds are pooled into one confusion matrix. Wilson intervals
treat the cases as independent (exact for patients, too narrow for images of one
patient); the bootstrap resamples patients with the thresholds fixed (they were chosen
on other data, so they do not vary with the evaluation sample).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from engine.evaluate._checks import check_conf_level
from engine.evaluate._mcnemar import McNemarTest, mcnemar_test
from engine.evaluate._operating_points import threshold_for_sensitivity, youden_threshold
from engine.evaluate._predictions import Predictions
from engine.evaluate._resample import cluster_index, resample_counts
from engine.evaluate._runs import ExperimentNotReady, experiment_runs

if TYPE_CHECKING:
    from engine.store import Project

RULES = ("youden", "sens90")
METRICS = ("sensitivity", "specificity", "ppv", "npv")


def wilson_ci(k: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials (NaN when ``n`` is 0)."""
    conf_level = check_conf_level(conf_level)
    if n == 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValueError(f"successes must lie in [0, n]: got k = {k}, n = {n}")
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    p, z2 = k / n, z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True)
class HeldOutMetric:
    """``k / n`` with its Wilson and patient-bootstrap percentile intervals."""

    name: str
    estimate: float
    k: int
    n: int
    wilson_low: float
    wilson_high: float
    boot_low: float
    boot_high: float


@dataclass(frozen=True)
class HeldOutOperatingPoint:
    """One experiment's pooled held-out decisions at one rule; ``thresholds`` per outer fold."""

    experiment: str
    level: str
    rule: str
    thresholds: dict[int, float]
    tn: int
    fp: int
    fn: int
    tp: int
    metrics: dict[str, HeldOutMetric]
    conf_level: float
    n_boot: int
    seed: int
    ids: np.ndarray  # image ids (image level) or patient keys (patient level), in case order
    labels: np.ndarray
    called: np.ndarray  # True: called AFF


def training_threshold(train: Predictions, rule: str) -> float:
    """The threshold ``rule`` picks on one fold's training predictions."""
    if rule == "youden":
        return youden_threshold(train.labels, train.scores)
    if rule == "sens90":
        return threshold_for_sensitivity(train.labels, train.scores, 0.90)
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def _cell_sums(cluster: np.ndarray, n_clusters: int, y: np.ndarray, called: np.ndarray) -> np.ndarray:
    """Per cluster: TP, FN, FP, TN counts (columns)."""
    cells = np.column_stack([(y == 1) & called, (y == 1) & ~called, (y == 0) & called, (y == 0) & ~called])
    out = np.zeros((n_clusters, 4))
    np.add.at(out, cluster, cells.astype(np.float64))
    return out


def _ratios(c: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    tp, fn, fp, tn = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    return {"sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp), "ppv": (tp, tp + fp),
            "npv": (tn, tn + fn)}


def held_out_operating_point(pred: Predictions, train_by_fold: dict[int, Predictions], rule: str,
                             level: str = "patient", how: str = "mean", n_boot: int = 2000, seed: int = 0,
                             conf_level: float = 0.95) -> HeldOutOperatingPoint:
    """Sensitivity, specificity, PPV, NPV of ``pred`` (pooled out-of-fold) at thresholds from training data.

    ``train_by_fold[f]`` are fold ``f``'s model's predictions on its own training images;
    at ``level="patient"`` both sides are aggregated to patients (``how``) first.
    """
    conf_level = check_conf_level(conf_level)
    if level not in ("patient", "image"):
        raise ValueError(f"level must be 'patient' or 'image', got {level!r}")
    if pred.folds is None:
        raise ValueError(f"{pred.name}: held-out thresholds need each prediction's fold")
    ev = pred.to_patients(how) if level == "patient" else pred
    called = np.zeros(len(ev.labels), dtype=bool)
    thresholds = {}
    for f in np.unique(ev.folds).tolist():
        if f not in train_by_fold:
            raise ValueError(f"{pred.name}: no training predictions for fold {f} "
                             f"(have folds {sorted(train_by_fold)})")
        train = train_by_fold[f].to_patients(how) if level == "patient" else train_by_fold[f]
        thresholds[int(f)] = t = float(training_threshold(train, rule))
        sel = ev.folds == f
        called[sel] = ev.scores[sel] >= t
    y = ev.labels
    cluster, plabel = cluster_index(y, ev.patients)
    sums = _cell_sums(cluster, len(plabel), y, called)
    total = sums.sum(axis=0)
    boot = resample_counts(plabel, n_boot, seed, stratified=True).astype(np.float64) @ sums
    q = [(1 - conf_level) / 2, (1 + conf_level) / 2]
    metrics = {}
    for name, (k, n) in _ratios(total).items():
        bk, bn = _ratios(boot)[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = bk / bn
        reps = reps[np.isfinite(reps)]
        blo, bhi = np.quantile(reps, q) if len(reps) > 1 else (np.nan, np.nan)
        wlo, whi = wilson_ci(int(k), int(n), conf_level)
        metrics[name] = HeldOutMetric(name=name, estimate=float(k / n) if n else float("nan"), k=int(k),
                                      n=int(n), wilson_low=wlo, wilson_high=whi, boot_low=float(blo),
                                      boot_high=float(bhi))
    tp, fn, fp, tn = (int(v) for v in total)
    ids = ev.patients if level == "patient" else ev.image_ids
    return HeldOutOperatingPoint(experiment=pred.name, level=level, rule=rule, thresholds=thresholds, tn=tn,
                                 fp=fp, fn=fn, tp=tp, metrics=metrics, conf_level=conf_level, n_boot=n_boot,
                                 seed=seed, ids=np.asarray(ids), labels=y, called=called)


def held_out_mcnemar(a: HeldOutOperatingPoint, b: HeldOutOperatingPoint) -> McNemarTest:
    """McNemar's test of two experiments' held-out decisions on the same cases (patient level)."""
    if a.level != b.level or a.rule != b.rule:
        raise ValueError(f"compare like with like: {a.experiment} is {a.level}/{a.rule}, "
                         f"{b.experiment} is {b.level}/{b.rule}")
    order = np.argsort(b.ids, kind="stable")
    pos = np.searchsorted(b.ids[order], a.ids)
    pos = np.clip(pos, 0, len(order) - 1)
    if len(a.ids) != len(b.ids) or np.any(b.ids[order][pos] != a.ids):
        raise ValueError(f"{a.experiment} and {b.experiment} were not evaluated on the same cases")
    idx = order[pos]
    return mcnemar_test(a.called == (a.labels == 1), b.called[idx] == (b.labels[idx] == 1))


def load_training_predictions(project: Project, name: str) -> dict[int, Predictions]:
    """Each fold's model's predictions on its own training images (``train_predictions.csv``)."""
    from engine.train import TRAIN_PREDICTIONS, read_predictions

    runs = experiment_runs(project, name)
    out, missing = {}, []
    for fold, run_dir in zip(runs.folds, runs.run_dirs):
        path = run_dir / TRAIN_PREDICTIONS
        if not path.is_file():
            missing.append(fold)
            continue
        c = read_predictions(path)
        out[fold] = Predictions(name=f"{name} fold {fold} (training)", split_id=runs.split_label,
                                image_ids=c["image_id"], patients=c["patient_id"].astype(str),
                                labels=c["label"], scores=c["probability"], folds=c["fold"])
    if missing:
        raise ExperimentNotReady(f"experiment {name!r}: fold(s) {missing} have no {TRAIN_PREDICTIONS} "
                                 "(trained before it was written); retrain them for held-out thresholds")
    return out

