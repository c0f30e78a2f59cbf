"""Readers against a model on the same cases: each reader's sensitivity and specificity with
Wilson CIs beside the model's held-out operating point, who misses which AFF, the model's ROC
curve (readers are points on it), and the Obuchowski-Rockette MRMC comparison of AUCs.

The cases are the images (or patients) every named session read that the experiment predicted
out of fold. The reference standard is the experiment's own labels (those of its split, made
before the study's adjudications), so readers and model are scored against the same truth and a
consensus made from these reads does not grade its own readers. The model's threshold per fold
comes from that fold's training predictions (``engine.evaluate.training_threshold``), never from
the cases evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluate._heldout_points import load_training_predictions, training_threshold, wilson_ci
from engine.evaluate._mrmc import MrmcResult, mrmc_readers_vs_model
from engine.evaluate._predictions import Predictions
from engine.evaluate._readers import subject_calls
from engine.evaluate._results import to_jsonable
from engine.evaluate._roc import roc_auc, roc_curve
from engine.reads import get_session
from engine.store import Project


@dataclass(frozen=True)
class DecisionPoint:
    """Sensitivity and specificity of one reader's calls (or the model's) on the study cases."""

    name: str
    tp: int
    fn: int
    fp: int
    tn: int
    sensitivity: float
    sensitivity_ci: tuple[float, float]
    specificity: float
    specificity_ci: tuple[float, float]
    auc: float  # from scores (reader: the -5..5 score scale)


@dataclass(frozen=True)
class ReaderVsModel:
    """One reader's point and the AFF cases where the reader and the model part ways."""

    session: str
    reader: str
    point: DecisionPoint
    missed_found_by_model: tuple  # AFF the model called and the reader did not
    found_missed_by_model: tuple  # AFF the reader called and the model did not
    false_alarms_model_not: int  # NFF the reader called AFF and the model did not
    model_false_alarms_reader_not: int


@dataclass(frozen=True)
class ReadersVsModel:
    experiment: str
    level: str
    rule: str
    n_cases: int
    n_aff: int
    model: DecisionPoint
    thresholds: dict[int, float]
    readers: tuple[ReaderVsModel, ...]
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    mrmc: MrmcResult | None
    conf_level: float

    def to_json(self) -> dict:
        return to_jsonable(self)


def _point(name: str, y: np.ndarray, called: np.ndarray, scores: np.ndarray,
           conf_level: float) -> DecisionPoint:
    tp, fn = int(np.sum(called & (y == 1))), int(np.sum(~called & (y == 1)))
    fp, tn = int(np.sum(called & (y == 0))), int(np.sum(~called & (y == 0)))
    auc = roc_auc(y, scores) if 0 < y.sum() < len(y) else float("nan")
    return DecisionPoint(name, tp, fn, fp, tn, tp / (tp + fn) if tp + fn else float("nan"),
                         wilson_ci(tp, tp + fn, conf_level), tn / (tn + fp) if tn + fp else float("nan"),
                         wilson_ci(tn, tn + fp, conf_level), auc)


def _key(x):
    """A numpy scalar as the plain Python value the reads use as a subject key."""
    return x.item() if hasattr(x, "item") else x


def _subset(pred: Predictions, keep: np.ndarray) -> Predictions:
    return Predictions(pred.name, pred.split_id, pred.image_ids[keep], pred.patients[keep], pred.labels[keep],
                       pred.scores[keep], None if pred.folds is None else pred.folds[keep])


def compare_readers_with_predictions(calls: dict[str, dict], readers: dict[str, str], pred: Predictions,
                                     train_by_fold: dict[int, Predictions], level: str = "image",
                                     rule: str = "youden", how: str = "mean",
                                     conf_level: float = 0.95) -> ReadersVsModel:
    """The comparison from ``session -> subject -> (call, score)`` and out-of-fold predictions."""
    sessions = list(calls)
    ev = pred.to_patients(how) if level == "patient" else pred
    subjects = ev.patients if level == "patient" else ev.image_ids
    keep = np.array([all(_key(x) in calls[s] for s in sessions) for x in subjects], dtype=bool)
    if not keep.any():
        raise ValueError(f"{pred.name}: no case was read in every session and predicted out of fold")
    ev = _subset(ev, keep)
    subjects = [_key(x) for x in (ev.patients if level == "patient" else ev.image_ids)]
    y = ev.labels
    thresholds = {}
    called = np.zeros(len(y), dtype=bool)
    for f in np.unique(ev.folds).tolist():
        train = train_by_fold[f].to_patients(how) if level == "patient" else train_by_fold[f]
        thresholds[int(f)] = t = float(training_threshold(train, rule))
        called[ev.folds == f] = ev.scores[ev.folds == f] >= t
    model = _point(f"{pred.name} ({rule})", y, called, ev.scores, conf_level)
    out, score_rows = [], []
    for s in sessions:
        labels = np.array([calls[s][x][0] for x in subjects])
        scores = np.array([calls[s][x][1] for x in subjects], dtype=float)
        rc = labels == "AFF"
        score_rows.append(scores)
        sid = np.asarray(subjects, dtype=object)
        out.append(ReaderVsModel(
            s, readers[s], _point(readers[s], y, rc, scores, conf_level),
            tuple(sid[(y == 1) & called & ~rc].tolist()), tuple(sid[(y == 1) & ~called & rc].tolist()),
            int(np.sum((y == 0) & rc & ~called)), int(np.sum((y == 0) & called & ~rc))))
    roc = roc_curve(y, ev.scores)
    mrmc = None
    if 2 <= y.sum() <= len(y) - 2:
        mrmc = mrmc_readers_vs_model(y, np.vstack(score_rows), ev.scores, conf_level)
    return ReadersVsModel(pred.name, level, rule, len(y), int(y.sum()), model, thresholds, tuple(out),
                          roc.fpr, roc.tpr, mrmc, conf_level)


def readers_vs_model(project: Project, sessions: list[str], experiment: str, level: str = "image",
                     rule: str = "youden", how: str = "mean", conf_level: float = 0.95) -> ReadersVsModel:
    """Readers of ``sessions`` against ``experiment``'s out-of-fold predictions on the same cases."""
    from engine.evaluate._runs import load_experiment_predictions

    pred = load_experiment_predictions(project, experiment)
    train = load_training_predictions(project, experiment)
    readers = {s: get_session(project, s).reader for s in sessions}
    calls = subject_calls(project, list(sessions), level)
    return compare_readers_with_predictions(calls, readers, pred, train, level, rule, how, conf_level)
