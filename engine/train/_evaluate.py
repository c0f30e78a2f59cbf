"""Validation figures from logits: loss, AUC and balanced accuracy at 0.5."""

from __future__ import annotations

import math

import numpy as np


def softmax_aff(logits: np.ndarray) -> np.ndarray:
    """Probability of class 1 (AFF) from ``(N, 2)`` logits, in float32."""
    logits = np.asarray(logits, np.float64)
    return (1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))).astype(np.float32)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean (unweighted) cross-entropy."""
    logits = np.asarray(logits, np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(labels)), labels]))


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC (equals Mann-Whitney U / (n_pos * n_neg)); ``None`` when a class is missing."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def balanced_accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Mean per-class recall of ``scores >= threshold``, over the classes present in ``labels``."""
    labels = np.asarray(labels)
    predicted = np.asarray(scores) >= threshold
    recalls = [float(np.mean(predicted[labels == c] == bool(c))) for c in (0, 1) if np.any(labels == c)]
    return float(np.mean(recalls))


def validation_metrics(logits: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """``({val_loss, val_auc, val_bal_acc}, probabilities of AFF)``."""
    labels = np.asarray(labels, np.int64)
    probs = softmax_aff(logits)
    return ({"val_loss": cross_entropy(logits, labels), "val_auc": auc(labels, probs),
             "val_bal_acc": balanced_accuracy(labels, probs)}, probs)


def better(candidate: dict, best: dict | None) -> bool:
    """Is ``candidate`` a better epoch than ``best``: higher AUC, then lower validation loss."""
    if best is None:
        return True
    def key(m: dict) -> tuple[float, float]:
        auc_, loss = m["val_auc"], m["val_loss"]
        return (-1.0 if auc_ is None else auc_, -math.inf if loss is None else -loss)

    return key(candidate) > key(best)
