"""Input checks shared by every statistic: binary labels, finite scores, equal lengths, both classes."""

from __future__ import annotations

import numpy as np

AFF, NFF = 1, 0
_CLASS_NAMES = {AFF: "AFF (1)", NFF: "NFF (0)"}


def as_labels(labels, name: str = "labels") -> np.ndarray:
    """Labels as an int64 array of 0 (NFF) and 1 (AFF); anything else is refused."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be 0 (NFF) or 1 (AFF), got values of type {arr.dtype}")
    if arr.size and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contain {int(np.sum(~np.isfinite(arr)))} NaN or infinite values")
    bad = ~np.isin(arr, (0, 1))
    if np.any(bad):
        odd = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{name} must be 0 (NFF) or 1 (AFF); found {odd}")
    return arr.astype(np.int64)


def as_scores(scores, name: str = "scores") -> np.ndarray:
    """Scores as a finite float64 array (higher = more likely AFF)."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contain {int(bad.sum())} NaN or infinite values (first at index {first})")
    return arr


def same_length(**arrays) -> int:
    """Common length of the named arrays, or a ValueError that lists each length."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"arrays must have the same length; got {listed}")
    return next(iter(lengths.values()))


def require_both_classes(labels: np.ndarray, minimum: int = 1, what: str = "AUC") -> tuple[int, int]:
    """Numbers of AFF and NFF cases; refuse when a class has fewer than ``minimum``."""
    n_pos = int(labels.sum())
    n_neg = int(len(labels) - n_pos)
    for cls, n in ((AFF, n_pos), (NFF, n_neg)):
        if n == 0:
            other = _CLASS_NAMES[NFF if cls == AFF else AFF]
            raise ValueError(f"{what} needs both classes: no {_CLASS_NAMES[cls]} case "
                             f"among {len(labels)} (all are {other})")
        if n < minimum:
            raise ValueError(f"{what} needs at least {minimum} {_CLASS_NAMES[cls]} cases; got {n}")
    return n_pos, n_neg


def labels_scores(labels, scores, minimum: int = 1, what: str = "AUC") -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(labels, scores)`` with both classes present."""
    y = as_labels(labels)
    s = as_scores(scores)
    same_length(labels=y, scores=s)
    require_both_classes(y, minimum, what)
    return y, s


def check_conf_level(conf_level: float) -> float:
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    return float(conf_level)


def safe_ratio(num: float, den: float) -> float:
    """``num / den``, NaN when ``den`` is 0 (no numpy warning)."""
    return float(num) / float(den) if den else float("nan")
